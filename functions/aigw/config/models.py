"""The configuration schema. The CDK app validates the file with these same models.

Unknown keys are errors (`extra="forbid"`): a typo in a config key must fail the deploy,
not silently change behaviour.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aigw.guardrails.config import GuardrailConfig, PoliciesConfig, check_references
from aigw.pricing.cost import Price

ProviderName = Literal["openai", "openai-compatible", "anthropic", "bedrock", "azure", "gemini", "mock"]
RoutingStrategy = Literal["priority", "weighted", "latency", "cost"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")
_CREDENTIAL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- Anthropic server tools and beta headers (providers) ----------------------------------------
ServerTool = Literal["web_search", "web_fetch", "code_execution", "mcp", "tool_search"]


class AnthropicBetas(_Strict):
    """Which client-sent `anthropic-beta` values reach the deployment. Values that enable a
    server tool follow `server_tools` instead; every other value passes unless denied (or, with
    `allow` set, unless missing from it), so clients such as Claude Code work unchanged."""

    allow: list[str] | None = Field(default=None, description="only these (exact values or 'prefix*'); None: all")
    deny: list[str] = Field(default_factory=list, description="never these (exact values or 'prefix*')")


class AnthropicSettings(_Strict):
    """What a client may make the platform's Anthropic account do beyond generating tokens.
    Server tools (web search, web fetch, code execution, MCP connectors, tool search) are off
    unless listed: they reach out from the platform's account and bill per use."""

    server_tools: list[ServerTool] = Field(default_factory=list)
    beta: AnthropicBetas = Field(default_factory=AnthropicBetas)


class Deployment(_Strict):
    """One upstream that can serve a public model name."""

    provider: ProviderName
    model: str = Field(min_length=1, description="the upstream model id")
    id: str | None = Field(default=None, description="name in headers and logs; default provider/model")
    api_base: str | None = None
    credentials: str | None = Field(default=None, description="secret name (locally: env AIGW_SECRET_<NAME>)")
    weight: float = Field(default=1.0, gt=0)
    timeout_s: float = Field(default=60.0, gt=0, le=900)
    connect_timeout_s: float = Field(default=5.0, gt=0, le=60)
    max_output_tokens: int | None = Field(default=None, gt=0)
    price: Price | None = None
    # provider-specific settings
    api_version: str | None = None  # azure
    region: str | None = None  # bedrock
    headers: dict[str, str] = Field(default_factory=dict, description="extra upstream headers, no secrets")
    anthropic: AnthropicSettings | None = Field(default=None, description="anthropic only: server tools, betas")

    @field_validator("credentials")
    @classmethod
    def _credential_name(cls, value: str | None) -> str | None:
        if value is not None and not _CREDENTIAL.match(value):
            raise ValueError("credential names are lowercase letters, digits, '-' and '_' (max 64)")
        return value

    @model_validator(mode="after")
    def _provider_needs(self) -> Deployment:
        if self.provider in ("openai-compatible", "azure") and not self.api_base:
            raise ValueError(f"provider {self.provider!r} needs api_base")
        if self.provider == "azure" and not self.api_version:
            raise ValueError("provider 'azure' needs api_version")
        if self.anthropic is not None and self.provider != "anthropic":
            raise ValueError("`anthropic:` settings apply to provider 'anthropic' deployments only")
        return self

    @property
    def deployment_id(self) -> str:
        return self.id or f"{self.provider}/{self.model}"

    @property
    def resolved_price(self) -> Price:
        """The price the loader settled on; a loaded config has one on every deployment."""
        if self.price is None:
            raise RuntimeError(f"deployment {self.deployment_id} has no price; load configs with load_config")
        return self.price


class ModelConfig(_Strict):
    """A public model name, the deployments that serve it, and where to fall back."""

    name: str
    mode: Literal["chat", "embedding"] = "chat"
    routing: RoutingStrategy = "priority"
    deployments: list[Deployment] = Field(min_length=1)
    fallbacks: list[str] = Field(default_factory=list)
    price: Price | None = None
    max_output_tokens: int | None = Field(default=None, gt=0, description="worst case for budget reservations")
    context_window: int | None = Field(default=None, gt=0)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("model names are 1-128 chars of letters, digits and . _ : / @ + -")
        return value

    @model_validator(mode="after")
    def _unique_deployments(self) -> ModelConfig:
        ids = [d.deployment_id for d in self.deployments]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"deployment ids must be unique within a model; repeated: {dupes} (set `id:`)")
        return self


