"""Offline token counting with tiktoken, for admission (worst-case reservation) and for
settling streams whose upstream sent no usage.

    __init__.py   encodings, `count_text`, a prompt's `PromptProfile` (counted once per request,
                  off the event loop when large), the client's output limit
    families.py   how far each provider family's count can be above tiktoken's (the factor table)
    images.py     image sizes from the first bytes of a data: URL, and each provider's image rule

The encodings ship in `layers/tiktoken/tiktoken_cache` (on Lambda: /opt/tiktoken_cache).
tiktoken would download a missing encoding; we check the file is there first and fail
loudly instead, so the gateway never reaches the network for a tokenizer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from aigw.names import TIKTOKEN_CACHE_ENV
from aigw.tokens.images import ImageRef, image_ref, openai_image_tokens

if TYPE_CHECKING:
    import tiktoken

    from aigw.config.models import ModelConfig
    from aigw.tokens.families import Family

_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}
_REPO_CACHE = Path(__file__).resolve().parents[3] / "layers" / "tiktoken" / "tiktoken_cache"
_LAMBDA_CACHE = Path("/opt/tiktoken_cache")

# Chat framing, per OpenAI's published counting recipe for current chat models.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
_lock = threading.Lock()


class TokenizerUnavailable(RuntimeError):
    pass


def cache_dir() -> Path:
    configured = os.environ.get(TIKTOKEN_CACHE_ENV)
    if configured:
        return Path(configured)
    for candidate in (_LAMBDA_CACHE, _REPO_CACHE):
        if candidate.is_dir():
            return candidate
    return _REPO_CACHE


def encoding_file(name: str) -> Path:
    """Where tiktoken looks for an encoding: its cache key is the SHA-1 of the source URL."""
    return cache_dir() / hashlib.sha1(_URLS[name].encode()).hexdigest()


@lru_cache(maxsize=2)
def get_encoding(name: str) -> tiktoken.Encoding:
    path = encoding_file(name)
    if not path.is_file():
        raise TokenizerUnavailable(f"tiktoken encoding {name} not found at {path}; it ships in layers/tiktoken")
    with _lock:
        os.environ[TIKTOKEN_CACHE_ENV] = str(path.parent)
        import tiktoken

        encoding = tiktoken.get_encoding(name)
        # tiktoken keeps the Python dict of merge ranks it built its Rust encoder from, read
        # only to pickle an encoding that is not registered (a registered one, like this, is
        # pickled by name): about 28 MB for o200k, a quarter of a gateway's memory.
        with contextlib.suppress(AttributeError):
            del encoding._mergeable_ranks
        return encoding


def encoding_name_for(model: str) -> str:
    """o200k for the GPT-4o/4.1/5 and o-series families; cl100k for everything else.

    Other providers' tokenizers are not public; cl100k is the customary estimate.
    """
    m = model.lower()
    if m.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss")):
        return "o200k_base"
    return "cl100k_base"


def warm(models: Iterable[str] | None = None) -> None:
    """Load the encodings `models` use (all without `models`); called off the event loop at
    startup. Each costs about 0.15 s and 50 MB, so a gateway loads only those its config needs
    (another loads on first use)."""
    names = {encoding_name_for(m) for m in models} if models is not None else set(_URLS)
    for name in sorted(names):
        get_encoding(name)


def count_text(text: str, model: str) -> int:
    """tiktoken tokens of `text` with the encoding of `model` (or an encoding name)."""
    if not text:
        return 0
    name = model if model in _URLS else encoding_name_for(model)
    return len(get_encoding(name).encode(text, disallowed_special=()))


# ---- prompts -----------------------------------------------------------------------------------
# Above this many characters of text a prompt is counted off the event loop (about 10-40 ms
# of tiktoken per 64 KB; tiktoken releases the GIL, so a thread really runs beside the loop).
LARGE_PROMPT_CHARS = 64 * 1024
_IMAGE_PARTS = ("image_url", "image", "input_image")


@dataclass(frozen=True, slots=True)
class PromptProfile:
    """What a prompt is made of, counted once: tiktoken tokens of all its text (with OpenAI's
    chat framing, tool definitions, tool calls and response schemas), its images (billed by
    each provider's own rule, so kept apart), how many messages (chat templates add framing
    per message), and whether tools are offered (some providers add a system prompt)."""

    text_tokens: int
    images: tuple[ImageRef, ...] = ()
    messages: int = 0
    tools: bool = False
    encoding: str = "cl100k_base"

    def openai_tokens(self, model: str) -> int:
        """The count OpenAI's recipe gives (exact for OpenAI models)."""
        return self.text_tokens + sum(openai_image_tokens(i, model) for i in self.images)

    def estimate(self, family: Family, model: str) -> int:
        """The most `family` is expected to bill for this prompt (before any learned ratio)."""
        images = sum(family.images(i, model) for i in self.images)
        tools = family.tool_prompt(model) if self.tools else 0
        return family.text_bound(self.text_tokens, self.messages) + math.ceil(images * family.factor) + tools


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class _Counter:
    def __init__(self, encoding: str) -> None:
        self.encode = get_encoding(encoding).encode
        self.tokens = 0
        self.images: list[ImageRef] = []

    def text(self, text: str) -> None:
        if text:
            self.tokens += len(self.encode(text, disallowed_special=()))

    def content(self, content: Any) -> None:
        if content is None:
            return
        if isinstance(content, str):
            self.text(content)
            return
        if not isinstance(content, list):
            self.text(_json(content))
            return
        for part in content:
            if not isinstance(part, dict):
                self.text(str(part))
            elif part.get("type") in ("text", "input_text") and isinstance(part.get("text"), str):
                self.text(part["text"])
            elif part.get("type") in _IMAGE_PARTS:
                self.images.append(image_ref(part))
            else:  # audio, files, anything new: its JSON, an overestimate (the safe side)
                self.text(_json(part))


