"""Prices and what a call cost."""

from aigw.pricing.cost import Price, Usage, cost_usd
from aigw.pricing.table import builtin_price

__all__ = ["Price", "Usage", "builtin_price", "cost_usd"]
