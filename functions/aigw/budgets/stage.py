"""The admission stage: step 5 of the hot path (before) and the budget half of step 7 (after).

`before` computes the worst case (prompt tokens by tiktoken; max output = the request's
`max_tokens`/`max_completion_tokens`, else the model's limit, else the configured default;
priced at the dearest deployment the request may reach, fallbacks included) and reserves it
on every applicable scope in one TransactWriteItems; a refused condition becomes a 429
(`budget_exceeded` or `rate_limit_exceeded`) naming the scope, with Retry-After.

`after` runs on every path (success, upstream failure, client disconnect, exception) and
settles in one TransactWriteItems: the reservation is replaced by the actual cost (zero if
no upstream answered) and the request is added to the usage aggregates. It is idempotent
and never raises; a settlement that cannot be written is logged with everything needed to
reconcile it by hand.

Round trips to DynamoDB per request, once the key and scope limits are cached:
  no limits on any scope   0 before the upstream call, 1 after (usage aggregates)
  limits                   1 before (TransactWriteItems), 1 after (TransactWriteItems)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from decimal import Decimal

from aigw.aws import table_name
from aigw.budgets.admission import Admission, Refusal, Reservation
from aigw.budgets.counters import CounterStore
from aigw.budgets.money import ZERO, ceil_pico, exact_cost, usd_text, worst_case
from aigw.budgets.scopes import LimitsCache
from aigw.config.models import GatewayConfig, ModelConfig
from aigw.errors import GatewayError, TooManyRequests
from aigw.names import COUNTERS, ENTITIES
from aigw.pipeline.context import RequestContext
from aigw.pipeline.stages import Reject, ShortCircuit
from aigw.routing.router import Target
from aigw.services import StageDeps

logger = logging.getLogger("aigw.budgets")


class AdmissionStage:
    name = "admission"

    def __init__(self, admission: Admission, limits: LimitsCache, config: GatewayConfig, *,
                 candidates: Callable[[ModelConfig], Iterable[Target]]) -> None:
        self.admission = admission
        self.limits = limits
        self.config = config
        self._candidates = candidates  # every deployment a request may reach (the router's, fallbacks included)

    async def before(self, ctx: RequestContext) -> ShortCircuit | None:
        try:
            scopes = await self.limits.limits(ctx.key)
            if not scopes:
                ctx.put(Reservation(charges=[], usd=ZERO, tokens=0))
                return None
            prompt = ctx.prompt_tokens()
            default_max = self.config.settings.default_max_output_tokens
            max_out = 0 if ctx.operation == "embeddings" else ctx.max_output_tokens(default_max)
            prices = [t.deployment.resolved_price for t in self._candidates(ctx.model)]
            usd = ceil_pico(worst_case(prompt, max_out, prices))
            result = await self.admission.admit(scopes, usd=usd, tokens=prompt + max_out, token="a" + ctx.request_id)
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
            ctx.headers.update(headers)
            ctx.log_for("budget")["refused_scope"] = result.scope.label()
            return Reject(TooManyRequests(result.message, code=result.code, headers=headers))
        ctx.put(result)
        ctx.log_for("budget")["reserved_usd"] = usd_text(result.usd)
        ctx.headers.update(self.admission.remaining(result.charges).headers())
        return None

    async def after(self, ctx: RequestContext) -> None:
        reservation = ctx.slot(Reservation)
        if reservation is None or reservation.settled:
            return
        cost, input_tokens, output_tokens = _actual(ctx)
        ctx.log_for("budget")["charged_usd"] = str(cost)
        if not reservation.charges and ctx.usage is None:
            reservation.settled = True
            return  # nothing reserved and nothing used: no write at all
        try:
            await self.admission.settle(
                reservation, cost=cost, input_tokens=input_tokens, output_tokens=output_tokens,
                usage_dims=[("key", ctx.key.key_id), ("team", ctx.key.team_id),
                            ("model", ctx.served_model or ctx.model.name)],
                token="s" + ctx.request_id)
        except Exception:
            logger.exception("settlement failed: reservation left in place", extra={
                "request_id": ctx.request_id, "key_id": ctx.key.key_id,
                "counters": [f"{c.counter.pk}/{c.counter.sk}" for c in reservation.charges],
                "reserved_usd": str(reservation.usd), "reserved_tokens": reservation.tokens,
                "charged_usd": str(cost), "tokens": input_tokens + output_tokens})
            ctx.log_for("budget")["settlement_failed"] = True
            return
        if reservation.charges:
            ctx.headers.update(self.admission.remaining(reservation.charges).headers())


def _actual(ctx: RequestContext) -> tuple[Decimal, int, int]:
    usage = ctx.usage
    if usage is None or ctx.cache in ("hit", "semantic-hit"):
        return ZERO, 0, 0
    cost = ceil_pico(exact_cost(usage, ctx.deployment.resolved_price)) if ctx.deployment is not None else ZERO
    return cost, usage.input_tokens, usage.output_tokens


def build_admission_stage(deps: StageDeps) -> AdmissionStage:
    """Always on: with no limits anywhere it costs no round trip before the upstream call and
    one after it (the usage aggregates behind `aigw usage`)."""
    aws = deps.aws
    store = CounterStore(aws.dynamodb_client, table_name=lambda: table_name(COUNTERS))
    ttl_s = deps.config.settings.key_cache_ttl_s
    limits = LimitsCache(aws.dynamodb_resource, lambda: table_name(ENTITIES), ttl_s=ttl_s)
    return AdmissionStage(Admission(store), limits, deps.config, candidates=deps.router.candidates)
