"""The report over every run in a journal (``iqwire bot report``).

Example::

    with Journal.open("trades.sqlite") as journal:
        report = journal_report(journal, start=parse_time("2026-02-10"))
    report.print()
    report.to_csv("trades.csv")
"""

from __future__ import annotations

from collections import Counter

from iqwire.bot.journal import Journal
from iqwire.bot.report import Report

__all__ = ["journal_report"]


def journal_report(journal: Journal, *, start: float | None = None, end: float | None = None) -> Report:
    """The report of the trades closed in ``[start, end)`` (server time), over all runs.

    The starting balance is the first run's in that period (0 when none
    recorded one); the refusals are the guards' refusals in the period; the
    currency is the runs' (the first one's).
    """
    records = journal.closed_records(start, end)
    runs = [
        run
        for run in journal.runs()
        if (end is None or run.started_at < end)
        and (start is None or (run.ended_at or run.started_at) >= start)
    ]
    starting = next((run.start_balance for run in runs if run.start_balance is not None), None)
    if starting is None and records:
        starting = 0.0
    currency = next((run.currency for run in runs if run.currency), "USD")
    refusals: Counter[str] = Counter()
    for decision in journal.guard_decisions():
        if decision.allowed or decision.rule is None:
            continue
        if (start is None or decision.last_at >= start) and (end is None or decision.first_at < end):
            refusals[decision.rule] += decision.count
    return Report(records, starting or 0.0, dict(refusals), currency=currency)