class SemanticCacheConfig(_Strict):
    """The semantic layer (opt-in: an OpenSearch Serverless vector collection costs ~$175/month idle)."""

    enabled: bool = False
    threshold: float = Field(default=0.95, gt=0, le=1, description="minimum cosine similarity for a hit")
    ttl_s: int = Field(default=86_400, gt=0)
    embedding_model: str | None = None  # a configured embedding model name; default Titan V2
    dimensions: Literal[256, 512, 1024] = 512
    standby_replicas: bool = False  # OpenSearch Serverless: doubles the idle cost
    # "auto": OpenSearch Serverless when AIGW_VECTOR_ENDPOINT is set (deployed), else in-process (aigw dev).
    backend: Literal["auto", "opensearch", "local"] = "auto"
    # "auto": `embedding_model` if set, else Titan V2 with OpenSearch, else the local model (aigw[semantic-local]).
    embedder: Literal["auto", "titan", "local", "model"] = "auto"
    titan_model_id: str = "amazon.titan-embed-text-v2:0"
    region: str | None = None  # Bedrock region for Titan; default the function's region
    index_name: str = Field(default="aigw-semantic-cache", pattern=r"^[a-z0-9][a-z0-9_-]{0,127}$")
    # A semantic match must also pass a lexical check (numbers, negation, swapped entities...): cache/guard.py.
    guard: bool = True
    # Longer prompts never match semantically: mean-pooled embeddings of two long prompts that share
    # most of their text are near 1.0 whatever the few differing words say.
    max_prompt_chars: int = Field(default=1_000, gt=0)


class CacheLayers(_Strict):
    """A per-team, per-project or per-key override; unset fields inherit."""

    exact: bool | None = None
    semantic: bool | None = None
    ttl_s: int | None = Field(default=None, gt=0)


class CacheConfig(_Strict):
    exact: bool = False
    ttl_s: int = Field(default=3_600, gt=0)
    max_ttl_s: int = Field(default=30 * 86_400, gt=0, description="the most a client may ask for (x-aigw-cache-ttl)")
    namespace: Literal["team", "key", "project"] = "team"
    # Cache only requests with temperature 0 (absent temperature means the provider default, 1).
    deterministic_only: bool = True
    lookup_timeout_s: float = Field(default=1.0, gt=0, le=30, description="a slower lookup counts as a miss")
    teams: dict[str, CacheLayers] = Field(default_factory=dict)
    projects: dict[str, CacheLayers] = Field(default_factory=dict)
    keys: dict[str, CacheLayers] = Field(default_factory=dict, description="by key id (key_...)")
    semantic: SemanticCacheConfig = Field(default_factory=SemanticCacheConfig)

    @property
    def any_exact(self) -> bool:
        return self.exact or any(o.exact for o in self._overrides())

    @property
    def any_semantic(self) -> bool:
        return self.semantic.enabled or any(o.semantic for o in self._overrides())

    def _overrides(self) -> list[CacheLayers]:
        return [*self.teams.values(), *self.projects.values(), *self.keys.values()]


class RoutingConfig(_Strict):
    """Retry and circuit-breaker defaults; strategies are chosen per model."""

    max_retries: int = Field(default=2, ge=0, le=10)
    backoff_base_s: float = Field(default=0.25, gt=0)
    backoff_max_s: float = Field(default=8.0, gt=0)
    cooldown_failures: int = Field(default=3, ge=1)
    cooldown_s: float = Field(default=30.0, gt=0)


class ServerSettings(_Strict):
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    key_cache_ttl_s: float = Field(default=30.0, ge=0, description="a revoked key works at most this long")
    default_max_output_tokens: int = Field(default=4_096, gt=0)
    # A client slower than this sending its body gets a 408 (a dripping client holds nothing open).
    body_read_timeout_s: float = Field(default=30.0, gt=0)
    # Browser origins allowed to call the data plane (CORS); off when empty.
    cors_allow_origins: list[str] = Field(default_factory=list)
    # ---- budgets (aigw/budgets) ----------------------------------------------------------
    # A request with no output limit whose budget or TPM window left cannot pay for the default
    # worst case is sent upstream with the largest limit it can pay for, if at least this many
    # tokens; below it, it is refused (429 budget_exceeded, x-should-retry: false).
    min_output_tokens: int = Field(default=256, gt=0)
    # ---- settlement after the response (aigw/lambda_ext; owner: extension) -------------------
    # Responses (a stream's end too) are sent before the stages' `after` (budget settlement, the log
    # line) runs; on Lambda an internal extension keeps the environment from freezing until it
    # has. Off by default: see the README ("Settlement after the response").
    settle_after_response: bool = False


# ---- Responses API state (aigw.responses; owner: responses) ---------------------------------
class ResponsesConfig(_Strict):
    """Stored `POST /v1/responses` state, for `previous_response_id` and GET/DELETE."""

    store_ttl_s: int = Field(default=30 * 86_400, gt=0, le=400 * 86_400,
                             description="how long a stored response (and its conversation) is kept")
    # Who may read a stored response: the team that created it (default), its project, or only its key.
    namespace: Literal["team", "key", "project"] = "team"
