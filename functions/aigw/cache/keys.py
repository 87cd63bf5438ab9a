"""What a cached answer is keyed by: the normalized request inside the caller's namespace.

Exact key
    sha256 of canonical JSON (sorted keys, no whitespace) of the request body after
    normalization, with the namespace and a key-format version inside the hash. Every
    field counts - unknown ones included, so a new answer-changing parameter can never be
    ignored by accident - except the explicit allow-list `IGNORED_FIELDS`:

        user            an end-user id for abuse tracking; never changes the answer
        stream          the transport; a hit is replayed as a stream when asked
        stream_options  the transport (`include_usage`)
        metadata        OpenAI stored-completion tags
        store           whether OpenAI stores the completion

    Normalizations that cannot change the answer: a `null` value is the field absent;
    `max_completion_tokens` alone is the same limit as `max_tokens`; `n: 1` is the
    default; a message content of one text part is that text. Nothing else is rewritten
    (no whitespace folding, no default temperature: absent stays different from 1).

Semantic key (`semantic_query`)
    Only for single-answer requests whose last message is user text, with no tools: the
    text of that last message is embedded; everything else (system prompt, earlier turns,
    every parameter) goes into `scope`, a hash that must match exactly. So two requests
    with different system prompts, temperatures or histories never match semantically.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aigw.auth.records import KeyRecord

KEY_VERSION = 1
IGNORED_FIELDS = frozenset({"user", "stream", "stream_options", "metadata", "store"})

Namespacing = Literal["team", "key", "project"]


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def namespace_for(key: KeyRecord, mode: Namespacing) -> str:
    """The tenant namespace entries live in; nothing is ever shared across namespaces."""
    if mode == "key":
        return f"key:{key.key_id}"
    if mode == "project":
        return f"project:{key.team_id}/{key.project or '-'}"
    return f"team:{key.team_id}"


def _normalize_content(content: Any) -> Any:
    if isinstance(content, list) and len(content) == 1 and isinstance(content[0], dict):
        part = content[0]
        if part.get("type") == "text" and isinstance(part.get("text"), str) and set(part) <= {"type", "text"}:
            return part["text"]
    return content


def _normalize_message(message: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if v is not None}
    if "content" in out:
        out["content"] = _normalize_content(out["content"])
    return out


def normalized_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """The answer-changing part of a chat request, in one canonical form."""
    out = {k: v for k, v in body.items() if k not in IGNORED_FIELDS and v is not None}
    if "max_completion_tokens" in out and "max_tokens" not in out:
        out["max_tokens"] = out.pop("max_completion_tokens")
    if out.get("n") == 1:
        del out["n"]
    if isinstance(out.get("messages"), list):
        out["messages"] = [_normalize_message(m) if isinstance(m, Mapping) else m for m in out["messages"]]
    return out


def exact_key(namespace: str, body: Mapping[str, Any]) -> str:
    return sha256_hex(canonical_json({"v": KEY_VERSION, "ns": namespace, "req": normalized_request(body)}))


@dataclass(frozen=True, slots=True)
class SemanticQuery:
    text: str  # the last user message, whitespace collapsed: what gets embedded
    scope: str  # hash of everything else; must match exactly


def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "\n".join(str(p.get("text") or "") for p in content)
    return None  # images, audio, files: no semantic matching


def semantic_query(body: Mapping[str, Any]) -> SemanticQuery | None:
    """The semantic lookup for a request, or None when it must never match semantically:
    n > 1, tools or functions offered (a tool call carries arguments taken from the exact
    wording), tool results in the history, or a last message that is not plain user text."""
    normalized = normalized_request(body)
    if normalized.get("n", 1) != 1 or normalized.get("tools") or normalized.get("functions"):
        return None
    messages = normalized.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    if any(isinstance(m, dict) and m.get("role") in ("tool", "function") for m in messages):
        return None
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "user":
        return None
    text = _text_of(last.get("content"))
    if text is None or not text.strip():
        return None
    rest = {**normalized, "messages": messages[:-1], "last": {k: v for k, v in last.items() if k != "content"}}
    return SemanticQuery(text=" ".join(text.split()), scope=sha256_hex(canonical_json({"v": KEY_VERSION, **rest})))
