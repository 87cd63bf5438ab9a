#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run them: lint, types, pytest.
# Idempotent: a second run reuses .venv and node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# Exactly the locked set (hash-checked; scripts/lock.py writes it), then the project itself on top.
.venv/bin/python -m pip install -q --require-hashes -r requirements.lock
.venv/bin/python -m pip install -q --no-deps -e .

# The CDK CLI for the synth test (2.1148.x reads the assemblies aws-cdk-lib 2.2xx writes).
if [ ! -x node_modules/.bin/cdk ]; then
  npm install --silent --no-audit --no-fund --no-save aws-cdk@2.1148 >/dev/null
fi
export PATH="$PWD/node_modules/.bin:$PATH"

.venv/bin/ruff check functions infra tests bench app.py
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
