"""Offline token counting with tiktoken, for admission (worst-case reservation) and for
settling streams whose upstream sent no usage.

The encodings ship in `layers/tiktoken/tiktoken_cache` (on Lambda: /opt/tiktoken_cache).
tiktoken would download a missing encoding; we check the file is there first and fail
loudly instead, so the gateway never reaches the network for a tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aigw.names import TIKTOKEN_CACHE_ENV

if TYPE_CHECKING:
    import tiktoken

_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}
_REPO_CACHE = Path(__file__).resolve().parents[2] / "layers" / "tiktoken" / "tiktoken_cache"
_LAMBDA_CACHE = Path("/opt/tiktoken_cache")

# Chat framing, per OpenAI's published counting recipe for current chat models.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
TOKENS_PER_IMAGE = 765  # a 1024x1024 high-detail image; a safe upper estimate for admission
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

        return tiktoken.get_encoding(name)


def encoding_name_for(model: str) -> str:
    """o200k for the GPT-4o/4.1/5 and o-series families; cl100k for everything else.

    Other providers' tokenizers are not public; cl100k is the customary estimate.
    """
    m = model.lower()
    if m.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss")):
        return "o200k_base"
    return "cl100k_base"


def warm() -> None:
    """Load both encodings (about 0.3 s); called off the event loop at startup."""
    for name in _URLS:
        get_encoding(name)


def count_text(text: str, model: str) -> int:
    if not text:
        return 0
    return len(get_encoding(encoding_name_for(model)).encode(text, disallowed_special=()))


def _content_tokens(content: Any, model: str) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return count_text(content, model)
    total = 0
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                total += count_text(str(part), model)
                continue
            kind = part.get("type")
            if kind == "text":
                total += count_text(str(part.get("text") or ""), model)
            elif kind in ("image_url", "image", "input_image"):
                total += TOKENS_PER_IMAGE
            else:
                total += count_text(json.dumps(part, separators=(",", ":")), model)
    else:
        total += count_text(json.dumps(content, separators=(",", ":")), model)
    return total


def count_chat_prompt_tokens(
    messages: list[dict[str, Any]],
    model: str,
    *,
    tools: list[dict[str, Any]] | None = None,
    functions: list[dict[str, Any]] | None = None,
) -> int:
    """Prompt tokens of a chat request: messages, tool calls, and tool definitions.

    Exact for plain OpenAI chat messages; for tool definitions (which OpenAI renders into a
    private format) the JSON of each definition is counted, an overestimate by a few percent,
    which is the safe side for a budget reservation.
    """
    total = REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if key == "content":
                total += _content_tokens(value, model)
            elif key == "name":
                total += TOKENS_PER_NAME + count_text(str(value), model)
            elif key == "tool_calls" and isinstance(value, list):
                for call in value:
                    total += count_text(json.dumps(call, separators=(",", ":")), model)
            elif isinstance(value, str):
                total += count_text(value, model)
    for definition in (tools or []) + (functions or []):
        total += count_text(json.dumps(definition, separators=(",", ":")), model)
    return total
