"""Fixtures of the fuzz suite (see harness.py), and the counts by status at the end of the run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal

from aigw.aws import AwsResources
from tests.functional.fuzz.harness import FUZZ_COUNTS, FuzzGateway, make_gateway
from tests.functional.fuzz.moto_process import MOTO_CPU_S, moto_process


@pytest.fixture(scope="package")
def fuzz_aws() -> Iterator[AwsResources]:
    """One moto for the suite (its start costs seconds); each module builds its own gateway."""
    with moto_process() as aws:
        yield aws


@pytest.fixture(scope="module")
def fuzz_gw(fuzz_aws: AwsResources) -> Iterator[FuzzGateway]:
    with start_blocking_portal() as portal:
        gw = make_gateway(fuzz_aws, portal)
        yield gw
        portal.call(gw.services.aclose)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FUZZ_COUNTS:
        return
    terminalreporter.section("fuzzed requests by status")
    for door, counts in sorted(FUZZ_COUNTS.items()):
        total = sum(counts.values())
        terminalreporter.write_line(f"{door:32s} {total:6d}  " + json.dumps(dict(sorted(counts.items()))))
    terminalreporter.write_line(f"CPU: this process {time.process_time():.1f} s, moto processes "
                                f"{sum(MOTO_CPU_S):.1f} s")
