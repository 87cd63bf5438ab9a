"""Request validation for the front doors: the OpenAI models here, the shared field types
(also used by the Anthropic front door's models in `aigw.translate.anthropic_client`), and
the body parser every front door calls.

Validation only: the gateway forwards the client's own JSON (unknown fields included,
values untouched) and uses these models to reject what no upstream would accept and what
the gateway itself could not read. Every field that the gateway or an adapter reads is
typed here, strictly: a string where a number belongs, `true` for an integer, `"false"`
for a boolean (which would read as true) are 400s, never coerced. Out of range is a 400,
never silently clamped.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StrictBool,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from aigw import screens
from aigw.errors import InvalidRequest
from aigw.jsonbody import parse_object

# Far above any model's output limit (the largest in 2026 are 128k): a larger `max_tokens`
# is a typo or an attack, and would make a budget reservation meaningless.
MAX_OUTPUT_TOKENS = 10_000_000
MAX_CHOICES = 128
MAX_NAME_LENGTH = 256  # model names, function names


def _whole_number(value: Any) -> Any:
    """3.0 is the integer 3 (JSON has one number type); 3.5, "3" and true are not integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Int = Annotated[int, Strict(), BeforeValidator(_whole_number)]
Number = Annotated[float, Strict(), AllowInfNan(False)]  # an int is a number too; bool is not
Bool = StrictBool
OutputTokens = Annotated[Int, Field(ge=1, le=MAX_OUTPUT_TOKENS)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]


class _Open(BaseModel):
    """A wire object: unknown fields pass through untouched."""

    model_config = ConfigDict(extra="allow")


class _Block(_Open):
    type: str


def block_type(known: set[str]) -> Discriminator:
    """Which model validates a content block (or part): its own for a known `type`, else
    `type=other` (an object with a string `type`; it passes through to the upstream). Tags
    read `type=...` so error paths can drop them (`_field_path`)."""

    def tag(value: Any) -> str:
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        return f"type={kind}" if isinstance(kind, str) and kind in known else "type=other"

    return Discriminator(tag)


# ---- OpenAI Chat Completions ------------------------------------------------------------------
class TextPart(_Block):
    text: str


class ImageURL(_Open):
    url: str
    detail: str | None = None


class ImagePart(_Block):
    image_url: str | ImageURL


class InputAudio(_Open):
    data: str
    format: str


class AudioPart(_Block):
    input_audio: InputAudio


class FilePart(_Block):
    file: dict[str, Any]


ContentPart = Annotated[
    Annotated[TextPart, Tag("type=text")] | Annotated[ImagePart, Tag("type=image_url")]
    | Annotated[AudioPart, Tag("type=input_audio")] | Annotated[FilePart, Tag("type=file")]
    | Annotated[_Block, Tag("type=other")],
    block_type({"text", "image_url", "input_audio", "file"})]


class FunctionCall(_Open):
    name: str
    arguments: str | dict[str, Any] | None = None


class ToolCall(_Open):
    id: str | None = None
    type: str | None = None
    function: FunctionCall


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None


class FunctionDefinition(_Open):
    name: Name
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: Bool | None = None


class ToolDefinition(_Open):
    type: str
    function: FunctionDefinition | None = None

    @model_validator(mode="after")
    def _function_tools_have_a_function(self) -> ToolDefinition:
        if self.type == "function" and self.function is None:
            raise ValueError("a tool of type 'function' needs a `function` object with a `name`")
        return self


class NamedFunction(_Open):
    name: str


class ToolChoice(_Open):
    type: str
    function: NamedFunction | None = None


class JsonSchemaFormat(_Open):
    name: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: Bool | None = None


class ResponseFormat(_Open):
    type: str
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(_Open):
    include_usage: Bool | None = None


class ChatCompletionRequest(_Open):
    model: Name
    messages: list[ChatMessage] = Field(min_length=1)
    stream: Bool | None = None
    stream_options: StreamOptions | None = None
    n: Int | None = Field(default=None, ge=1, le=MAX_CHOICES)
    max_tokens: OutputTokens | None = None
    max_completion_tokens: OutputTokens | None = None
    temperature: Number | None = Field(default=None, ge=0, le=2)
    top_p: Number | None = Field(default=None, ge=0, le=1)
    top_k: Int | None = Field(default=None, ge=0)  # not OpenAI's; Anthropic and Gemini adapters read it
    presence_penalty: Number | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: Number | None = Field(default=None, ge=-2, le=2)
    seed: Int | None = None
    stop: str | list[str] | None = None
    tools: list[ToolDefinition] | None = None
    functions: list[FunctionDefinition] | None = None
    tool_choice: Literal["none", "auto", "required"] | ToolChoice | None = None
    parallel_tool_calls: Bool | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = None
    user: str | None = None

    @model_validator(mode="after")
    def _stream_options_need_stream(self) -> ChatCompletionRequest:
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options is only allowed when stream is true")
        return self


