"""Choosing deployments, retrying and falling back."""

from aigw.routing.health import HealthBook
from aigw.routing.router import Router, Target
from aigw.routing.strategies import STRATEGIES, Strategy

__all__ = ["STRATEGIES", "HealthBook", "Router", "Strategy", "Target"]
