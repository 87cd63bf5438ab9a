#!/usr/bin/env bash
# Run the gateway locally: `bash scripts/dev.sh [--port 8080] [--config FILE] [--ephemeral] [--log-file PATH]`.
# The first run creates .venv and shows what it installs (scripts/aigw); the state (teams, keys,
# budgets, spend) is kept in .aigw/ at the top of the checkout. See README.md, "Running locally".
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/aigw dev "$@"
