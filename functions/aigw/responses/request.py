"""A `POST /v1/responses` body: validated (every field type-checked, a 400 in the OpenAI
envelope naming the field), and translated once into the canonical Chat Completions body
the pipeline and its stages (cache keys, budgets, guardrails) work on.

Request fields and what they become upstream (plain renames as data, `RENAMES`):

    instructions            a leading system message (never carried over from a previous response)
    input + previous turns  messages (aigw.responses.items)
    tools (function)        chat tools, `strict` kept; built-in tools only where run natively
    tool_choice             the chat equivalent; allowed_tools narrows `tools` to the allowed ones
    text.format             response_format (json_schema / json_object); text.verbosity -> verbosity
    reasoning.effort        reasoning_effort
    max_output_tokens       max_completion_tokens
    store, metadata         kept by the gateway (stored state, the echoed response), not sent upstream

Fields no translation can honour (background, conversation, prompt templates, logprobs) are
a 400 naming them rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aigw.errors import InvalidRequest
from aigw.responses.items import ItemIds, check, new_response_id, normalize_item, to_messages, tool_family

# Responses field -> Chat Completions field, values unchanged.
RENAMES: dict[str, str] = {
    "temperature": "temperature", "top_p": "top_p", "max_output_tokens": "max_completion_tokens",
    "user": "user", "service_tier": "service_tier", "prompt_cache_key": "prompt_cache_key",
    "safety_identifier": "safety_identifier", "prompt_cache_retention": "prompt_cache_retention",
}
# Fields that change what is answered and that no translation can honour.
UNSUPPORTED: dict[str, str] = {
    "background": "background responses are not supported; stream instead",
    "conversation": "the Conversations API is not supported; use previous_response_id",
    "prompt": "prompt templates are not supported; send instructions and input",
    "context_management": "server-side context management is not supported",
}
_METADATA_KEYS = 16


class _Strict(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class TextFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    description: str | None = None
    strict: bool | None = None


class TextConfig(_Strict):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(_Strict):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class FunctionTool(_Strict):
    type: Literal["function"]
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class _Typed(_Strict):
    type: str = Field(min_length=1)


class ResponsesRequest(_Strict):
    model: str = Field(min_length=1)
    input: str | list[Any] | None = None
    instructions: str | None = None
    tools: list[Any] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    max_tool_calls: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    metadata: dict[str, str] | None = None
    user: str | None = Field(default=None, max_length=512)
    store: bool | None = None
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
    previous_response_id: str | None = Field(default=None, min_length=1, max_length=256)
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None
    service_tier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    safety_identifier: str | None = None

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None:
            if len(value) > _METADATA_KEYS:
                raise ValueError(f"at most {_METADATA_KEYS} metadata keys")
            for k, v in value.items():
                if len(k) > 64 or len(v) > 512:
                    raise ValueError("metadata keys are at most 64 characters, values at most 512")
        return value

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if isinstance(value, str) and value not in ("none", "auto", "required"):
            raise ValueError("tool_choice must be 'none', 'auto', 'required' or an object")
        return value

    @property
    def stores(self) -> bool:
        """`store` defaults to true, as on OpenAI."""
        return self.store is not False


def parse_request(data: dict[str, Any]) -> ResponsesRequest:
    try:
        request = ResponsesRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise InvalidRequest(f"{loc}: {first['msg']}{more}" if loc else first["msg"] + more,
                             param=loc or None) from None
    for name, why in UNSUPPORTED.items():
        if data.get(name):
            raise InvalidRequest(f"{name}: {why}", param=name)
    if request.top_logprobs:
        raise InvalidRequest("top_logprobs: log probabilities are not supported on /v1/responses",
                             param="top_logprobs")
    if request.input in (None, [], "") and request.previous_response_id is None:
        raise InvalidRequest("input: send a string or a non-empty list of input items", param="input")
    return request


def input_items(request: ResponsesRequest, native_tools: Collection[str] = (),
                ids: ItemIds | None = None) -> list[dict[str, Any]]:
    """This turn's input, normalized (ids, parts); a string is one user message."""
    ids = ids or ItemIds(new_response_id())
    raw = request.input
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raw = [{"type": "message", "role": "user", "content": raw}]
    return [normalize_item(item, f"input[{n}]", native_tools, ids) for n, item in enumerate(raw)]


