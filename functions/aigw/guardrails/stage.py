"""The guardrails stage (docs/DESIGN.md §4 step 3) and its output filter.

    before     the request's guardrails (policy.py) over every text sent upstream (texts.py):
               block -> Reject(400 guardrail_blocked, the route's own envelope); redact ->
               ctx.rewrite_texts (so the cache key and the upstream see placeholders);
               monitor -> recorded only
    on_chunk   every text delta (content, refusal, tool-call arguments) of every choice goes
               through StreamScanner (span detectors), then IntervalChecker (the others), then
               the Restorer (placeholders -> originals, when `restore: true`); a block ends the
               answer with Stop(reason="content_filter")
    on_end     flushes what is held
    on_body    the same checks on a complete JSON answer (cache hits included)
    after      one `guardrails` entry for the log line: each guardrail that acted (name, action,
               source, entity types and counts; never a value)

The stage is written against the pipeline seam (RequestContext.operation/slot/put/
rewrite_texts/log/headers, Stop); `GuardedContext` lists exactly what it uses.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from aigw.guardrails.base import find_all
from aigw.guardrails.engine import Acted, Guardrail, build, run_checks
from aigw.guardrails.errors import GuardrailBlocked
from aigw.guardrails.policy import applicable
from aigw.guardrails.redact import Restorer, Vault, redact
from aigw.guardrails.stream import Blocked, IntervalChecker, SpanRule, StreamScanner
from aigw.guardrails.texts import request_texts
from aigw.pipeline.stages import Reject, Stop

if TYPE_CHECKING:
    from aigw.config.models import GatewayConfig
    from aigw.providers.base import ChatChunk, ChatResult
    from aigw.services import StageDeps

T = TypeVar("T")
HEADER = "x-aigw-guardrails"
TEXT_FIELDS = ("content", "refusal")


class GuardedContext(Protocol):
    request_id: str
    operation: str
    key: Any  # KeyRecord: team_id, project, key_id
    model: Any  # ModelConfig: name
    body: dict[str, Any]
    headers: dict[str, str]

    def log_for(self, namespace: str) -> MutableMapping[str, Any]: ...

    def slot(self, cls: type[T]) -> T | None: ...

    def put(self, obj: object) -> None: ...

    def rewrite_texts(self, fn: Callable[[str], str]) -> None: ...


class _Channel:
    """One text stream of the answer: a choice's content, or one of its tool calls' arguments."""

    def __init__(self, state: GuardrailState) -> None:
        self.state = state
        spans = [g for g in state.output if g.spans is not None]
        others = [g for g in state.output if g.spans is None]
        self.scanner = StreamScanner([SpanRule(g.name, g.spans, g.action, g.restore, g.max_hold)  # type: ignore[arg-type]
                                      for g in spans], vault=state.vault) if spans else None
        self.interval = IntervalChecker(self._check, interval=min(g.interval_chars for g in others)) if others else None
        self.restorer = Restorer(state.vault) if state.vault.restorable else None
        self._others = others

    async def _check(self, segment: str) -> tuple[str, Blocked | None]:
        outcome = await run_checks(self._others, [segment], "output", self.state.vault, self.state.meta)
        self.state.record(outcome.acted)
        return (outcome.texts[0] if outcome.texts else segment), outcome.blocked

    async def feed(self, text: str) -> str | Blocked:
        if self.scanner is not None:
            released = self.scanner.feed(text)
            self.state.record_counts(released.acted)
            if released.blocked is not None:
                return released.blocked
            text = released.text
        if self.interval is not None and text:
            checked = await self.interval.feed(text)
            if checked.blocked is not None:
                return checked.blocked
            text = checked.text
        return self.restorer.feed(text) if self.restorer is not None else text

    async def flush(self) -> str | Blocked:
        text = ""
        if self.scanner is not None:
            released = self.scanner.flush()
            self.state.record_counts(released.acted)
            if released.blocked is not None:
                return released.blocked
            text = released.text
        if self.interval is not None:
            parts = []
            for step in (await self.interval.feed(text) if text else None, await self.interval.flush()):
                if step is None:
                    continue
                if step.blocked is not None:
                    return step.blocked
                parts.append(step.text)
            text = "".join(parts)
        if self.restorer is not None:
            return self.restorer.feed(text) + self.restorer.flush()
        return text


@dataclass(slots=True)
class GuardrailState:
    """Per request (ctx.put): the guardrails that apply, the vault, the stream channels."""

    input: list[Guardrail]
    output: list[Guardrail]
    meta: dict[str, str]
    vault: Vault = field(default_factory=Vault)
    acted: list[Acted] = field(default_factory=list)
    channels: dict[tuple[int, str], _Channel] = field(default_factory=dict)
    envelope: dict[str, Any] = field(default_factory=dict)
    stopped: Blocked | None = None

    def record(self, acted: Sequence[Acted]) -> None:
        for a in acted:
            for existing in self.acted:
                if (existing.guardrail, existing.action, existing.source) == (a.guardrail, a.action, a.source):
                    for k, v in a.entities.items():
                        existing.entities[k] = existing.entities.get(k, 0) + v
                    break
            else:
                self.acted.append(dataclasses.replace(a, entities=dict(a.entities)))

    def record_counts(self, acted: Mapping[tuple[str, str], Counter[str]]) -> None:
        self.record([Acted(name, action, "output", dict(c)) for (name, action), c in acted.items()])

    def channel(self, key: tuple[int, str]) -> _Channel:
        if key not in self.channels:
            self.channels[key] = _Channel(self)
        return self.channels[key]

    def names(self) -> str:
        seen: list[str] = []
        for a in self.acted:
            if a.guardrail not in seen:
                seen.append(a.guardrail)
        return ",".join(seen)


class GuardrailStage:
    name = "guardrails"

    def __init__(self, config: GatewayConfig, guardrails: Mapping[str, Guardrail]) -> None:
        self.config = config
        self.guardrails = dict(guardrails)

    def warm(self) -> None:
        for g in self.guardrails.values():
            warm = getattr(g.detector, "warm", None)
            if callable(warm):
                warm()

    def for_request(self, *, model: str, team: str | None, project: str | None, key_id: str | None) -> list[Guardrail]:
        """The guardrails that apply, in config order (also what `aigw keys show` lists)."""
        names = applicable(self.config.guardrails, self.config.policies, model=model, team=team, project=project,
                           key_id=key_id)
        return [self.guardrails[n] for n in names]

    # ---- input -------------------------------------------------------------------------------
    async def before(self, ctx: GuardedContext) -> Reject | None:
        key = ctx.key
        active = self.for_request(model=ctx.model.name, team=key.team_id, project=key.project, key_id=key.key_id)
        if not active:
            return None
        meta = {"request_id": ctx.request_id, "model": ctx.model.name, "team": key.team_id,
                "project": key.project or "", "key_id": key.key_id}
        state = GuardrailState(input=[g for g in active if "input" in g.sources],
                               output=[g for g in active if "output" in g.sources and ctx.operation == "chat"],
                               meta=meta)
        ctx.put(state)
        texts = request_texts(ctx.body, ctx.operation)
        outcome = await run_checks(state.input, texts, "input", state.vault, meta)
        state.record(outcome.acted)
        self._report(ctx, state)
        if outcome.blocked is not None:
            error = GuardrailBlocked(outcome.blocked.guardrail, outcome.blocked.entities)
            error.headers[HEADER] = state.names()
            return Reject(error)
        if outcome.changed:
            changed = outcome.changed
            redactors = [g for g in state.input if g.action == "redact" and g.spans is not None]

            def rewrite(text: str) -> str:
                if text in changed:
                    return changed[text]
                for g in redactors:  # a text only the native body carries: same placeholders
                    verdict = find_all(g.spans, [text])  # type: ignore[arg-type]
                    text = redact(text, verdict.findings[0], state.vault, restorable=g.restore)
                return text

            ctx.rewrite_texts(rewrite)
        return None

    async def after(self, ctx: GuardedContext) -> None:
        state = ctx.slot(GuardrailState)
        if state is not None:
            self._report(ctx, state)

    def _report(self, ctx: GuardedContext, state: GuardrailState) -> None:
        if state.acted:
            ctx.log_for("guardrails")["guardrails"] = [a.as_log() for a in state.acted]
            ctx.headers[HEADER] = state.names()

    # ---- output: streams ---------------------------------------------------------------------
    async def on_chunk(self, ctx: GuardedContext, chunk: ChatChunk) -> Sequence[ChatChunk] | Stop:
        state = ctx.slot(GuardrailState)
        if state is None or (not state.output and not state.vault.restorable):
            return [chunk]
        if state.stopped is not None:
            return self._stop(state.stopped)
        choices = chunk.get("choices")
        if not choices:
            return [chunk]
        state.envelope = {k: chunk[k] for k in ("id", "object", "created", "model") if k in chunk}
        new_choices: list[dict[str, Any]] = []
        changed = False
        for choice in choices:
            delta = choice.get("delta") or {}
            index = int(choice.get("index") or 0)
            new_delta = dict(delta)
            for name in TEXT_FIELDS:
                if isinstance(delta.get(name), str) and delta[name]:
                    out = await state.channel((index, name)).feed(delta[name])
                    if isinstance(out, Blocked):
                        return self._block(state, out)
                    if out != delta[name]:
                        new_delta[name], changed = out, True
            calls = delta.get("tool_calls")
            if calls:
                new_calls = []
                for call in calls:
                    fn = call.get("function") or {}
                    args = fn.get("arguments")
                    if isinstance(args, str) and args:
                        out = await state.channel((index, f"tool:{call.get('index', 0)}")).feed(args)
                        if isinstance(out, Blocked):
                            return self._block(state, out)
                        if out != args:
                            call = {**call, "function": {**fn, "arguments": out}}
                            changed = True
                    new_calls.append(call)
                new_delta["tool_calls"] = new_calls
            if choice.get("finish_reason"):
                flushed = await self._flush_choice(state, index, new_delta)
                if isinstance(flushed, Blocked):
                    return self._block(state, flushed)
                changed = changed or flushed
            new_choices.append({**choice, "delta": new_delta})
        if not changed:
            return [chunk]
        if all(_empty(c) for c in new_choices) and "usage" not in chunk:
            return []
        return [{**chunk, "choices": new_choices}]  # a plain dict: the codec renders it (not .native)

    async def _flush_choice(self, state: GuardrailState, index: int, delta: dict[str, Any]) -> bool | Blocked:
        changed = False
        for key in [k for k in state.channels if k[0] == index]:
            out = await state.channels.pop(key).flush()
            if isinstance(out, Blocked):
                return out
            if not out:
                continue
            changed = True
            if key[1] in TEXT_FIELDS:
                delta[key[1]] = out + (delta.get(key[1]) or "")
            else:
                tool_index = int(key[1].split(":", 1)[1])
                calls = list(delta.get("tool_calls") or [])
                calls.append({"index": tool_index, "function": {"arguments": out}})
                delta["tool_calls"] = calls
        return changed

    async def on_end(self, ctx: GuardedContext) -> Sequence[ChatChunk] | Stop:
        state = ctx.slot(GuardrailState)
        if state is None or not state.channels:
            return []
        if state.stopped is not None:
            return self._stop(state.stopped)
        chunks: list[ChatChunk] = []
        for index in sorted({k[0] for k in state.channels}):
            delta: dict[str, Any] = {}
            flushed = await self._flush_choice(state, index, delta)
            if isinstance(flushed, Blocked):
                return self._block(state, flushed)
            if flushed:
                chunks.append({**state.envelope, "choices": [{"index": index, "delta": delta, "finish_reason": None}]})
        return chunks

    # ---- output: complete bodies ------------------------------------------------------------
    async def on_body(self, ctx: GuardedContext, result: ChatResult) -> ChatResult | Stop:
        state = ctx.slot(GuardrailState)
        if state is None or (not state.output and not state.vault.restorable):
            return result
        body = copy.deepcopy(result.body)
        slots: list[tuple[dict[str, Any], str]] = []
        for choice in body.get("choices") or []:
            message = choice.get("message") or {}
            for name in TEXT_FIELDS:
                if isinstance(message.get(name), str) and message[name]:
                    slots.append((message, name))
            for call in message.get("tool_calls") or []:
                fn = call.get("function") or {}
                if isinstance(fn.get("arguments"), str) and fn["arguments"]:
                    slots.append((fn, "arguments"))
        if not slots:
            return result
        texts = [holder[name] for holder, name in slots]
        outcome = await run_checks(state.output, texts, "output", state.vault, state.meta)
        state.record(outcome.acted)
        self._report(ctx, state)
        if outcome.blocked is not None:
            return self._block(state, outcome.blocked)
        restorer = Restorer(state.vault)
        finals = [restorer.restore(t) for t in outcome.texts]
        if finals == texts:
            return result
        mapping = {}
        for (holder, name), original, final in zip(slots, texts, finals, strict=True):
            holder[name] = final
            mapping[original] = final
        updates: dict[str, Any] = {"body": body}
        native = getattr(result, "native", None)
        if native is not None:
            updates["native"] = _rewrite_native(native, mapping)
        return dataclasses.replace(result, **updates)

    # ---- stops ---------------------------------------------------------------------------------
    def _block(self, state: GuardrailState, blocked: Blocked) -> Stop:
        state.stopped = blocked
        state.record([Acted(blocked.guardrail, "block", "output", {e: 1 for e in blocked.entities})]
                     if not any(a.guardrail == blocked.guardrail and a.action in ("block", "error")
                                for a in state.acted) else [])
        return self._stop(blocked)

    @staticmethod
    def _stop(blocked: Blocked) -> Stop:
        return Stop(reason="content_filter", by=blocked.guardrail, detail={"entities": blocked.entities})


def _empty(choice: Mapping[str, Any]) -> bool:
    delta = choice.get("delta") or {}
    return not choice.get("finish_reason") and not any(v not in (None, "", []) for v in delta.values())


def _rewrite_native(native: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any] | None:
    """The Anthropic body with the same replacements, or None (render from the canonical body)
    when a changed text is not one of its text blocks verbatim."""
    out = copy.deepcopy(native)
    hit = 0
    for block in out.get("content") or []:
        if isinstance(block, dict) and isinstance(block.get("text"), str) and block["text"] in mapping:
            block["text"] = mapping[block["text"]]
            hit += 1
    return out if hit >= len([k for k, v in mapping.items() if k != v]) else None


def build_guardrail_stage(deps: StageDeps) -> GuardrailStage | None:
    """STAGE_BUILDERS entry: the process's shared httpx client, credential store, embedder
    (the semantic cache's) and bedrock-runtime clients; nothing built twice."""
    config = deps.config
    if not config.guardrails:
        return None
    needs_embedder = any(g.type == "deny_topics" or (g.type == "prompt_injection" and g.similarity)
                         for g in config.guardrails)
    embedder = deps.shared_embedder() if needs_embedder else None
    credentials = deps.credentials
    guardrails = build(config.guardrails, embedder=embedder, bedrock_client=deps.aws.bedrock_runtime_client,
                       http=deps.http, credential=credentials.get if credentials is not None else None)
    return GuardrailStage(config, guardrails)
