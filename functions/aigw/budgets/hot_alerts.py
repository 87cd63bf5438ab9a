"""Budget alerts of hot (sharded) budgets: one per threshold per period, decided on the total.

A sharded budget's spend is spread over its shards (shards.py), so no one write sees the
total, and alerts.py's clauses (which read the one item a settlement writes) cannot decide a
threshold. Instead, off the client's path (after the upstream call and the counter writes):

1. A hot shard's settlement asks for the item as written (`ReturnValues: ALL_NEW`, in the same
   UpdateItem: no extra round trip). Each threshold T (spend `at`) has a share on every shard,
   in proportion to the shards' slices; the shares sum to `at`, so a total at or past T has at
   least one shard at or past its share.
2. A settlement that leaves its shard at or past its share of a threshold not known to be sent,
   or finds its shard watched for it (4), reads the total: one BatchGetItem of the shards.
3. A total at or past T: T is claimed with one conditional UpdateItem on shard 0 (`ADD alerted
   T` under `NOT contains(alerted, T)`, the set alerts.py keeps on a plain counter's item, which
   is shard 0): of any number of concurrent claimants exactly one succeeds, and only it reports.
4. A total short of T while a shard is past its share: the write that reaches T may land on a
   shard still below its share, whose settlement would not look. So the checker marks every
   shard as watched for T (`ADD alert_watch T`, once per process and layout), then reads the
   total again; every later settlement on a watched shard looks (2). A check that finds every
   shard marked already marks nothing (a marker read again after marking).
5. The claim's winner copies T to every shard (`ADD alert_sent T`), so every instance learns
   that T was sent from its next settlement's ALL_NEW, with no read of its own.

Exactly once: at most once, as the claim is one conditional write on one item. At least once,
as spend only grows: take the write W that brings the total to T, on shard j. If W leaves j
at or past its share, W's settlement reads after W and sees T reached. If not, another shard
k was past its share when W landed, and the settlement that took k there read the total; if
that read came after W it saw T reached; if before, it marked every shard and read again:
a mark that landed on j before W is seen by W's settlement, and a read after a mark that
landed after W sees W. Within a process one check runs per counter at a time; a settlement
that would check while one runs has it read once more (the alerts it then wins are reported
by the request that ran it).

Costs: no read while every shard is below its shares; between the first shard passing its
share of T and T being claimed, the settlements that look read the shards (one read unit
each); once a process knows T was sent (its claim, a read, or a shard's ALL_NEW) it stops.
Measured (bench/bench_sharded.py alerts-5k) in the README.

Limits: a process that dies between a settlement and its check (a Lambda that crashes there)
may leave a threshold unclaimed until the next settlement that looks; a settlement on a shard
retired by a change of shard count always looks; marks are laid per layout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aigw.budgets import hot
from aigw.budgets.alerts import Threshold, thresholds
from aigw.budgets.charges import BudgetAlert, Charge, Settlement
from aigw.budgets.counters import ALERTED, EXPIRES_AT, SPENT_TOKENS, SPENT_USD, CounterStore, ItemKey, WriteResult
from aigw.budgets.items import Snapshot, number, strings
from aigw.budgets.money import from_units, to_units
from aigw.budgets.shards import ShardedCounter, split

WATCH = "alert_watch"  # string set on a hot budget's shards: thresholds a check found close (4 above)
SENT = "alert_sent"  # string set on a hot budget's shards: thresholds sent (5 above), copied from shard 0
MAX_COUNTERS = 1_000  # counters (one per scope and period) this process remembers alerts of
logger = logging.getLogger("aigw.budgets")


@dataclass(frozen=True, slots=True)
class Look:
    """What one check decided: the alerts it won, the thresholds now known sent, those it marked."""

    won: list[BudgetAlert]
    sent: frozenset[str]
    marked: frozenset[str]


def watched(charge: Charge) -> bool:
    """Whether a charge's settlement writes must come back (ALL_NEW) for its alerts."""
    return (charge.kind == "budget" and isinstance(charge.counter, ShardedCounter)
            and bool(thresholds(charge.caps, charge.alerts)))


