"""How many prompt tokens to reserve for a deployment: an upper bound of what it will bill.

    reserved = ceil(estimate * max(1, learned ratio) * (1 + MARGIN))

`estimate` is the family's bound (aigw/tokens/families.py: tiktoken count times the family
factor, plus chat framing, images by the provider's rule, the tool-use system prompt). The
learned ratio is the largest `billed / estimate` this process has seen for the deployment:
an upstream that counts beyond its family's factor is caught after its first answer, and
from then on reserved for. It is kept per process, in memory (a cold start relearns it from
the table's factors); never lowered, since one cheap answer says nothing about the next.

An overrun that still happens (the first burst against an upstream beyond every bound) is
reported by settlement as `budget_overrun` (budgets/stage.py).
"""

from __future__ import annotations

import math
import threading

from aigw.config.models import Deployment
from aigw.tokens import PromptProfile
from aigw.tokens.families import Family, family_for

MARGIN = 0.05
# Ratios are learned only from estimates at least this large: on a handful of tokens one token
# more or less is a ratio of its own. Above it a short prompt's ratio (framing included) is
# learned like a long one's: it is exactly what short prompts overrun by.
MIN_LEARN_TOKENS = 16
# A ratio above this is not a tokenizer (a hidden system prompt, a broken count): it is still
# an overrun when it happens, but it does not make every later reservation absurd.
MAX_RATIO = 8.0

DeploymentKey = tuple[str, str | None, str]


def deployment_key(deployment: Deployment) -> DeploymentKey:
    """One upstream model, whatever public model or deployment id it is configured under."""
    return deployment.provider, deployment.api_base, deployment.model


class PromptBounds:
    """The learned billed/estimated ratios, shared by every request of the process (thread-safe:
    settlements run on the loop, counting may run in threads)."""

    def __init__(self, *, margin: float = MARGIN) -> None:
        self._margin = margin
        self._ratios: dict[DeploymentKey, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def family(deployment: Deployment) -> Family:
        return family_for(deployment.provider, deployment.model)

    def estimate(self, profile: PromptProfile, deployment: Deployment) -> int:
        """The family's bound for this prompt on this deployment (no learned ratio, no margin)."""
        return profile.estimate(self.family(deployment), deployment.model)

    def ratio(self, deployment: Deployment) -> float:
        with self._lock:
            return self._ratios.get(deployment_key(deployment), 1.0)

    def reserve(self, profile: PromptProfile, deployment: Deployment) -> int:
        """Prompt tokens to reserve for this request on this deployment."""
        estimate = self.estimate(profile, deployment)
        return math.ceil(estimate * max(1.0, self.ratio(deployment)) * (1 + self._margin))

    def observe(self, deployment: Deployment, *, estimate: int, billed: int) -> float:
        """Learn from one answer's reported prompt tokens; returns the ratio now in force."""
        key = deployment_key(deployment)
        with self._lock:
            current = self._ratios.get(key, 1.0)
            if estimate >= MIN_LEARN_TOKENS and billed > 0:
                seen = min(billed / estimate, MAX_RATIO)
                if seen > current:
                    self._ratios[key] = current = seen
            return current
