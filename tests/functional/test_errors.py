"""Bad input and upstream failure: the right status, the OpenAI envelope, never a stack trace."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest


@pytest.fixture
def gw(make_gateway: Any, fake_openai: Any) -> Any:
    def model(name: str, upstream: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "deployments": [{"provider": "openai", "model": upstream,
                                               "api_base": fake_openai.base_url, "credentials": "openai-test",
                                               **extra}]}

    return make_gateway({
        "models": [
            model("gpt-4o-mini", "gpt-4o-mini"),
            model("bad-request", "gpt-4o-mini-fail-400"),
            model("server-error", "gpt-4o-mini-fail-500"),
            model("unavailable", "gpt-4o-mini-fail-503"),
            model("throttled", "gpt-4o-mini-fail-429"),
            model("slow", "gpt-4o-mini-slow", timeout_s=0.3),
            model("broken", "gpt-4o-mini-broken"),
            model("badjson", "gpt-4o-mini-badjson"),
            model("unreachable", "gpt-4o-mini", api_base="http://127.0.0.1:9/v1", connect_timeout_s=0.5),
        ],
        "settings": {"max_body_bytes": 4096},
    })


def post(gw: Any, body: Any, *, key: str | None = None, raw: bytes | None = None,
         headers: dict[str, str] | None = None) -> httpx.Response:
    h = {"authorization": f"Bearer {key if key is not None else gw.key}", **(headers or {})}
    if raw is not None:
        return httpx.post(gw.base_url + "/chat/completions", content=raw, headers=h, timeout=10)
    return httpx.post(gw.base_url + "/chat/completions", json=body, headers=h, timeout=10)


GOOD = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def assert_envelope(response: httpx.Response, status: int, *, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and "Traceback" not in error["message"]
    assert response.headers["x-request-id"].startswith("req_")
    if code is not None:
        assert error["code"] == code
    return error  # type: ignore[no-any-return]


def test_authentication_failures(gw: Any) -> None:
    missing = httpx.post(gw.base_url + "/chat/completions", json=GOOD)
    assert_envelope(missing, 401, code="invalid_api_key")
    assert_envelope(post(gw, GOOD, key="sk-aigw-unknown-key-000000000000000000000000"), 401)
    revoked = gw.create_key(revoked=True)
    assert "revoked" in assert_envelope(post(gw, GOOD, key=revoked), 401)["message"]
    expired = gw.create_key(valid_until=time.time() - 1)
    assert "expired" in assert_envelope(post(gw, GOOD, key=expired), 401)["message"]
    via_x_api_key = httpx.post(gw.base_url + "/chat/completions", json=GOOD, headers={"x-api-key": gw.key})
    assert via_x_api_key.status_code == 200


def test_model_not_allowed_and_unknown(gw: Any) -> None:
    narrow = gw.create_key(models=["claude-*"])
    assert_envelope(post(gw, GOOD, key=narrow), 403, code="model_not_allowed")
    error = assert_envelope(post(gw, {**GOOD, "model": "nope"}), 404, code="model_not_found")
    assert error["param"] == "model"


@pytest.mark.parametrize(("body", "param"), [
    ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
    ({"model": "gpt-4o-mini"}, "messages"),
    ({"model": "gpt-4o-mini", "messages": "hi"}, "messages"),
    ({"model": "gpt-4o-mini", "messages": []}, "messages"),
    ({"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
    ({**GOOD, "temperature": 3}, "temperature"),
    ({**GOOD, "n": 0}, "n"),
    ({**GOOD, "max_tokens": "lots"}, "max_tokens"),
    ({**GOOD, "stream_options": {"include_usage": True}}, None),
])
def test_invalid_bodies_are_400(gw: Any, body: dict[str, Any], param: str | None) -> None:
    error = assert_envelope(post(gw, body), 400)
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param


def test_malformed_json_and_non_object(gw: Any) -> None:
    assert "not valid JSON" in assert_envelope(post(gw, None, raw=b'{"model": '), 400)["message"]
    assert_envelope(post(gw, None, raw=b"[1, 2]"), 400)
    assert_envelope(post(gw, None, raw=b""), 400)


def test_body_over_the_limit_is_413(gw: Any) -> None:
    big = {**GOOD, "messages": [{"role": "user", "content": "x" * 5000}]}
    assert_envelope(post(gw, big), 413, code="request_too_large")


def test_upstream_4xx_passes_through_with_its_message(gw: Any) -> None:
    error = assert_envelope(post(gw, {**GOOD, "model": "bad-request"}), 400)
    assert error["message"] == "fake failure 400"
    assert error["param"] == "temperature"
    throttled = post(gw, {**GOOD, "model": "throttled"})
    assert_envelope(throttled, 429)
    assert throttled.headers["retry-after"] == "1"


@pytest.mark.parametrize(("model", "status"), [("server-error", 502), ("unavailable", 502), ("badjson", 502),
                                               ("slow", 504), ("unreachable", 502)])
def test_upstream_failures_map_to_gateway_statuses(gw: Any, model: str, status: int) -> None:
    response = post(gw, {**GOOD, "model": model})
    error = assert_envelope(response, status)
    assert "sk-test-upstream" not in response.text
    assert error["type"] == "upstream_error"  # the upstream failed, not the request: never a client error type
    assert gw.last_record(1)["status"] == status


def test_stream_failing_before_first_byte_gets_an_http_status(gw: Any) -> None:
    c = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    with pytest.raises(openai.InternalServerError) as failure:
        c.chat.completions.create(model="server-error", messages=GOOD["messages"], stream=True)
    assert failure.value.status_code == 502


def test_stream_broken_after_first_byte_ends_with_an_error_the_sdk_raises(gw: Any) -> None:
    c = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0, timeout=10)
    received: list[str] = []
    started = time.monotonic()
    with pytest.raises(openai.APIError) as failure:
        for chunk in c.chat.completions.create(model="broken", messages=GOOD["messages"], stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert time.monotonic() - started < 5  # never a hang
    assert "".join(received) == "Hello from"
    assert "upstream stream broke" in str(failure.value)
    record = gw.last_record(1)
    assert record["status"] == 502 and record["output_tokens"] > 0  # what was generated is still counted


def test_unknown_route_is_404_in_the_envelope(gw: Any) -> None:
    assert_envelope(httpx.get(gw.url + "/v1/nothing-here"), 404, code="unknown_url")


def test_a_method_no_route_takes_is_405_in_the_envelope(gw: Any) -> None:
    response = httpx.request("OPTIONS", gw.base_url + "/chat/completions", timeout=10)
    assert_envelope(response, 405, code="method_not_allowed")
    assert set(response.headers["allow"].split(", ")) == {"POST"}
