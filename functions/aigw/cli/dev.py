"""`aigw dev`: the whole gateway on this machine, with no AWS account and no provider key."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aigw.services import Services

from aigw.names import ENV_ADMIN_TOKEN, ENV_CONFIG_PATH, ENV_DEV_KEY

# Hooks for other features' local pieces (e.g. the admin API): each is "module:function",
# called with (services, local_aws) and returning Starlette routes to add.
LOCAL_ROUTE_FACTORIES: list[str] = [
    "aigw.admin.routes:local_routes",  # /admin (teams, keys, budgets, usage), bearer AIGW_ADMIN_TOKEN
]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("dev", help="run the gateway locally (moto, mock provider, a dev key)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--config", default=os.environ.get(ENV_CONFIG_PATH),
                        help="config file (YAML/JSON, docs/DESIGN.md §3); default: the built-in mock models")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import importlib

    import uvicorn

    from aigw.cli import CliError
    from aigw.config import ConfigError, load_config, load_config_file
    from aigw.gateway import build_services
    from aigw.http.app import create_app
    from aigw.local.defaults import DEFAULT_CONFIG
    from aigw.local.environment import create_key, start_local_aws

    try:
        config = load_config_file(args.config) if args.config else load_config(DEFAULT_CONFIG)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    local = start_local_aws(config)
    key, record = create_key(local.aws, key=os.environ.get(ENV_DEV_KEY))
    services = build_services(config, aws=local.aws)
    admin_token = os.environ.get(ENV_ADMIN_TOKEN)
    if not admin_token:
        import secrets

        admin_token = os.environ[ENV_ADMIN_TOKEN] = "aigw-admin-" + secrets.token_urlsafe(24)
        print(f"aigw dev: admin token for /admin and the aigw CLI (set {ENV_ADMIN_TOKEN} to choose it):",
              file=sys.stderr)
        print(f"  export {ENV_ADMIN_TOKEN}={admin_token}", file=sys.stderr)
    extra: list[Callable[[Services], list[Any]]] = []
    for path in LOCAL_ROUTE_FACTORIES:
        module, _, function = path.partition(":")
        factory = getattr(importlib.import_module(module), function)
        extra.append(functools.partial(_local_routes, factory, local))
    app = create_app(services, extra_routes=extra)

    base = f"http://{args.host}:{args.port}"
    print(f"aigw dev: gateway on {base}/v1  (moto on {local.moto.url})", file=sys.stderr)
    print(f"aigw dev: models: {', '.join(m.name for m in config.models)}", file=sys.stderr)
    print(f"aigw dev: dev key for team '{record.team_id}' (set {ENV_DEV_KEY} to choose it):", file=sys.stderr)
    print(key, flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        local.stop()
    return 0


def _local_routes(factory: Callable[..., list[Any]], local: Any, services: Services) -> list[Any]:
    return factory(services, local)
