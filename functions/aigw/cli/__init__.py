"""The `aigw` command line. Each command group lives in its own module and registers its
subcommands here; imports stay inside the commands so `aigw --help` is instant."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules with a `register(subparsers)` function, in the order `--help` lists them.
COMMAND_MODULES = ["aigw.cli.dev", "aigw.cli.admin"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aigw", description="A serverless AI gateway for AWS.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"aigw: {exc}", file=sys.stderr)
        return 1


class CliError(Exception):
    """A failure the user can act on; printed as one line, no traceback."""
