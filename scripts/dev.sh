#!/usr/bin/env bash
# Create the environment (once) and run the gateway locally: `bash scripts/dev.sh [--port 8080] [--config FILE]`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/aigw ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[dev]'
fi
exec .venv/bin/aigw dev "$@"
