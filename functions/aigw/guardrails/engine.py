"""Guardrails built from the config, and one check over a list of texts.

    Guardrail       a detector with its config: action, sources, on_error, restore
    build           config -> {name: Guardrail}, with the I/O dependencies injected
                    (embedder, boto3 client factory, httpx client, credential lookup)
    run_checks      the guardrails of a request, in config order, over its texts: block stops
                    at the first that blocks, redact rewrites the texts the next ones see,
                    monitor only records. A detector failure follows `on_error`.

The CPU-only detectors run on the event loop for ordinary prompts (tens of microseconds) and
in a worker thread past LARGE_CHARS, so a 256 KB prompt never stalls other requests.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from aigw.guardrails.base import Action, Detector, Source, SpanDetector, Verdict, find_all
from aigw.guardrails.redact import Vault, redact
from aigw.guardrails.stream import Blocked

if TYPE_CHECKING:
    import httpx

    from aigw.cache.embedders import Embedder
    from aigw.guardrails.config import GuardrailConfig

logger = logging.getLogger("aigw.guardrails")
LARGE_CHARS = 32_768


@dataclass(frozen=True, slots=True)
class Guardrail:
    name: str
    kind: str
    detector: Detector
    action: Action
    sources: tuple[Source, ...]
    fails_closed: bool = True
    restore: bool = False
    max_hold: int = 64
    interval_chars: int = 1_000

    @property
    def spans(self) -> SpanDetector | None:
        return self.detector if isinstance(self.detector, SpanDetector) else None


@dataclass(slots=True)
class Acted:
    """One guardrail that did something, for the log line, metrics and the response header."""

    guardrail: str
    action: str  # block | redact | monitor | error
    source: Source
    entities: dict[str, int] = field(default_factory=dict)
    score: float | None = None
    error: str | None = None

    def as_log(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.guardrail, "action": self.action, "source": self.source}
        if self.entities:
            entry["entities"] = dict(self.entities)
        if self.score is not None:
            entry["score"] = self.score
        if self.error is not None:
            entry["error"] = self.error
        return entry


@dataclass(slots=True)
class CheckOutcome:
    texts: list[str]
    changed: dict[str, str] = field(default_factory=dict)  # original text -> the text to send instead
    blocked: Blocked | None = None
    acted: list[Acted] = field(default_factory=list)


async def run_checks(guardrails: Sequence[Guardrail], texts: Sequence[str], source: Source, vault: Vault,
                     meta: Mapping[str, str] | None = None) -> CheckOutcome:
    current = list(texts)
    outcome = CheckOutcome(texts=current)
    large = sum(len(t) for t in texts) > LARGE_CHARS
    for g in guardrails:
        if source not in g.sources or not current:
            continue
        try:
            spans = g.spans
            if spans is not None and large:
                verdict: Verdict = await anyio.to_thread.run_sync(find_all, spans, list(current))
            else:
                verdict = await g.detector.check(list(current), source, meta)
        except Exception as exc:  # a remote guardrail or an embedder failed, or a bug
            reason = str(exc) if exc.__class__.__name__ == "GuardrailUnavailable" else type(exc).__name__
            logger.warning("guardrail %s failed (%s); on_error=%s", g.name, reason,
                           "block" if g.fails_closed else "allow")
            outcome.acted.append(Acted(g.name, "error", source, error=reason))
            if g.fails_closed:
                outcome.blocked = Blocked(g.name, ["guardrail_error"], source)
                break
            continue
        if not verdict.triggered:
            continue
        entities = dict(verdict.entities)
        score = verdict.score if g.kind in ("prompt_injection", "deny_topics") else None
        if g.action == "monitor":
            outcome.acted.append(Acted(g.name, "monitor", source, entities, score))
            continue
        if g.action == "block" and verdict.rewritten is None:
            outcome.acted.append(Acted(g.name, "block", source, entities, score))
            outcome.blocked = Blocked(g.name, sorted(entities), source)
            break
        # redact (or a remote guardrail that anonymized the texts itself)
        outcome.acted.append(Acted(g.name, "redact", source, entities, score))
        if verdict.rewritten is not None:
            new = list(verdict.rewritten)
        else:
            new = [redact(t, fs, vault, restorable=g.restore) if fs else t
                   for t, fs in zip(current, verdict.findings, strict=True)]
        current[:] = new
    for original, final in zip(texts, current, strict=True):
        if original != final:
            outcome.changed[original] = final
    return outcome


CredentialLookup = Callable[[str], Awaitable[Any]]


def build(configs: Sequence[GuardrailConfig], *, embedder: Embedder | None = None,
          bedrock_client: Callable[[str | None], Any] | None = None, http: httpx.AsyncClient | None = None,
          credential: CredentialLookup | None = None) -> dict[str, Guardrail]:
    """One `Guardrail` per config entry. `bedrock_client(region)` returns a boto3 bedrock-runtime
    client; `credential(name)` is the credential store's `get`."""
    return {c.name: _one(c, embedder, bedrock_client, http, credential) for c in configs}


def _one(c: GuardrailConfig, embedder: Embedder | None, bedrock_client: Callable[[str | None], Any] | None,
         http: httpx.AsyncClient | None, credential: CredentialLookup | None) -> Guardrail:
    detector: Detector
    interval = 1_000
    if c.type == "pii":
        from aigw.guardrails.pii import PiiDetector

        detector = PiiDetector(c.entities)
    elif c.type == "secrets":
        from aigw.guardrails.secrets import SecretsDetector

        detector = SecretsDetector(c.entities, entropy_threshold=c.entropy_threshold,
                                   min_token_length=c.min_token_length)
    elif c.type == "deny_patterns":
        from aigw.guardrails.patterns import DenyPatternsDetector

        detector = DenyPatternsDetector(patterns=c.patterns, words=c.words)
    elif c.type == "prompt_injection":
        from aigw.guardrails.injection import InjectionDetector

        detector = InjectionDetector(threshold=c.threshold, embedder=embedder if c.similarity else None,
                                     similarity_floor=c.similarity_floor, max_chars=c.max_chars)
    elif c.type == "deny_topics":
        from aigw.guardrails.topics import DenyTopicsDetector, TopicSpec

        detector = DenyTopicsDetector([TopicSpec(t.name, t.description, tuple(t.examples)) for t in c.topics],
                                      embedder=embedder, threshold=c.threshold, max_chars=c.max_chars)
    elif c.type == "bedrock":
        from aigw.guardrails.bedrock import BedrockGuardrailDetector

        if bedrock_client is None:
            raise ValueError(f"guardrail {c.name!r} (bedrock) needs a bedrock-runtime client")
        factory = bedrock_client
        region = c.region
        detector = BedrockGuardrailDetector(lambda: factory(region), guardrail_id=c.guardrail_id,
                                            guardrail_version=c.guardrail_version)
        interval = c.interval_chars
    else:
        from aigw.guardrails.webhook import WebhookDetector

        if http is None:
            raise ValueError(f"guardrail {c.name!r} (webhook) needs the shared httpx client")
        detector = WebhookDetector(name=c.name, url=c.url, http=http, timeout_s=c.timeout_s,
                                   credentials=c.credentials, credential=credential)
        interval = c.interval_chars
    return Guardrail(name=c.name, kind=c.type, detector=detector, action=c.action, sources=c.sources,
                     fails_closed=c.fails_closed, restore=bool(getattr(c, "restore", False)),
                     max_hold=c.stream_hold_chars, interval_chars=interval)


def counts(entities: Counter[str] | Mapping[str, int]) -> dict[str, int]:
    return {k: int(v) for k, v in entities.items()}