def share(counter: ShardedCounter, t: Threshold, index: int) -> int:
    """Shard `index`'s share of threshold `t`; a retired shard (beyond the layout) has none."""
    if index >= counter.shards:
        return 0
    return split(t.at, [counter.slice(i, t.limit) for i in range(counter.shards)])[index]


def shard_index(counter: ShardedCounter, key: ItemKey) -> int:
    if key.pk == counter.pk:
        return 0
    return int(key.pk.rsplit("#", 1)[1])


def spent(item: Mapping[str, Any] | None, t: Threshold) -> int:
    return number(item, SPENT_USD if t.unit == "usd" else SPENT_TOKENS)


class HotAlerts:
    """The alert checks of hot budgets, and what this process knows of them (see the module doc)."""

    def __init__(self, store: CounterStore) -> None:
        self.store = store
        self._sent: dict[ItemKey, frozenset[str]] = {}  # thresholds known sent, by counter (scope and period)
        self._marked: dict[tuple[ItemKey, str], frozenset[str]] = {}  # marked by this process, per layout
        self._busy: dict[ItemKey, bool] = {}  # counters being checked: True = a settlement asked for another read

    def open(self, charge: Charge) -> tuple[Threshold, ...]:
        """The charge's thresholds not known to be sent."""
        sent = self._sent.get(charge.counter.id, frozenset())
        return tuple(t for t in thresholds(charge.caps, charge.alerts) if t.tag not in sent)

    async def settled(self, plan: Settlement, results: Sequence[WriteResult]) -> list[BudgetAlert]:
        """After a settlement's writes: check the hot budgets whose shards say they may have
        crossed a threshold; the alerts this request won."""
        items: dict[int, tuple[Charge, list[tuple[int, dict[str, Any]]]]] = {}
        for position, charge in plan.watched:
            new = results[position].new if position < len(results) else None
            if new is not None and isinstance(charge.counter, ShardedCounter):
                key = ItemKey(str(new.get("pk", "")), str(new.get("sk", "")))
                index = shard_index(charge.counter, key) if key.pk else 0
                items.setdefault(id(charge), (charge, []))[1].append((index, new))
        out: list[BudgetAlert] = []
        for charge, written in items.values():
            counter = charge.counter
            assert isinstance(counter, ShardedCounter)
            for index, new in written:
                self._learn(counter.id, strings(new.get(SENT)) | (strings(new.get(ALERTED)) if index == 0 else
                                                                  frozenset()))
            found = self.open(charge)
            if not found or not any(self._looks(counter, found, index, new) for index, new in written):
                continue
            try:
                out.extend(await self._check(charge, counter))
            except Exception:  # the settlement itself is written; the next settlement that looks decides
                logger.warning("budget_alert_check_failed", exc_info=True,
                               extra={"counter": f"{counter.pk}/{counter.sk}"})
        return out

    def _looks(self, counter: ShardedCounter, found: Sequence[Threshold], index: int, new: Mapping[str, Any]) -> bool:
        watch = strings(new.get(WATCH))
        return index >= counter.shards or any(t.tag in watch or spent(new, t) >= share(counter, t, index)
                                              for t in found)

    async def _check(self, charge: Charge, counter: ShardedCounter) -> list[BudgetAlert]:
        key = counter.id
        if key in self._busy:
            self._busy[key] = True  # the running check reads once more, after this settlement's write
            return []
        self._busy[key] = False
        won: list[BudgetAlert] = []
        try:
            while True:
                found = self.open(charge)
                if not found:
                    break
                marked = self._marked.get((key, counter.layout), frozenset())
                look = await asyncio.to_thread(self.decide, charge, counter, found, marked)
                won.extend(look.won)
                self._learn(key, look.sent)
                if look.marked:
                    self._marked[(key, counter.layout)] = marked | look.marked
                if not self._busy[key]:
                    break
                self._busy[key] = False
        finally:
            del self._busy[key]
        return won

    def _learn(self, key: ItemKey, sent: frozenset[str]) -> None:
        if not sent:
            return
        if len(self._sent) >= MAX_COUNTERS and key not in self._sent:
            self._sent.clear()
            self._marked.clear()
        self._sent[key] = self._sent.get(key, frozenset()) | sent

    def decide(self, charge: Charge, counter: ShardedCounter, found: Sequence[Threshold],
               marked: frozenset[str]) -> Look:
        """Read the total, claim what it reached, mark what is close (blocking: through a thread)."""
        won: list[BudgetAlert] = []
        sent: set[str] = set()
        newly: set[str] = set()
        for _ in range(2):  # a second read only after marking the shards
            items = hot.read(self.store, counter)
            total = counter.total({k: Snapshot.from_item(v) for k, v in items.items() if v is not None})
            sent |= strings((items.get(counter.item(0)) or {}).get(ALERTED))
            reached = {"usd": to_units(total.spent_usd), "tokens": total.spent_tokens}
            claimed = set()
            for t in found:
                if t.tag not in sent and reached[t.unit] >= t.at:
                    if self._claim(counter, t):
                        won.append(alert(charge, t, reached[t.unit]))
                        claimed.add(t.tag)
                    sent.add(t.tag)
            if claimed:  # tell every shard, so the others learn it from their settlements' ALL_NEW
                self._mark(counter, claimed, SENT)
            everywhere = frozenset.intersection(*(strings((items.get(counter.item(i)) or {}).get(WATCH))
                                                  for i in range(counter.shards)))
            close = {t.tag for t in found if t.tag not in sent | marked | newly | everywhere
                     and any(spent(items.get(counter.item(i)), t) >= share(counter, t, i)
                             for i in range(len(items)) if counter.item(i) in items)}
            if not close:
                break
            self._mark(counter, close, WATCH)
            newly |= close
        return Look(won, frozenset(sent), frozenset(newly))

    def _claim(self, counter: ShardedCounter, t: Threshold) -> bool:
        """One conditional write on shard 0: True for the one settlement that adds `t`."""
        op = {"TableName": self.store.table_name(), "Key": counter.item(0).key(),
              "UpdateExpression": "ADD #aal :add", "ConditionExpression": "NOT contains(#aal, :tag)",
              "ExpressionAttributeNames": {"#aal": ALERTED},
              "ExpressionAttributeValues": {":add": {t.tag}, ":tag": t.tag}}
        return self.store.write(op).ok

    def _mark(self, counter: ShardedCounter, tags: set[str], attr: str) -> None:
        """Add `tags` to the string set `attr` of every shard (one UpdateItem each)."""
        table = self.store.table_name()
        for i in range(counter.shards):
            names = {"#aw": attr}
            values: dict[str, Any] = {":aw": set(tags)}
            update = "ADD #aw :aw"
            if counter.expires_at is not None:  # a shard not yet written keeps the period's expiry
                names["#ex"] = EXPIRES_AT
                values[":ex"] = Decimal(counter.expires_at)
                update += " SET #ex = if_not_exists(#ex, :ex)"
            self.store.write({"TableName": table, "Key": counter.item(i).key(), "UpdateExpression": update,
                              "ExpressionAttributeNames": names, "ExpressionAttributeValues": values})


def alert(charge: Charge, t: Threshold, reached: int) -> BudgetAlert:
    if t.unit == "usd":
        spent_at, limit = from_units(reached), from_units(t.limit)
    else:
        spent_at, limit = Decimal(reached), Decimal(t.limit)
    return BudgetAlert(charge.scope.scope, charge.scope.id, charge.period, charge.period_label, t.percent, t.unit,
                       spent_at, limit)
