"""Traces through the running gateway, decoded from the OTLP protobuf a collector receives:
the span tree of a streamed call with one retry and a fallback, traceparent continuation,
sampling honoured, no prompt text unless the team opted in, and spans exported before the
response ends (what keeps them safe from a Lambda freeze)."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import httpx

from aigw.pipeline.context import RequestContext
from aigw.providers.base import ChatChunk, ChatResult
from tests.fakes.otlp_receiver import ReceivedSpan

PRICE = {"input_per_mtok": 1, "output_per_mtok": 2}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
SECRET_PROMPT = "the password is zebra-seven"


def chain_config(upstream: str, **extra: Any) -> dict[str, Any]:
    """`primary` fails with 503 on its only deployment (tried twice: one retry), then falls
    back to `backup`, which answers."""
    def deployment(model: str, id: str) -> dict[str, Any]:
        return {"provider": "openai", "model": model, "api_base": upstream, "credentials": "openai-test", "id": id,
                "price": PRICE}

    return {"models": [
        {"name": "primary", "deployments": [deployment("gpt-4o-mini-fail-503", "primary-dep")],
         "fallbacks": ["backup"]},
        {"name": "backup", "deployments": [deployment("gpt-4o-backup", "backup-dep")]}],
        "routing": {"max_retries": 1, "backoff_base_s": 0.001, "backoff_max_s": 0.01}, **extra}


def one_model(upstream: str) -> dict[str, Any]:
    return {"models": [{"name": "m", "deployments": [
        {"provider": "openai", "model": "gpt-4o-mini", "api_base": upstream, "credentials": "openai-test"}]}]}


def post(gw: Any, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    """The whole response, read to its very end (the terminating chunk of a stream included)."""
    with httpx.Client(timeout=10) as client:
        response = client.post(gw.base_url + "/chat/completions", json=body,
                               headers={"authorization": f"Bearer {gw.key}", **(headers or {})})
        response.read()
        return response


def by_name(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]]:
    out: dict[str, list[ReceivedSpan]] = {}
    for span in sorted(spans, key=lambda s: s.start_ns):
        out.setdefault(span.name, []).append(span)
    return out


def all_attribute_text(spans: list[ReceivedSpan]) -> str:
    return json.dumps([s.attributes for s in spans])


def test_streamed_call_with_a_retry_and_a_fallback(traced_gateway: Any, fake_openai: Any, otlp: Any) -> None:
    fake_openai.fake.word_delay_s = 0.03  # the streamed attempt lasts about 6 words x 30 ms
    gw = traced_gateway(chain_config(fake_openai.base_url))
    response = post(gw, {"model": "primary", "stream": True, "stream_options": {"include_usage": True},
                         "max_tokens": 50, "temperature": 0.3, "user": "end-user-42",
                         "messages": [{"role": "user", "content": SECRET_PROMPT}]},
                    headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    assert response.status_code == 200 and b"[DONE]" in response.content
    # The response has ended: its spans must already be at the collector, without waiting.
    spans = otlp.fake.wait_for(5, timeout_s=0)
    record = gw.records[-1]
    named = by_name(spans)
    assert sorted(named) == ["POST /v1/chat/completions", "aigw.admission", "chat gpt-4o-backup",
                             "chat gpt-4o-mini-fail-503"]
    (server,) = named["POST /v1/chat/completions"]
    (admission,) = named["aigw.admission"]
    failed = named["chat gpt-4o-mini-fail-503"]
    (answered,) = named["chat gpt-4o-backup"]
    attempts = [*failed, answered]

    # One trace, continuing the caller's; the stage and every attempt are the server span's children.
    assert {s.trace_id for s in spans} == {TRACE_ID}
    assert (server.kind, server.parent_span_id) == ("SERVER", PARENT_ID)
    assert admission.kind == "INTERNAL" and admission.attributes["aigw.stage.outcome"] == "continue"
    assert all(s.kind == "CLIENT" and s.parent_span_id == server.span_id for s in attempts)
    assert admission.parent_span_id == server.span_id

    # Retries and the fallback are siblings, in order, one after the other.
    assert [s.attributes["aigw.attempt.number"] for s in attempts] == [1, 2, 3]
    assert all(a.end_ns <= b.start_ns for a, b in itertools.pairwise(attempts))
    for span in failed:
        assert span.status == "ERROR"
        assert (span.attributes["http.response.status_code"], span.attributes["error.type"]) == (503, "503")
        assert span.attributes["aigw.attempt.status"] == 502  # what the gateway makes of an upstream 503
        assert (span.attributes["aigw.model"], span.attributes["aigw.fallback"]) == ("primary", False)
        assert "gen_ai.response.id" not in span.attributes
    # The streamed attempt ends when its stream ends, not at its first byte.
    assert answered.end_ns - answered.start_ns >= 5 * 0.03 * 1e9
    assert answered.status == "UNSET"
    upstream_port = int(fake_openai.base_url.rsplit(":", 1)[1].split("/")[0])
    usage = {"gen_ai.usage.input_tokens": record["input_tokens"], "gen_ai.usage.output_tokens": record["output_tokens"]}
    assert record["input_tokens"] > 0 and record["output_tokens"] > 0
    assert answered.attributes == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-backup",
        "gen_ai.request.stream": True, "gen_ai.request.max_tokens": 50, "gen_ai.request.temperature": 0.3,
        "server.address": "127.0.0.1", "server.port": upstream_port, "aigw.attempt.number": 3,
        "aigw.deployment": "backup-dep", "aigw.model": "backup", "aigw.fallback": True,
        "http.response.status_code": 200, "aigw.attempt.status": 200,
        "aigw.attempt.latency_ms": answered.attributes["aigw.attempt.latency_ms"],
        "gen_ai.response.id": "chatcmpl-fake", "gen_ai.response.model": "gpt-4o-backup",
        "gen_ai.response.finish_reasons": ["stop"], **usage}

    # The request span: what was asked, what answered, who, and what it cost.
    s = server.attributes
    assert {k: s[k] for k in ("gen_ai.operation.name", "gen_ai.request.model", "gen_ai.provider.name",
                              "gen_ai.response.model", "gen_ai.response.id", "gen_ai.response.finish_reasons",
                              "gen_ai.request.max_tokens", "gen_ai.request.temperature", "http.route",
                              "http.response.status_code")} == {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "primary", "gen_ai.provider.name": "openai",
        "gen_ai.response.model": "gpt-4o-backup", "gen_ai.response.id": "chatcmpl-fake",
        "gen_ai.response.finish_reasons": ["stop"], "gen_ai.request.max_tokens": 50,
        "gen_ai.request.temperature": 0.3, "http.route": "/v1/chat/completions", "http.response.status_code": 200}
    assert {k: s[k] for k in usage} == usage
    assert (s["aigw.team"], s["aigw.key_id"], s["aigw.end_user"]) == ("research", record["key_id"], "end-user-42")
    assert s["aigw.cost_usd"] == record["cost_usd"] > 0
    assert (s["aigw.attempts"], s["aigw.retries"], s["aigw.served_model"]) == (3, 2, "backup")
    assert s["aigw.cache.result"] == record["cache"]
    assert s["aigw.request_id"] == record["request_id"] == response.headers["x-request-id"]
    assert server.start_ns <= admission.start_ns and answered.end_ns <= server.end_ns

    # The resource and the export's own headers come from the OTEL_* variables.
    assert server.resource["service.name"] == "aigw-test"
    assert server.resource["deployment.environment"] == "test"
    assert otlp.fake.exports[-1].headers["x-test-token"] == "abc def"
    # No prompt or completion text without an opt-in.
    assert "zebra" not in all_attribute_text(spans)
    assert "gen_ai.input.messages" not in s and "gen_ai.output.messages" not in s


def test_a_trace_without_traceparent_starts_fresh_and_an_unsampled_caller_is_honoured(
        traced_gateway: Any, fake_openai: Any, otlp: Any) -> None:
    gw = traced_gateway(one_model(fake_openai.base_url))
    ask = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    # The caller did not sample its trace: the gateway records nothing of it either.
    unsampled = post(gw, ask, {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"})
    fresh = post(gw, ask)
    assert unsampled.status_code == fresh.status_code == 200
    spans = otlp.fake.wait_for(3, timeout_s=0)
    assert len(spans) == 3  # server, admission, one attempt: all of the second request
    (server,) = [s for s in spans if s.kind == "SERVER"]
    assert server.parent_span_id == "" and server.trace_id != TRACE_ID
    assert {s.trace_id for s in spans} == {server.trace_id}
    assert server.attributes["aigw.request_id"] == fresh.headers["x-request-id"]
    (attempt,) = [s for s in spans if s.kind == "CLIENT"]
    # A non-streaming answer: response attributes from the complete body.
    assert attempt.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert attempt.attributes["gen_ai.request.stream"] is False
    assert attempt.attributes["gen_ai.usage.output_tokens"] == gw.records[-1]["output_tokens"]


class _Redact:
    """A stand-in guardrail: redacts the prompt on the way in and rewrites the answer on the
    way out, through the pipeline's own seams (`ctx.rewrite_texts`, an output filter)."""

    name = "guardrails"

    async def before(self, ctx: RequestContext) -> None:
        ctx.rewrite_texts(lambda text: text.replace("zebra-seven", "[REDACTED]"))
        ctx.log_for(self.name)["guardrail_actions"] = ["redact:password"]

    async def after(self, ctx: RequestContext) -> None:
        return None

    async def on_chunk(self, ctx: RequestContext, chunk: ChatChunk) -> list[ChatChunk]:
        for choice in chunk.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if isinstance(content, str):
                choice["delta"]["content"] = content.replace("Hello", "Howdy")
        return [chunk]

    async def on_end(self, ctx: RequestContext) -> list[ChatChunk]:
        return []

    async def on_body(self, ctx: RequestContext, result: ChatResult) -> ChatResult:
        return result


