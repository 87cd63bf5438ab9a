"""Plain Python values to and from what boto3's DynamoDB resource layer stores.

boto3 returns numbers as `Decimal` and refuses Python floats; every module that reads or
writes items converts through these two functions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def from_dynamo(value: Any) -> Any:
    """Decimals back to int (when integral) or float, through lists, sets and maps."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [from_dynamo(v) for v in value]
    return value


def to_dynamo(value: Any) -> Any:
    """Floats to Decimal (via their shortest repr, so 0.1 stays 0.1), through lists and maps."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_dynamo(v) for v in value]
    return value