def function_tools(request: ResponsesRequest, native_tools: Collection[str] = ()) -> list[FunctionTool]:
    """The function tools; a built-in tool is a 400 naming it unless the deployment runs it."""
    tools = []
    for n, raw in enumerate(request.tools or []):
        where = f"tools[{n}]"
        kind = check(_Typed, raw, where).type
        if kind == "function":
            tools.append(check(FunctionTool, raw, where))
        elif tool_family(kind) not in native_tools:
            raise InvalidRequest(f"{where}: the built-in tool {kind!r} is not available for {request.model!r}: "
                                 "its deployments cannot run it; declare a function tool instead", param=where)
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        raise InvalidRequest("tools: function names must be unique", param="tools")
    return tools


def _chat_tool(tool: FunctionTool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    function["parameters"] = tool.parameters if tool.parameters is not None else {"type": "object",
                                                                                 "properties": {}}
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice(choice: str | dict[str, Any] | None, names: list[str],
                 native_tools: Collection[str]) -> tuple[Any, list[str] | None]:
    """(chat tool_choice or None, the tool names to keep or None for all)."""
    if choice is None or isinstance(choice, str):
        return choice, None
    kind = choice.get("type")
    if kind == "function":
        name = choice.get("name")
        if name not in names:
            raise InvalidRequest(f"tool_choice: {name!r} is not one of the function tools", param="tool_choice")
        return {"type": "function", "function": {"name": name}}, None
    if kind == "allowed_tools":
        mode = choice.get("mode")
        if mode not in ("auto", "required") or not isinstance(choice.get("tools"), list):
            raise InvalidRequest("tool_choice: allowed_tools needs mode 'auto' or 'required' and a tools list",
                                 param="tool_choice")
        allowed = [t.get("name") for t in choice["tools"] if isinstance(t, dict) and t.get("type") == "function"]
        return mode, [n for n in names if n in allowed]
    if isinstance(kind, str) and tool_family(kind) in native_tools:
        return None, None  # a built-in tool the deployment runs: only the native request names it
    raise InvalidRequest(f"tool_choice: {kind!r} is not supported here; choose a function tool",
                         param="tool_choice")


def _response_format(text: TextConfig | None) -> dict[str, Any] | None:
    fmt = text.format if text is not None else None
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {"type": "json_object"}
    if fmt.name is None or fmt.schema_ is None:
        raise InvalidRequest("text.format: json_schema needs a name and a schema", param="text.format")
    schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema_}
    if fmt.description is not None:
        schema["description"] = fmt.description
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": schema}


def chat_body(request: ResponsesRequest, conversation: list[dict[str, Any]], *,
              native_tools: Collection[str] = ()) -> dict[str, Any]:
    """The canonical Chat Completions body: `conversation` is every item so far (stored turns,
    then this turn's input), normalized."""
    messages = to_messages(conversation)
    if request.instructions:
        messages.insert(0, {"role": "system", "content": request.instructions})
    if not messages:
        raise InvalidRequest("input: nothing to answer (only reasoning or built-in tool items)", param="input")
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    if request.stream:
        body["stream"] = True
    fields = request.model_dump(include=set(RENAMES), exclude_none=True)
    body.update({RENAMES[name]: value for name, value in fields.items()})
    tools = function_tools(request, native_tools)
    choice, keep = _tool_choice(request.tool_choice, [t.name for t in tools], native_tools)
    if keep is not None:
        tools = [t for t in tools if t.name in keep]
    if tools:
        body["tools"] = [_chat_tool(t) for t in tools]
        if choice is not None:
            body["tool_choice"] = choice
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    elif choice == "required":
        raise InvalidRequest("tool_choice: 'required' needs at least one function tool", param="tool_choice")
    response_format = _response_format(request.text)
    if response_format is not None:
        body["response_format"] = response_format
    if request.text is not None and request.text.verbosity is not None:
        body["verbosity"] = request.text.verbosity
    if request.reasoning is not None and request.reasoning.effort is not None:
        body["reasoning_effort"] = request.reasoning.effort
    return body
