"""Canonical `chat.completion.chunk`s -> the Responses API's typed stream events, one
encoder per request (it holds the open output items).

    response.created, response.in_progress                    before the first output
    response.output_item.added                                an item opens (reasoning, message, function_call)
      response.content_part.added                             a part opens (output_text, refusal, reasoning_text)
      response.output_text.delta / response.refusal.delta / response.reasoning_text.delta
      response.function_call_arguments.delta
      ....done for each, response.content_part.done
    response.output_item.done                                 the item, complete
    response.completed (usage) | response.incomplete          the whole response
    response.failed + error                                   a failure after the stream started

Every event carries `sequence_number`, from 0. A reasoning or message item closes when
another item opens (the order OpenAI streams in); function calls stay open until the end,
so an upstream that interleaves the argument deltas of parallel calls is still right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aigw.errors import GatewayError
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatChunk
from aigw.responses.items import ItemIds
from aigw.responses.render import (
    INCOMPLETE_REASONS,
    function_call_item,
    message_item,
    reasoning_item,
    response_object,
    text_part,
)

Event = dict[str, Any]
# part type -> (its text field, its delta event prefix)
_PART_EVENTS = {"output_text": ("text", "response.output_text"), "refusal": ("refusal", "response.refusal"),
                "reasoning_text": ("text", "response.reasoning_text")}


@dataclass(slots=True)
class _Slot:
    """One output item being streamed."""

    kind: str  # "reasoning" | "message" | "tool:<n>"
    index: int  # output_index
    item: dict[str, Any]
    part: dict[str, Any] | None = None  # the open content part
    chunks: list[str] = field(default_factory=list)  # the open part's (or the arguments') text
    closed: bool = False


def failure_code(exc: GatewayError) -> str:
    """`response.error.code`: one of the codes the Responses API defines."""
    if exc.status == 429:
        return "rate_limit_exceeded"
    if exc.status == 400:
        return "invalid_prompt"
    return "server_error"


class ResponsesStreamEncoder:
    def __init__(self, *, response_id: str, created_at: int, model: str, echo: dict[str, Any],
                 ids: ItemIds) -> None:
        self.response_id = response_id
        self._ids = ids
        self.created_at = created_at
        self.model = model
        self.echo = echo
        self.final: dict[str, Any] | None = None  # the terminal response object, once sent
        self._sequence = 0
        self._started = False
        self._slots: list[_Slot] = []
        self._open: dict[str, _Slot] = {}
        self._finish: str | None = None

    # ---- framing -------------------------------------------------------------------------------
    def _event(self, type: str, **fields: Any) -> Event:
        event = {"type": type, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _response(self, status: str, **fields: Any) -> dict[str, Any]:
        return response_object(response_id=self.response_id, created_at=self.created_at, model=self.model,
                               echo=self.echo, status=status, output=[s.item for s in self._slots], **fields)

    def start(self) -> list[Event]:
        if self._started:
            return []
        self._started = True
        snapshot = self._response("in_progress")
        return [self._event("response.created", response=snapshot),
                self._event("response.in_progress", response=snapshot)]

    # ---- items ---------------------------------------------------------------------------------
    def _slot(self, kind: str, item: dict[str, Any], out: list[Event]) -> _Slot:
        """The open slot of this kind, or a new one (closing the open reasoning or message)."""
        slot = self._open.get(kind)
        if slot is not None:
            return slot
        for other in list(self._open.values()):
            if not other.kind.startswith("tool:"):
                self._close(other, "completed", out)
        slot = _Slot(kind, len(self._slots), item)
        self._slots.append(slot)
        self._open[kind] = slot
        out.append(self._event("response.output_item.added", output_index=slot.index, item=_copy(item)))
        return slot

    def _part(self, slot: _Slot, part: dict[str, Any], out: list[Event]) -> None:
        if slot.part is not None and slot.part["type"] == part["type"]:
            return
        self._close_part(slot, out)
        slot.part = part
        slot.item["content"].append(part)
        out.append(self._event("response.content_part.added", item_id=slot.item["id"], output_index=slot.index,
                               content_index=len(slot.item["content"]) - 1, part=_copy(part)))

    def _delta(self, slot: _Slot, text: str, out: list[Event]) -> None:
        assert slot.part is not None
        slot.chunks.append(text)
        prefix = _PART_EVENTS[slot.part["type"]][1]
        extra: dict[str, Any] = {"logprobs": []} if slot.part["type"] == "output_text" else {}
        out.append(self._event(prefix + ".delta", item_id=slot.item["id"], output_index=slot.index,
                               content_index=len(slot.item["content"]) - 1, delta=text, **extra))

    def _close_part(self, slot: _Slot, out: list[Event]) -> None:
        part = slot.part
        if part is None:
            return
        key, prefix = _PART_EVENTS[part["type"]]
        part[key] = "".join(slot.chunks)
        slot.chunks, slot.part = [], None
        where = {"item_id": slot.item["id"], "output_index": slot.index,
                 "content_index": len(slot.item["content"]) - 1}
        extra: dict[str, Any] = {"logprobs": []} if part["type"] == "output_text" else {}
        out.append(self._event(prefix + ".done", **where, **{key: part[key]}, **extra))
        out.append(self._event("response.content_part.done", **where, part=_copy(part)))

    def _close(self, slot: _Slot, status: str, out: list[Event]) -> None:
        if slot.closed:
            return
        slot.closed = True
        self._open.pop(slot.kind, None)
        if slot.kind.startswith("tool:"):
            slot.item["arguments"] = "".join(slot.chunks)
            out.append(self._event("response.function_call_arguments.done", item_id=slot.item["id"],
                                   output_index=slot.index, name=slot.item["name"],
                                   arguments=slot.item["arguments"]))
        else:
            self._close_part(slot, out)
        slot.item["status"] = status
        out.append(self._event("response.output_item.done", output_index=slot.index, item=_copy(slot.item)))

    # ---- input ---------------------------------------------------------------------------------
    def chunk(self, chunk: ChatChunk) -> list[Event]:
        if self.final is not None:
            return []
        out = self.start()
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # the Responses API has one answer
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                if "reasoning" not in self._open:
                    self._slot("reasoning", {**reasoning_item(self._ids.new("rs"), "", None, "in_progress"),
                                             "content": []}, out)
                slot = self._open["reasoning"]
                self._part(slot, {"type": "reasoning_text", "text": ""}, out)
                self._delta(slot, delta["reasoning_content"], out)
            if delta.get("reasoning_signature"):
                last = self._open.get("reasoning") or next(
                    (s for s in reversed(self._slots) if s.kind == "reasoning"), None)
                if last is not None:
                    last.item["encrypted_content"] = last.item.get("encrypted_content", "") + \
                        delta["reasoning_signature"]
            for key, part_type in (("content", "output_text"), ("refusal", "refusal")):
                if isinstance(delta.get(key), str) and delta[key]:
                    slot = self._open.get("message") or self._slot(
                        "message", message_item(self._ids.new("msg"), [], "in_progress"), out)
                    part = text_part("") if part_type == "output_text" else {"type": "refusal", "refusal": ""}
                    self._part(slot, part, out)
                    self._delta(slot, delta[key], out)
            for call in delta.get("tool_calls") or ():
                self._tool_delta(call, out)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return out

    def _tool_delta(self, call: dict[str, Any], out: list[Event]) -> None:
        function = call.get("function") or {}
        kind = f"tool:{call.get('index', 0)}"
        slot = self._open.get(kind)
        if slot is None:
            # the call id is part of the item's identity from `added` on: mint one if the upstream has none
            item = function_call_item(self._ids.new("fc"), call.get("id") or self._ids.new("call"),
                                      function.get("name") or "", "", "in_progress")
            slot = self._slot(kind, item, out)
        if function.get("name") and not slot.item["name"]:
            slot.item["name"] = function["name"]
        if function.get("arguments"):
            slot.chunks.append(function["arguments"])
            out.append(self._event("response.function_call_arguments.delta", item_id=slot.item["id"],
                                   output_index=slot.index, delta=function["arguments"]))

    # ---- the end ---------------------------------------------------------------------------------
    def finish(self, usage: Usage) -> list[Event]:
        """The upstream stream completed: close every item, then completed or incomplete."""
        if self.final is not None:
            return []
        out = self.start()
        reason = INCOMPLETE_REASONS.get(self._finish or "")
        status = "incomplete" if reason else "completed"
        for slot in self._slots:
            self._close(slot, status, out)
        self.final = self._response(status, usage=usage, incomplete_reason=reason)
        out.append(self._event(f"response.{status}", response=self.final))
        return out

    def fail(self, exc: GatewayError) -> list[Event]:
        """A failure after the stream started: response.failed (what was generated, marked
        incomplete), then an `error` event, which the OpenAI SDKs raise on."""
        if self.final is not None:
            return []
        out = self.start()
        for slot in self._slots:
            if not slot.closed:
                if slot.part is not None:
                    key = _PART_EVENTS[slot.part["type"]][0]
                    slot.part[key] = "".join(slot.chunks)
                elif slot.kind.startswith("tool:"):
                    slot.item["arguments"] = "".join(slot.chunks)
                slot.item["status"] = "incomplete"
        code = failure_code(exc)
        self.final = self._response("failed", error={"code": code, "message": exc.message})
        out.append(self._event("response.failed", response=self.final))
        out.append(self._event("error", code=exc.code or code, message=exc.message, param=exc.param,
                               error=exc.openai_body()["error"]))
        return out


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    """A snapshot for an event: later deltas must not change what was already sent."""
    return {k: (list(map(_copy, v)) if isinstance(v, list) and v and isinstance(v[0], dict) else
                list(v) if isinstance(v, list) else v) for k, v in item.items()}