def profile_chat(body: Mapping[str, Any], encoding: str = "cl100k_base") -> PromptProfile:
    """Prompt tokens of a chat request: messages, tool calls, tool definitions, schemas.

    Exact for plain OpenAI chat messages (OpenAI's recipe: 3 per message, 1 per name, 3 to
    prime the reply). Tool definitions, which OpenAI renders into a private format, are
    counted as their JSON: a few percent over, the safe side for a reservation.
    """
    counter = _Counter(encoding)
    counter.tokens = REPLY_PRIMING
    messages = body.get("messages") or []
    if not isinstance(messages, list):
        messages = []
    for message in messages:
        counter.tokens += TOKENS_PER_MESSAGE
        if not isinstance(message, dict):
            counter.text(_json(message))
            continue
        for key, value in message.items():
            if key == "content":
                counter.content(value)
            elif key == "name":
                counter.tokens += TOKENS_PER_NAME
                counter.text(str(value))
            elif key == "tool_calls" and isinstance(value, list):
                for call in value:
                    counter.text(_json(call))
            elif isinstance(value, str):
                counter.text(value)
    definitions = [d for key in ("tools", "functions") if isinstance(body.get(key), list) for d in body[key]]
    for definition in definitions:
        counter.text(_json(definition))
    schema = body.get("response_format")
    structured = False
    if isinstance(schema, dict) and schema.get("type") == "json_schema":
        structured = True
        counter.text(_json(schema.get("json_schema")))
    return PromptProfile(counter.tokens, tuple(counter.images), len(messages), bool(definitions) or structured,
                         encoding)


def profile_embeddings(body: Mapping[str, Any], encoding: str = "cl100k_base") -> PromptProfile:
    raw = body.get("input")
    items = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
    if items and all(isinstance(i, int) for i in items):
        items = [items]  # one input given as token ids
    counter = _Counter(encoding)
    for item in items:
        if isinstance(item, str):
            counter.text(item)
        elif isinstance(item, list):
            counter.tokens += len(item)  # token ids
        else:
            counter.tokens += 1
    return PromptProfile(counter.tokens, (), 0, False, encoding)


def count_chat_prompt_tokens(
    messages: list[dict[str, Any]],
    model: str,
    *,
    tools: list[dict[str, Any]] | None = None,
    functions: list[dict[str, Any]] | None = None,
) -> int:
    """OpenAI's count of a chat prompt for `model` (exact for its models; images by its rule)."""
    body: dict[str, Any] = {"messages": messages, "tools": tools, "functions": functions}
    return profile_chat(body, encoding_name_for(model)).openai_tokens(model)


