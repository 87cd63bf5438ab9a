"""The limit headers a response carries, as OpenAI's API sends them, plus the budget left.

    x-ratelimit-limit-requests / -tokens       the RPM / TPM limit that binds
    x-ratelimit-remaining-requests / -tokens   what is left of it in the current window
    x-ratelimit-reset-requests / -tokens       until the window frees up, in OpenAI's format
                                               ("1s", "6m0s", "20ms")
    x-aigw-budget-remaining-usd                the smallest USD budget left of any scope

With several scopes (key and team), the one with the least left is reported. `tightest` is
the log line's view of the same numbers: the budget nearest its cap, for the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from aigw.budgets.charges import Charge
from aigw.budgets.counters import ItemKey, Snapshot
from aigw.budgets.money import ZERO, usd_text


def duration_text(seconds: float) -> str:
    """A duration the way OpenAI's reset headers write it (Go's time.Duration format)."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(round(seconds * 1000), 1)}ms"
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs = f"{millis / 1000:.3f}".rstrip("0").rstrip(".")
    out = f"{hours}h" if hours else ""
    if hours or minutes:
        out += f"{minutes}m"
    return out + f"{secs}s"


@dataclass(slots=True)
class Remaining:
    requests: int | None = None
    tokens: int | None = None
    usd: Decimal | None = None
    limit_requests: int | None = None
    limit_tokens: int | None = None
    reset_requests_s: float | None = None
    reset_tokens_s: float | None = None

    def headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.requests is not None:
            out["x-ratelimit-remaining-requests"] = str(max(self.requests, 0))
            if self.limit_requests is not None:
                out["x-ratelimit-limit-requests"] = str(self.limit_requests)
            if self.reset_requests_s is not None:
                out["x-ratelimit-reset-requests"] = duration_text(self.reset_requests_s)
        if self.tokens is not None:
            out["x-ratelimit-remaining-tokens"] = str(max(self.tokens, 0))
            if self.limit_tokens is not None:
                out["x-ratelimit-limit-tokens"] = str(self.limit_tokens)
            if self.reset_tokens_s is not None:
                out["x-ratelimit-reset-tokens"] = duration_text(self.reset_tokens_s)
        if self.usd is not None:
            out["x-aigw-budget-remaining-usd"] = usd_text(max(self.usd, ZERO))
        return out


def remaining(charges: Sequence[Charge], seen: Mapping[ItemKey, Snapshot], now: float) -> Remaining:
    """From the counters as last seen (`seen`, by counter id); a counter not seen yet counts at
    least what this request holds on it."""
    out = Remaining()
    for charge in charges:
        snap = seen.get(charge.counter.id) or Snapshot(held_usd=charge.usd, held_tokens=charge.tokens, requests=1)
        caps = charge.caps
        reset = None if charge.ends_at is None else max(charge.ends_at - now, 0.0)
        if charge.kind == "rate":
            if caps.requests is not None:
                left = caps.requests - snap.requests
                if out.requests is None or left < out.requests:
                    out.requests, out.limit_requests, out.reset_requests_s = left, caps.requests, reset
            if caps.tokens is not None:
                left = caps.tokens - snap.held_tokens
                if out.tokens is None or left < out.tokens:
                    out.tokens, out.limit_tokens, out.reset_tokens_s = left, caps.tokens, reset
        elif caps.usd is not None:
            left_usd = caps.usd - snap.held_usd
            out.usd = left_usd if out.usd is None else min(out.usd, left_usd)
    return out


def tightest(charges: Sequence[Charge], seen: Mapping[ItemKey, Snapshot]) -> tuple[Charge, float] | None:
    """The budget charge with the largest used share of a cap (USD or tokens), and that share,
    from the counters as last seen; a counter not seen yet is left out (never guessed)."""
    found: tuple[Charge, float] | None = None
    for charge in charges:
        snap = seen.get(charge.counter.id)
        if charge.kind != "budget" or snap is None:
            continue
        caps = charge.caps
        shares = []
        if caps.usd:
            shares.append(float(snap.held_usd / caps.usd))
        if caps.tokens:
            shares.append(snap.held_tokens / caps.tokens)
        if shares and (found is None or max(shares) > found[1]):
            found = (charge, max(shares))
    return found
