"""Span attributes from a request, in the OpenTelemetry GenAI semantic conventions plus ours
under `aigw.*`. Pure functions over the request context: nothing here imports OpenTelemetry,
so they are tested (and could be reused) without it.

What never goes in: prompt or completion text (only `content.py` produces that, and only for
a team that opted in), keys, credentials, upstream error messages (they can echo the prompt).
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aigw.config.models import Deployment
    from aigw.pipeline.context import RequestContext
    from aigw.routing.attempts import Attempt
    from aigw.telemetry.tap import ResponseSeen

AttributeValue = str | bool | int | float | list[str] | list[bool] | list[int] | list[float]
Attributes = dict[str, AttributeValue]

# gen_ai.provider.name's well-known values; anything else passes through as configured.
PROVIDER_NAMES = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "bedrock": "aws.bedrock",
    "gemini": "gcp.gemini",
}
# Where a provider is called when its deployment names no api_base.
DEFAULT_HOSTS = {
    "openai": "api.openai.com",
    "anthropic": "api.anthropic.com",
    "gemini": "generativelanguage.googleapis.com",
}
# The route each (client API, operation) is served on: the server span's name and http.route.
ROUTES = {
    ("openai", "chat"): "/v1/chat/completions",
    ("openai", "embeddings"): "/v1/embeddings",
    ("anthropic", "chat"): "/v1/messages",
    ("responses", "chat"): "/v1/responses",
}
_MAX_LOG_ATTRIBUTE_CHARS = 1024


def provider_name(provider: str) -> str:
    return PROVIDER_NAMES.get(provider, provider)


def server_address(deployment: Deployment) -> tuple[str, int | None] | None:
    """The upstream's host (and port when it is not the scheme's default)."""
    if deployment.api_base:
        parts = urllib.parse.urlsplit(deployment.api_base)
        if not parts.hostname:
            return None
        default = 443 if parts.scheme == "https" else 80
        return parts.hostname, parts.port if parts.port not in (None, default) else None
    if deployment.provider == "bedrock":
        region = deployment.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return (f"bedrock-runtime.{region}.amazonaws.com", None) if region else None
    host = DEFAULT_HOSTS.get(deployment.provider)
    return (host, None) if host else None


def route(ctx: RequestContext) -> str | None:
    return ROUTES.get((ctx.api, ctx.operation))


def request_parameters(body: Mapping[str, Any]) -> Attributes:
    """gen_ai.request.* from the body as sent upstream (after any stage replaced it)."""
    out: Attributes = {}
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
        out["gen_ai.request.max_tokens"] = max_tokens
    for name, attribute in (("temperature", "gen_ai.request.temperature"), ("top_p", "gen_ai.request.top_p"),
                            ("frequency_penalty", "gen_ai.request.frequency_penalty"),
                            ("presence_penalty", "gen_ai.request.presence_penalty")):
        value = body.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[attribute] = float(value)
    seed = body.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        out["gen_ai.request.seed"] = seed
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n != 1:
        out["gen_ai.request.choice.count"] = n
    stop = body.get("stop")
    if isinstance(stop, str):
        out["gen_ai.request.stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop and all(isinstance(s, str) for s in stop):
        out["gen_ai.request.stop_sequences"] = list(stop)
    return out


def attempt_start_attributes(ctx: RequestContext, deployment: Deployment, number: int) -> Attributes:
    out: Attributes = {
        "gen_ai.operation.name": ctx.operation,
        "gen_ai.provider.name": provider_name(deployment.provider),
        "gen_ai.request.model": deployment.model,
        "aigw.attempt.number": number,
        "aigw.deployment": deployment.deployment_id,
        "aigw.model": ctx.served_model or ctx.model.name,
        "aigw.fallback": bool(ctx.served_model and ctx.served_model != ctx.model.name),
    }
    if ctx.operation == "chat":
        out["gen_ai.request.stream"] = ctx.stream
        out.update(request_parameters(ctx.body))
    address = server_address(deployment)
    if address is not None:
        out["server.address"] = address[0]
        if address[1] is not None:
            out["server.port"] = address[1]
    return out


def attempt_end_attributes(attempt: Attempt) -> Attributes:
    """http.response.status_code is the upstream's own (a 503 the gateway reports as 502 is a
    503 here); `aigw.attempt.status` is what the gateway made of it. No error message: an
    upstream's can quote the prompt."""
    out: Attributes = {"aigw.attempt.status": attempt.status, "aigw.attempt.latency_ms": round(attempt.latency_ms, 3)}
    if attempt.upstream_status is not None:
        out["http.response.status_code"] = attempt.upstream_status
    if attempt.status != 200:
        out["error.type"] = str(attempt.upstream_status or attempt.status)
    return out


