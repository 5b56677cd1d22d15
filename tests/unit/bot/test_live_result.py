"""What a live run reports at its end: the balances it traded on, what it leaves open on the server."""

from __future__ import annotations

import pytest
from rich.console import Console

from iqwire.bot.live_result import LiveResult, describe_open_margin
from iqwire.bot.margin import MarginTicket
from iqwire.bot.records import OpenTrade, RunState, TradeRecord
from iqwire.bot.report import Report
from iqwire.cli.bot_cmd import _finish_run
from iqwire.models import Balance, BalanceType, Outcome


def _record(product: str) -> TradeRecord:
    return TradeRecord(1, 76, "call", 10.0, 85.0, 0.0, 60.0, 1.1, 1.2, Outcome.WIN, 8.5, product=product)


def _marginal(amount: float) -> Balance:
    return Balance(id=9, type=BalanceType.DEMO, amount=amount, currency="USD", is_marginal=True)


def _result(
    closed: list[TradeRecord], open_margin: list[MarginTicket], *, margin: bool, open_options: int = 0
) -> LiveResult:
    state = RunState(mode="paper")
    state.closed += closed
    for n in range(open_options):
        state.open_trades[n] = OpenTrade(n, 76, "call", 1.0, 60.0, 1.1)
    return LiveResult(
        report=Report.from_state(state, 10_000.0),
        state=state,
        balance_id=1,
        start_balance=10_000.0,
        end_balance=10_008.5,
        unsettled=open_options + len(open_margin),
        open_margin=open_margin,
        margin_start=_marginal(10_000.0) if margin else None,
        margin_end=_marginal(9_990.2) if margin else None,
    )


OPEN = MarginTicket(7, 1, "buy", 1000.0, 100, status="open", position_id=70)
PENDING = MarginTicket(8, 1, "sell", 1000.0, 100, type="limit", status="pending")


def test_the_open_margin_tickets_are_named_with_their_ids() -> None:
    assert describe_open_margin([OPEN]) == "1 margin position (position 70 of order 7)"
    assert describe_open_margin([OPEN, OPEN, PENDING]) == (
        "2 margin positions (position 70 of order 7, position 70 of order 7) and 1 pending margin order (order 8)"
    )


@pytest.mark.parametrize(
    ("closed", "margin", "options_line", "margin_line"),
    [
        ([_record("blitz")], False, True, False),  # options only: as before
        ([], False, True, False),  # nothing traded: the options balance, as before
        ([_record("marginal-forex")], True, False, True),  # margin only: the marginal balance
        ([_record("blitz"), _record("marginal-forex")], True, True, True),  # both
    ],
)
def test_the_final_lines_show_the_balances_traded_on(
    closed: list[TradeRecord],
    margin: bool,
    options_line: bool,
    margin_line: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _finish_run(_result(closed, [], margin=margin), Console(width=200, highlight=False), None)
    out, err = capsys.readouterr()
    assert ("balance: 10,000.00 → 10,008.50 USD" in out.replace("marginal balance", "")) is options_line
    assert ("marginal balance: 10,000.00 → 9,990.20 USD" in out) is margin_line
    assert err == ""


def test_margin_positions_left_open_are_named_on_stderr_with_how_to_close_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = _result([_record("marginal-forex")], [OPEN, PENDING], margin=True, open_options=1)
    _finish_run(result, Console(width=200, highlight=False), None)
    err = capsys.readouterr().err
    assert "warning: 1 option trade(s) still open at the end; see iqwire positions" in err
    assert (
        "warning: left open on the server (a run never closes margin positions): 1 margin position "
        "(position 70 of order 7) and 1 pending margin order (order 8); close one with iqwire close "
        "POSITION_ID, cancel one with iqwire cancel ORDER_ID"
    ) in " ".join(err.split())
