"""Sharded counters against a simulated DynamoDB: `python bench/bench_sharded.py [--quick]`.

moto never throttles and never conflicts, so nothing local shows what hot counters do on real
DynamoDB. This runs the gateway's real admission and settlement code (budgets/admission.py,
one instance per simulated Lambda instance) against tests/fakes/dynamo_sim.py in virtual time:
per-item capacity (1,000 write and 3,000 read units a second), two write units per item in a
transaction, transaction conflicts, a few milliseconds per call, botocore's retries. The
figures are DynamoDB's behaviour as simulated, not this machine's speed (bench/sim_load.py).

Scenarios (each row a design; `before` is the code of a git ref, main by default, run from an
archive of it):
  team-500     500 clients back to back on one team budget (upstream ~300 ms): what a big team
               does to admission today, and with the team marked hot
  global-5k    5,000 requests a second on one global budget (upstream ~50 ms), sustained
  cold-1k      1,000 requests a second over 200 keys, each with its own budget and RPM: scopes
               with no hot item, where a transaction costs nothing in conflicts
  exhaust-5k   5,000 requests a second on a global budget that runs out after about a second:
               the end of a budget (no overspend, refusals only when the shards cannot pay)
  alerts-5k    5,000 requests a second for 2 s on a global budget with alerts at 50% and 80%
               that the run fills to about 85% (budgets/hot_alerts.py): the alerts sent (exactly
               2) and what deciding them costs the settlements, against the same budget without
Designs (bench/admission_variants.py): kept (functions/aigw/budgets), transactional,
single-writes, usage-in-tx. Prints one table per scenario; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARDS = 16
DESIGNS = {
    "team-500": ["before", "kept", "transactional", "single-writes"],
    "global-5k": ["before", "kept", "transactional", "single-writes", "usage-in-tx"],
    "cold-1k": ["before", "kept", "single-writes"],
    "exhaust-5k": ["kept"],
    "alerts-5k": ["kept-no-alerts", "kept"],
}
COLUMNS = [("design", "{}", 13), ("requests", "{:d}", 8), ("ok/s", "{:.0f}", 5), ("429", "{:d}", 5),
           ("503", "{:d}", 5), ("adm p50", "{:.1f}", 7), ("adm p99", "{:.1f}", 7), ("calls", "{:.2f}", 5),
           ("max", "{:d}", 3), ("conflicts", "{:d}", 9), ("max/req", "{:d}", 7),
           ("throttled", "{:d}", 9), ("settle p99", "{:.1f}", 10), ("leaks", "{:d}", 5),
           ("hot WCU/s", "{:.0f}", 9), ("overspend", "{:d}", 9), ("429 w/ room", "{:d}", 11)]


def scenario(name: str, design: str, quick: bool) -> Any:
    from aigw.budgets.scopes import ScopeRef
    from aigw.budgets.spec import Budget, Limits
    from bench.sim_load import Scenario
    from tests.fakes.dynamo_sim import LogNormal

    factory = None if design == "before" else _factory(design, name)
    kwargs: dict[str, Any] = {} if factory is None else {"admission": factory}
    if name == "team-500":
        team = {ScopeRef("team", "big"): Limits(budgets=[Budget(period="month", limit_usd=Decimal(100_000))])}
        return Scenario(name, lambda i: team, clients=500, duration_s=4 if quick else 10, **kwargs)
    if name == "alerts-5k":
        from bench.sim_load import DEMAND

        percents = [] if design == "kept-no-alerts" else [50, 80]
        fill = Decimal("0.85")
        limit = (DEMAND.usd() * Decimal("0.6") * 10_000 / fill).quantize(Decimal("0.01"))  # 2 s at 5,000/s
        scopes = {ScopeRef("global", "global"): Limits(budgets=[Budget(period="month", limit_usd=limit,
                                                                       alert_at_percent=percents)])}
        return Scenario(name, lambda i: scopes, rate=5_000, duration_s=2.0, upstream=LogNormal(0.05, 0.5), **kwargs)
    if name in ("global-5k", "exhaust-5k"):
        limit = Decimal(100_000) if name == "global-5k" else Decimal("1.5")
        scopes = {ScopeRef("global", "global"): Limits(budgets=[Budget(period="month", limit_usd=limit)])}
        duration = 2.0 if quick or name == "exhaust-5k" else 5.0
        return Scenario(name, lambda i: scopes, rate=5_000, duration_s=duration, upstream=LogNormal(0.05, 0.5),
                        **kwargs)
    if name == "cold-1k":
        def per_key(i: int) -> dict[Any, Any]:
            return {ScopeRef("key", f"k{i % 200}"): Limits(budgets=[Budget(period="month", limit_usd=Decimal(100))],
                                                           rpm=600)}
        return Scenario(name, per_key, rate=1_000, duration_s=2.0 if quick else 5.0, upstream=LogNormal(0.05, 0.5),
                        **kwargs)
    raise SystemExit(f"unknown scenario {name!r}")


def _factory(design: str, name: str) -> Any:
    from aigw.budgets.admission import Admission
    from aigw.budgets.shards import HotScopes
    from bench import admission_variants as variants

    cls = {"kept": Admission, "kept-no-alerts": Admission, "transactional": variants.Transactional,
           "single-writes": variants.SingleWrites,
           "usage-in-tx": variants.UsageInTransaction}[design]
    hot = HotScopes(frozenset({"global", "team:big"}), SHARDS)
    return lambda store, clock, rng: cls(store, clock=clock, rng=rng, shards=hot)


def one(name: str, design: str, quick: bool) -> None:
    """Run one row (in its own process: thousands of threads and a fresh import of the code)."""
    from bench.sim_load import run

    result = run(scenario(name, design, quick))
    rows = result.rows()
    rows["leaks"] = rows.pop("settle_failed")
    print(json.dumps({k: (str(v) if isinstance(v, Decimal) else v) for k, v in rows.items()}))


def _before_tree(ref: str) -> Path:
    """The gateway code of `ref`, from a git archive (the simulator and harness are this tree's)."""
    out = Path(tempfile.mkdtemp(prefix="aigw-before-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "functions"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    return out / "functions"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs (about four minutes in all)")
    parser.add_argument("--before", default="main", help="the git ref whose code is the 'before' row")
    parser.add_argument("--scenario", action="append", choices=list(DESIGNS), help="only these scenarios")
    parser.add_argument("--one", nargs=2, metavar=("SCENARIO", "DESIGN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one[0], args.one[1], quick=args.quick)
        return
    before = _before_tree(args.before)
    for name in args.scenario or list(DESIGNS):
        print(f"\n{name}  (virtual time; admission latency from arrival, in ms; calls = DynamoDB calls per "
              f"admission, retries included, and their max; conflicts in all, and the most one admission met)")
        print("  " + " ".join(f"{title:>{width}}" if i else f"{title:<{width}}"
                              for i, (title, _, width) in enumerate(COLUMNS)))
        for design in DESIGNS[name]:
            code = str(before) if design == "before" else str(ROOT / "functions")
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([code, str(ROOT)])}
            command = [sys.executable, str(Path(__file__).resolve()), "--one", name, design]
            done = subprocess.run(command + (["--quick"] if args.quick else []), env=env, capture_output=True,
                                  text=True, check=False)
            if done.returncode != 0:
                print(f"  {design:<14} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            values = [design, row["requests"], row["admitted_per_s"], row["refused"], row["unavailable"],
                      row["admit_p50_ms"], row["admit_p99_ms"], row["calls_mean"], row["calls_max"],
                      row["conflicts"], row["conflicts_per_request_max"], row["throttles"], row["settle_p99_ms"],
                      row["leaks"], row["hottest_wcu_per_s"], row["violations"], row["refused_with_room"]]
            print("  " + " ".join((f"{fmt.format(v):>{width}}" if i else f"{fmt.format(v):<{width}}")
                                  for i, (v, (_, fmt, width)) in enumerate(zip(values, COLUMNS, strict=True))))
            if name == "alerts-5k":
                print(f"  {'':<14} alerts sent: {row.get('alerts')}; settlement calls per request: mean "
                      f"{row.get('settle_calls_mean', 0):.2f}, max {row.get('settle_calls_max')}; spent "
                      f"{row.get('spent_fraction', 0):.1%} of the budget")
    print(f"\n  shards per hot counter: {SHARDS}; 'leaks': settlements that failed (the reservation stays held); "
          f"'overspend': writes after which a counter's shards summed past its limit; '429 w/ room': refusals "
          f"while the counter could pay at every instant of the admission")


if __name__ == "__main__":
    main()
