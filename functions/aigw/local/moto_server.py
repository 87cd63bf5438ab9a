"""moto in server mode, in-process, one operation at a time.

moto's threaded server does not apply a DynamoDB operation atomically: two racing
conditional updates on one item can both pass (docs/DESIGN.md §8). DynamoDB serializes
writes to an item, so we serialize moto's requests behind one lock; otherwise a race test
would measure moto instead of the gateway.

moto also keeps every model object it ever creates: `BaseModel.__new__` appends each
instance to a per-class `instances_tracked` list, read only by moto's web dashboard. Its
`transact_write_items` deep-copies the whole table once per item as a rollback backup, and
`update_item` deep-copies the item, so every copy stayed reachable: `aigw dev` grew about
165 KB per request. After each request, still under the lock, those lists are emptied
(`bench/dev_memory.py` measures it). And since those backups are all taken before the first
write, one copy per table serves as well as one per item: `transact_write_items` is made to
reuse it (the settlement transaction has up to 8 items on one table).
"""

from __future__ import annotations

import functools
import io
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

LOCAL_REGION = "us-east-1"
# Fake credentials for moto only; they never reach AWS.
LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": LOCAL_REGION,
    "AWS_REGION": LOCAL_REGION,
}


# (X-Amz-Target, request body): called under the lock after each request, e.g. to save state.
RequestObserver = Callable[[str, bytes], None]


class SerializedWSGI:
    """Run a WSGI app's requests one at a time (response body included)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self.lock = threading.Lock()
        self.observer: RequestObserver | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            observer = self.observer
            body = b""
            if observer is not None:
                body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                environ["wsgi.input"] = io.BytesIO(body)
            try:
                return list(self._app(environ, start_response))
            finally:
                forget_model_instances()
                if observer is not None:
                    observer(environ.get("HTTP_X_AMZ_TARGET", ""), body)


def forget_model_instances() -> None:
    """Drop moto's references to every model object it created (see the module docstring);
    live objects stay reachable from their backends, garbage copies become collectable."""
    from moto.core.model_instances import reset_model_data

    reset_model_data()


def copy_each_table_once() -> None:
    """Make moto's `transact_write_items` deep-copy each table once, not once per item.

    Its rollback backup loop copies `self.tables[name]` for every item before any write, each
    copy replacing the previous one: the copies are identical, so reusing the first changes
    nothing but the cost (a full table copy per item). Safe because moto's requests run one
    at a time (SerializedWSGI): the module's `copy` is swapped only during one call.
    """
    from moto.dynamodb import models

    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "_copies_tables_once", False):
        return
    original = backend.transact_write_items
    real = models.copy

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        models.copy = _OnePerTable(real)  # type: ignore[assignment]
        try:
            original(self, transact_items)
        finally:
            models.copy = real

    transact_write_items._copies_tables_once = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]


class _OnePerTable:
    """The `copy` module, except that deep copies of a moto Table are made once per call."""

    def __init__(self, module: Any) -> None:
        from moto.dynamodb.models.table import Table

        self._module = module
        self._table = Table
        self._copies: dict[int, Any] = {}

    def deepcopy(self, obj: Any, memo: dict[int, Any] | None = None) -> Any:
        if not isinstance(obj, self._table):
            return self._module.deepcopy(obj, memo)
        if id(obj) not in self._copies:
            self._copies[id(obj)] = self._module.deepcopy(obj, memo)
        return self._copies[id(obj)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


@dataclass
class MotoServer:
    url: str
    app: SerializedWSGI
    _server: Any
    _thread: threading.Thread

    def endpoint_env(self) -> dict[str, str]:
        """Service-specific endpoint variables boto3 reads natively: no code path differs from Lambda."""
        return {
            "AWS_ENDPOINT_URL_DYNAMODB": self.url,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.url,
            **LOCAL_AWS_ENV,
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_moto(host: str = "127.0.0.1", port: int = 0) -> MotoServer:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per AWS call
    copy_each_table_once()
    app = SerializedWSGI(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="moto", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    return MotoServer(url=f"http://{bound_host!s}:{bound_port}", app=app, _server=server, _thread=thread)