def text_chars(body: Mapping[str, Any]) -> int:
    """About how many characters of text a request carries (a cheap walk, no encoding): what
    decides whether counting it belongs off the event loop."""
    total = 0
    raw = body.get("input")
    for item in [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []:
        total += len(item) if isinstance(item, str) else 0
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    total += len(part["text"])
                elif isinstance(part, dict) and part.get("type") not in _IMAGE_PARTS:
                    total += 256  # counted as JSON; rarely large
        for call in message.get("tool_calls") or () if isinstance(message, dict) else ():
            total += len(str(call))
    for key in ("tools", "functions"):
        if isinstance(body.get(key), list):
            total += 512 * len(body[key])
    return total


# ---- output limits -----------------------------------------------------------------------------
def requested_output_tokens(body: Mapping[str, Any]) -> int | None:
    """The output limit the client set (`max_completion_tokens`, else `max_tokens`), per choice."""
    value = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return None
    return int(value)


def choices(body: Mapping[str, Any]) -> int:
    n = body.get("n")
    return int(n) if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1


# ---- one request ---------------------------------------------------------------------------
def reference_encoding(model: ModelConfig) -> str:
    """The encoding a request's prompt is counted with: o200k only when every deployment that
    can serve it is an OpenAI o200k model (no fallbacks); otherwise cl100k, the encoding the
    family factors are measured against (cl100k counts at least as many tokens as o200k on
    nearly all text, so it stays an upper bound for an o200k fallback)."""
    from aigw.tokens.families import family_for

    if model.fallbacks:
        return "cl100k_base"
    for d in model.deployments:
        if not family_for(d.provider, d.model).exact or encoding_name_for(d.model) != "o200k_base":
            return "cl100k_base"
    return "o200k_base"


_T = TypeVar("_T")


class RequestContext(Protocol):
    """What counting needs of a request (aigw.pipeline.context.RequestContext): a protocol, so
    this package does not depend on the pipeline that calls it."""

    @property
    def body(self) -> Any: ...
    @property
    def operation(self) -> str: ...
    @property
    def model(self) -> ModelConfig: ...
    def slot(self, kind: type[_T]) -> _T | None: ...
    def put(self, value: object) -> None: ...


@dataclass(frozen=True, slots=True, eq=False)
class _Counted:
    """A request's profile in its typed slot, with the body it was counted from: a body replaced
    since (a guardrail's rewrite) is counted again."""

    body: Any
    profile: PromptProfile


def cached_profile(ctx: RequestContext) -> PromptProfile | None:
    """The profile if this request's prompt was counted already (admission counts it)."""
    counted = ctx.slot(_Counted)
    return counted.profile if counted is not None and counted.body is ctx.body else None


def keep_profile(ctx: RequestContext, profile: PromptProfile) -> None:
    """Keep `profile` for the current body (after a change that leaves the prompt as it was,
    such as an output limit)."""
    ctx.put(_Counted(ctx.body, profile))


def prompt_profile(ctx: RequestContext) -> PromptProfile:
    """The request's prompt profile, counted once (blocking: see `count_prompt_tokens`)."""
    cached = cached_profile(ctx)
    if cached is not None:
        return cached
    encoding = reference_encoding(ctx.model)
    embeddings = ctx.operation == "embeddings"
    profile = profile_embeddings(ctx.body, encoding) if embeddings else profile_chat(ctx.body, encoding)
    keep_profile(ctx, profile)
    return profile


async def count_prompt_tokens(ctx: RequestContext) -> PromptProfile:
    """`prompt_profile`, off the event loop when the prompt is large: a 7 MB prompt is a second
    of tiktoken, which on the loop would stall every other request of the process."""
    cached = cached_profile(ctx)
    if cached is not None:
        return cached
    if text_chars(ctx.body) > LARGE_PROMPT_CHARS:
        return await asyncio.to_thread(prompt_profile, ctx)
    return prompt_profile(ctx)