def test_content_only_for_an_opted_in_team_and_only_after_redaction(traced_gateway: Any, fake_openai: Any,
                                                                   otlp: Any) -> None:
    config = {**one_model(fake_openai.base_url), "telemetry": {"capture_content_teams": ["research"]}}
    gw = traced_gateway(config, stages=None)
    tap = gw.listener.response_tap
    gw.services.pipeline.stages = [tap, _Redact()]  # the tap first, as build_stages puts it
    body = {"model": "m", "stream": True, "messages": [{"role": "system", "content": "be brief"},
                                                       {"role": "user", "content": SECRET_PROMPT}]}
    assert post(gw, body).status_code == 200
    other_team = gw.create_key(team="finance")
    with httpx.Client(timeout=10) as client:
        client.post(gw.base_url + "/chat/completions", json=body, headers={"authorization": f"Bearer {other_team}"})
    spans = otlp.fake.wait_for(6, timeout_s=0)
    opted, other = sorted((s for s in spans if s.kind == "SERVER"), key=lambda s: s.start_ns)
    assert opted.attributes["aigw.team"] == "research" and other.attributes["aigw.team"] == "finance"
    prompt = json.loads(opted.attributes["gen_ai.input.messages"])
    assert prompt == [{"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
                      {"role": "user", "parts": [{"type": "text", "content": "the password is [REDACTED]"}]}]
    (answer,) = json.loads(opted.attributes["gen_ai.output.messages"])
    assert answer["finish_reason"] == "stop"
    assert answer["parts"][0]["content"] == "Howdy from gpt-4o-mini: you said the password is [REDACTED]"
    assert opted.attributes["aigw.guardrails.guardrail_actions"] == ["redact:password"]
    assert "zebra" not in all_attribute_text(spans)
    assert "gen_ai.input.messages" not in other.attributes and "gen_ai.output.messages" not in other.attributes
    assert "Howdy" not in json.dumps(other.attributes)


def test_exports_signed_for_cloudwatch_carry_a_signature_aws_would_accept(traced_gateway: Any, fake_openai: Any,
                                                                         otlp: Any) -> None:
    """CloudWatch's OTLP endpoint takes SigV4 (service xray); forced here against the loopback
    receiver, which recomputes the signature from the request it got."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    # The signing credentials are the process's: conftest's fake "testing" keys.
    gw = traced_gateway(one_model(fake_openai.base_url),
                        environ={"AIGW_OTEL_SIGV4_SERVICE": "xray", "AWS_REGION": "us-east-1"})
    assert post(gw, {"model": "m", "messages": [{"role": "user", "content": "hi"}]}).status_code == 200
    otlp.fake.wait_for(3, timeout_s=0)
    export = otlp.fake.exports[-1]
    authorization = export.headers["authorization"]
    assert "/us-east-1/xray/aws4_request" in authorization
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    check = AWSRequest(method="POST", url=otlp.url + "/v1/traces", data=export.body,
                       headers={name: export.headers[name] for name in signed if name != "host"})
    check.context["timestamp"] = export.headers["x-amz-date"]
    signer = SigV4Auth(Credentials("testing", "testing"), "xray", "us-east-1")
    expected = signer.signature(signer.string_to_sign(check, signer.canonical_request(check)), check)
    assert authorization.rsplit("Signature=", 1)[1] == expected


def test_a_client_that_leaves_mid_stream_still_leaves_a_whole_trace(traced_gateway: Any, fake_openai: Any,
                                                                   otlp: Any) -> None:
    fake_openai.fake.word_delay_s = 0.2
    gw = traced_gateway(one_model(fake_openai.base_url))
    with httpx.Client(timeout=10) as client, client.stream(
            "POST", gw.base_url + "/chat/completions", headers={"authorization": f"Bearer {gw.key}"},
            json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}) as response:
        next(response.iter_bytes())  # the first frame, then the client is gone
    spans = otlp.fake.wait_for(3, timeout_s=10)
    (server,) = [s for s in spans if s.kind == "SERVER"]
    (attempt,) = [s for s in spans if s.kind == "CLIENT"]
    assert server.attributes["aigw.disconnected"] is True
    assert server.attributes["http.response.status_code"] == 499
    assert attempt.end_ns <= server.end_ns and attempt.parent_span_id == server.span_id


def test_concurrent_requests_keep_their_spans_apart(traced_gateway: Any, fake_openai: Any, otlp: Any) -> None:
    gw = traced_gateway(one_model(fake_openai.base_url))

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=10, headers={"authorization": f"Bearer {gw.key}"}) as client:
            return list(await asyncio.gather(*(
                client.post(gw.base_url + "/chat/completions",
                            json={"model": "m", "stream": i % 2 == 0, "messages": [{"role": "user", "content": "hi"}]},
                            headers={"traceparent": f"00-{i:032x}-{i:016x}-01"}) for i in range(1, 21))))

    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [200] * 20
    spans = otlp.fake.wait_for(60, timeout_s=0)  # every response has ended: all 20 traces are in
    for i, response in enumerate(responses, start=1):
        trace = [s for s in spans if s.trace_id == f"{i:032x}"]
        (server,) = [s for s in trace if s.kind == "SERVER"]
        assert len(trace) == 3 and server.parent_span_id == f"{i:016x}"
        assert all(s.parent_span_id == server.span_id for s in trace if s is not server)
        assert server.attributes["aigw.request_id"] == response.headers["x-request-id"]
        assert server.attributes["gen_ai.request.stream"] is (i % 2 == 0)


def test_the_real_pii_guardrail_keeps_the_email_out_of_captured_content(traced_gateway: Any, fake_openai: Any,
                                                                       otlp: Any) -> None:
    """With `restore: true` the client gets the email back in the answer; the span gets the
    placeholder in the prompt and no answer text at all."""
    email = "jane.doe@example.com"
    config = {**one_model(fake_openai.base_url), "telemetry": {"capture_content_teams": ["research"]},
              "guardrails": [{"name": "pii", "type": "pii", "action": "redact", "restore": True}],
              "policies": {"default": ["pii"]}}
    gw = traced_gateway(config)
    assert [s.name for s in gw.services.pipeline.stages][:2] == ["telemetry", "guardrails"]
    for stream in (False, True):
        response = post(gw, {"model": "m", "stream": stream,
                             "messages": [{"role": "user", "content": f"mail {email}"}]})
        assert response.status_code == 200 and email in response.text  # restored for the client
    spans = otlp.fake.wait_for(6, timeout_s=0)
    servers = [s for s in spans if s.kind == "SERVER"]
    assert len(servers) == 2
    for server in servers:
        assert "[EMAIL_1]" in server.attributes["gen_ai.input.messages"]
        assert server.attributes["aigw.content.output_omitted"] == "input_redacted"
        assert "gen_ai.output.messages" not in server.attributes
        assert server.attributes["aigw.guardrails.actions"] == ["input:pii:redact"]
    assert email not in all_attribute_text(spans)
    assert [s.name for s in spans if s.name.startswith("aigw.")].count("aigw.guardrails") == 2
