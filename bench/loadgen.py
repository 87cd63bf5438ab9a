"""A load generator light enough not to be the bottleneck: keep-alive HTTP/1.1 over raw
asyncio streams (uvloop when installed), one prebuilt request, responses framed by
Content-Length or chunked encoding and read to their end.

httpx's AsyncClient costs about 1.4 ms of CPU per request: driving 16 connections from one
process it topped out near 700 req/s, so it measured itself, not the server (the fake upstream
served 690 req/s through it and 10,400 req/s through this). Used by bench/run.py and
bench/peers.py for throughput; latency is still measured one request at a time with httpx,
whose cost cancels out in "gateway minus direct".
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit


def request_bytes(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    payload = json.dumps(body).encode()
    lines = [f"POST {parts.path or '/'} HTTP/1.1", f"host: {host}:{port}", "content-type: application/json",
             f"content-length: {len(payload)}", *(f"{k}: {v}" for k, v in headers.items())]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response to its end: (status, whether the server keeps the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, rest = head.partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    fields: dict[bytes, bytes] = {}
    for line in rest.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    if b"content-length" in fields:
        await reader.readexactly(int(fields[b"content-length"]))
    elif fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                break
    return status, fields.get(b"connection", b"").lower() != b"close"


async def throughput(url: str, body: dict[str, Any], headers: dict[str, str], seconds: float,
                     concurrency: int) -> float:
    """Completed requests per second over `seconds`, `concurrency` connections each sending
    one request at a time; any status but 200 fails the run."""
    host, port, request = request_bytes(url, body, headers)
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                writer.write(request)
                status, keep = await read_response(reader)
                if status != 200:
                    raise AssertionError(f"{url}: status {status}")
                done += 1
                if not keep:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


def run_throughput(url: str, body: dict[str, Any], headers: dict[str, str], seconds: float,
                   concurrency: int) -> float:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(throughput(url, body, headers, seconds, concurrency))
    return uvloop.run(throughput(url, body, headers, seconds, concurrency))
