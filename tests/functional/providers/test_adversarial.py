"""The gateway against upstreams that misbehave as hypothesis chooses, through the official SDKs.

For every family (OpenAI, Azure OpenAI, Anthropic, Gemini, Bedrock) and both SDKs, streamed
and not: an answer is either complete or visibly failed (a truncated stream is an error to
the SDK, never a success or `end_turn`, and its log line says 502 `truncated`); no fault is a
500 or a dropped client connection; a credential an upstream echoes in an error appears
nowhere, in the response or in any log line. Examples per test: AIGW_FUZZ_EXAMPLES (30).
"""

from __future__ import annotations

import collections
import json
import os
import secrets
import string
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from hypothesis import HealthCheck, given, settings

from tests.conftest import put_secret
from tests.fakes.adversarial.anthropic_family import AnthropicFamily
from tests.fakes.adversarial.bedrock_family import BedrockFamily
from tests.fakes.adversarial.family import ANSWER, Expect, Family, plan
from tests.fakes.adversarial.faults import Fault, faults
from tests.fakes.adversarial.gemini_family import GeminiFamily
from tests.fakes.adversarial.openai_family import OpenAIFamily
from tests.fakes.adversarial.server import AdversarialServer, Received, Reply
from tests.fakes.provider_fixtures import last_record

EXAMPLES = int(os.environ.get("AIGW_FUZZ_EXAMPLES", "30"))
STALL_TIMEOUT_S = 0.4
OUTCOMES: collections.Counter[str] = collections.Counter()


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits
SECRETS = {  # shaped like each provider's keys, so the partial forms are the real ones
    "openai": "sk-proj-" + _random(ALNUM, 48),
    "azure": _random("0123456789abcdef", 32),
    "anthropic": "sk-ant-api03-" + _random(ALNUM + "-_", 80),
    "gemini": "AIza" + _random(ALNUM + "-_", 35),
    "bedrock": "AKIA" + _random(string.ascii_uppercase + string.digits, 16),
}
BEDROCK_SECRET_KEY = _random(ALNUM + "/+", 40)


class Upstream:
    """One family's adversarial server and the fault for the next request."""

    def __init__(self, family: Family, secret: str) -> None:
        self.family = family
        self.secret = secret
        self.fault = Fault()
        self.expect: Expect | None = None
        self.server = AdversarialServer(self.handle).start()

    def handle(self, request: Received) -> Reply:
        stream = (isinstance(request.body, dict) and bool(request.body.get("stream"))) or \
            "streamGenerateContent" in request.path or request.path.endswith("/converse-stream")
        reply, self.expect = plan(self.family, request, self.fault, self.secret, stream=stream,
                                  stall_s=STALL_TIMEOUT_S * 6)
        return reply


@pytest.fixture(scope="module", autouse=True)
def outcome_report() -> Iterator[None]:
    """Prints (with -s) what the fuzz tests saw: expected outcome, logged status and error code."""
    yield
    for key, value in sorted(OUTCOMES.items()):
        print(f"adversarial {key}: {value}")


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, Upstream]]:
    families: dict[str, Family] = {"openai": OpenAIFamily(), "azure": OpenAIFamily(), "anthropic": AnthropicFamily(),
                                   "gemini": GeminiFamily(), "bedrock": BedrockFamily()}
    started = {name: Upstream(family, SECRETS[name]) for name, family in families.items()}
    yield started
    for upstream in started.values():
        upstream.server.stop()


def _deployment(name: str, url: str, timeout_s: float) -> dict[str, Any]:
    d: dict[str, Any] = {"provider": name, "model": f"adv-{name}", "timeout_s": timeout_s, "api_base": url,
                         "price": {"input_per_mtok": 1, "output_per_mtok": 2}}
    if name == "openai":
        d["api_base"] = url + "/v1"
    if name == "azure":
        d["api_version"] = "2024-10-21"
    if name == "bedrock":
        d["region"] = "us-east-1"
    else:
        d["credentials"] = f"adv-{name}"
    return d


