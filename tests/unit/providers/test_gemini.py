"""Gemini request translation, responses, stream chunks and error mapping."""

from __future__ import annotations

import httpx

from aigw.config.models import Deployment
from aigw.providers.base import ChatCall, Credential
from aigw.providers.gemini import GeminiTranslator, gemini_request
from aigw.providers.sse import SSEEvent


def test_request_and_url() -> None:
    d = Deployment(provider="gemini", model="models/gemini-2.5-flash")
    spec = GeminiTranslator().request(ChatCall(body={"messages": [{"role": "user", "content": "hi"}]}, deployment=d,
                                               credential=Credential({"api_key": "k"}), request_id="r"), stream=True)
    assert spec.url == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert spec.params == {"alt": "sse"}
    assert spec.headers["x-goog-api-key"] == "k"
    assert "k" not in spec.url


def test_request_body_mapping() -> None:
    out = gemini_request({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
                          "top_k": 3, "stop": ["x"], "response_format": {"type": "json_object"},
                          "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "none"}, None)
    assert out["systemInstruction"] == {"parts": [{"text": "s"}]}
    assert out["generationConfig"] == {"topK": 3, "stopSequences": ["x"], "responseMimeType": "application/json"}
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}


def test_stream_chunks_and_usage() -> None:
    t = GeminiTranslator()
    out = t.stream_event(SSEEvent(None, '{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}],'
                                        '"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1}}'))
    out += t.stream_event(SSEEvent(None, '{"candidates":[{"content":{"parts":[{"text":"!"}]},"finishReason":'
                                         '"MAX_TOKENS"}],"usageMetadata":{"promptTokenCount":4,'
                                         '"candidatesTokenCount":2}}'))
    end = t.stream_end()
    chunks = [c for c in out if isinstance(c, dict)]
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == ["", "Hi", "!", None]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert end[0].input_tokens == 4 and end[0].output_tokens == 2  # type: ignore[union-attr]


def test_retry_info_stands_in_for_retry_after() -> None:
    error = GeminiTranslator().error(429, {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED",
                                                     "details": [{"retryDelay": "12s"}]}}, httpx.Headers())
    assert (error.status, error.retryable, error.retry_after_s, error.code) == (429, True, 12.0, "RESOURCE_EXHAUSTED")


def test_thought_signatures_round_trip_through_the_tool_call_id() -> None:
    result = GeminiTranslator().response({"candidates": [{"content": {"parts": [
        {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "c2lnbmF0dXJl"}]},
        "finishReason": "STOP"}], "usageMetadata": {}})
    call = result.body["choices"][0]["message"]["tool_calls"][0]
    assert call["id"].endswith("__thought__c2lnbmF0dXJl")
    assert result.body["choices"][0]["finish_reason"] == "tool_calls"
    replay = gemini_request({"messages": [{"role": "user", "content": "x"},
                                          {"role": "assistant", "content": None, "tool_calls": [call]},
                                          {"role": "tool", "tool_call_id": call["id"], "content": "ok"}]}, None)
    assert replay["contents"][1]["parts"][0] == {"functionCall": {"name": "f", "args": {"a": 1}},
                                                 "thoughtSignature": "c2lnbmF0dXJl"}
    assert replay["contents"][2]["parts"][0]["functionResponse"] == {"name": "f", "response": {"result": "ok"}}
