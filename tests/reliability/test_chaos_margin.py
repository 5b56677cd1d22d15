"""Margin chaos, CI-sized: orders placed, closed and canceled under disconnects and lost answers.

The full run (500 orders, 100 disconnects) is part of ``make chaos``.
"""

from __future__ import annotations

from run_chaos_margin import run_chaos_margin


async def test_a_small_margin_chaos_run_loses_nothing_and_the_ledgers_agree() -> None:
    result = await run_chaos_margin(orders=80, disconnects=16, seed=20260212)
    report = f"{result.line()}\n{result.details()}"
    print(result.line())
    assert result.orders == 80
    assert result.disconnects == 16, report
    assert result.lost == 0, report
    assert result.doubled == 0, report
    assert result.phantom == 0, report
    assert result.ledger_match, report
    assert result.reconciled > 0 and result.not_placed > 0, report  # both reconciliation paths ran
    assert result.seconds < 60, report
