"""The refusal a client sees when an input guardrail blocks: 400 `guardrail_blocked`.

The envelope names the guardrail and the entity types found, never the matched text:
OpenAI `{"error": {"message", "type", "param", "code", "guardrail", "entities"}}`, Anthropic
`{"type": "error", "error": {"type": "invalid_request_error", "message", ...}}` with the same
two extra fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aigw.errors import InvalidRequest

CODE = "guardrail_blocked"


class GuardrailBlocked(InvalidRequest):
    code = CODE

    def __init__(self, guardrail: str, entities: Sequence[str]) -> None:
        kinds = ", ".join(entities) if entities else "a policy match"
        super().__init__(f"Request blocked by guardrail {guardrail!r} ({kinds}).", code=CODE)
        self.guardrail = guardrail
        self.entities = list(entities)

    def openai_body(self) -> dict[str, Any]:
        body = super().openai_body()
        body["error"].update(guardrail=self.guardrail, entities=self.entities)
        return body

    def anthropic_body(self) -> dict[str, Any]:
        body = super().anthropic_body()
        body["error"].update(guardrail=self.guardrail, entities=self.entities)
        return body