# The shapes most chat requests take, checked without building models (aigw/screens.py).
_MESSAGE_SCREEN = screens.Screen(ChatMessage, {
    "role": screens.one_of("system", "developer", "user", "assistant", "tool", "function"),
    "content": screens.optional(screens.text), "name": screens.optional(screens.text),
    "tool_call_id": screens.optional(screens.text), "reasoning_content": screens.optional(screens.text)})
_TOKENS = screens.optional(screens.whole(1, MAX_OUTPUT_TOKENS))
CHAT_SCREEN = screens.Screen(ChatCompletionRequest, {
    "model": screens.sized(1, MAX_NAME_LENGTH), "messages": screens.objects(_MESSAGE_SCREEN, least=1),
    "stream": screens.optional(screens.flag),
    "stream_options": screens.optional(screens.obj(screens.Screen(
        StreamOptions, {"include_usage": screens.optional(screens.flag)}))),
    "n": screens.optional(screens.whole(1, MAX_CHOICES)), "max_tokens": _TOKENS, "max_completion_tokens": _TOKENS,
    "temperature": screens.optional(screens.number(0, 2)), "top_p": screens.optional(screens.number(0, 1)),
    "top_k": screens.optional(screens.whole(0)), "presence_penalty": screens.optional(screens.number(-2, 2)),
    "frequency_penalty": screens.optional(screens.number(-2, 2)), "seed": screens.optional(screens.whole()),
    "stop": screens.optional(lambda value: screens.text(value) or screens.texts(value)),
    "parallel_tool_calls": screens.optional(screens.flag), "reasoning_effort": screens.optional(screens.text),
    "user": screens.optional(screens.text),
}, validators=frozenset({"_stream_options_need_stream"}),
    whole=lambda body: body.get("stream_options") is None or body.get("stream") is True)


# ---- OpenAI Embeddings ------------------------------------------------------------------------
TokenId = Annotated[Int, Field(ge=0, lt=2**31)]


class EmbeddingsRequest(_Open):
    model: Name
    input: str | list[str] | list[TokenId] | list[list[TokenId]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Int | None = Field(default=None, ge=1, le=65_536)
    user: str | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> EmbeddingsRequest:
        if isinstance(self.input, list) and not self.input:
            raise ValueError("input must not be empty")
        return self


# ---- parsing and errors -----------------------------------------------------------------------
def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body's top-level JSON object, or a 400 (see `aigw.jsonbody`)."""
    return parse_object(body)


_TYPE_LABELS = frozenset({"str", "int", "float", "bool", "dict", "list", "none", "any"})


def _field_path(loc: tuple[int | str, ...]) -> str:
    """`messages.0.content.1.text`, without the union-branch labels pydantic puts in `loc`
    (`str`, `list[...]`, `type=text`, `function-after[...]`, a model's class name)."""
    kept = [str(p) for p in loc if isinstance(p, int)
            or not (p in _TYPE_LABELS or p[:1].isupper() or any(c in p for c in "[=-"))]
    return ".".join(kept)


def _most_specific(errors: list[ErrorDetails]) -> ErrorDetails:
    """Of a union's errors, the one deepest in the body: for a list of blocks with one bad
    field, that field rather than "content: Input should be a valid string"."""
    return max(errors, key=lambda e: len(_field_path(e["loc"]).split(".")))


_MODEL_NAMES = re.compile(r"a valid dictionary or instance of \w+")


def plain_message(message: str) -> str:
    """pydantic's wording without its internals: no class names, no "Value error, " prefix."""
    return _MODEL_NAMES.sub("a JSON object", message).removeprefix("Value error, ")


def validate(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """The model built from `data`, or a 400 naming the first problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = _most_specific(errors)
        loc = _field_path(first["loc"])
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        text = plain_message(first["msg"])
        message = f"{loc}: {text}{more}" if loc else f"{text}{more}"
        raise InvalidRequest(message, param=loc or None) from None


def check(screen: screens.Screen, data: dict[str, Any]) -> None:
    """`validate` for a caller that needs only the verdict: a body `screen` passes is valid."""
    if not screen.passes(data):
        validate(screen.model, data)
