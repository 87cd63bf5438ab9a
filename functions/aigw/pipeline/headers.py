"""The response headers every answer carries, success or error, built in one place."""

from __future__ import annotations

from aigw.pipeline.context import RequestContext


def response_headers(ctx: RequestContext, *, cost: bool = False) -> dict[str, str]:
    headers = {"x-request-id": ctx.request_id, "x-aigw-cache": ctx.cache}
    if ctx.deployment is not None and ctx.cache not in ("hit", "semantic-hit"):
        headers["x-aigw-provider"] = ctx.deployment.provider
        headers["x-aigw-deployment"] = ctx.deployment.deployment_id
    if ctx.attempts and ctx.cache not in ("hit", "semantic-hit"):
        headers["x-aigw-attempts"] = str(len(ctx.attempts))
    if ctx.served_model and ctx.served_model != ctx.model.name:
        headers["x-aigw-model"] = ctx.served_model
    headers.update(ctx.headers)
    if cost:
        headers["x-aigw-cost-usd"] = f"{ctx.cost_usd:.8f}"
    headers["x-aigw-overhead-ms"] = f"{ctx.overhead_ms():.3f}"
    return headers
