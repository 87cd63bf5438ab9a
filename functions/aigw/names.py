"""Names that infra and runtime must agree on, defined once.

`infra/` imports this module (and only this one, plus the config models) from the runtime,
so it must stay free of heavy imports and side effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ---- environment variables read by the functions -------------------------------------
ENV_CONFIG_PATH = "AIGW_CONFIG"  # path to the YAML/JSON config file
ENV_ENTITIES_TABLE = "AIGW_ENTITIES_TABLE"
ENV_COUNTERS_TABLE = "AIGW_COUNTERS_TABLE"
ENV_CACHE_TABLE = "AIGW_CACHE_TABLE"
ENV_RESPONSES_TABLE = "AIGW_RESPONSES_TABLE"
ENV_SECRET_PREFIX = "AIGW_SECRET_PREFIX"  # Secrets Manager name prefix for credentials
ENV_KEY_CACHE_TTL = "AIGW_KEY_CACHE_TTL_S"
ENV_ADMIN_TOKEN = "AIGW_ADMIN_TOKEN"  # local dev only: bearer token for /admin
ENV_URL = "AIGW_URL"  # the gateway the `aigw` admin commands talk to (default: local `aigw dev`)
ENV_DEV_KEY = "AIGW_DEV_KEY"
ENV_UPSTREAM_TRANSPORT = "AIGW_UPSTREAM_TRANSPORT"  # "httpcore": httpx's own transport (providers/wire.py)
ENV_LOCAL_SECRET_PREFIX = "AIGW_SECRET_"  # AIGW_SECRET_<NAME>: local credential values
ENV_VECTOR_COLLECTION_ENDPOINT = "AIGW_VECTOR_ENDPOINT"
TIKTOKEN_CACHE_ENV = "TIKTOKEN_CACHE_DIR"
ENV_EVENT_BUS = "AIGW_EVENT_BUS"  # the EventBridge bus budget alerts go to (name or ARN; default DEFAULT_EVENT_BUS)

# ---- Powertools ----------------------------------------------------------------------
METRICS_NAMESPACE = "AIGateway"
SERVICE_NAME = "aigw"

# ---- defaults ------------------------------------------------------------------------
DEFAULT_SECRET_PREFIX = "aigw/"
DEFAULT_TABLE_PREFIX = "aigw"
GATEWAY_PORT = 8080  # the port uvicorn listens on under Lambda Web Adapter
HEALTH_PATH = "/health"

# ---- DynamoDB attributes ---------------------------------------------------------------
PK = "pk"
SK = "sk"
GSI1 = "gsi1"
GSI1_PK = "gsi1pk"
GSI1_SK = "gsi1sk"
TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class TableSpec:
    """One DynamoDB table as both CDK and the local runner create it."""

    logical_id: str
    env_var: str
    default_name: str
    ttl_attribute: str | None = TTL_ATTRIBUTE
    gsis: tuple[tuple[str, str, str], ...] = field(default=())  # (index name, pk attr, sk attr)


# Keys, teams, projects, budgets definitions: small items read on the hot path (cached).
ENTITIES = TableSpec(
    logical_id="Entities",
    env_var=ENV_ENTITIES_TABLE,
    default_name=f"{DEFAULT_TABLE_PREFIX}-entities",
    gsis=((GSI1, GSI1_PK, GSI1_SK),),
)
# Budget and rate-window counters, usage aggregates: period-keyed items, expired by TTL.
COUNTERS = TableSpec(
    logical_id="Counters",
    env_var=ENV_COUNTERS_TABLE,
    default_name=f"{DEFAULT_TABLE_PREFIX}-counters",
)
# Exact response cache entries.
CACHE = TableSpec(
    logical_id="Cache",
    env_var=ENV_CACHE_TABLE,
    default_name=f"{DEFAULT_TABLE_PREFIX}-cache",
)
# Stored Responses API state (aigw.responses.store): pk RESP#<namespace>#<resp_id>, one item
# per part of the compressed conversation (sk P#00000...), expired by TTL (30 days by default).
RESPONSES = TableSpec(
    logical_id="Responses",
    env_var=ENV_RESPONSES_TABLE,
    default_name=f"{DEFAULT_TABLE_PREFIX}-responses",
)
TABLES: tuple[TableSpec, ...] = (ENTITIES, COUNTERS, CACHE, RESPONSES)

# ---- metrics: EMF in METRICS_NAMESPACE; the CDK dashboard and alarms query exactly these --
METRIC_REQUESTS = "Requests"
METRIC_INPUT_TOKENS = "InputTokens"
METRIC_OUTPUT_TOKENS = "OutputTokens"
METRIC_COST_USD = "CostUSD"
METRIC_LATENCY = "Latency"  # milliseconds, whole request
METRIC_TIME_TO_FIRST_TOKEN = "TimeToFirstToken"  # milliseconds
METRIC_GATEWAY_OVERHEAD = "GatewayOverhead"  # milliseconds spent outside the upstream call
METRIC_CACHE_HITS = "CacheHits"
METRIC_CACHE_MISSES = "CacheMisses"
METRIC_CACHE_SAVED_USD = "CacheSavedUSD"  # what a cache hit would have cost upstream
METRIC_ERRORS = "Errors"
METRIC_ERRORS_BY_TYPE = "ErrorsByType"  # emitted with METRIC_DIMENSIONS_ERROR only
METRIC_RETRIES = "Retries"
METRIC_FALLBACKS = "Fallbacks"
METRIC_BUDGET_REJECTIONS = "BudgetRejections"
METRIC_RATE_LIMITED = "RateLimited"
# A settlement above its reservation (the request log's `budget_overrun` field; aigw/budgets/stage.py).
METRIC_BUDGET_OVERRUNS = "BudgetOverruns"
# Upstream usage that was not a plausible token count, billed by the gateway's estimate
# (the request log's `usage_invalid` field; aigw/pipeline/accounting.py).
METRIC_USAGE_INVALID = "UsageInvalid"

METRIC_BUDGET_ALERTS = "BudgetAlerts"  # a budget alert threshold crossed by this request
METRIC_GUARDRAIL_INTERVENTIONS = "GuardrailInterventions"  # emitted with METRIC_DIMENSIONS_GUARDRAIL only

DIM_TEAM = "Team"
DIM_MODEL = "Model"  # the public model name clients send
DIM_PROVIDER = "Provider"  # "none" when no upstream was chosen (rejections, cache hits)
DIM_ERROR_TYPE = "ErrorType"
DIM_GUARDRAIL = "Guardrail"  # a configured guardrail's name (few per deployment)
DIM_ACTION = "Action"  # block | redact | monitor | error

# The dimension sets each request's metrics are emitted with. CloudWatch matches a metric by
# its exact set, so the dashboard's SEARCH and SCHEMA(...) queries name these sets verbatim:
# emit each metric with exactly these, nothing more (no Powertools `service` dimension).
METRIC_DIMENSIONS_DETAIL: tuple[str, ...] = (DIM_TEAM, DIM_MODEL, DIM_PROVIDER)
METRIC_DIMENSIONS_MODEL: tuple[str, ...] = (DIM_MODEL,)
METRIC_DIMENSIONS_ERROR: tuple[str, ...] = (DIM_ERROR_TYPE,)
METRIC_DIMENSIONS_GUARDRAIL: tuple[str, ...] = (DIM_GUARDRAIL, DIM_ACTION)

# ---- budget alerts (aigw/budgets/alerts.py): one EventBridge event per threshold crossed ------
DEFAULT_EVENT_BUS = "default"
ALERT_EVENT_SOURCE = "aigw"
ALERT_DETAIL_TYPE = "aigw.budget.threshold"
# The pattern of a rule that matches every budget alert (infra routes it to the alarm topic).
ALERT_EVENT_PATTERN: dict[str, list[str]] = {"source": [ALERT_EVENT_SOURCE], "detail-type": [ALERT_DETAIL_TYPE]}

# ---- response cache ---------------------------------------------------------------------
CACHE_PK_PREFIX = "CACHE#"  # Cache table items: pk CACHE#<namespace>#<sha256>, sk CACHE_SK
CACHE_SK = "-"

# ---- stored Responses API state -----------------------------------------------------------
RESPONSES_PK_PREFIX = "RESP#"  # Responses table items: pk RESP#<namespace>#<resp_id>, sk RESPONSES_PART_SK % n
RESPONSES_PART_SK = "P#%05d"
ENV_VECTOR_INDEX = "AIGW_VECTOR_INDEX"  # OpenSearch Serverless index name (default: config's index_name)
