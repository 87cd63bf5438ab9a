"""The Anthropic Messages API as a client API: its request into the canonical OpenAI shape,
and the canonical answer (complete or streamed) back into Anthropic's.

The pipeline and its stages (cache keys, budgets, guardrails) see only the OpenAI-shaped
body; the client's own body travels beside it (`ctx.native`) so an Anthropic deployment
receives it untouched. On the way back, `AnthropicCodec` renders the canonical chunks as
Anthropic's events: message_start, content_block_start / _delta / _stop (text_delta,
input_json_delta for tool calls, thinking_delta), message_delta with the final usage,
message_stop; and a mid-stream failure as an `error` event (never a message_stop: a failed
answer must not look complete to the SDK).

When the deployment speaks Anthropic too, the stream is made of `NativeChunk`s: the codec
sends their frames verbatim, and follows them (message started, blocks opened and closed,
message_delta and message_stop sent) so that canonical chunks rendered in between (a filter
that replaced or added chunks) and the stream's end continue the same message consistently.
A complete answer that carries the upstream's own body (`ChatResult.native`) is sent as is.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, Tag, model_validator

from aigw import screens
from aigw.errors import GatewayError
from aigw.pipeline.codec import sse
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatChunk, ChatResult, NativeChunk
from aigw.schemas import (
    MAX_NAME_LENGTH,
    MAX_OUTPUT_TOKENS,
    Bool,
    Int,
    Name,
    Number,
    OutputTokens,
    _Block,
    _Open,
    block_type,
)

STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
# Anthropic request fields with an OpenAI equal, as data.
RENAMES: dict[str, str] = {"max_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p",
                           "stream": "stream"}


class AText(_Block):
    text: str


class ImageSource(_Open):
    type: str
    media_type: str | None = None
    data: str | None = None
    url: str | None = None


class AImage(_Block):
    source: ImageSource


class AToolUse(_Block):
    id: str
    name: str
    input: dict[str, Any]


ToolResultBlock = Annotated[
    Annotated[AText, Tag("type=text")] | Annotated[AImage, Tag("type=image")] | Annotated[_Block, Tag("type=other")],
    block_type({"text", "image"})]


class AToolResult(_Block):
    tool_use_id: str
    content: str | list[ToolResultBlock] | None = None
    is_error: Bool | None = None


ContentBlock = Annotated[
    Annotated[AText, Tag("type=text")] | Annotated[AImage, Tag("type=image")]
    | Annotated[AToolUse, Tag("type=tool_use")] | Annotated[AToolResult, Tag("type=tool_result")]
    | Annotated[_Block, Tag("type=other")],
    block_type({"text", "image", "tool_use", "tool_result"})]
SystemBlock = Annotated[Annotated[AText, Tag("type=text")] | Annotated[_Block, Tag("type=other")], block_type({"text"})]


class AnthropicMessage(_Open):
    role: Literal["user", "assistant"]
    content: str | list[ContentBlock]


class AnthropicTool(_Open):
    name: Name  # client tools and server tools alike
    type: str | None = None
    description: str | None = None
    input_schema: dict[str, Any] | None = None


class AnthropicToolChoice(_Open):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: Bool | None = None

    @model_validator(mode="after")
    def _tool_needs_a_name(self) -> AnthropicToolChoice:
        if self.type == "tool" and not self.name:
            raise ValueError("tool_choice of type 'tool' needs the tool's `name`")
        return self


class AnthropicMetadata(_Open):
    user_id: str | None = None


class ThinkingConfig(_Open):
    type: str
    budget_tokens: Int | None = Field(default=None, ge=0, le=MAX_OUTPUT_TOKENS)


class MessagesRequest(_Open):
    model: Name
    max_tokens: OutputTokens
    messages: list[AnthropicMessage] = Field(min_length=1)
    system: str | list[SystemBlock] | None = None
    stream: Bool | None = None
    temperature: Number | None = Field(default=None, ge=0, le=1)
    top_p: Number | None = Field(default=None, ge=0, le=1)
    top_k: Int | None = Field(default=None, ge=0)
    stop_sequences: list[str] | None = None
    tools: list[AnthropicTool] | None = None
    tool_choice: AnthropicToolChoice | None = None
    metadata: AnthropicMetadata | None = None
    thinking: ThinkingConfig | None = None


# The shapes most Messages requests take, checked without building models (aigw/screens.py).
MESSAGES_SCREEN = screens.Screen(MessagesRequest, {
    "model": screens.sized(1, MAX_NAME_LENGTH), "max_tokens": screens.whole(1, MAX_OUTPUT_TOKENS),
    "messages": screens.objects(screens.Screen(AnthropicMessage, {
        "role": screens.one_of("user", "assistant"), "content": screens.text}), least=1),
    "system": screens.optional(screens.text), "stream": screens.optional(screens.flag),
    "temperature": screens.optional(screens.number(0, 1)), "top_p": screens.optional(screens.number(0, 1)),
    "top_k": screens.optional(screens.whole(0)), "stop_sequences": screens.optional(screens.texts),
    "metadata": screens.optional(screens.obj(screens.Screen(
        AnthropicMetadata, {"user_id": screens.optional(screens.text)}))),
})


# ---- request: Anthropic -> OpenAI ---------------------------------------------------------------
def _image_part(block: dict[str, Any]) -> dict[str, Any]:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    else:
        url = str(source.get("url", ""))
    return {"type": "image_url", "image_url": {"url": url}}


def _text_or_parts(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _tool_result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text")


def _user(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "tool_result":  # tool answers come first, each as an OpenAI tool message
            text = _tool_result_text(block.get("content"))
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id"),
                        "content": ("Error: " + text) if block.get("is_error") else text})
        elif kind == "text":  # cache_control stays behind: only Anthropic takes it, and natively
            parts.append({"type": "text", "text": block.get("text", "")})
        elif kind == "image":
            parts.append(_image_part(block))
        # documents and other blocks reach Anthropic deployments natively; others do not take them
    if parts:
        out.append({"role": "user", "content": _text_or_parts(parts)})
    return out


def _assistant(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    calls = [{"id": b.get("id"), "type": "function",
              "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input") or {})}}
             for b in blocks if b.get("type") == "tool_use"]
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_choice(choice: dict[str, Any]) -> tuple[Any, bool | None]:
    kind = choice.get("type")
    parallel = False if choice.get("disable_parallel_tool_use") else None
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}, parallel
    return {"auto": "auto", "any": "required", "none": "none"}.get(str(kind), "auto"), parallel


def openai_body(data: dict[str, Any]) -> dict[str, Any]:
    """The canonical (OpenAI Chat Completions) body of a validated Anthropic request."""
    messages: list[dict[str, Any]] = []
    system = data.get("system")
    if system:
        text = system if isinstance(system, str) else "\n\n".join(
            str(b.get("text", "")) for b in system if b.get("type") == "text")
        messages.append({"role": "system", "content": text})
    for message in data["messages"]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if message["role"] == "user":
            messages.extend(_user(blocks))
        else:
            messages.append(_assistant(blocks))
    body: dict[str, Any] = {"model": data["model"], "messages": messages}
    for source, target in RENAMES.items():
        if data.get(source) is not None:
            body[target] = data[source]
    if data.get("stop_sequences"):
        body["stop"] = list(data["stop_sequences"])
    tools = [t for t in data.get("tools") or [] if "input_schema" in t]  # server tools: Anthropic only
    if tools:
        body["tools"] = [{"type": "function", "function": {"name": t["name"], "description": t.get("description", ""),
                                                           "parameters": t["input_schema"]}} for t in tools]
    if data.get("tool_choice") and tools:
        body["tool_choice"], parallel = _tool_choice(data["tool_choice"])
        if parallel is not None:
            body["parallel_tool_calls"] = parallel
    user = (data.get("metadata") or {}).get("user_id")
    if user:
        body["user"] = str(user)
    return body


# ---- response: OpenAI -> Anthropic ---------------------------------------------------------------
def anthropic_usage(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "input_tokens": max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0),
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens}
    requests = {f"{tool}_requests": uses for tool, uses in usage.server_tool_uses.items()
                if tool in ("web_search", "web_fetch")}
    if requests:
        out["server_tool_use"] = requests
    return out


def message_id(openai_id: str | None) -> str:
    if openai_id and openai_id.startswith("msg_"):
        return openai_id
    return "msg_" + (openai_id or secrets.token_hex(12)).removeprefix("chatcmpl-")


def _input(arguments: str | None) -> Any:
    try:
        return json.loads(arguments or "{}")
    except ValueError:
        return {}


def anthropic_message(body: dict[str, Any], usage: Usage | None, model: str) -> dict[str, Any]:
    choice = (body.get("choices") or [{}])[0]
    answer = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if answer.get("reasoning_content"):
        content.append({"type": "thinking", "thinking": answer["reasoning_content"],
                        "signature": answer.get("reasoning_signature", "")})
    if isinstance(answer.get("content"), str) and answer["content"]:
        content.append({"type": "text", "text": answer["content"]})
    for call in answer.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                        "input": _input(function.get("arguments"))})
    used = usage or (Usage.from_openai(body["usage"]) if isinstance(body.get("usage"), dict) else Usage())
    return {"id": message_id(body.get("id")), "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn"),
            "stop_sequence": None, "usage": anthropic_usage(used)}


def _event_name(frame: bytes) -> bytes:
    """The `event:` name of an SSE frame (Anthropic names every event; no JSON parsing)."""
    if not frame.startswith(b"event:"):
        return b""
    return frame[6:frame.find(b"\n")].strip()


class AnthropicCodec:
    """Canonical chunks (and native frames) -> Anthropic stream events, for one request."""

    api = "anthropic"

    def __init__(self, model: str, input_estimate: Callable[[], int]) -> None:
        self.model = model
        self._input_estimate = input_estimate
        self._started = False
        self._index = -1
        self._open: str | None = None  # "text" | "thinking" | "tool:<n>" | "native"
        self._stop_reason = "end_turn"
        self._delta_sent = False  # a message_delta went out (natively)
        self._held_delta: dict[str, Any] | None = None  # the upstream's, to go with the settled usage
        self._finished = False  # message_stop or an error went out: nothing follows
        self._id = message_id(None)

    def _start(self, chunk: ChatChunk | None) -> bytes:
        self._started = True
        if chunk is not None:
            self._id = message_id(chunk.get("id"))
        message: dict[str, Any] = {
            "id": self._id, "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": self._input_estimate(), "output_tokens": 0}}
        return sse({"type": "message_start", "message": message}, "message_start")

    def _block(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close()
        self._index += 1
        self._open = kind
        return out + sse({"type": "content_block_start", "index": self._index, "content_block": block},
                         "content_block_start")

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return sse({"type": "content_block_stop", "index": self._index}, "content_block_stop")

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return sse({"type": "content_block_delta", "index": self._index, "delta": delta}, "content_block_delta")

    def _native(self, chunk: NativeChunk) -> bytes:
        """The upstream's frame, but for usage the gateway does not believe (`unsettled`): a
        `message_start` then carries the gateway's input estimate, and a `message_delta` waits
        for the end, to carry the settled usage (what is billed). A `message_stop` with no
        `message_delta` sent before it waits too: the end sends both."""
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) == 0 and choice.get("finish_reason"):
                self._stop_reason = STOP_REASONS.get(choice["finish_reason"], "end_turn")
        name = _event_name(chunk.native)
        if name == b"message_start":
            self._started = True
            if chunk.unsettled is not None:
                message = {**chunk.unsettled.get("message", {}),
                           "usage": {"input_tokens": self._input_estimate(), "output_tokens": 0}}
                return sse({**chunk.unsettled, "message": message}, "message_start")
        elif name == b"content_block_start":
            self._index += 1
            self._open = "native"
        elif name == b"content_block_stop":
            self._open = None
        elif name == b"message_delta":
            if chunk.unsettled is not None:
                self._held_delta = chunk.unsettled
                return b""
            self._delta_sent = True
        elif name == b"message_stop":
            if not self._delta_sent:
                return b""
            self._finished = True
        return chunk.native

    def chunk(self, chunk: ChatChunk) -> bytes:
        if self._finished:
            return b""
        if isinstance(chunk, NativeChunk):
            return self._native(chunk)
        out = b"" if self._started else self._start(chunk)
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                if self._open != "thinking":
                    out += self._block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                out += self._delta({"type": "thinking_delta", "thinking": delta["reasoning_content"]})
            if delta.get("reasoning_signature") and self._open == "thinking":
                out += self._delta({"type": "signature_delta", "signature": delta["reasoning_signature"]})
            if delta.get("content"):
                if self._open != "text":
                    out += self._block("text", {"type": "text", "text": ""})
                out += self._delta({"type": "text_delta", "text": delta["content"]})
            for call in delta.get("tool_calls") or ():
                tool = f"tool:{call.get('index', 0)}"
                function = call.get("function") or {}
                if self._open != tool:
                    out += self._block(tool, {"type": "tool_use", "id": call.get("id") or f"toolu_{self._index + 1}",
                                              "name": function.get("name") or "", "input": {}})
                if function.get("arguments"):
                    out += self._delta({"type": "input_json_delta", "partial_json": function["arguments"]})
            if choice.get("finish_reason"):
                self._stop_reason = STOP_REASONS.get(choice["finish_reason"], "end_turn")
        return out

    def end(self, last: ChatChunk | None, usage: Callable[[], Usage]) -> bytes:
        if self._finished:  # the upstream's own message_stop went out already
            return b""
        self._finished = True
        out = b"" if self._started else self._start(last)
        out += self._close()
        if not self._delta_sent:
            delta = self._held_delta or {"type": "message_delta",
                                         "delta": {"stop_reason": self._stop_reason, "stop_sequence": None}}
            out += sse({**delta, "usage": anthropic_usage(usage())}, "message_delta")
        return out + sse({"type": "message_stop"}, "message_stop")

    def error(self, exc: GatewayError) -> bytes:
        self._finished = True  # an error ends the message: no message_stop may follow it
        return sse(exc.anthropic_body(), "error")

    def body(self, result: ChatResult, usage: Usage | None = None) -> dict[str, Any]:
        """The client's body: the upstream's own when it spoke Anthropic (`ChatResult.native`),
        with the gateway's usage where that is counted (`estimated`: the upstream's was missing
        or invalid), else the canonical `chat.completion` rendered as an Anthropic message."""
        if result.native is not None:
            if usage is not None and usage.estimated:
                return {**result.native, "usage": anthropic_usage(usage)}
            return result.native
        return anthropic_message(result.body, result.usage if usage is None else usage, self.model)

    def error_body(self, exc: GatewayError) -> dict[str, Any]:
        return exc.anthropic_body()

    def map_native_texts(self, body: Mapping[str, Any], fn: Callable[[str], str]) -> Mapping[str, Any]:
        from aigw.translate.anthropic_texts import map_messages_texts

        return map_messages_texts(body, fn)