@pytest.fixture
def gw(provider_gateway: Any, local_aws: Any, upstreams: dict[str, Upstream], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SECRETS["bedrock"])  # what Bedrock's client signs with
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", BEDROCK_SECRET_KEY)
    for name, secret in SECRETS.items():
        if name != "bedrock":
            put_secret(local_aws, f"adv-{name}", json.dumps({"api_key": secret}))
    models = []
    for name, upstream in upstreams.items():
        models.append({"name": name, "deployments": [_deployment(name, upstream.server.url, 10)]})
        models.append({"name": f"{name}-stall", "deployments": [_deployment(name, upstream.server.url,
                                                                            STALL_TIMEOUT_S)]})
    return provider_gateway({"models": models, "routing": {"max_retries": 0, "cooldown_failures": 1_000_000}},
                            stages=[])


def _model(name: str, fault: Fault) -> str:
    return f"{name}-stall" if fault.kind == "stall" else name


def _check(gw: Any, upstream: Upstream, before: int, outcome: str, status: int | None, texts: list[str]) -> None:
    expect = upstream.expect
    assert expect is not None, "the upstream was not called"
    record = last_record(gw, before + 1, timeout_s=10)
    label = f"{upstream.family.name} {upstream.fault}"
    OUTCOMES[f"{'ok' if expect.ok else 'error'}:{record['status']}:{record.get('error_code')}"] += 1
    if expect.ok:
        assert outcome == "ok", (label, outcome, texts)
        assert texts[0] == ANSWER, label
        assert record["status"] == 200, (label, record)
    else:
        assert outcome == "error", (label, outcome, texts)  # never a success, never end_turn
        assert record["status"] == expect.status, (label, record["status"], record.get("error"))
        if expect.codes:
            assert record.get("error_code") in expect.codes, (label, record.get("error_code"), record.get("error"))
        if expect.client_status is not None:
            assert status == expect.client_status, (label, status)
    assert record["status"] != 500, label
    if expect.fragment is not None:
        logged = gw.log.getvalue() + json.dumps(gw.records)
        for text in (*texts, logged):
            assert expect.fragment not in text and upstream.secret not in text, (label, text[:300])


def _openai_call(gw: Any, model: str, stream: bool) -> tuple[str, int | None, list[str]]:
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0, timeout=15)
    messages: Any = [{"role": "user", "content": "say five words"}]
    try:
        if stream:
            parts = [c.choices[0].delta.content or "" for c in client.chat.completions.create(
                model=model, messages=messages, stream=True) if getattr(c, "choices", None)]
            return "ok", 200, ["".join(parts)]
        completion = client.chat.completions.create(model=model, messages=messages)
        return "ok", 200, [completion.choices[0].message.content or ""]
    except openai.APIConnectionError as exc:  # the failure this test exists to rule out
        pytest.fail(f"{model}: connection-level failure instead of a well-formed error: {exc!r}")
    except openai.APIStatusError as exc:
        body = exc.response.json()
        assert set(body["error"]) >= {"message", "type", "code"}, body
        return "error", exc.status_code, [exc.response.text, exc.message]
    except openai.APIError as exc:  # an error event after the stream began
        assert stream, model
        return "error", None, [exc.message, json.dumps(exc.body)]


