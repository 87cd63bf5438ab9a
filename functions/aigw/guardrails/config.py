"""The `guardrails:` and `policies:` sections of the config file.

Each guardrail is one entry with a unique `name` and a `type` (the detector kind); `policies`
says which apply to a request: the union of every scope that matches it (default, the model,
the key's team, project and id), run in the order the guardrails are listed. A request can
never turn one off. Unknown keys are errors, like everywhere in the config.

Defaults: `action: block`; `apply_to: [input, output]`, except prompt_injection and
deny_topics (`[input]`); `on_error: block`, except deny_topics (`allow`: an embedder outage
should not stop all traffic for a topic filter). Only kinds that locate what they found
(pii, secrets, deny_patterns) or rewrite it themselves (bedrock, webhook) may `redact`.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PiiEntity = Literal["email", "phone", "credit_card", "iban", "us_ssn", "ip_address"]
SecretEntity = Literal["aws_access_key", "aws_secret_key", "private_key", "openai_api_key", "anthropic_api_key",
                       "github_token", "slack_token", "stripe_key", "google_api_key", "jwt", "high_entropy_token"]
PII_ENTITIES: tuple[str, ...] = PiiEntity.__args__  # type: ignore[attr-defined]
SECRET_ENTITIES: tuple[str, ...] = SecretEntity.__args__  # type: ignore[attr-defined]
ApplyTo = Literal["input", "output"]
OnError = Literal["block", "allow"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_CREDENTIAL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Guardrail(_Strict):
    name: str
    action: Literal["block", "redact", "monitor"] = "block"
    apply_to: list[ApplyTo] | None = Field(default=None, min_length=1, description="default depends on the type")
    on_error: OnError | None = Field(default=None, description="a failure (timeout, exception): block or allow")
    stream_hold_chars: int = Field(default=64, ge=8, le=4096,
                                   description="most characters a stream holds back for a match in progress")

    default_apply_to: ClassVar[tuple[ApplyTo, ...]] = ("input", "output")
    default_on_error: ClassVar[OnError] = "block"
    can_redact: ClassVar[bool] = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("guardrail names are 1-64 lowercase letters, digits, '.', '_' and '-'")
        return value

    @model_validator(mode="after")
    def _action_fits(self) -> _Guardrail:
        if self.action == "redact" and not self.can_redact:
            raise ValueError(f"type {getattr(self, 'type', '?')!r} cannot redact (it finds no spans): "
                             "use block or monitor")
        if getattr(self, "restore", False) and self.action != "redact":
            raise ValueError("restore: true needs action: redact")
        return self

    @property
    def sources(self) -> tuple[ApplyTo, ...]:
        return tuple(self.apply_to) if self.apply_to else self.default_apply_to

    @property
    def fails_closed(self) -> bool:
        return (self.on_error or self.default_on_error) == "block"


class PiiGuardrail(_Guardrail):
    type: Literal["pii"]
    entities: list[PiiEntity] = Field(default_factory=lambda: list(PII_ENTITIES), min_length=1)  # type: ignore[arg-type]
    restore: bool = Field(default=False, description="placeholders upstream, originals restored in the answer")
    can_redact: ClassVar[bool] = True


class SecretsGuardrail(_Guardrail):
    type: Literal["secrets"]
    entities: list[SecretEntity] = Field(default_factory=lambda: list(SECRET_ENTITIES),  # type: ignore[arg-type]
                                         min_length=1)
    entropy_threshold: float = Field(default=4.0, gt=0, le=6.5, description="bits per character, generic tokens")
    min_token_length: int = Field(default=32, ge=16, le=256, description="generic tokens at least this long")
    restore: bool = False
    can_redact: ClassVar[bool] = True


class InjectionGuardrail(_Guardrail):
    type: Literal["prompt_injection"]
    threshold: float = Field(default=0.5, gt=0, le=1, description="block at this score in [0, 1]")
    similarity: bool = Field(default=True, description="also compare with known attacks (needs an embedder)")
    # Cosine similarities of a multilingual model sit high even for unrelated texts; a
    # similarity maps to a score linearly from this floor (score 0) to 1 (score 1).
    similarity_floor: float = Field(default=0.90, ge=0, lt=1)
    max_chars: int = Field(default=4_000, gt=0, description="embed at most this much of the texts (the end)")
    default_apply_to: ClassVar[tuple[ApplyTo, ...]] = ("input",)


class Topic(_Strict):
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)


class DenyTopicsGuardrail(_Guardrail):
    type: Literal["deny_topics"]
    topics: list[Topic] = Field(min_length=1)
    threshold: float = Field(default=0.8, gt=0, le=1, description="cosine similarity to a topic")
    max_chars: int = Field(default=4_000, gt=0)
    default_apply_to: ClassVar[tuple[ApplyTo, ...]] = ("input",)
    default_on_error: ClassVar[OnError] = "allow"


class DenyPatternsGuardrail(_Guardrail):
    type: Literal["deny_patterns"]
    patterns: list[str] = Field(default_factory=list, description="regular expressions, case-insensitive")
    words: list[str] = Field(default_factory=list, description="literal words or phrases, case-insensitive")
    restore: bool = False
    can_redact: ClassVar[bool] = True

    @model_validator(mode="after")
    def _compilable(self) -> DenyPatternsGuardrail:
        from aigw.guardrails.patterns import check_pattern

        if not self.patterns and not self.words:
            raise ValueError("deny_patterns needs patterns or words")
        for pattern in self.patterns:
            check_pattern(pattern)  # raises ValueError with the reason
        return self


class BedrockGuardrail(_Guardrail):
    type: Literal["bedrock"]
    guardrail_id: str = Field(pattern=r"^(?:[A-Za-z0-9][A-Za-z0-9_-]{0,63}|"
                                      r"arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:guardrail/[a-z0-9]+)$")
    guardrail_version: str = Field(pattern=r"^(?:[1-9][0-9]{0,7}|DRAFT)$")
    region: str | None = None
    interval_chars: int = Field(default=1_000, ge=50, le=25_000, description="streams: check every N characters")
    can_redact: ClassVar[bool] = True  # the guardrail's own anonymization (masked text)


class WebhookGuardrail(_Guardrail):
    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://[^\s/]+(?:/\S*)?$")
    timeout_s: float = Field(default=0.5, gt=0, le=30)
    credentials: str | None = Field(default=None, description="secret name; sent as `Authorization: Bearer`")
    interval_chars: int = Field(default=1_000, ge=50, le=100_000, description="streams: check every N characters")
    can_redact: ClassVar[bool] = True  # the service's own `texts`

    @field_validator("credentials")
    @classmethod
    def _credential_name(cls, value: str | None) -> str | None:
        if value is not None and not _CREDENTIAL.match(value):
            raise ValueError("credential names are lowercase letters, digits, '-' and '_' (max 64)")
        return value


GuardrailConfig = Annotated[
    PiiGuardrail | SecretsGuardrail | InjectionGuardrail | DenyTopicsGuardrail | DenyPatternsGuardrail
    | BedrockGuardrail | WebhookGuardrail,
    Field(discriminator="type"),
]


class PoliciesConfig(_Strict):
    """Which guardrails apply. `models` keys may be patterns (`gpt-4o*`); `keys` are key ids."""

    default: list[str] = Field(default_factory=list)
    models: dict[str, list[str]] = Field(default_factory=dict)
    teams: dict[str, list[str]] = Field(default_factory=dict)
    projects: dict[str, list[str]] = Field(default_factory=dict)
    keys: dict[str, list[str]] = Field(default_factory=dict)

    def referenced(self) -> list[tuple[str, str]]:
        """(where, guardrail name) for every name the policies use."""
        refs = [("policies.default", n) for n in self.default]
        for scope in ("models", "teams", "projects", "keys"):
            for key, names in getattr(self, scope).items():
                refs.extend((f"policies.{scope}.{key}", n) for n in names)
        return refs


def check_references(guardrails: list[GuardrailConfig], policies: PoliciesConfig) -> None:
    """Raise ValueError for repeated guardrail names or a policy naming an undefined one."""
    names = [g.name for g in guardrails]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"guardrail names must be unique; repeated: {dupes}")
    known = set(names)
    unknown = [f"{where}: {name!r}" for where, name in policies.referenced() if name not in known]
    if unknown:
        raise ValueError("policies name guardrails that are not defined: " + ", ".join(unknown))
