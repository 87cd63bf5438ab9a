"""Routing strategies: the order in which one model's deployments are tried.

    priority   config order
    weighted   random by `weight`, sampled without replacement (so the runners-up are the
               failover order, also by weight)
    latency    lowest EWMA time to first token first; deployments never measured go first so
               each gets a sample, and a small share of calls (`LATENCY_EXPLORE`) goes to a
               random deployment so a slow one that recovered is noticed again
    cost       cheapest priced deployment first (input + output price per million tokens,
               config order on ties)

A strategy only orders; skipping deployments in cool-down, retries and fallbacks are the
router's job.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from aigw.config.models import Deployment, RoutingStrategy
from aigw.routing.health import HealthBook

LATENCY_EXPLORE = 0.05


class Strategy(Protocol):
    def order(self, deployments: Sequence[Deployment], health: HealthBook,
              rng: random.Random) -> list[Deployment]: ...


class Priority:
    def order(self, deployments: Sequence[Deployment], health: HealthBook,
              rng: random.Random) -> list[Deployment]:
        return list(deployments)


class Weighted:
    def order(self, deployments: Sequence[Deployment], health: HealthBook,
              rng: random.Random) -> list[Deployment]:
        pool = list(deployments)
        ordered: list[Deployment] = []
        while pool:
            total = sum(d.weight for d in pool)
            point = rng.random() * total
            chosen = len(pool) - 1
            for index, deployment in enumerate(pool):
                point -= deployment.weight
                if point < 0:
                    chosen = index
                    break
            ordered.append(pool.pop(chosen))
        return ordered


class Latency:
    def __init__(self, explore: float = LATENCY_EXPLORE) -> None:
        self.explore = explore

    def order(self, deployments: Sequence[Deployment], health: HealthBook,
              rng: random.Random) -> list[Deployment]:
        position = {d.deployment_id: i for i, d in enumerate(deployments)}

        def key(d: Deployment) -> tuple[int, float, int]:
            ewma = health.latency(d.deployment_id)
            return (0, 0.0, position[d.deployment_id]) if ewma is None else (1, ewma, position[d.deployment_id])

        ordered = sorted(deployments, key=key)
        if len(ordered) > 1 and rng.random() < self.explore:
            pick = ordered.pop(rng.randrange(len(ordered)))
            ordered.insert(0, pick)
        return ordered


class Cost:
    def order(self, deployments: Sequence[Deployment], health: HealthBook,
              rng: random.Random) -> list[Deployment]:
        position = {d.deployment_id: i for i, d in enumerate(deployments)}

        def key(d: Deployment) -> tuple[float, int]:
            price = d.resolved_price
            return (price.input_per_mtok + price.output_per_mtok, position[d.deployment_id])

        return sorted(deployments, key=key)


STRATEGIES: dict[RoutingStrategy, Strategy] = {
    "priority": Priority(),
    "weighted": Weighted(),
    "latency": Latency(),
    "cost": Cost(),
}
