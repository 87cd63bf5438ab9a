"""AnthropicCodec with native frames: sent verbatim, tracked so canonical chunks and the end
continue one consistent message, and never a message_stop after an error."""

from __future__ import annotations

import json
from typing import Any

from aigw.errors import UpstreamError, stream_truncated
from aigw.pricing.cost import Usage
from aigw.providers.anthropic_native import AnthropicNativeTranslator
from aigw.providers.base import ChatResult, NativeChunk
from aigw.providers.sse import SSEEvent
from aigw.providers.usage import is_valid
from aigw.translate.anthropic_client import AnthropicCodec

RAW = [("message_start", {"message": {"id": "msg_up", "type": "message", "role": "assistant", "model": "claude-x",
                                      "content": [], "usage": {"input_tokens": 3, "output_tokens": 1}}}),
       ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
       ("ping", {}),
       ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
       ("content_block_stop", {"index": 0}),
       ("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 2}}),
       ("message_stop", {})]


def native_chunks(upto: int = len(RAW)) -> list[Any]:
    translator = AnthropicNativeTranslator()
    out: list[Any] = []
    for name, data in RAW[:upto]:
        out.extend(translator.stream_event(SSEEvent(name, json.dumps({"type": name, **data}))))
    return out


def events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in raw.decode().split("\n\n"):
        if frame.strip():
            lines = dict(line.split(": ", 1) for line in frame.split("\n"))
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def codec() -> AnthropicCodec:
    return AnthropicCodec("public-model", lambda: 7)


def test_native_frames_pass_verbatim_and_the_end_adds_nothing() -> None:
    c = codec()
    chunks = native_chunks()
    natives = [x for x in chunks if isinstance(x, NativeChunk)]
    assert len(natives) == len(RAW) and all(x.native.startswith(b"event: ") for x in natives)
    sent = b"".join(c.chunk(x) for x in natives)
    assert sent == b"".join(x.native for x in natives)
    assert c.end(None, Usage) == b""  # the upstream's message_stop went out already
    assert [name for name, _ in events(sent)] == [name for name, _ in RAW]
    assert natives[3]["choices"][0]["delta"] == {"content": "Hello"}  # the canonical view rides along
    assert natives[2]["choices"] == []  # ping: no canonical content


def test_canonical_chunks_between_native_frames_continue_the_message() -> None:
    c = codec()
    natives = [x for x in native_chunks(4) if isinstance(x, NativeChunk)]  # up to the first text delta
    out = b"".join(c.chunk(x) for x in natives)
    # A filter adds its own chunk (say, a redaction note) and the stream is then ended by the pipeline.
    out += c.chunk({"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "toolu_1", "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": None}]})
    out += c.end(None, lambda: Usage(input_tokens=3, output_tokens=4))
    seen = events(out)
    starts = [d["index"] for n, d in seen if n == "content_block_start"]
    stops = [d["index"] for n, d in seen if n == "content_block_stop"]
    assert starts == [0, 1] and stops == [0, 1]  # the native block is closed before the codec opens its own
    assert [n for n, _ in seen][-2:] == ["message_delta", "message_stop"]
    assert sum(n == "message_start" for n, _ in seen) == 1


def test_an_error_is_an_error_event_and_nothing_follows() -> None:
    c = codec()
    natives = [x for x in native_chunks(4) if isinstance(x, NativeChunk)]
    b"".join(c.chunk(x) for x in natives)
    failure = c.error(stream_truncated("message_stop"))
    assert events(failure) == [("error", {"type": "error", "error": {
        "type": "api_error", "message": "upstream stream ended before message_stop: the answer is incomplete"}})]
    assert c.end(None, Usage) == b"" and c.chunk({"choices": [{"index": 0, "delta": {"content": "x"}}]}) == b""


def test_an_error_on_the_canonical_path_never_says_end_turn() -> None:
    c = codec()
    out = c.chunk({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": "par"}, "finish_reason": None}]})
    out += c.error(UpstreamError("upstream stream broke", status=502, code="truncated"))
    out += c.end(None, Usage)
    names = [n for n, _ in events(out)]
    assert names[-1] == "error" and "message_stop" not in names and "message_delta" not in names


def test_a_native_body_is_sent_as_the_upstream_wrote_it() -> None:
    body = {"id": "msg_up", "type": "message", "role": "assistant", "model": "claude-x", "stop_reason": "end_turn",
            "content": [{"type": "text", "text": "hi", "citations": [{"type": "web_search_result_location"}]}],
            "usage": {"input_tokens": 3, "output_tokens": 1}}
    result = AnthropicNativeTranslator().response(body)
    assert result.native is body and result.body["choices"][0]["message"]["content"] == "hi"
    assert codec().body(result) is body
    canonical = ChatResult(body=result.body, usage=result.usage)  # e.g. a cache replay: rendered from canonical
    assert codec().body(canonical)["content"] == [{"type": "text", "text": "hi"}]


def strict(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """`events`, refusing NaN and Infinity as a strict JSON parser does."""
    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    out = []
    for frame in raw.decode().split("\n\n"):
        if frame.strip():
            lines = dict(line.split(": ", 1) for line in frame.split("\n"))
            out.append((lines["event"], json.loads(lines["data"], parse_constant=refuse)))
    return out


BAD_DELTA = ('{"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"END"},'
             '"usage":{"output_tokens":NaN}}')


def run(raw: list[tuple[str, str]], settled: Usage) -> list[tuple[str, dict[str, Any]]]:
    """The upstream's events through translator and codec, ended as the pipeline ends a stream."""
    translator, c = AnthropicNativeTranslator(), codec()
    out = b""
    for name, data in raw:
        out += b"".join(c.chunk(x) for x in translator.stream_event(SSEEvent(name, data))
                        if isinstance(x, NativeChunk))
    return strict(out + c.end(None, lambda: settled))


def test_usage_the_gateway_does_not_believe_reaches_the_client_as_the_settled_usage() -> None:
    raw = [(name, json.dumps({"type": name, **data})) for name, data in RAW]
    raw[5] = ("message_delta", BAD_DELTA)
    seen = run(raw, Usage(input_tokens=9, output_tokens=4, estimated=True))
    assert [name for name, _ in seen] == [name for name, _ in RAW]  # the same events, in the same order
    delta = dict(seen)["message_delta"]
    assert delta["usage"] == {"input_tokens": 9, "output_tokens": 4, "cache_read_input_tokens": 0,
                              "cache_creation_input_tokens": 0}  # what was billed
    assert delta["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}  # the upstream's own


def test_an_invalid_usage_in_message_start_becomes_the_gateways_estimate() -> None:
    start = {"type": "message_start", "message": {**RAW[0][1]["message"], "usage": {"input_tokens": -5}}}
    raw = [("message_start", json.dumps(start))] + [(n, json.dumps({"type": n, **d})) for n, d in RAW[1:]]
    seen = run(raw, Usage(input_tokens=9, output_tokens=4, estimated=True))
    assert dict(seen)["message_start"]["message"]["usage"] == {"input_tokens": 7, "output_tokens": 0}
    assert dict(seen)["message_start"]["message"]["id"] == "msg_up"
    assert dict(seen)["message_delta"]["usage"]["input_tokens"] == 9
    assert [name for name, _ in seen] == [name for name, _ in RAW]


def test_a_message_stop_without_message_delta_still_ends_with_usage() -> None:
    raw = [(name, json.dumps({"type": name, **data})) for name, data in RAW if name != "message_delta"]
    seen = run(raw, Usage(input_tokens=3, output_tokens=2, estimated=True))
    assert [name for name, _ in seen][-2:] == ["message_delta", "message_stop"]
    assert dict(seen)["message_delta"]["usage"]["output_tokens"] == 2


def test_a_native_body_with_invalid_usage_carries_the_settled_usage() -> None:
    from aigw.providers.http import parse_json_body

    body = parse_json_body(b'{"type":"message","model":"m","content":[{"type":"text","text":"hi"}],'
                           b'"stop_sequence":"END","usage":{"input_tokens":NaN,"output_tokens":-3}}')
    result = AnthropicNativeTranslator().response(body)
    sent = codec().body(result, Usage(input_tokens=9, output_tokens=4, estimated=True))
    assert sent["usage"] == {"input_tokens": 9, "output_tokens": 4, "cache_read_input_tokens": 0,
                             "cache_creation_input_tokens": 0}
    assert sent["stop_sequence"] == "END" and sent["content"] == body["content"]


def test_a_native_body_with_non_finite_numbers_renders_as_strict_json() -> None:
    from aigw.providers.http import parse_json_body

    body = parse_json_body(b'{"type":"message","model":"m","content":[],"usage":{"input_tokens":NaN,'
                           b'"output_tokens":-Infinity}}')
    result = AnthropicNativeTranslator().response(body)
    json.dumps(result.native, allow_nan=False)  # what the HTTP layer does: no ValueError, no 500
    assert result.usage is not None and not is_valid(result.usage)  # and settlement sees invalid usage


def test_the_answer_names_the_model_the_client_asked_for() -> None:
    from aigw.config.models import Deployment
    from aigw.providers.base import ChatCall, NativeRequest

    translator = AnthropicNativeTranslator()
    native = NativeRequest("messages", {"model": "public", "max_tokens": 5, "messages": []})
    translator.request(ChatCall({}, Deployment(provider="anthropic", model="claude-x"), None, "r", native=native),
                       stream=True)
    start = next(x for x in translator.stream_event(SSEEvent(RAW[0][0], json.dumps({"type": RAW[0][0], **RAW[0][1]})))
                 if isinstance(x, NativeChunk))
    assert events(start.native)[0][1]["message"]["model"] == "public"
    ping = next(x for x in translator.stream_event(SSEEvent("ping", '{"type": "ping"}')) if isinstance(x, NativeChunk))
    assert ping.native == b'event: ping\ndata: {"type": "ping"}\n\n'  # every other frame: byte for byte
    body = translator.response({"type": "message", "model": "claude-x", "content": [], "usage": {}})
    assert body.native is not None and body.native["model"] == "public"