def usage_attributes(ctx: RequestContext) -> Attributes:
    usage = ctx.usage
    if usage is None:
        return {}
    out: Attributes = {"gen_ai.usage.input_tokens": usage.input_tokens,
                       "gen_ai.usage.output_tokens": usage.output_tokens}
    if usage.cache_read_tokens:
        out["gen_ai.usage.cache_read.input_tokens"] = usage.cache_read_tokens
    if usage.cache_write_tokens:
        out["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write_tokens
    if usage.reasoning_tokens:
        out["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
    if usage.estimated:
        out["aigw.usage.estimated"] = True
    return out


def response_attributes(ctx: RequestContext, seen: ResponseSeen | None) -> Attributes:
    """gen_ai.response.*: from the complete body (non-streaming, or a cache hit), else from what
    the response tap saw of the stream."""
    out: Attributes = {}
    response_id = model = None
    reasons: list[str] = []
    if ctx.result is not None:
        body = ctx.result.body
        response_id, model = body.get("id"), body.get("model")
        for choice in body.get("choices") or []:
            if isinstance(choice, dict) and isinstance(choice.get("finish_reason"), str):
                reasons.append(choice["finish_reason"])
    elif seen is not None:
        response_id, model = seen.id, seen.model
        reasons = [seen.finish_reasons[i] for i in sorted(seen.finish_reasons)]
    if ctx.stopped is not None and not reasons:
        reasons = [ctx.stopped.reason]
    if isinstance(response_id, str) and response_id:
        out["gen_ai.response.id"] = response_id
    if isinstance(model, str) and model:
        out["gen_ai.response.model"] = model
    if reasons:
        out["gen_ai.response.finish_reasons"] = reasons
    return out


def server_attributes(ctx: RequestContext) -> Attributes:
    """The request span's attributes at the end: who asked, what was done, what it cost."""
    out: Attributes = {
        "gen_ai.operation.name": ctx.operation,
        "gen_ai.request.model": ctx.model.name,
        "http.request.method": "POST",
        "http.response.status_code": ctx.status,
        "aigw.request_id": ctx.request_id,
        "aigw.api": ctx.api,
        "aigw.team": ctx.key.team_id,
        "aigw.key_id": ctx.key.key_id,
        "aigw.cost_usd": round(ctx.cost_usd, 10),
        "aigw.cache.result": ctx.cache,
        "aigw.attempts": len(ctx.attempts),
        "aigw.retries": max(len(ctx.attempts) - 1, 0),
        "aigw.overhead_ms": round(ctx.overhead_ms(), 3),
    }
    path = route(ctx)
    if path:
        out["http.route"] = path
    if ctx.operation == "chat":
        out["gen_ai.request.stream"] = ctx.stream
        out.update(request_parameters(ctx.body))
    if ctx.key.project:
        out["aigw.project"] = ctx.key.project
    if ctx.end_user:
        out["aigw.end_user"] = ctx.end_user
    if ctx.deployment is not None and ctx.attempts:
        out["gen_ai.provider.name"] = provider_name(ctx.deployment.provider)
        out["aigw.deployment"] = ctx.deployment.deployment_id
    if ctx.served_model:
        out["aigw.served_model"] = ctx.served_model
    if ctx.first_token_s is not None:
        out["aigw.ttft_ms"] = round(ctx.first_token_s * 1000, 3)
    if ctx.error is not None:
        out["error.type"] = ctx.error.code or ctx.error.type
    if ctx.stopped is not None:
        out["aigw.stopped_by"] = ctx.stopped.by or ctx.stopped.reason
    if ctx.disconnected:
        out["aigw.disconnected"] = True
    return out


def log_field_attributes(ctx: RequestContext) -> Attributes:
    """What the stages wrote to the log line (guardrail actions, cache and routing notes), as
    `aigw.<stage>.<field>`. The log line carries no prompt text, so neither do these."""
    out: Attributes = {}
    for namespace, fields in ctx.log.by_namespace().items():
        for name, value in fields.items():
            converted = attribute_value(value)
            if converted is not None:
                out[f"aigw.{namespace}.{name}"] = converted
    return out


def guardrail_attributes(ctx: RequestContext) -> Attributes:
    """The guardrails' interventions as `aigw.guardrails.actions`: `source:name:action` per
    intervention (e.g. `input:pii:redact`), a list a backend can filter on; the full entries
    (entity counts, scores) stay in the JSON of `aigw.guardrails.guardrails`."""
    entries = ctx.log.by_namespace().get("guardrails", {}).get("guardrails")
    if not isinstance(entries, list):
        return {}
    actions = [f"{e.get('source', '')}:{e.get('name', '')}:{e.get('action', '')}" for e in entries
               if isinstance(e, dict) and e.get("name")]
    return {"aigw.guardrails.actions": actions} if actions else {}


def attribute_value(value: Any) -> AttributeValue | None:
    """An OpenTelemetry attribute value (a scalar or a homogeneous list of scalars); anything
    else as bounded JSON."""
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:_MAX_LOG_ATTRIBUTE_CHARS]
    if isinstance(value, list | tuple) and value:
        for kind in (str, bool, int, float):
            if all(type(v) is kind for v in value):
                return [v[:_MAX_LOG_ATTRIBUTE_CHARS] if isinstance(v, str) else v for v in value]
    try:
        text = json.dumps(value, default=str, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text[:_MAX_LOG_ATTRIBUTE_CHARS]
