"""webhook: any HTTP guardrail service, through one documented JSON contract.

Request: `POST <url>` with `Content-Type: application/json` and, when the guardrail names
`credentials`, `Authorization: Bearer <api_key>` (the secret's `api_key`, read through the
credential store: Secrets Manager on AWS, AIGW_SECRET_<NAME> locally):

    {"version": 1,
     "guardrail": "my-service",           # the guardrail's name in the gateway config
     "source": "input" | "output",        # the request's texts, or (part of) the answer
     "request_id": "...", "model": "...", "team": "...", "project": "..." | null, "key_id": "...",
     "texts": ["...", "..."]}             # every text checked, in order (a stream: one interval)

Response: status 200 and a JSON object:

    {"action": "allow" | "block" | "redact",
     "entities": {"<type>": <count>, ...},  # optional: what was found (types, never values)
     "texts": ["...", "..."]}              # with "redact" only: the texts to use instead,
                                           # same count and order as the request's
    `action: block` refuses (a 400 `guardrail_blocked` on input, a content-filter stop on output).

Anything else (another status, a timeout past `timeout_s`, invalid JSON, an unknown action,
`redact` without one text per text sent) is a failure, and the guardrail's `on_error` decides:
block (the default) or allow. The service sees the texts after the guardrails listed before it
(a `pii` redaction first means it sees placeholders, not the values).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
import httpx

from aigw.guardrails.base import GuardrailUnavailable, Source, Verdict

CONTRACT_VERSION = 1
CredentialLookup = Callable[[str], Awaitable[Any]]  # async (name) -> Credential (has `.api_key`) or str


class WebhookDetector:
    kind = "webhook"

    def __init__(self, *, name: str, url: str, http: httpx.AsyncClient, timeout_s: float = 0.5,
                 credentials: str | None = None, credential: CredentialLookup | None = None) -> None:
        if credentials and credential is None:
            raise ValueError(f"webhook {name!r} names credentials but no credential store was given")
        self.name = name
        self.url = url
        self.http = http
        self.timeout_s = timeout_s
        self.credentials = credentials
        self._credential = credential

    async def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.credentials and self._credential is not None:
            try:
                value = await self._credential(self.credentials)
            except Exception as exc:
                reason = type(exc).__name__
                raise GuardrailUnavailable(f"credential {self.credentials!r} unavailable: {reason}") from None
            key = value if isinstance(value, str) else getattr(value, "api_key", None)
            if not key:
                raise GuardrailUnavailable(f"credential {self.credentials!r} has no api_key")
            headers["authorization"] = f"Bearer {key}"
        return headers

    async def check(self, texts: Sequence[str], source: Source, meta: Mapping[str, str] | None = None) -> Verdict:
        meta = meta or {}
        body = {"version": CONTRACT_VERSION, "guardrail": self.name, "source": source,
                "request_id": meta.get("request_id"), "model": meta.get("model"), "team": meta.get("team"),
                "project": meta.get("project"), "key_id": meta.get("key_id"), "texts": list(texts)}
        try:
            with anyio.fail_after(self.timeout_s):
                headers = await self._headers()
                response = await self.http.post(self.url, content=json.dumps(body), headers=headers,
                                                timeout=httpx.Timeout(self.timeout_s))
        except TimeoutError:
            raise GuardrailUnavailable(f"webhook timed out after {self.timeout_s}s") from None
        except httpx.HTTPError as exc:
            raise GuardrailUnavailable(f"webhook unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise GuardrailUnavailable(f"webhook answered {response.status_code}")
        return parse_response(response.content, len(texts))


def parse_response(raw: bytes, sent: int) -> Verdict:
    try:
        data = json.loads(raw)
    except ValueError:
        raise GuardrailUnavailable("webhook answered invalid JSON") from None
    if not isinstance(data, dict):
        raise GuardrailUnavailable("webhook answered JSON that is not an object")
    action = data.get("action")
    entities: Counter[str] = Counter()
    raw_entities = data.get("entities") or {}
    if isinstance(raw_entities, dict):
        for kind, count in raw_entities.items():
            if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                entities[str(kind)[:64]] += count
    elif isinstance(raw_entities, list):
        entities.update(str(k)[:64] for k in raw_entities)
    if action == "allow":
        return Verdict(triggered=False, entities=entities)
    if action == "block":
        return Verdict(triggered=True, entities=entities or Counter({"webhook": 1}))
    if action == "redact":
        texts = data.get("texts")
        if not isinstance(texts, list) or len(texts) != sent or not all(isinstance(t, str) for t in texts):
            raise GuardrailUnavailable("webhook redact needs `texts`: one string per text sent")
        return Verdict(triggered=True, entities=entities or Counter({"webhook": 1}), rewritten=list(texts))
    raise GuardrailUnavailable("webhook answered an unknown action")
