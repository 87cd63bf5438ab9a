"""What survives a restart of `aigw dev`: teams, keys, budgets, spend and usage.

moto keeps DynamoDB in memory and has no persistence of its own, so the kept tables are
snapshotted as JSON files in the state directory (the items in DynamoDB's own JSON, as
`aws dynamodb scan` prints them) and put back into moto before the gateway serves.

Every DynamoDB request passes the moto server's lock (moto_server.SerializedWSGI), which
tells this module which tables a request wrote. A write to the entities table (teams, keys,
budget definitions: admin actions, rare) is on disk before its response leaves moto; the
counters (spend, rate windows, usage aggregates, written on every request) are saved by a
background thread at most `flush_s` later, and once more on a clean stop. A snapshot is
taken under the lock, so it holds whole transactions, and written to a temporary file that
replaces the old one by rename: a kill -9 at any moment leaves the previous or the new
snapshot, never a torn one, and loses at most `flush_s` of counter updates. (No fsync: a
power cut may lose more; this is a development server.) The cache table is not kept.

Items whose TTL has passed are dropped on load (moto never expires them), so old rate
windows do not pile up across restarts.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aigw.aws import table_name
from aigw.names import CACHE, TABLES, TableSpec

FORMAT = "aigw-dev-state/1"
FLUSH_S = 1.0
# The tables whose writes are saved before the response: admin state a user just created.
DURABLE_NOW = ("Entities",)
_WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "ExecuteStatement",
              "BatchExecuteStatement", "ExecuteTransaction"}
logger = logging.getLogger(__name__)


def kept_tables() -> list[TableSpec]:
    return [spec for spec in TABLES if spec.logical_id != CACHE.logical_id]


def written_tables(target: str, body: bytes) -> set[str] | None:
    """Table names a DynamoDB request may write; None for "any" (PartiQL); empty for reads."""
    service, _, operation = target.partition(".")
    if not service.startswith("DynamoDB") or operation not in _WRITE_OPS:
        return set()
    if operation.startswith(("Execute", "BatchExecute")):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if operation == "BatchWriteItem":
        return set(data.get("RequestItems") or {})
    if operation == "TransactWriteItems":
        return {op["TableName"] for item in data.get("TransactItems") or [] for op in item.values()
                if isinstance(op, dict) and isinstance(op.get("TableName"), str)}
    return {data["TableName"]} if isinstance(data.get("TableName"), str) else None


class StateStore:
    """Snapshots of the kept tables in `directory`, kept current while moto serves."""

    def __init__(self, directory: Path, *, specs: Iterable[TableSpec] | None = None, flush_s: float = FLUSH_S) -> None:
        self.directory = directory
        self.specs = {table_name(spec): spec for spec in (specs if specs is not None else kept_tables())}
        self.flush_s = flush_s
        self._dirty: set[str] = set()
        self._lock: threading.Lock | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: Any = None
        self.failed = False

    def claim(self) -> None:
        """Take the directory for this process: two servers saving into one directory would
        overwrite each other's snapshots (an advisory lock, released when the process ends)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return
        handle = open(self.directory / "lock", "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise StateError(f"{self.directory} is in use by {owner}: stop it, or give this one another "
                             "--state-dir (or --ephemeral)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"aigw dev (pid {os.getpid()})\n")
        handle.flush()
        self._lock_file = handle

    # ---- load -------------------------------------------------------------------------------
    def load(self, lock: threading.Lock) -> dict[str, int]:
        """Put the saved items back into moto (tables already created); items per table."""
        with lock:
            return self._load()

    def _load(self) -> dict[str, int]:
        restored: dict[str, int] = {}
        now = time.time()
        for name, spec in self.specs.items():
            path = self._path(spec)
            if not path.exists():
                continue
            try:
                data = json.loads(path.read_text())
                if not isinstance(data, dict) or data.get("format") != FORMAT:
                    raise ValueError(f"not an {FORMAT} file")
                items = [i for i in data["items"] if not _expired(i, spec, now)]
                backend = _backend(name)
                for item in items:
                    backend.put_item(name, item)
            except StateError:
                raise
            except Exception as exc:  # any damage to the file: one clear line, never a traceback
                raise StateError(f"cannot read {path}: {exc}; move it away or run with --ephemeral") from None
            restored[spec.logical_id] = len(items)
        return restored

    # ---- while serving ------------------------------------------------------------------------
    def attach(self, lock: threading.Lock) -> None:
        """Start saving: `lock` is moto's request lock, held while `observe` runs."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = lock
        self._thread = threading.Thread(target=self._run, name="aigw-state", daemon=True)
        self._thread.start()

    def observe(self, target: str, body: bytes) -> None:
        """Called under moto's lock after each request."""
        tables = written_tables(target, body)
        if tables is None:
            tables = set(self.specs)
        tables &= set(self.specs)
        if not tables:
            return
        durable = {t for t in tables if self.specs[t].logical_id in DURABLE_NOW}
        self._dirty |= tables - durable
        for name in durable:
            self._save(name)

    def flush(self) -> None:
        """Save every table written since its last save (takes moto's lock)."""
        if self._lock is None:
            return
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            for name in sorted(dirty):
                self._save(name)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _run(self) -> None:
        while not self._stop.wait(self.flush_s):
            started = time.monotonic()
            self.flush()
            # A big table is saved less often: at most ~5% of the time goes to snapshots.
            self._stop.wait(max(0.0, 20 * (time.monotonic() - started) - self.flush_s))

    def _save(self, name: str) -> None:
        spec = self.specs[name]
        try:
            items = [item.to_json()["Attributes"] for item in _backend(name).get_table(name).all_items()]
            payload = json.dumps({"format": FORMAT, "table": spec.logical_id, "table_name": name,
                                  "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "items": items},
                                 separators=(",", ":"), default=_bytes)
            _replace(self._path(spec), payload)
        except Exception:  # never fail a DynamoDB request because a snapshot could not be written
            if not self.failed:
                logger.exception("aigw dev: cannot save the local state to %s", self.directory)
            self.failed = True
            self._dirty.add(name)

    def _path(self, spec: TableSpec) -> Path:
        return self.directory / f"{spec.logical_id.lower()}.json"


class StateError(Exception):
    """The state directory cannot be read back (a hand-edited or foreign file)."""


def _backend(name: str) -> Any:
    """The in-process moto DynamoDB backend that holds table `name`."""
    from moto.dynamodb.models import dynamodb_backends

    for regions in dynamodb_backends.values():
        for backend in regions.values():
            if name in backend.tables:
                return backend
    raise StateError(f"table {name} is not in the local moto")


def _expired(item: dict[str, Any], spec: TableSpec, now: float) -> bool:
    ttl = item.get(spec.ttl_attribute or "") if spec.ttl_attribute else None
    try:
        return isinstance(ttl, dict) and "N" in ttl and float(ttl["N"]) < now
    except ValueError:
        return False


def _bytes(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot save {type(value).__name__}")


def _replace(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
