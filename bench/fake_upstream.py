"""Serve the tests' fake OpenAI upstream in its own process, for benchmarks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn

from aigw.http.server import KEEP_ALIVE_S, PROTOCOL
from tests.fakes.openai_upstream import FakeOpenAI


class QuietFake(FakeOpenAI):
    """The fake without its call log, so a long benchmark does not grow memory."""

    def __post_init__(self) -> None:
        self.calls = _Discard()


class _Discard(list):  # type: ignore[type-arg]
    def append(self, item: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--one-write", action="store_true",
                        help="send an answer's head with its first body bytes, in one write (uvicorn writes "
                             "them apart; most servers, Node's, Go's and nginx among them, do not)")
    args = parser.parse_args()
    # An upstream that closes idle connections before the gateway's pool lets them go (60 s)
    # races the gateway's reuse of them; a test that reads garbage or timings needs no such
    # failure in it (real providers do close idle connections: the router retries what that fails).
    options: dict[str, Any] = {"timeout_keep_alive": KEEP_ALIVE_S}
    if args.one_write:  # the gateway's own server protocol, which holds a head for its body
        options["http"] = PROTOCOL
    uvicorn.run(QuietFake().app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                **options)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
