"""`aigw dev`: the whole gateway on this machine, with no AWS account and no provider key.

What a user reads and what a script reads are kept apart: progress and the request log
lines go to stderr (the log lines to `--log-file` instead, if given); stdout carries only the
banner, printed once the gateway accepts connections, whose `export NAME=value` lines are the
dev key, the admin token and the URLs (also written to `<state dir>/env`, see local/devenv.py).
State (teams, keys, budgets, spend) is kept in the state directory across restarts unless
`--ephemeral` (local/state.py).
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from aigw.services import Services

from aigw.names import ENV_ADMIN_TOKEN, ENV_CONFIG_PATH, ENV_DEV_KEY

DEFAULT_STATE_DIR = ".aigw"
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
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR, metavar="DIR",
                        help="where teams, keys, budgets and spend are kept across restarts (default: .aigw)")
    parser.add_argument("--ephemeral", action="store_true",
                        help="keep nothing: start empty, write no state directory")
    parser.add_argument("--save-interval", type=float, default=1.0, metavar="SECONDS",
                        help="how often spend and usage counters are saved (default 1; admin changes at once)")
    parser.add_argument("--log-file", metavar="PATH",
                        help="append the request log lines (JSON) and metrics here instead of stderr")
    parser.set_defaults(handler=run)


def say(text: str) -> None:
    print(f"aigw dev: {text}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from aigw.cli import CliError
    from aigw.config import ConfigError, load_config, load_config_file
    from aigw.local.defaults import DEFAULT_CONFIG

    try:
        config = load_config_file(args.config) if args.config else load_config(DEFAULT_CONFIG)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    sock = _bind(args.host, args.port)
    log = _open_log(args.log_file)
    state_dir = None if args.ephemeral else Path(args.state_dir)
    try:
        return _serve(args, config, sock, log, state_dir)
    finally:
        sock.close()
        if log is not sys.stderr:
            log.close()


def _serve(args: argparse.Namespace, config: Any, sock: Any, log: TextIO, state_dir: Path | None) -> int:
    import importlib

    from aigw.cli import CliError
    from aigw.gateway import build_services
    from aigw.http.app import create_app
    from aigw.local import devenv
    from aigw.local.environment import start_local_aws
    from aigw.local.state import StateError
    from aigw.observability import Observer

    say("starting local DynamoDB and Secrets Manager (moto)" +
        (f", state in {state_dir}/" if state_dir else ", ephemeral: nothing is kept"))
    try:
        local = start_local_aws(config, state_dir=state_dir, save_interval_s=args.save_interval)
    except StateError as exc:
        raise CliError(str(exc)) from None
    try:
        if local.restored:
            say("restored " + ", ".join(f"{n} {table.lower()} items" for table, n in local.restored.items()))
        credentials = devenv.resolve(state_dir)
        os.environ[ENV_ADMIN_TOKEN] = credentials.admin_token  # the admin routes read it
        key = _dev_key(local, credentials.key)
        services = build_services(config, aws=local.aws, observer=Observer(stream=log))
        extra: list[Callable[[Services], list[Any]]] = []
        for path in LOCAL_ROUTE_FACTORIES:
            module, _, function = path.partition(":")
            factory = getattr(importlib.import_module(module), function)
            extra.append(functools.partial(_local_routes, factory, local))
        app = create_app(services, extra_routes=extra)
        url = _url(*sock.getsockname()[:2])
        lines = devenv.shell_lines(url, key, credentials.admin_token)
        env_file = devenv.write_env_file(state_dir, lines) if state_dir else None
        banner = functools.partial(_banner, url=url, config=config, lines=lines, env_file=env_file,
                                   state_dir=state_dir, log_file=args.log_file)
        say("starting the gateway")
        _run_server(app, sock, on_ready=banner)
    finally:
        local.stop()
    return 0


def _dev_key(local: Any, saved: str | None) -> str:
    """The dev key: the saved (or given) one while its record is usable, else a new one."""
    from aigw.auth.keys import hash_key
    from aigw.auth.records import KEY_SK, KeyRecord, key_item_pk
    from aigw.local.environment import create_key
    from aigw.names import ENTITIES

    if saved:
        item = local.aws.table(ENTITIES).get_item(Key={"pk": key_item_pk(hash_key(saved)), "sk": KEY_SK}).get("Item")
        if item is None:
            return create_key(local.aws, key=saved)[0]
        if KeyRecord.from_item({k: v for k, v in item.items() if not k.startswith("gsi")}).usable():
            return saved
        say(f"the saved dev key is revoked or expired; here is a new one (or set {ENV_DEV_KEY})")
    return create_key(local.aws)[0]


def _banner(*, url: str, config: Any, lines: list[str], env_file: Path | None, state_dir: Path | None,
            log_file: str | None) -> None:
    rule = "-" * 72
    state = f"{state_dir}/ (kept across restarts; --ephemeral keeps nothing)" if state_dir else \
        "ephemeral (nothing is kept)"
    log = f"request log lines in {log_file}" if log_file else "request log lines on stderr (--log-file PATH moves them)"
    out = [
        "", rule,
        f"  aigw dev is ready: {url}/v1",
        f"  models  {', '.join(m.name for m in config.models)}",
        f"  state   {state}",
        f"  log     {log}",
        f"  admin   {url}/admin (the aigw CLI reads AIGW_URL and AIGW_ADMIN_TOKEN)",
        "",
        f"  In another shell: source {env_file}" if env_file else "  In another shell, paste:",
        *(["  (or paste:)"] if env_file else []),
        *lines,
        rule, "",
    ]
    print("\n".join(out), flush=True)


def _run_server(app: Any, sock: Any, *, on_ready: Callable[[], None]) -> None:
    import uvicorn

    class DevServer(uvicorn.Server):
        async def startup(self, sockets: list[Any] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                on_ready()

    from aigw.http.server import KEEP_ALIVE_S, PROTOCOL

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", http=PROTOCOL,
                            timeout_keep_alive=KEEP_ALIVE_S)
    # uvicorn re-raises the signal that stopped it once it has shut down; SIGTERM's default
    # action would then end the process before the caller's `finally` saves the state.
    previous = signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        DevServer(config).run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_cleanly(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _bind(host: str, port: int) -> Any:
    """Bind before starting anything, so a busy port is one clear line, not a traceback."""
    import socket

    from aigw.cli import CliError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # IPPROTO_TCP: asyncio sets TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {host}:{port} ({exc.strerror}); is another aigw dev running? "
                       "Pick another port with --port") from None
    return sock


def _url(host: str, port: int) -> str:
    """The URL clients use: a wildcard address is reached on loopback; IPv6 in brackets."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _open_log(path: str | None) -> TextIO:
    from aigw.cli import CliError

    if not path:
        return sys.stderr
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return open(path, "a", buffering=1, encoding="utf-8")  # closed by run()
    except OSError as exc:
        raise CliError(f"cannot open the log file {path}: {exc.strerror}") from None


def _local_routes(factory: Callable[..., list[Any]], local: Any, services: Services) -> list[Any]:
    return factory(services, local)
