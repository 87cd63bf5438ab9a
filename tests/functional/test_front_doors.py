"""What every front door does the same way (http/frontdoor.py): refusals before the pipeline
leave a log line, a client that leaves or drips while sending its body, the end user behind a
key, one model by id, unknown routes in the client's envelope, CORS when configured."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

MOCK = {"models": [{"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]}]}


@pytest.fixture
def gw(make_gateway: Any) -> Any:
    return make_gateway({**MOCK, "settings": {"body_read_timeout_s": 0.5,
                                              "cors_allow_origins": ["https://app.example"]}})


def test_refusals_before_the_pipeline_leave_one_log_line_and_metrics(gw: Any) -> None:
    url = gw.base_url + "/chat/completions"
    assert httpx.post(url, json={"model": "mock-fast"}, headers={"authorization": "Bearer sk-nope"}).status_code == 401
    r = httpx.post(url, content=b"{", headers={"authorization": f"Bearer {gw.key}"})
    assert r.status_code == 400
    r2 = httpx.post(gw.base_url + "/messages", json={"model": "nope", "max_tokens": 5, "messages": [
        {"role": "user", "content": "hi"}]}, headers={"x-api-key": gw.key, "anthropic-version": "2023-06-01"})
    assert r2.status_code == 404 and r2.json()["type"] == "error"
    deadline = time.monotonic() + 5
    while len(gw.records) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    statuses = [(rec["status"], rec["api"], rec["error_code"]) for rec in gw.records]
    assert statuses == [(401, "openai", "invalid_api_key"), (400, "openai", "invalid_json"),
                        (404, "anthropic", "model_not_found")]
    assert gw.records[1]["request_id"] == r.headers["x-request-id"] and gw.records[1]["key_id"]
    log = gw.log.getvalue()
    assert '"ErrorType":"invalid_api_key"' in log and "sk-nope" not in log


def _raw(gw: Any, head: bytes) -> socket.socket:
    host, port = gw.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(head)
    return sock


def test_a_body_that_drips_gets_a_408_and_a_client_that_leaves_is_a_499_at_info(gw: Any) -> None:
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {gw.key}\r\n"
            "content-type: application/json\r\ncontent-length: 200\r\n\r\n").encode()
    sock = _raw(gw, head + b'{"model"')
    started = time.monotonic()
    answer = sock.recv(4096)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 3
    sock = _raw(gw, head + b'{"model"')
    time.sleep(0.1)
    sock.close()
    deadline = time.monotonic() + 5
    while not any(r["status"] == 499 for r in gw.records) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [r["status"] for r in gw.records] == [408, 499]
    assert '"level":"ERROR"' not in gw.log.getvalue() and "Traceback" not in gw.log.getvalue()


def test_the_end_user_lands_in_the_log_line(gw: Any) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    client.chat.completions.create(model="mock-fast", messages=[{"role": "user", "content": "hi"}], user="u-42")
    client.chat.completions.create(model="mock-fast", messages=[{"role": "user", "content": "hi"}], user="u-42",
                                   extra_headers={"x-aigw-end-user": "alice"})
    ant = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)
    ant.messages.create(model="mock-fast", max_tokens=5, messages=[{"role": "user", "content": "hi"}],
                        metadata={"user_id": "bob"})
    assert [r["end_user"] for r in gw.records] == ["u-42", "alice", "bob"]


def test_one_model_by_id_in_either_shape(gw: Any) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    assert client.models.retrieve("mock-fast").id == "mock-fast"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-nope")
    ant = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)
    assert ant.models.retrieve("mock-fast").id == "mock-fast"


def test_unknown_routes_answer_in_the_clients_envelope(gw: Any) -> None:
    r = httpx.get(gw.base_url + "/nope", headers={"authorization": f"Bearer {gw.key}"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_url"
    r = httpx.post(gw.base_url + "/nope", headers={"x-api-key": gw.key, "anthropic-version": "2023-06-01"})
    assert r.status_code == 404 and r.json()["type"] == "error" and r.json()["error"]["type"] == "not_found_error"


def test_cors_preflight_for_a_configured_origin_only(gw: Any) -> None:
    ok = httpx.options(gw.base_url + "/chat/completions", headers={
        "origin": "https://app.example", "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx.options(gw.base_url + "/chat/completions", headers={
        "origin": "https://evil.example", "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in other.headers


def test_an_unexpected_error_is_a_500_whose_request_id_is_in_the_log(gw: Any, monkeypatch: Any) -> None:
    def boom(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr("aigw.http.openai_api.check", boom)
    r = httpx.post(gw.base_url + "/chat/completions", json={"model": "mock-fast", "messages": []},
                   headers={"authorization": f"Bearer {gw.key}"})
    assert r.status_code == 500 and "a bug" not in r.text and "Traceback" not in r.text
    request_id = r.headers["x-request-id"]
    lines = [json.loads(line) for line in gw.log.getvalue().splitlines() if line.startswith('{"level"')]
    assert any(line.get("request_id") == request_id and line.get("status") == 500 for line in lines)
