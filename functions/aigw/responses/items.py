"""Conversation items: the client's input items validated and normalized once, and any
conversation (stored or new) turned into canonical Chat Completions messages.

Normalized items are what is stored and what `GET .../input_items` lists: every item has
an `id` and a `type`, message content is always a list of parts. Conversion to chat:

    message (user/system/developer)   a message of that role; parts become chat parts
    message (assistant)               an assistant message; output_text joined, refusal kept
    function_call                     a tool call on the assistant message it follows
    function_call_output              a `tool` message
    reasoning                         kept in the conversation, dropped from the chat body
                                      (no chat upstream takes another model's reasoning back)
    item_reference                    replaced by the stored item it names (ResponsesService)
    built-in tool items               only where the deployment runs that tool natively

Ids: a response id is `resp_` + 48 hex digits, the first 12 its creation time in ms (so ids
sort by age); every item the gateway names carries its response's digits (`msg_<48><n>`),
so an `item_reference` says which stored response holds the item it points to.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Collection
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aigw.errors import InvalidRequest

# Item types of built-in tools, by the tool family that produces them (see `tool_family`).
BUILTIN_ITEM_TOOLS: dict[str, str] = {
    "web_search_call": "web_search", "file_search_call": "file_search", "computer_call": "computer",
    "computer_call_output": "computer", "code_interpreter_call": "code_interpreter",
    "image_generation_call": "image_generation", "local_shell_call": "local_shell",
    "local_shell_call_output": "local_shell", "shell_call": "shell", "shell_call_output": "shell",
    "apply_patch_call": "apply_patch", "apply_patch_call_output": "apply_patch", "mcp_call": "mcp",
    "mcp_list_tools": "mcp", "mcp_approval_request": "mcp", "mcp_approval_response": "mcp",
    "custom_tool_call": "custom", "custom_tool_call_output": "custom", "tool_search_call": "tool_search",
    "tool_search_output": "tool_search",
}
ID_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}


_ITEM_ID = re.compile(r"^[a-z]+_([0-9a-f]{48})[0-9a-f]{4,}$")  # an upstream's 48-digit ids never match


def new_response_id(now: float | None = None) -> str:
    millis = int((time.time() if now is None else now) * 1000)
    return f"resp_{millis:012x}{secrets.token_hex(18)}"


class ItemIds:
    """Ids for the items of one response (its input and output), unique and traceable to it."""

    def __init__(self, response_id: str) -> None:
        self._digits = response_id.removeprefix("resp_")
        self._next = 0

    def new(self, prefix: str) -> str:
        self._next += 1
        return f"{prefix}_{self._digits}{self._next:04x}"


def response_of_item(item_id: str) -> str | None:
    """The response an item id of the gateway's belongs to; None for anyone else's id."""
    match = _ITEM_ID.match(item_id)
    return f"resp_{match.group(1)}" if match else None


def tool_family(tool_type: str) -> str:
    """web_search_preview_2025_03_11 -> web_search, computer_use_preview -> computer: the dated
    and preview variants of one built-in tool run (or not) together."""
    for family in ("web_search", "computer"):
        if tool_type.startswith(family):
            return family
    return tool_type


class _Item(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _Message(_Item):
    type: Literal["message"] | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[dict[str, Any]]
    id: str | None = None


class _FunctionCall(_Item):
    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: str
    id: str | None = None


class _FunctionCallOutput(_Item):
    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: str | list[dict[str, Any]]
    id: str | None = None


class _ItemReference(_Item):
    type: Literal["item_reference"]
    id: str = Field(min_length=1)


class _Reasoning(_Item):
    type: Literal["reasoning"]
    id: str | None = None
    summary: list[dict[str, Any]] = Field(default_factory=list)
    content: list[dict[str, Any]] | None = None
    encrypted_content: str | None = None


class _Part(_Item):
    type: str


class _InputText(_Item):
    type: Literal["input_text"]
    text: str


class _OutputText(_Item):
    type: Literal["output_text"]
    text: str


class _Refusal(_Item):
    type: Literal["refusal"]
    refusal: str


class _InputImage(_Item):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["auto", "low", "high", "original"] | None = None


class _InputFile(_Item):
    type: Literal["input_file"]
    file_data: str | None = None
    file_id: str | None = None
    file_url: str | None = None
    filename: str | None = None


class _Audio(_Item):
    data: str
    format: Literal["wav", "mp3"]


class _InputAudio(_Item):
    type: Literal["input_audio"]
    input_audio: _Audio


USER_PARTS: dict[str, type[_Item]] = {"input_text": _InputText, "input_image": _InputImage,
                                      "input_file": _InputFile, "input_audio": _InputAudio}
ASSISTANT_PARTS: dict[str, type[_Item]] = {"output_text": _OutputText, "refusal": _Refusal,
                                           "input_text": _InputText}


def check(model: type[BaseModel], data: Any, where: str) -> Any:
    """Validate one object, the error naming where it is (`input[2].content[0].text`)."""
    if not isinstance(data, dict):
        raise InvalidRequest(f"{where} must be an object", param=where)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join([where, *(str(p) for p in first["loc"])])
        raise InvalidRequest(f"{loc}: {first['msg']}", param=loc) from None


def _parts(content: str | list[dict[str, Any]], role: str, where: str) -> list[dict[str, Any]]:
    assistant = role == "assistant"
    if isinstance(content, str):
        return [{"type": "output_text", "text": content, "annotations": []} if assistant else
                {"type": "input_text", "text": content}]
    allowed = ASSISTANT_PARTS if assistant else USER_PARTS
    parts = []
    for n, raw in enumerate(content):
        at = f"{where}.content[{n}]"
        kind = check(_Part, raw, at).type
        if kind not in allowed:
            raise InvalidRequest(f"{at}: a {role} message cannot hold a {kind!r} part "
                                 f"(allowed: {', '.join(sorted(allowed))})", param=at)
        part = check(allowed[kind], raw, at).model_dump(exclude_none=True)
        if kind == "output_text":
            part.setdefault("annotations", [])
        elif not assistant:
            try:
                _chat_part(part)  # what no chat upstream can take fails here, with its place
            except InvalidRequest as exc:
                raise InvalidRequest(f"{at}: {exc.message}", param=at) from None
        parts.append(part)
    return parts


def normalize_item(raw: Any, where: str, native_tools: Collection[str], ids: ItemIds) -> dict[str, Any]:
    """One input item, validated, with an id and its content as parts; an item_reference stays
    one (`{"type": "item_reference", "id"}`) until the service resolves it."""
    if isinstance(raw, dict) and raw.get("type") in (None, "message"):
        message = check(_Message, raw, where)
        item = message.model_dump(exclude_none=True)
        item["type"] = "message"
        item["content"] = _parts(message.content, message.role, where)
    else:
        kind = check(_Part, raw, where).type
        if kind == "function_call":
            item = check(_FunctionCall, raw, where).model_dump(exclude_none=True)
        elif kind == "function_call_output":
            item = check(_FunctionCallOutput, raw, where).model_dump(exclude_none=True)
            if isinstance(item["output"], list):
                item["output"] = _output_parts(item["output"], where)
        elif kind == "reasoning":
            item = check(_Reasoning, raw, where).model_dump(exclude_none=True)
        elif kind in BUILTIN_ITEM_TOOLS and BUILTIN_ITEM_TOOLS[kind] in native_tools:
            item = dict(raw)
        elif kind in BUILTIN_ITEM_TOOLS:
            raise InvalidRequest(f"{where}: {kind!r} items belong to the built-in tool "
                                 f"{BUILTIN_ITEM_TOOLS[kind]!r}, which this model's deployments do not run",
                                 param=where)
        elif kind == "item_reference":
            return {"type": "item_reference", "id": check(_ItemReference, raw, where).id}
        else:
            raise InvalidRequest(f"{where}: unknown input item type {kind!r}", param=where)
    if not item.get("id"):
        item["id"] = ids.new(ID_PREFIXES.get(item["type"], "item"))
    if item["type"] != "reasoning":
        item.setdefault("status", "completed")
    return item


def _output_parts(parts: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    out = []
    for n, raw in enumerate(parts):
        at = f"{where}.output[{n}]"
        kind = check(_Part, raw, at).type
        if kind != "input_text":
            raise InvalidRequest(f"{at}: a function_call_output can carry only input_text parts here "
                                 f"(not {kind!r}): chat upstreams take text tool results", param=at)
        out.append(check(_InputText, raw, at).model_dump(exclude_none=True))
    return out


# ---- items -> canonical chat messages ---------------------------------------------------------
def _chat_part(part: dict[str, Any]) -> dict[str, Any]:
    kind = part["type"]
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": part["text"]}
    if kind == "input_image":
        if not part.get("image_url"):
            raise InvalidRequest("input_image needs image_url (a URL or a data: URL); file ids are not "
                                 "supported", param="input")
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail") in ("low", "high"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_audio":
        return {"type": "input_audio", "input_audio": part["input_audio"]}
    if kind == "input_file":
        if part.get("file_url"):
            raise InvalidRequest("input_file with file_url is not supported; send file_data", param="input")
        return {"type": "file", "file": {k: part[k] for k in ("file_data", "file_id", "filename") if part.get(k)}}
    raise InvalidRequest(f"content part {kind!r} cannot be sent to this model", param="input")


def _chat_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    chat = [_chat_part(p) for p in parts]
    if all(p["type"] == "text" for p in chat):
        return "".join(p["text"] for p in chat)
    return chat


def to_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Normalized items (stored conversation + this turn) as chat messages, in order."""
    messages: list[dict[str, Any]] = []
    open_assistant: dict[str, Any] | None = None  # the message that function calls attach to
    for item in items:
        kind = item["type"]
        if kind == "message" and item["role"] == "assistant":
            parts = item["content"]
            text = "".join(p.get("text", "") for p in parts if p["type"] in ("output_text", "input_text"))
            refusal = "".join(p["refusal"] for p in parts if p["type"] == "refusal")
            open_assistant = {"role": "assistant", "content": text}
            if refusal:
                open_assistant["refusal"] = refusal
            messages.append(open_assistant)
        elif kind == "message":
            open_assistant = None
            messages.append({"role": item["role"], "content": _chat_content(item["content"])})
        elif kind == "function_call":
            if open_assistant is None:
                open_assistant = {"role": "assistant", "content": None}
                messages.append(open_assistant)
            call = {"id": item["call_id"], "type": "function",
                    "function": {"name": item["name"], "arguments": item["arguments"]}}
            open_assistant.setdefault("tool_calls", []).append(call)
            if open_assistant["content"] == "":
                open_assistant["content"] = None
        elif kind == "function_call_output":
            open_assistant = None
            output = item["output"]
            text = output if isinstance(output, str) else "".join(p["text"] for p in output)
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": text})
        elif kind == "item_reference":
            raise InvalidRequest(f"item_reference {item['id']!r}: no stored item with this id", param="input")
        # reasoning and natively run built-in tool items have no chat equivalent; reasoning
        # between an assistant message and its calls keeps them on one message
    return messages