def _anthropic_call(gw: Any, model: str, stream: bool) -> tuple[str, int | None, list[str]]:
    client = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0, timeout=15)
    messages: Any = [{"role": "user", "content": "say five words"}]
    try:
        if stream:
            with client.messages.stream(model=model, max_tokens=64, messages=messages) as events:
                final = events.get_final_message()
        else:
            final = client.messages.create(model=model, max_tokens=64, messages=messages)
        assert final.stop_reason == "end_turn", final
        return "ok", 200, ["".join(b.text for b in final.content if b.type == "text")]
    except anthropic.APIConnectionError as exc:
        pytest.fail(f"{model}: connection-level failure instead of a well-formed error: {exc!r}")
    except anthropic.APIStatusError as exc:
        body: Any = exc.body
        assert body["type"] == "error" and body["error"]["message"], body
        status = None if exc.status_code == 200 else exc.status_code  # 200: an `error` event mid-stream
        return "error", status, [exc.response.text if status else "", str(exc.message), json.dumps(body)]


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("family", ["openai", "azure", "anthropic", "gemini", "bedrock"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
def test_openai_sdk_against_adversarial_upstreams(gw: Any, upstreams: dict[str, Upstream], family: str,
                                                  stream: bool) -> None:
    upstream = upstreams[family]

    @FUZZ
    @given(fault=faults(stream=stream))
    def run(fault: Fault) -> None:
        upstream.fault, upstream.expect = fault, None
        before = len(gw.records)
        outcome, status, texts = _openai_call(gw, _model(family, fault), stream)
        _check(gw, upstream, before, outcome, status, texts)

    run()


@pytest.mark.parametrize("family", ["anthropic", "openai", "bedrock"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
def test_anthropic_sdk_against_adversarial_upstreams(gw: Any, upstreams: dict[str, Upstream], family: str,
                                                     stream: bool) -> None:
    """/v1/messages: to an Anthropic deployment natively (frames verbatim), to others through the codec."""
    upstream = upstreams[family]

    @FUZZ
    @given(fault=faults(stream=stream))
    def run(fault: Fault) -> None:
        upstream.fault, upstream.expect = fault, None
        before = len(gw.records)
        outcome, status, texts = _anthropic_call(gw, _model(family, fault), stream)
        _check(gw, upstream, before, outcome, status, texts)

    run()


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_a_stream_cut_cleanly_is_an_error_with_502_truncated(gw: Any, upstreams: dict[str, Upstream],
                                                             sdk: str) -> None:
    """The case of the issue, pinned: every frame up to (not including) the end, then a clean close."""
    upstream = upstreams["openai" if sdk == "openai" else "anthropic"]
    for at in range(1, 7 if sdk == "openai" else 11):  # OpenAI: up to the finish chunk; Anthropic: message_stop
        upstream.fault = Fault(kind="close", at=at)
        before = len(gw.records)
        call = _openai_call if sdk == "openai" else _anthropic_call
        outcome, _, texts = call(gw, "openai" if sdk == "openai" else "anthropic", True)
        assert outcome == "error", (at, texts)
        record = last_record(gw, before + 1)
        assert (record["status"], record["error_code"]) == (502, "truncated"), (at, record)
        if at >= (2 if sdk == "openai" else 4):  # some text went out: it is billed
            assert record["output_tokens"] > 0 and record["cost_usd"] > 0, (at, record)


@pytest.mark.parametrize(("family", "form"), [("openai", "masked"), ("anthropic", "full"), ("gemini", "prefix"),
                                              ("azure", "quoted-json"), ("bedrock", "full")])
@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_a_credential_echoed_by_a_401_appears_nowhere(gw: Any, upstreams: dict[str, Upstream], family: str,
                                                      form: str, sdk: str) -> None:
    """The case of the issue, pinned: "Incorrect API key provided: sk-...abcd" and its kin."""
    upstream = upstreams[family]
    upstream.fault = Fault(kind="echo", echo_form=form, echo_status=401)  # type: ignore[arg-type]
    before = len(gw.records)
    call = _openai_call if sdk == "openai" else _anthropic_call
    outcome, status, texts = call(gw, family, True)
    assert (outcome, status) == ("error", 502)
    record = last_record(gw, before + 1)
    assert record["error_code"] == "upstream_auth_failed" and record["request_id"] in texts[0]
    assert f"adv-{family}" in (record["error_detail"] or "") or family == "bedrock"  # which secret: the log only
    assert upstream.expect is not None and upstream.expect.fragment
    for text in (*texts, gw.log.getvalue(), json.dumps(gw.records)):
        assert upstream.expect.fragment not in text and upstream.secret not in text
