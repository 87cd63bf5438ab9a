"""What the stage needs from the pipeline seam that is being landed (pipeline/stages.py).

`Stop` is imported from the pipeline when it is there; until then this stand-in has the same
fields. Remove the fallback once the seam is on main (mypy then flags the unused ignores).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aigw.pipeline.stages import Reject

try:
    from aigw.pipeline.stages import Stop  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # the seam has not landed yet

    @dataclass(frozen=True, slots=True)
    class Stop:  # type: ignore[no-redef,unused-ignore]
        reason: str
        guardrail: str | None = None
        detail: Any = None


__all__ = ["Reject", "Stop"]
