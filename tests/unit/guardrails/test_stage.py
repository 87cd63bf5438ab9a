"""GuardrailStage against a fake of the RequestContext seam (operation, slot/put, rewrite_texts, log)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx

from aigw.config.loader import load_config
from aigw.guardrails.engine import build
from aigw.guardrails.errors import GuardrailBlocked
from aigw.guardrails.stage import HEADER, GuardrailStage
from aigw.pipeline.stages import Reject, Stop
from aigw.providers.base import ChatResult

EMAIL = "jane.roe@example.com"
AWS = "AKIAIOSFODNN7EXAMPLE"


@dataclass
class FakeContext:
    body: dict[str, Any]
    operation: str = "chat"
    request_id: str = "req_1"
    key: Any = field(default_factory=lambda: SimpleNamespace(team_id="t1", project=None, key_id="key_1"))
    model: Any = field(default_factory=lambda: SimpleNamespace(name="gpt-4o-mini"))
    log: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    request_headers: dict[str, str] = field(default_factory=dict)
    slots: dict[type, Any] = field(default_factory=dict)
    rewrites: int = 0

    def slot(self, cls: type) -> Any:
        return self.slots.get(cls)

    def log_for(self, namespace: str) -> dict[str, Any]:
        return self.log

    def put(self, obj: object) -> None:
        self.slots[type(obj)] = obj

    def rewrite_texts(self, fn: Any) -> None:
        self.rewrites += 1
        for message in self.body.get("messages", []):
            if isinstance(message.get("content"), str):
                message["content"] = fn(message["content"])
            elif isinstance(message.get("content"), list):
                for part in message["content"]:
                    if "text" in part:
                        part["text"] = fn(part["text"])
        if isinstance(self.body.get("input"), list):
            self.body["input"] = [fn(t) for t in self.body["input"]]


def stage(guardrails: list[dict[str, Any]], policies: dict[str, Any] | None = None, **deps: Any) -> GuardrailStage:
    config = load_config({"guardrails": guardrails,
                          "policies": policies or {"default": [g["name"] for g in guardrails]}})
    return GuardrailStage(config, build(config.guardrails, **deps))


def chat(*texts: str) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": t} for t in texts]}


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    d = dict(delta)
    if content is not None:
        d["content"] = content
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}


async def stream(s: GuardrailStage, ctx: FakeContext, chunks: list[dict[str, Any]]) -> tuple[str, Stop | None]:
    text = []
    for c in chunks:
        out = await s.on_chunk(ctx, c)
        if isinstance(out, Stop):
            return "".join(text), out
        text.extend(o["choices"][0]["delta"].get("content") or "" for o in out)
    end = await s.on_end(ctx)
    if isinstance(end, Stop):
        return "".join(text), end
    text.extend(o["choices"][0]["delta"].get("content") or "" for o in end)
    return "".join(text), None


async def test_input_block_is_a_400_that_names_types_never_values() -> None:
    s = stage([{"name": "secrets", "type": "secrets"}])
    ctx = FakeContext(chat("hi", f"my key is {AWS}"))
    ctx.request_headers = {"x-aigw-guardrails": "off"}  # nothing a client sends turns one off
    ctx.body["guardrails"] = []
    out = await s.before(ctx)
    assert isinstance(out, Reject) and isinstance(out.error, GuardrailBlocked)
    body = out.error.openai_body()
    assert out.error.status == 400 and body["error"]["code"] == "guardrail_blocked"
    assert body["error"]["guardrail"] == "secrets" and body["error"]["entities"] == ["aws_access_key"]
    assert AWS not in json.dumps(body) and AWS not in json.dumps(out.error.anthropic_body())
    assert ctx.log["guardrails"] == [{"name": "secrets", "action": "block", "source": "input",
                                      "entities": {"aws_access_key": 1}}]
    assert AWS not in json.dumps(ctx.log) and out.error.headers[HEADER] == "secrets"


async def test_redact_restore_round_trip_through_a_stream() -> None:
    s = stage([{"name": "pii", "type": "pii", "action": "redact", "restore": True}])
    ctx = FakeContext(chat(f"Email {EMAIL} about it", [{"type": "text", "text": f"cc {EMAIL}"}]))  # type: ignore[arg-type]
    assert await s.before(ctx) is None
    upstream = json.dumps(ctx.body)
    assert EMAIL not in upstream and "[EMAIL_1]" in upstream and ctx.rewrites == 1
    # the model repeats the placeholder, split across chunks
    text, stop = await stream(s, ctx, [chunk("Sure, I will write to [EM"), chunk("AIL_"), chunk("1] today."),
                                       chunk(finish="stop")])
    assert stop is None and text == f"Sure, I will write to {EMAIL} today."
    assert ctx.headers[HEADER] == "pii"


async def test_redact_restore_through_a_json_body() -> None:
    s = stage([{"name": "pii", "type": "pii", "action": "redact", "restore": True}])
    ctx = FakeContext(chat(f"Email {EMAIL}"))
    await s.before(ctx)
    result = ChatResult(body={"choices": [{"index": 0, "message": {"role": "assistant",
                                                                   "content": "Done: [EMAIL_1]."}}]}, usage=None)
    out = await s.on_body(ctx, result)
    assert isinstance(out, ChatResult) and out.body["choices"][0]["message"]["content"] == f"Done: {EMAIL}."
    assert result.body["choices"][0]["message"]["content"] == "Done: [EMAIL_1]."  # not mutated


async def test_a_secret_split_across_chunks_never_reaches_the_client() -> None:
    s = stage([{"name": "secrets", "type": "secrets"}])
    ctx = FakeContext(chat("print a key"))
    await s.before(ctx)
    pieces = ["Here it is: AK", "IAIOSF", "ODNN7EX", "AMPLE and more", " text", "."]
    text, stop = await stream(s, ctx, [chunk(p) for p in pieces])
    assert isinstance(stop, Stop) and stop.reason == "content_filter" and stop.by == "secrets"
    assert "AKIA" not in text and text.startswith("Here it is:")
    assert await s.on_chunk(ctx, chunk("more")) == stop  # stays stopped
    await s.after(ctx)
    assert ctx.log["guardrails"] == [{"name": "secrets", "action": "block", "source": "output",
                                      "entities": {"aws_access_key": 1}}]


async def test_clean_stream_passes_chunks_through_untouched() -> None:
    s = stage([{"name": "secrets", "type": "secrets"}, {"name": "pii", "type": "pii", "action": "redact"}])
    ctx = FakeContext(chat("hello"))
    await s.before(ctx)
    role = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
    out = await s.on_chunk(ctx, role)
    assert isinstance(out, list) and out[0] is role  # the same object: a native frame may be sent verbatim
    text, stop = await stream(s, ctx, [chunk("Hello"), chunk(" world, all"), chunk(" good."), chunk(finish="stop")])
    assert stop is None and text == "Hello world, all good."
    assert "guardrails" not in ctx.log


async def test_tool_call_arguments_are_checked() -> None:
    s = stage([{"name": "pii", "type": "pii", "action": "redact"}])
    ctx = FakeContext(chat("hi"))
    await s.before(ctx)
    args = []
    for piece in ['{"to": "jane.r', 'oe@example.com"}']:
        out = await s.on_chunk(ctx, chunk(tool_calls=[{"index": 0, "function": {"arguments": piece}}]))
        assert not isinstance(out, Stop)
        for o in out:
            for call in o["choices"][0]["delta"].get("tool_calls") or []:
                args.append(call["function"].get("arguments") or "")
    end = await s.on_chunk(ctx, chunk(finish="tool_calls"))
    assert not isinstance(end, Stop)
    for o in end:
        for call in o["choices"][0]["delta"].get("tool_calls") or []:
            args.append(call["function"].get("arguments") or "")
    assert "".join(args) == '{"to": "[EMAIL_1]"}'


async def test_monitor_only_records() -> None:
    s = stage([{"name": "pii", "type": "pii", "action": "monitor"}])
    ctx = FakeContext(chat(f"mail {EMAIL}"))
    assert await s.before(ctx) is None and ctx.rewrites == 0
    assert ctx.log["guardrails"] == [{"name": "pii", "action": "monitor", "source": "input", "entities": {"email": 1}}]


async def test_embeddings_inputs_are_checked_and_redacted() -> None:
    s = stage([{"name": "pii", "type": "pii", "action": "redact"}])
    ctx = FakeContext({"model": "e", "input": [f"about {EMAIL}", "plain"]}, operation="embeddings")
    assert await s.before(ctx) is None
    assert ctx.body["input"] == ["about [EMAIL_1]", "plain"]


async def test_policies_choose_per_team_and_key() -> None:
    s = stage([{"name": "words", "type": "deny_patterns", "words": ["bluebird"]}],
              {"teams": {"research": ["words"]}})
    ctx = FakeContext(chat("bluebird"))
    assert await s.before(ctx) is None  # team t1: no policy
    ctx = FakeContext(chat("bluebird"), key=SimpleNamespace(team_id="research", project=None, key_id="k"))
    assert isinstance(await s.before(ctx), Reject)


async def test_webhook_failure_follows_on_error() -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    http = httpx.AsyncClient(transport=httpx.MockTransport(failing))
    for on_error, blocked in (("block", True), ("allow", False)):
        s = stage([{"name": "hook", "type": "webhook", "url": "https://g/x", "on_error": on_error}], http=http)
        ctx = FakeContext(chat("hello"))
        out = await s.before(ctx)
        assert isinstance(out, Reject) is blocked
        assert ctx.log["guardrails"][0]["action"] == "error"


async def test_redaction_comes_before_later_guardrails() -> None:
    seen: list[list[str]] = []

    def hook(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["texts"])
        return httpx.Response(200, json={"action": "allow"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(hook))
    s = stage([{"name": "pii", "type": "pii", "action": "redact", "apply_to": ["input"]},
               {"name": "hook", "type": "webhook", "url": "https://g/x", "apply_to": ["input"]}], http=http)
    await s.before(FakeContext(chat(f"mail {EMAIL}")))
    assert seen == [["mail [EMAIL_1]"]]
