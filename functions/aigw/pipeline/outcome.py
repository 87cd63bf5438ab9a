"""What the pipeline hands the HTTP layer: a complete JSON body or a stream of bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class JsonOutcome:
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


@dataclass(slots=True)
class StreamOutcome:
    body: AsyncIterator[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


Outcome = JsonOutcome | StreamOutcome
