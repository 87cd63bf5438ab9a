"""Which Bedrock resources the gateway may invoke: exactly the models in the config.

- `amazon.nova-lite-v1:0` in region R: the foundation model `arn:aws:bedrock:R::foundation-model/<id>`.
- A cross-region inference profile `us.anthropic.claude-...` in region R: the profile
  `arn:aws:bedrock:R:<account>:inference-profile/<id>`, plus the foundation model in every
  region the profile may route to (`arn:aws:bedrock:*::foundation-model/<id without prefix>`);
  Bedrock authorizes both. `*` also matches the empty region of `global.` profiles' models.
- A full ARN (provisioned throughput, an application inference profile): that ARN only.

Converse and ConverseStream are authorized as InvokeModel and InvokeModelWithResponseStream.
"""

from __future__ import annotations

from collections.abc import Iterable

INVOKE_ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
CROSS_REGION_PREFIXES = frozenset({"us", "us-gov", "eu", "apac", "jp", "au", "ca", "global"})


def is_inference_profile(model_id: str) -> bool:
    prefix, dot, _ = model_id.partition(".")
    return bool(dot) and prefix in CROSS_REGION_PREFIXES


def model_arns(models: Iterable[tuple[str | None, str]], *, region: str, account: str,
               partition: str = "aws") -> list[str]:
    """IAM resources for (region or None for the stack's, model id) pairs, sorted and de-duplicated."""
    arns: set[str] = set()
    for model_region, model_id in models:
        where = model_region or region
        if model_id.startswith("arn:"):
            arns.add(model_id)
        elif is_inference_profile(model_id):
            arns.add(f"arn:{partition}:bedrock:{where}:{account}:inference-profile/{model_id}")
            arns.add(f"arn:{partition}:bedrock:*::foundation-model/{model_id.partition('.')[2]}")
        else:
            arns.add(f"arn:{partition}:bedrock:{where}::foundation-model/{model_id}")
    return sorted(arns)


def guardrail_arns(guardrails: Iterable[tuple[str | None, str]], *, region: str, account: str,
                   partition: str = "aws") -> list[str]:
    """IAM resources of `bedrock:ApplyGuardrail` for (region or None, guardrail id or ARN) pairs."""
    return sorted({guardrail if guardrail.startswith("arn:") else
                   f"arn:{partition}:bedrock:{where or region}:{account}:guardrail/{guardrail}"
                   for where, guardrail in guardrails})
