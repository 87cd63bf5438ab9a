"""Google Gemini API: `models/{model}:generateContent` and `:streamGenerateContent?alt=sse`.

Request: system/developer messages become `systemInstruction`; turns become `contents`
with roles user/model; tool calls become `functionCall` parts and tool results
`functionResponse` parts (Gemini names the function, not a call id, so ids are resolved from
the assistant turn that made the call); inference parameters go under `generationConfig`.
The key travels in the `x-goog-api-key` header, never in the URL.

Usage: `promptTokenCount` already includes `cachedContentTokenCount`; thinking tokens
(`thoughtsTokenCount`) are billed as output but not counted in `candidatesTokenCount`, so
output = candidates + thoughts. A 429's `RetryInfo.retryDelay` stands in for Retry-After.
Function calls' thought signatures round-trip inside the tool call id (`SIGNATURE_MARK`).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from aigw.errors import InvalidRequest, UpstreamError, stream_truncated
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatCall, ChatChunk, ChatResult, StreamEvent
from aigw.providers.http import HttpRequest, upstream_status_error
from aigw.providers.sse import SSEEvent, loads
from aigw.providers.usage import INVALID_COUNT, count
from aigw.translate.openai_parts import (
    append_turn,
    function_tools,
    parse_image_url,
    parts_of,
    reasoning_budget,
    single_choice,
    stop_sequences,
    text_of,
    tool_arguments,
)

GEMINI_API_BASE = "https://generativelanguage.googleapis.com"
FINISH_REASONS: dict[str, str] = {
    "STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter", "LANGUAGE": "stop", "OTHER": "stop", "MALFORMED_FUNCTION_CALL": "stop",
}
# OpenAI field -> generationConfig field: plain renames, as data.
GENERATION_RENAMES: dict[str, str] = {"temperature": "temperature", "top_p": "topP", "top_k": "topK",
                                      "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty",
                                      "seed": "seed"}
TOOL_MODES: dict[str, str] = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
# Gemini's thinking models sign each function call (`thoughtSignature`) and refuse a later
# turn that replays the call without it. OpenAI clients replay tool calls by id, so the
# signature rides in the id: "call_<hex>" + SIGNATURE_MARK + signature.
SIGNATURE_MARK = "__thought__"


def usage_from_gemini(meta: Any) -> Usage:
    meta = meta if isinstance(meta, dict) else {}
    thoughts = count(meta.get("thoughtsTokenCount"))
    prompt = (count(meta.get("promptTokenCount")), count(meta.get("toolUsePromptTokenCount")))
    output = (count(meta.get("candidatesTokenCount")), thoughts)
    return Usage(input_tokens=sum(prompt) if min(prompt) >= 0 else INVALID_COUNT,
                 output_tokens=sum(output) if min(output) >= 0 else INVALID_COUNT,
                 cache_read_tokens=count(meta.get("cachedContentTokenCount")), reasoning_tokens=thoughts)


def _parts(content: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for part in parts_of(content):
        kind = part.get("type")
        if kind == "text":
            parts.append({"text": part.get("text", "")})
        elif kind == "image_url":
            image = parse_image_url(part)
            if image.data_b64 is None:
                raise InvalidRequest("Gemini deployments take images as base64 data: URLs", param="messages")
            parts.append({"inlineData": {"mimeType": image.media_type, "data": image.data_b64}})
        else:
            raise InvalidRequest(f"content part {kind!r} is not supported by Gemini deployments", param="messages")
    return parts


def _tool_response(content: Any) -> dict[str, Any]:
    text = text_of(content)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"result": text}


def gemini_request(body: dict[str, Any], default_max_tokens: int | None) -> dict[str, Any]:
    single_choice(body, "Gemini")
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id -> function name

    for message in body.get("messages") or []:
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system.extend(_parts(content))
        elif role == "user":
            append_turn(contents, "user", _parts(content), key="parts")
        elif role == "assistant":
            parts = [p for p in _parts(content) if p.get("text") != ""]
            for call in message.get("tool_calls") or []:
                name = (call.get("function") or {}).get("name")
                names[str(call.get("id"))] = str(name)
                part: dict[str, Any] = {"functionCall": {"name": name, "args": tool_arguments(call)}}
                _, mark, signature = str(call.get("id") or "").partition(SIGNATURE_MARK)
                if mark and signature:
                    part["thoughtSignature"] = signature
                parts.append(part)
            append_turn(contents, "model", parts, key="parts")
        elif role in ("tool", "function"):
            name = names.get(str(message.get("tool_call_id"))) or message.get("name")
            if not name:
                raise InvalidRequest("a tool message answers no known tool call", param="messages")
            response = {"functionResponse": {"name": name, "response": _tool_response(content)}}
            append_turn(contents, "user", [response], key="parts")
        else:
            raise InvalidRequest(f"message role {role!r} is not supported", param="messages")
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    config: dict[str, Any] = {}
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens
    if limit:
        config["maxOutputTokens"] = int(limit)
    for source, target in GENERATION_RENAMES.items():
        if body.get(source) is not None:
            config[target] = body[source]
    stops = stop_sequences(body)
    if stops:
        config["stopSequences"] = stops
    response_format = body.get("response_format") or {}
    if response_format.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (response_format.get("json_schema") or {}).get("schema")
        if schema:
            config["responseJsonSchema"] = schema
    budget = reasoning_budget(body)
    if budget is not None:
        config["thinkingConfig"] = {"thinkingBudget": budget}
    if config:
        out["generationConfig"] = config
    tools = function_tools(body)
    if tools:
        out["tools"] = [{"functionDeclarations": [
            {k: v for k, v in (("name", f["name"]), ("description", f.get("description")),
                               ("parameters", f.get("parameters"))) if v is not None} for f in tools]}]
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            out["toolConfig"] = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [
                (choice.get("function") or {}).get("name")]}}
        elif isinstance(choice, str):
            out["toolConfig"] = {"functionCallingConfig": {"mode": TOOL_MODES[choice]}}
    return out


def _finish(candidate: dict[str, Any], has_calls: bool) -> str | None:
    reason = candidate.get("finishReason")
    if reason is None:
        return None
    finish = FINISH_REASONS.get(reason, "stop")
    return "tool_calls" if has_calls and finish == "stop" else finish


class GeminiTranslator:
    def __init__(self) -> None:
        self.base: dict[str, Any] = {}
        self.usage: dict[str, Any] | None = None
        self.calls = 0
        self.started = False
        self.finished = False

    def request(self, call: ChatCall, *, stream: bool) -> HttpRequest:
        d = call.deployment
        model = d.model.removeprefix("models/")
        base = (d.api_base or GEMINI_API_BASE).rstrip("/")
        url = f"{base}/v1beta/models/{model}:" + ("streamGenerateContent" if stream else "generateContent")
        headers = dict(d.headers)
        if call.credential is not None and call.credential.api_key:
            headers["x-goog-api-key"] = call.credential.api_key
        body = gemini_request(dict(call.body), d.max_output_tokens)
        return HttpRequest("POST", url, headers, body, params={"alt": "sse"} if stream else {})

    def _calls(self, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for part in parts:
            if "functionCall" in part:
                fc = part["functionCall"]
                call_id = fc.get("id") or f"call_{uuid.uuid4().hex[:24]}"
                if part.get("thoughtSignature"):
                    call_id += SIGNATURE_MARK + part["thoughtSignature"]
                out.append({"id": call_id, "type": "function",
                            "function": {"name": fc["name"], "arguments": json.dumps(fc.get("args") or {})}})
        return out

    def response(self, body: Any) -> ChatResult:
        if not isinstance(body, dict) or ("candidates" not in body and "promptFeedback" not in body):
            raise ValueError("not a GenerateContentResponse")
        candidate = (body.get("candidates") or [{}])[0]
        parts = (candidate.get("content") or {}).get("parts") or []
        text = "".join(p.get("text", "") for p in parts if "text" in p and not p.get("thought"))
        thoughts = "".join(p.get("text", "") for p in parts if p.get("thought"))
        calls = self._calls(parts)
        message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None,
                                   "refusal": None}
        if thoughts:
            message["reasoning_content"] = thoughts
        if calls:
            message["tool_calls"] = calls
        finish = _finish(candidate, bool(calls)) or ("content_filter" if not body.get("candidates") else "stop")
        usage = usage_from_gemini(body.get("usageMetadata") or {})
        result = {"id": "chatcmpl-" + str(body.get("responseId") or uuid.uuid4().hex), "object": "chat.completion",
                  "created": int(time.time()), "model": body.get("modelVersion", ""),
                  "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                  "usage": usage.to_openai()}
        return ChatResult(body=result, usage=usage)

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> ChatChunk:
        return {**self.base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    def stream_event(self, event: SSEEvent) -> list[StreamEvent]:
        data = loads(event.data)
        if not isinstance(data, dict):
            raise ValueError("event is not an object")
        if "error" in data:
            error = data["error"] if isinstance(data["error"], dict) else {"message": str(data["error"])}
            raise UpstreamError(f"upstream stream error: {error.get('message')}", status=502, retryable=True)
        out: list[StreamEvent] = []
        if not self.started:
            self.started = True
            self.base = {"id": "chatcmpl-" + str(data.get("responseId") or uuid.uuid4().hex),
                         "object": "chat.completion.chunk", "created": int(time.time()),
                         "model": data.get("modelVersion", "")}
            out.append(self._chunk({"role": "assistant", "content": ""}))
        if data.get("usageMetadata"):
            self.usage = data["usageMetadata"]
        candidates = data.get("candidates") or []
        if not candidates and (data.get("promptFeedback") or {}).get("blockReason"):
            self.finished = True
            out.append(self._chunk({}, "content_filter"))
        for candidate in candidates[:1]:
            parts = (candidate.get("content") or {}).get("parts") or []
            for part in parts:
                if part.get("thought") and part.get("text"):
                    out.append(self._chunk({"reasoning_content": part["text"]}))
                elif part.get("text"):
                    out.append(self._chunk({"content": part["text"]}))
            for call in self._calls(parts):
                out.append(self._chunk({"tool_calls": [{"index": self.calls, **call}]}))
                self.calls += 1
            finish = _finish(candidate, self.calls > 0)
            if finish is not None:
                self.finished = True
                out.append(self._chunk({}, finish))
        return out

    def ended(self) -> bool:
        return False  # the finishReason chunk may be followed by one with the final usageMetadata

    def stream_end(self) -> list[StreamEvent]:
        if not self.finished:
            raise stream_truncated("a candidate's finishReason")
        return [usage_from_gemini(self.usage)] if self.usage else []

    def error(self, status: int, body: Any, headers: httpx.Headers) -> UpstreamError:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, list) and error:  # some Google front ends wrap errors in a list
            error = error[0].get("error") if isinstance(error[0], dict) else None
        if not isinstance(error, dict):
            return upstream_status_error(status, f"upstream returned {status}", headers)
        exc = upstream_status_error(status, str(error.get("message") or f"upstream returned {status}"), headers,
                                    code=str(error.get("status") or "") or None)
        if exc.retry_after_s is None:
            exc.retry_after_s = _retry_delay(error)
        return exc


def _retry_delay(error: dict[str, Any]) -> float | None:
    for detail in error.get("details") or []:
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                return None
    return None
