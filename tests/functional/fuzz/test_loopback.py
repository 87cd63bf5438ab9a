"""The same fuzz, smaller, over a real server: uvicorn on loopback, as `aigw dev` and the
Lambda adapter serve the app, so the HTTP layer (framing, headers, the body read) is in the
path. Zero 5xx, every error in its route's envelope."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.aws import AwsResources
from aigw.local.environment import serve_in_thread
from tests.functional.fuzz.checks import check
from tests.functional.fuzz.harness import FuzzGateway, make_gateway, record_counts, scaled
from tests.functional.fuzz.strategies import DAMAGES
from tests.functional.fuzz.test_admin import ADMIN_HOSTILE_PERCENTS, AdminFuzz
from tests.functional.fuzz.test_front_doors import DOORS, FUZZ_SETTINGS, fuzz_door

pytestmark = pytest.mark.slow
PER_DOOR = scaled(150)
BATCH = 25


@pytest.fixture(scope="module")
def loopback_gw(fuzz_aws: AwsResources) -> Iterator[FuzzGateway]:
    from anyio.from_thread import start_blocking_portal

    with start_blocking_portal() as portal:
        gw = make_gateway(fuzz_aws, portal)
        server = serve_in_thread(gw.app)
        gw.http = portal.call(lambda: _client(server.url))
        yield gw
        portal.call(gw.http.aclose)
        server.stop()
        portal.call(gw.services.aclose)


async def _client(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=BATCH))


@pytest.mark.parametrize(("path", "envelope", "fuzzer", "hostile_percents"), DOORS, ids=[d[0] for d in DOORS])
def test_front_doors_over_loopback(loopback_gw: FuzzGateway, path: str, envelope: str, fuzzer: object,
                                   hostile_percents: list[int]) -> None:
    results = fuzz_door(loopback_gw, path, envelope, fuzzer, hostile_percents,  # type: ignore[arg-type]
                        per_door=PER_DOOR, batch=BATCH)
    record_counts(f"loopback {path}", results)
    assert len(results) >= PER_DOOR and 200 in {r.status for r in results}


def test_admin_over_loopback(loopback_gw: FuzzGateway) -> None:
    fuzz = AdminFuzz(loopback_gw)
    sent: list[object] = []
    request = st.builds(fuzz.request, st.integers(0, 2**32 - 1), st.sampled_from(ADMIN_HOSTILE_PERCENTS),
                        st.sampled_from(DAMAGES), st.sampled_from(["token"] * 30 + ["none", "wrong"]))

    @settings(FUZZ_SETTINGS, max_examples=PER_DOOR // BATCH)
    @given(st.lists(request, min_size=BATCH, max_size=BATCH))
    def run(requests: list) -> None:  # type: ignore[type-arg]
        results = loopback_gw.send(requests)
        for got in results:
            check(got, "admin")
        sent.extend(results)

    run()
    record_counts("loopback /admin/*", sent)  # type: ignore[arg-type]
    assert len(sent) >= PER_DOOR
