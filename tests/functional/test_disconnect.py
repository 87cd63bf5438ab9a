"""A client that leaves mid-stream: the gateway cancels the upstream call and still
settles and logs what was generated."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest


@pytest.mark.parametrize("server", [None, {"http": "httptools"}], ids=["gateway-server", "uvicorn-httptools"])
def test_client_disconnect_cancels_upstream_and_settles(make_gateway: Any, fake_openai: Any,
                                                        server: dict[str, Any] | None) -> None:
    """Under the gateway's own server the exchange calls back on the disconnect; under another
    server a task watches for `http.disconnect`: either way the stream is cancelled at once."""
    fake_openai.fake.word_delay_s = 0.3
    gw = make_gateway({"models": [{"name": "gpt-4o-mini", "deployments": [
        {"provider": "openai", "model": "gpt-4o-mini", "api_base": fake_openai.base_url,
         "credentials": "openai-test"}]}]}, server=server)
    body = {"model": "gpt-4o-mini", "stream": True,
            "messages": [{"role": "user", "content": "tell me a long story about gateways"}]}
    with httpx.Client(timeout=10) as client, client.stream(
            "POST", gw.base_url + "/chat/completions", json=body,
            headers={"authorization": f"Bearer {gw.key}"}) as response:
        assert response.status_code == 200
        received = 0
        for line in response.iter_lines():
            if line.startswith("data: "):
                received += 1
            if received == 3:
                break  # leave mid-stream: closing the response drops the connection
    record = gw.last_record(1)
    assert record["disconnected"] is True and record["status"] == 499
    assert record["usage_estimated"] is True
    assert record["output_tokens"] > 0 and record["cost_usd"] > 0  # what was generated is paid for
    deadline = time.monotonic() + 5
    while not fake_openai.fake.stream_endings and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_openai.fake.stream_endings == ["cancelled"]  # the upstream call was stopped, not drained
