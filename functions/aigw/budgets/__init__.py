"""Budgets and rate limits: admission before the upstream call, settlement after it.

    spec.py       what a budget or a rate limit is (pydantic), and the CLI's `50usd/month` syntax
    periods.py    calendar-aligned UTC periods and minute windows: item sort keys and their ends
    money.py      exact prices in Decimal USD (never float accumulation)
    counters.py   the Counters table: one counter item per (scope, period), the reserve/settle
                  updates, one TransactWriteItems with conflict retries; the seam for sharding
    scopes.py     which scopes apply to a request and their limits (cached entity reads)
    admission.py  plan a request's reservation, admit it in one transaction, settle it in one
    alerts.py     alert thresholds, decided by the settlement write that crosses them
    notify.py     where an alert goes: the `budget_alert` log line, EventBridge off the client's path
    end_users.py  end users behind a key: usage by end user, per-end-user RPM/TPM
    stage.py      the pipeline stage (`before` admits, `after` settles) and its builder

Import-light: nothing here is imported by the hot path unless admission is configured.
"""
