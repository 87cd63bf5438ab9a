"""Stand up what the gateway needs locally: moto, tables, secrets, a team and a dev key.

Used by `aigw dev`, the functional tests and the benchmarks, so all three run the same
boto3 code as Lambda, against a real HTTP endpoint.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigw.auth.keys import generate_key, hash_key, key_prefix
from aigw.auth.records import KeyRecord
from aigw.aws import AwsResources
from aigw.config.models import GatewayConfig
from aigw.credentials import secret_name
from aigw.local.moto_server import MotoServer, start_moto
from aigw.local.resources import create_tables, put_local_secrets
from aigw.local.state import FLUSH_S, StateStore

DEV_TEAM = "dev"


@dataclass
class LocalAws:
    moto: MotoServer
    aws: AwsResources
    env: dict[str, str] = field(default_factory=dict)
    state: StateStore | None = None
    restored: dict[str, int] = field(default_factory=dict)  # items loaded per table (logical id)

    def stop(self) -> None:
        if self.state is not None:
            self.state.close()  # the last counter updates, while moto still runs
        self.moto.stop()


def start_local_aws(config: GatewayConfig, *, set_environ: bool = True, state_dir: Path | None = None,
                    save_interval_s: float = FLUSH_S) -> LocalAws:
    """Start moto, point boto3 at it (through the standard AWS_ENDPOINT_URL_* variables),
    create the tables and copy local credentials into Secrets Manager. With `state_dir`, the
    tables start with what was saved there and are kept saved (local/state.py)."""
    import boto3

    moto = start_moto()
    env = moto.endpoint_env()
    if set_environ:
        os.environ.update(env)
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"], region_name=env["AWS_DEFAULT_REGION"])
    dynamodb_client = session.client("dynamodb", endpoint_url=moto.url)
    secrets = session.client("secretsmanager", endpoint_url=moto.url)
    create_tables(dynamodb_client)
    state = StateStore(state_dir, flush_s=save_interval_s) if state_dir is not None else None
    restored: dict[str, int] = {}
    if state is not None:
        try:
            state.claim()
            restored = state.load(moto.app.lock)
        except Exception:
            moto.stop()
            raise
        state.attach(moto.app.lock)
        moto.app.observer = state.observe
    put_local_secrets(secrets, config.credential_names, prefix=secret_name(""))
    aws = AwsResources(dynamodb=session.resource("dynamodb", endpoint_url=moto.url), secrets=secrets)
    return LocalAws(moto=moto, aws=aws, env=env, state=state, restored=restored)


def create_key(aws: AwsResources, *, team: str = DEV_TEAM, key: str | None = None, models: list[str] | None = None,
               project: str | None = None, valid_until: float | None = None, **extra: Any) -> tuple[str, KeyRecord]:
    """Store a key record (only its hash) and return the secret with the record."""
    from aigw.names import ENTITIES

    secret = key or generate_key()
    digest = hash_key(secret)
    record = KeyRecord(key_hash=digest, key_id="key_" + digest[:12], key_prefix=key_prefix(secret), team_id=team,
                       project=project, models=models or [], valid_until=valid_until, created_at=time.time(),
                       name="dev key" if team == DEV_TEAM else None, **extra)
    aws.table(ENTITIES).put_item(Item=record.to_item())
    return secret, record


@dataclass
class ServerHandle:
    url: str
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def serve_in_thread(app: Any, *, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any) -> ServerHandle:
    """Run an ASGI app under uvicorn in a background thread; returns once it accepts connections.
    The server is the gateway's own (aigw/http/server.py), with its keep-alive, unless
    `http=` or `timeout_keep_alive=` say otherwise."""
    import socket

    import uvicorn

    from aigw.http.server import KEEP_ALIVE_S, PROTOCOL

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY only then
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            **{"http": PROTOCOL, "timeout_keep_alive": KEEP_ALIVE_S, **uvicorn_options})
    server = uvicorn.Server(config)

    def run() -> None:
        asyncio.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, name=f"uvicorn:{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    return ServerHandle(url=f"http://{host}:{bound_port}", _server=server, _thread=thread)