# ---- end Responses API state ------------------------------------------------------------------


# ---- telemetry (OpenTelemetry traces; aigw/telemetry) --------------------------------------
class TelemetryConfig(_Strict):
    """What spans may carry. Tracing itself is on only when OTEL_EXPORTER_OTLP_ENDPOINT (or
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; this block never turns it on."""

    # Teams whose prompts and completions go into spans (gen_ai.input.messages / output.messages),
    # as sent upstream and as the client got them: after guardrail redaction. Off for everyone else.
    capture_content_teams: list[str] = Field(default_factory=list)
    capture_content_max_chars: int = Field(default=16_384, gt=0, le=1_000_000,
                                           description="longer captured content is cut to this many characters")
# ---- end telemetry ----------------------------------------------------------------------------


# ---- budgets: hot scopes (aigw/budgets/shards.py; owner: sharding) ------------------------------
_HOT_SCOPE = re.compile(r"^(global|(team|project|key):[A-Za-z0-9][A-Za-z0-9._-]{0,63})$")


class BudgetsConfig(_Strict):
    """Budgets and rate windows of hot scopes are spread over `shards` items each (one item
    takes about 1,000 writes a second; a request writes a counter twice): see budgets/counters.py."""

    # "global", "team:<id>", "project:<id>" or "key:<id>". The global budget is hot by default:
    # every request of the gateway writes it.
    hot_scopes: list[str] = Field(default_factory=lambda: ["global"])
    # Items per hot counter: about 400 requests a second each, with headroom. A layout
    # transaction covers every shard, so at most 64 (DynamoDB: 100 items per transaction).
    shards: int = Field(default=16, ge=1, le=64)

    @field_validator("hot_scopes")
    @classmethod
    def _scope_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _HOT_SCOPE.match(name):
                raise ValueError(f"hot scope {name!r}: write global, team:<id>, project:<id> or key:<id>")
        return names
# ---- end budgets ------------------------------------------------------------------------------


class GatewayConfig(_Strict):
    models: list[ModelConfig] = Field(default_factory=list)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    settings: ServerSettings = Field(default_factory=ServerSettings)
    # --- guardrails (aigw/guardrails/config.py): detectors, and which apply to whom ------------
    guardrails: list[GuardrailConfig] = Field(default_factory=list)
    policies: PoliciesConfig = Field(default_factory=PoliciesConfig)
    # --- end guardrails ---------------------------------------------------------------------
    responses: ResponsesConfig = Field(default_factory=ResponsesConfig)  # the Responses API's stored state
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    budgets: BudgetsConfig = Field(default_factory=BudgetsConfig)  # hot scopes' sharded counters

    @model_validator(mode="after")
    def _references(self) -> GatewayConfig:
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique; repeated: {dupes}")
        known = set(names)
        for model in self.models:
            for fallback in model.fallbacks:
                if fallback not in known:
                    raise ValueError(f"model {model.name!r}: fallback {fallback!r} is not a configured model")
                if fallback == model.name:
                    raise ValueError(f"model {model.name!r} falls back to itself")
        check_references(self.guardrails, self.policies)  # guardrails: unique names, known in policies
        return self

    def model(self, name: str) -> ModelConfig | None:
        return self._by_name.get(name)

    @functools.cached_property
    def _by_name(self) -> dict[str, ModelConfig]:
        # A cached property lives in the instance's __dict__: a plain attribute read. A pydantic
        # private attribute goes through BaseModel.__getattr__ (6 us per lookup, twice a request).
        # A config is never changed after validation (a reload builds a new one).
        return {m.name: m for m in self.models}

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> GatewayConfig:
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("_by_name", None)  # the copy's models may differ: index them afresh
        return copy

    @property
    def credential_names(self) -> list[str]:
        names = {d.credentials for m in self.models for d in m.deployments if d.credentials}
        names.update(g.credentials for g in self.guardrails if g.type == "webhook" and g.credentials)  # guardrails
        return sorted(names)

    @property
    def bedrock_models(self) -> list[tuple[str | None, str]]:
        """(region, model id) of every Bedrock deployment, for least-privilege IAM."""
        return sorted({(d.region, d.model) for m in self.models for d in m.deployments if d.provider == "bedrock"},
                      key=lambda t: (t[0] or "", t[1]))

    # --- guardrails ---------------------------------------------------------------------------
    @property
    def bedrock_guardrails(self) -> list[tuple[str | None, str]]:
        """(region, guardrail id or ARN) of every Bedrock guardrail, for `bedrock:ApplyGuardrail` IAM."""
        return sorted({(g.region, g.guardrail_id) for g in self.guardrails if g.type == "bedrock"},
                      key=lambda t: (t[0] or "", t[1]))
