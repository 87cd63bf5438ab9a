"""`Stop`: an output filter's verdict that ends the answer (its own module, so the context can
name it without importing the stage contract)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Stop:
    """An output filter ends the answer here. `detail` goes to the log line, never the client."""

    reason: str = "content_filter"
    by: str = ""  # the filter (guardrail) that stopped it
    detail: dict[str, Any] = field(default_factory=dict)
