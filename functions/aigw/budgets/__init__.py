"""Budgets and rate limits: admission before the upstream call, settlement after it.

    spec.py       what a budget or a rate limit is (pydantic), and the CLI's `50usd/month` syntax
    periods.py    calendar-aligned UTC periods and minute windows: item sort keys and their ends
    money.py      exact prices in Decimal USD (never float accumulation)
    items.py      one counter item: its attributes, its numbers, the updates that change it
    counters.py   the Counters table: a plain counter (one item per scope and period), the store
                  (transactions with conflict retries, single writes, reads that sum shards)
    shards.py     a hot scope's counter over N items, each a slice of the limit; layouts, transfers
    hot.py        reserving on a sharded counter with single-item writes (no transaction)
    charges.py    the records passed between them: charges, reservation, refusal, settlement, alert
    holding.py    where reservations and settlements are written (one transaction, single writes)
    scopes.py     which scopes apply to a request and their limits (cached entity reads)
    admission.py  plan a request's reservation, admit it, settle it; refusals and the headers' view
    alerts.py     alert thresholds, decided by the settlement write that crosses them
    hot_alerts.py alert thresholds of a hot (sharded) budget: checked on its total, claimed once
    notify.py     where an alert goes: the `budget_alert` log line, EventBridge off the client's path
    end_users.py  end users behind a key: usage by end user, per-end-user RPM/TPM
    stage.py      the pipeline stage (`before` admits, `after` settles) and its builder

Import-light: nothing here is imported by the hot path unless admission is configured.
"""
