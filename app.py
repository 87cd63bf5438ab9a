#!/usr/bin/env python3
"""CDK entry point: read the config and context, build the gateway stack, check it, synth.

    npx cdk deploy -c config=aigw.yaml     # cdk.json runs this with .venv/bin/python
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

try:
    import aws_cdk as cdk
except ImportError:  # `python3 app.py` outside the venv: re-run with the project's interpreter
    venv = Path(__file__).resolve().parent / ".venv"
    venv_python = venv / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != venv.resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    sys.exit("aigw: aws-cdk-lib is not installed; run `bash scripts/test.sh` (or pip install -e '.[infra]') first")

from aigw.config import ConfigError
from infra import nag
from infra.settings import Settings, SettingsError
from infra.stack import GatewayStack


def build(app: cdk.App) -> GatewayStack:
    """The whole app: one stack from the config named by context `config`, checked by cdk-nag."""
    settings = Settings.from_context(app.node)
    stack = GatewayStack(app, settings.stack_name, settings=settings)
    nag.enable(app)
    return stack


def main() -> None:
    app = cdk.App()
    try:
        build(app)
    except (ConfigError, SettingsError) as exc:
        sys.exit(f"aigw: {exc}")
    app.synth()


if __name__ == "__main__":
    main()
