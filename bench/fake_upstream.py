"""Serve the tests' fake OpenAI upstream in its own process, for benchmarks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn

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
    args = parser.parse_args()
    uvicorn.run(QuietFake().app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
