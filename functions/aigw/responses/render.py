"""The canonical answer (a `chat.completion`) as the Responses API's `response` object.

    id resp_..., object "response", created_at, status completed | incomplete, model
    output     reasoning (if the model reasoned), message with output_text / refusal parts,
               function_call items (id fc_..., call_id = the upstream's tool call id)
    usage      input_tokens (+ details.cached_tokens), output_tokens (+ details.reasoning_tokens)
    incomplete_details {reason: max_output_tokens | content_filter} when the answer was cut
    + the request's parameters echoed (`echo`), as OpenAI does

The stream encoder (aigw.responses.stream) builds the same items chunk by chunk; both end in
`response_object`, so a streamed and a complete answer have one shape.
"""

from __future__ import annotations

import time
from typing import Any

from aigw.pricing.cost import Usage
from aigw.responses.items import ItemIds
from aigw.responses.request import FunctionTool, ResponsesRequest, function_tools

# finish_reason -> incomplete_details.reason; any other finish completes the response.
INCOMPLETE_REASONS: dict[str, str] = {"length": "max_output_tokens", "content_filter": "content_filter"}


def _echo_tool(tool: FunctionTool) -> dict[str, Any]:
    return {"type": "function", "name": tool.name, "description": tool.description,
            "parameters": tool.parameters, "strict": tool.strict}


def echo(request: ResponsesRequest, native_tools: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The request parameters every response object repeats (defaults filled as OpenAI's)."""
    tools: list[dict[str, Any]] = [_echo_tool(t) for t in function_tools(request, native_tools)]
    tools += [t for t in request.tools or [] if isinstance(t, dict) and t.get("type") != "function"]
    text = request.text.model_dump(exclude_none=True, by_alias=True) if request.text else {}
    text.setdefault("format", {"type": "text"})
    reasoning = request.reasoning.model_dump(include={"effort", "summary"}) if request.reasoning else \
        {"effort": None, "summary": None}
    return {
        "instructions": request.instructions, "tools": tools, "tool_choice": request.tool_choice or "auto",
        "parallel_tool_calls": request.parallel_tool_calls is not False, "temperature": request.temperature,
        "top_p": request.top_p, "text": text, "reasoning": reasoning, "metadata": request.metadata or {},
        "store": request.stores, "previous_response_id": request.previous_response_id,
        "max_output_tokens": request.max_output_tokens, "max_tool_calls": request.max_tool_calls,
        "truncation": request.truncation or "disabled", "user": request.user,
        "service_tier": request.service_tier, "prompt_cache_key": request.prompt_cache_key,
        "safety_identifier": request.safety_identifier, "background": False,
    }


def usage_object(usage: Usage) -> dict[str, Any]:
    return {"input_tokens": usage.input_tokens,
            "input_tokens_details": {"cached_tokens": usage.cache_read_tokens,
                                     "cache_write_tokens": usage.cache_write_tokens},
            "output_tokens": usage.output_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
            "total_tokens": usage.total_tokens}


def output_text(output: list[dict[str, Any]]) -> str:
    """The SDKs' `output_text` convenience: every output_text part, joined."""
    return "".join(part["text"] for item in output if item.get("type") == "message"
                   for part in item.get("content") or [] if part.get("type") == "output_text")


def response_object(*, response_id: str, created_at: int, model: str, echo: dict[str, Any],
                    status: str, output: list[dict[str, Any]], usage: Usage | None = None,
                    incomplete_reason: str | None = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "id": response_id, "object": "response", "created_at": created_at, "status": status,
        "error": error, "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "model": model, "output": output, **echo,
        "usage": usage_object(usage) if usage is not None else None,
    }
    if status == "completed":
        response["completed_at"] = int(time.time())
    if status in ("completed", "incomplete"):
        response["output_text"] = output_text(output)
    return response


def reasoning_item(item_id: str, text: str, signature: str | None, status: str = "completed") -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": [],
                            "content": [{"type": "reasoning_text", "text": text}], "status": status}
    if signature:
        item["encrypted_content"] = signature  # Claude's thinking signature, opaque to the client
    return item


def message_item(item_id: str, parts: list[dict[str, Any]], status: str = "completed") -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": "assistant", "status": status,
            "content": parts}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str,
                       status: str = "completed") -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "status": status, "call_id": call_id,
            "name": name, "arguments": arguments}


def output_items(message: dict[str, Any], ids: ItemIds, status: str = "completed") -> list[dict[str, Any]]:
    """A chat assistant message as output items, in the order a model produces them."""
    items: list[dict[str, Any]] = []
    if message.get("reasoning_content"):
        items.append(reasoning_item(ids.new("rs"), message["reasoning_content"], message.get("reasoning_signature")))
    parts: list[dict[str, Any]] = []
    if isinstance(message.get("content"), str) and message["content"]:
        parts.append(text_part(message["content"]))
    if message.get("refusal"):
        parts.append({"type": "refusal", "refusal": message["refusal"]})
    if parts:
        items.append(message_item(ids.new("msg"), parts, status))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        items.append(function_call_item(ids.new("fc"), call.get("id") or ids.new("call"), function.get("name") or "",
                                        function.get("arguments") or "", status))
    return items


def render_completion(body: dict[str, Any], usage: Usage | None, *, response_id: str, created_at: int,
                      model: str, echo: dict[str, Any], ids: ItemIds) -> dict[str, Any]:
    """A complete `chat.completion` (choice 0) as the response object."""
    choice = (body.get("choices") or [{}])[0]
    reason = INCOMPLETE_REASONS.get(choice.get("finish_reason") or "")
    status = "incomplete" if reason else "completed"
    used = usage or (Usage.from_openai(body["usage"]) if isinstance(body.get("usage"), dict) else Usage())
    return response_object(response_id=response_id, created_at=created_at, model=model, echo=echo,
                           status=status, output=output_items(choice.get("message") or {}, ids, status),
                           usage=used, incomplete_reason=reason)


def _answer(output: list[dict[str, Any]]) -> tuple[str, list[tuple[str, str]]]:
    calls = [(str(i.get("name")), str(i.get("arguments"))) for i in output if i.get("type") == "function_call"]
    return output_text(output), calls


def with_native_output(rendered: dict[str, Any], native: dict[str, Any], ids: ItemIds) -> dict[str, Any]:
    """A response rendered from the canonical body, with the output items of the upstream's own
    Responses answer (built-in tool calls, annotations), when both say the same: if an output
    filter changed the canonical answer, the canonical one stands. Message and function call
    items get the gateway's ids (so item_reference resolves); reasoning keeps the upstream's."""
    output = [dict(item) for item in native.get("output") or [] if isinstance(item, dict)]
    if _answer(output) != _answer(rendered["output"]):
        return rendered
    for item in output:
        prefix = {"message": "msg", "function_call": "fc"}.get(str(item.get("type")))
        if prefix is not None:
            item["id"] = ids.new(prefix)
    return {**rendered, "output": output, "output_text": output_text(output)}
