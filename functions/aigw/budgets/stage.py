"""The admission stage: step 5 of the hot path (before) and the budget half of step 7 (after).

`before` counts the prompt (off the event loop when it is large), prices the worst case at
every deployment the request may reach, fallbacks included: prompt tokens reserved for that
deployment (budgets/bounds.py: the family's bound of the tiktoken count, or the ratio the
deployment was seen to bill, whichever is larger, plus a margin) and the output limit (the
request's `max_tokens`/`max_completion_tokens`, else the model's, else the configured
default). It reserves the dearest on every applicable scope in one TransactWriteItems; a
refused condition becomes a 429 (`budget_exceeded` with `x-should-retry: false`, or
`rate_limit_exceeded` with a Retry-After of the window) naming the scope.

When the client set no output limit, the request goes upstream with the limit reserved for,
so the reservation bounds what the provider can bill; if the budget left could not pay for
the default it is the largest it can pay for (at least `settings.min_output_tokens`), and the
response says so in `x-aigw-max-tokens-adjusted`.

Per-end-user rate limits of the key (budgets/end_users.py) are one more rate window in that
same transaction.

`after` runs on every path (success, upstream failure, client disconnect, exception) and
settles: the reservation is replaced by the actual cost (zero if no upstream answered) and
the request is added to the usage aggregates (by key, team, model and end user). A budget
threshold the settlement crosses is decided in that same write (budgets/alerts.py; a hot
scope's on its total, budgets/hot_alerts.py) and sent as a `budget_alert` (budgets/notify.py).
The log line names the budget nearest its cap (`budget_scope`, `budget_used_pct`, from the
counters' view the remaining-* headers use: no extra read), as does a refusal. It learns the
deployment's billed/estimated ratio, and reports a settlement above its reservation as
`budget_overrun` (the counters are marked so the scope refuses the next request). It is
idempotent and never raises; a settlement that cannot be written is logged with everything
needed to reconcile it by hand.

Round trips to DynamoDB per request, once the key and scope limits are cached (the calls
after the upstream one are made at once, in parallel):
  no limits on any scope   0 before the upstream call; after it, 1 UpdateItem per usage aggregate
  limits                   1 TransactWriteItems before (+ 1 UpdateItem per hot counter: counters.py),
                           and after it the same, plus the usage aggregates
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from aigw import tokens
from aigw.aws import table_name
from aigw.budgets.admission import Admission, Charge, Refusal, Reservation
from aigw.budgets.bounds import PromptBounds
from aigw.budgets.counters import CounterStore
from aigw.budgets.demand import Demand, Quote
from aigw.budgets.end_users import USAGE_DIMENSION, usage_id, with_end_user
from aigw.budgets.money import ZERO, ceil_pico, exact_cost, usd_text
from aigw.budgets.notify import AlertSender, sender_for
from aigw.budgets.scopes import LimitsCache
from aigw.budgets.shards import HotScopes
from aigw.config.models import Deployment, GatewayConfig, ModelConfig
from aigw.errors import GatewayError, TooManyRequests
from aigw.names import COUNTERS, ENTITIES
from aigw.pipeline.context import RequestContext
from aigw.pipeline.stages import Reject, ShortCircuit

if TYPE_CHECKING:
    from aigw.services import StageDeps

LOG = "budget"  # the stage's namespace in the request log line
ADJUSTED_HEADER = "x-aigw-max-tokens-adjusted"
logger = logging.getLogger("aigw.budgets")


class Candidate(Protocol):
    """A deployment a request may reach (routing's `Target` is one)."""

    @property
    def deployment(self) -> Deployment: ...


Candidates = Callable[[ModelConfig], Iterable[Candidate]]


class _Reach:
    __slots__ = ("deployment",)

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment


def config_candidates(config: GatewayConfig) -> Candidates:
    """Every deployment of the model and of its fallbacks, read from the config: what routing's
    `Router.candidates` yields, for a stage built without one."""
    def candidates(model: ModelConfig) -> list[Candidate]:
        chain = [config.model(name) for name in (model.name, *model.fallbacks)]
        return [_Reach(d) for m in chain if m is not None for d in m.deployments]

    return candidates


class AdmissionStage:
    name = "admission"

    def __init__(self, admission: Admission, limits: LimitsCache, config: GatewayConfig, *,
                 candidates: Candidates | None = None, bounds: PromptBounds | None = None,
                 alert_sender: AlertSender | None = None) -> None:
        self.admission = admission
        self.limits = limits
        self.config = config
        self.bounds = bounds or PromptBounds()
        self.alert_sender = alert_sender or AlertSender(logger)
        self._candidates = candidates or config_candidates(config)

    async def before(self, ctx: RequestContext) -> ShortCircuit | None:
        try:
            scopes = with_end_user(await self.limits.limits(ctx.key), ctx.key, ctx.end_user)
            if not scopes:
                ctx.put(Reservation(charges=[], usd=ZERO, tokens=0))
                return None
            demand, field = await self._demand(ctx)
            result = await self.admission.admit(scopes, demand, token="a" + ctx.request_id)
        except Exception:
            # Fail closed: a budget that cannot be checked is not spent.
            logger.exception("admission failed", extra={"request_id": ctx.request_id})
            return Reject(GatewayError("the gateway could not check the budgets of this key; retry shortly",
                                       status=503, type="service_unavailable", code="admission_unavailable",
                                       headers={"retry-after": "1"}))
        if isinstance(result, Refusal):
            headers = self.admission.remaining(result.charges).headers()
            if result.retry_after_s is not None:
                headers["retry-after"] = str(int(result.retry_after_s + 0.999))
            if result.should_retry is False:
                headers["x-should-retry"] = "false"
            ctx.headers.update(headers)
            ctx.log_for(LOG)["refused_scope"] = result.scope.label()
            self._log_tightest(ctx, result.charges)
            return Reject(TooManyRequests(result.message, code=result.code, headers=headers))
        ctx.put(result)
        log = ctx.log_for(LOG)
        log["reserved_usd"] = usd_text(result.usd)
        if result.charges and demand.flexible and field is not None:
            # The limit reserved for is the one sent: the reservation then bounds the output.
            profile = tokens.cached_profile(ctx)
            ctx.replace_body({**ctx.body, field: result.output})
            if profile is not None:
                tokens.keep_profile(ctx, profile)  # the prompt is unchanged: no recount
            ctx.headers[ADJUSTED_HEADER] = str(result.output)
            log["max_tokens_adjusted"] = result.output
        ctx.headers.update(self.admission.remaining(result.charges).headers())
        return None

    async def _demand(self, ctx: RequestContext) -> tuple[Demand, str | None]:
        profile = await tokens.count_prompt_tokens(ctx)
        reach = [c.deployment for c in self._candidates(ctx.model)]
        quotes = [Quote(self.bounds.reserve(profile, d), d.resolved_price) for d in reach]
        if ctx.operation == "embeddings":
            return Demand(quotes), None
        settings = self.config.settings
        requested = tokens.requested_output_tokens(ctx.body)
        default = ctx.model.max_output_tokens or settings.default_max_output_tokens
        demand = Demand(quotes, choices=tokens.choices(ctx.body), output=requested or default,
                        flexible=requested is None, floor=min(settings.min_output_tokens, default))
        return demand, _limit_field(reach)

    async def after(self, ctx: RequestContext) -> None:
        reservation = ctx.slot(Reservation)
        if reservation is None or reservation.settled:
            return
        cost, input_tokens, output_tokens = _actual(ctx)
        log = ctx.log_for(LOG)
        log["charged_usd"] = str(cost)
        if not reservation.charges and ctx.usage is None:
            reservation.settled = True
            return  # nothing reserved and nothing used: no write at all
        self._learn(ctx)
        dims = [("key", ctx.key.key_id), ("team", ctx.key.team_id), ("model", ctx.served_model or ctx.model.name)]
        if ctx.end_user:
            dims.append((USAGE_DIMENSION, usage_id(ctx.key.team_id, ctx.end_user)))
        try:
            overrun = await self.admission.settle(
                reservation, cost=cost, input_tokens=input_tokens, output_tokens=output_tokens,
                usage_dims=dims, token="s" + ctx.request_id)
        except Exception:
            logger.exception("settlement failed: reservation left in place", extra={
                "request_id": ctx.request_id, "key_id": ctx.key.key_id,
                "counters": [f"{c.counter.pk}/{c.counter.sk}" for c in reservation.charges],
                "reserved_usd": str(reservation.usd), "reserved_tokens": reservation.tokens,
                "charged_usd": str(cost), "tokens": input_tokens + output_tokens})
            log["settlement_failed"] = True
            return
        if reservation.alerts:
            log["alerts"] = [f"{a.scope} {a.id} {a.period_key} {a.threshold}% ({a.unit})" for a in reservation.alerts]
            self.alert_sender.send(reservation.alerts, request_id=ctx.request_id)
        if overrun is not None:
            log["budget_overrun"] = {"usd": str(overrun.usd), "tokens": overrun.tokens,
                                         "scopes": list(overrun.scopes)}
            logger.warning("budget_overrun", extra={
                "request_id": ctx.request_id, "key_id": ctx.key.key_id, "overrun_usd": str(overrun.usd),
                "overrun_tokens": overrun.tokens, "scopes": list(overrun.scopes),
                "deployment": ctx.deployment.deployment_id if ctx.deployment else None})
        if reservation.charges:
            ctx.headers.update(self.admission.remaining(reservation.charges).headers())
            self._log_tightest(ctx, reservation.charges)

    def _log_tightest(self, ctx: RequestContext, charges: list[Charge]) -> None:
        """The budget nearest its cap, for the dashboard's "tightest budgets" table
        (infra/constructs/observability.py): after a settlement, and on a refusal (exact then)."""
        found = self.admission.tightest(charges)
        if found is not None:
            charge, share = found
            log = ctx.log_for(LOG)
            log["budget_scope"] = f"{charge.scope.label()} {charge.period} {charge.period_label}"
            log["budget_used_pct"] = round(share * 100, 1)

    def _learn(self, ctx: RequestContext) -> None:
        """Keep the deployment's largest billed/estimated prompt ratio (reported usage only)."""
        usage, deployment, profile = ctx.usage, ctx.deployment, tokens.cached_profile(ctx)
        if usage is None or deployment is None or profile is None or usage.estimated or usage.invalid \
                or ctx.cache in ("hit", "semantic-hit"):
            return
        estimate = self.bounds.estimate(profile, deployment)
        ratio = self.bounds.observe(deployment, estimate=estimate, billed=usage.input_tokens)
        if usage.input_tokens > estimate:
            log = ctx.log_for(LOG)
            log["prompt_ratio"] = round(usage.input_tokens / max(estimate, 1), 3)
            log["prompt_ratio_learned"] = round(ratio, 3)


def _actual(ctx: RequestContext) -> tuple[Decimal, int, int]:
    usage = ctx.usage
    if usage is None or ctx.cache in ("hit", "semantic-hit"):
        return ZERO, 0, 0
    cost = ceil_pico(exact_cost(usage, ctx.deployment.resolved_price)) if ctx.deployment is not None else ZERO
    return cost, usage.input_tokens, usage.output_tokens


# OpenAI's reasoning models refuse `max_tokens` ("use max_completion_tokens"); every adapter
# reads `max_completion_tokens` first, so it is the field for a chain that reaches one.
_REASONING = ("o1", "o3", "o4", "gpt-5")


def _limit_field(reach: list[Deployment]) -> str:
    for d in reach:
        if d.provider in ("openai", "azure") and d.model.lower().startswith(_REASONING):
            return "max_completion_tokens"
    return "max_tokens"


def build_admission_stage(deps: StageDeps) -> AdmissionStage:
    """Always on: with no limits anywhere it costs no round trip before the upstream call and
    one after it (the usage aggregates behind `aigw usage`). Candidates are routing's own."""
    aws = deps.aws
    store = CounterStore(aws.dynamodb_client, table_name=lambda: table_name(COUNTERS))
    ttl_s = deps.config.settings.key_cache_ttl_s
    limits = LimitsCache(aws.dynamodb_resource, lambda: table_name(ENTITIES), ttl_s=ttl_s)
    budgets = deps.config.budgets
    hot = HotScopes(frozenset(budgets.hot_scopes), budgets.shards)
    return AdmissionStage(Admission(store, shards=hot), limits, deps.config, candidates=deps.router.candidates,
                          alert_sender=sender_for(deps))
