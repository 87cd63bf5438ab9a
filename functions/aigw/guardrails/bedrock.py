"""Amazon Bedrock Guardrails through `bedrock-runtime` ApplyGuardrail.

Request (boto3 `apply_guardrail`): guardrailIdentifier, guardrailVersion, source INPUT or
OUTPUT, content = one `{"text": {"text": ...}}` block per text. Response: `action` NONE or
GUARDRAIL_INTERVENED, `outputs` [{"text"}], and `assessments` whose policies each report an
`action` per finding (BLOCKED, ANONYMIZED, NONE):

    NONE                                    pass
    GUARDRAIL_INTERVENED, something BLOCKED block (entities: the policies' types and names)
    GUARDRAIL_INTERVENED, only ANONYMIZED   pass with the masked `outputs` as the new texts
                                            (redaction done by the guardrail itself)

When masked outputs do not line up one-to-one with the texts sent, each text is sent again
on its own, so a masked text never replaces the wrong one. Streams are checked in intervals
of `interval_chars` (stream.IntervalChecker), as Bedrock's own stream processing does. The
boto3 client is synchronous: calls run in a worker thread, never on the event loop. Entity
names come from the policy (filter type, topic name, PII type), never from the match.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio

from aigw.guardrails.base import GuardrailUnavailable, Source, Verdict

_SOURCES = {"input": "INPUT", "output": "OUTPUT"}


class BedrockGuardrailDetector:
    kind = "bedrock"

    def __init__(self, client: Callable[[], Any], *, guardrail_id: str, guardrail_version: str) -> None:
        self._client = client  # returns a boto3 bedrock-runtime client (created on first use)
        self.guardrail_id = guardrail_id
        self.guardrail_version = guardrail_version

    def warm(self) -> None:
        self._client()

    def _apply(self, texts: Sequence[str], source: Source) -> dict[str, Any]:
        response: dict[str, Any] = self._client().apply_guardrail(
            guardrailIdentifier=self.guardrail_id, guardrailVersion=self.guardrail_version, source=_SOURCES[source],
            content=[{"text": {"text": t}} for t in texts])
        return response

    async def _call(self, texts: Sequence[str], source: Source) -> dict[str, Any]:
        try:
            return await anyio.to_thread.run_sync(self._apply, list(texts), source, abandon_on_cancel=True)
        except Exception as exc:  # ClientError, EndpointConnectionError, ReadTimeout...
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
            raise GuardrailUnavailable(f"ApplyGuardrail failed: {code or type(exc).__name__}") from None

    async def check(self, texts: Sequence[str], source: Source, meta: Mapping[str, str] | None = None) -> Verdict:
        positions = [i for i, t in enumerate(texts) if t.strip()]  # ApplyGuardrail refuses empty text
        if not positions:
            return Verdict(triggered=False)
        sent = [texts[i] for i in positions]
        response = await self._call(sent, source)
        if response.get("action") != "GUARDRAIL_INTERVENED":
            return Verdict(triggered=False)
        entities, blocked = assessed(response.get("assessments") or [])
        if blocked or not entities:
            return Verdict(triggered=True, entities=entities or Counter({"bedrock_guardrail": 1}))
        outputs = [str(o.get("text", "")) for o in response.get("outputs") or []]
        if len(outputs) != len(sent):
            outputs = []
            for text in sent:  # one at a time, so each masked text replaces its own original
                single = await self._call([text], source)
                if single.get("action") != "GUARDRAIL_INTERVENED":
                    outputs.append(text)
                    continue
                more, blocked = assessed(single.get("assessments") or [])
                masked = single.get("outputs") or []
                if blocked or len(masked) != 1:
                    return Verdict(triggered=True, entities=more or Counter({"bedrock_guardrail": 1}))
                outputs.append(str(masked[0].get("text", "")))
        rewritten = list(texts)
        for i, text in zip(positions, outputs, strict=True):
            rewritten[i] = text
        return Verdict(triggered=True, entities=entities, rewritten=rewritten)


def assessed(assessments: Sequence[Mapping[str, Any]]) -> tuple[Counter[str], bool]:
    """(entity counts of every policy finding that acted, whether any of them BLOCKED)."""
    entities: Counter[str] = Counter()
    blocked = False

    def note(kind: str, item: Mapping[str, Any]) -> None:
        nonlocal blocked
        action = item.get("action")
        if action in (None, "NONE") or item.get("detected") is False:
            return
        entities[kind.lower()] += 1
        blocked = blocked or action == "BLOCKED"

    for a in assessments:
        for topic in (a.get("topicPolicy") or {}).get("topics") or []:
            note(f"topic:{topic.get('name', '?')}", topic)
        for f in (a.get("contentPolicy") or {}).get("filters") or []:
            note(str(f.get("type", "content")), f)
        words = a.get("wordPolicy") or {}
        for w in words.get("customWords") or []:
            note("custom_word", w)
        for w in words.get("managedWordLists") or []:
            note(str(w.get("type", "managed_word")), w)
        sensitive = a.get("sensitiveInformationPolicy") or {}
        for p in sensitive.get("piiEntities") or []:
            note(str(p.get("type", "pii")), p)
        for r in sensitive.get("regexes") or []:
            note(f"regex:{r.get('name', '?')}", r)
        for g in (a.get("contextualGroundingPolicy") or {}).get("filters") or []:
            note(str(g.get("type", "grounding")), g)
    return entities, blocked
