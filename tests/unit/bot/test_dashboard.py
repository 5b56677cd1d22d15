"""The dashboard: sparklines, the live view on a terminal, plain log lines off one."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from iqwire.bot.dashboard import SPARK_BARS, Dashboard, sparkline
from iqwire.bot.records import OpenTrade, RunState, TradeRecord
from iqwire.models import Outcome

NOW = 1_770_899_100.0  # 2026-02-12 12:25:00 UTC


def test_sparkline() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8], 8) == "▁▂▃▄▅▆▇█"
    assert sparkline([8, 1], 8) == "█▁"
    assert sparkline([0, 10, 5], 3) == "▁█▅"  # 5 is half-way: round(3.5) -> the 5th bar
    assert sparkline([5, 5, 5], 10) == "▄▄▄"
    assert sparkline(range(100), 4) == "▁▃▆█"  # the newest 4 only, rescaled
    assert sparkline([], 5) == "" and sparkline([1, 2], 0) == ""


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), max_size=80), st.integers(0, 60))
def test_sparkline_properties(values: list[float], width: int) -> None:
    line = sparkline(values, width)
    assert len(line) == min(len(values), max(width, 0))
    assert set(line) <= set(SPARK_BARS)
    tail = values[-width:] if width else []
    if line and max(tail) > min(tail):
        assert line[tail.index(min(tail))] == "▁" and line[tail.index(max(tail))] == "█"


def make_state() -> RunState:
    state = RunState(mode="paper", server_time=NOW, connection="connected", balance=10_000.0)
    state.names[76] = "EURUSD-OTC"
    for price in (1.0851, 1.0852, 1.0853, 1.0850, 1.08545):
        state.record_price(76, price)
    state.open_trades[7] = OpenTrade(
        id=7, active_id=76, direction="call", amount=10.0, expires_at=NOW + 12.4, open_price=1.0852
    )
    state.closed.append(
        TradeRecord(
            id=5,
            active_id=76,
            direction="put",
            amount=10.0,
            payout=85.0,
            opened_at=NOW - 60,
            expires_at=NOW - 30,
            open_price=1.0853,
            close_price=1.0850,
            outcome=Outcome.WIN,
            pnl=8.5,
        )
    )
    state.closed.append(
        TradeRecord(
            id=6,
            active_id=76,
            direction="call",
            amount=10.0,
            payout=85.0,
            opened_at=NOW - 50,
            expires_at=NOW - 20,
            open_price=1.0853,
            close_price=1.0850,
            outcome=Outcome.LOSS,
            pnl=-10.0,
        )
    )
    state.refusals.update({"max_stake": 2, "cooldown": 1})
    state.guard_state.update({"open": "1/5", "today": "-1.50", "cooldown": "240s"})
    return state


def test_live_view_renders_every_part() -> None:
    state = make_state()
    console = Console(record=True, width=120, force_terminal=True)
    with Dashboard(state, console=console) as dashboard:
        assert dashboard.interactive and dashboard.running
        dashboard.log("opened #7 EURUSD-OTC call 10.00 [demo]")
        dashboard.refresh(force=True)
    assert not dashboard.running
    text = console.export_text()
    for piece in (
        "PAPER",
        "2026-02-12 12:25:00 UTC",
        "connected",
        "10,000.00 USD",
        "EURUSD-OTC",
        "1.08545",  # last price
        sparkline([1.0851, 1.0852, 1.0853, 1.0850, 1.08545], 30),
        "12s",  # countdown to expiry
        "-1.50 USD",  # P&L
        "50.0%",  # win rate
        "2 closed, 1 open",
        "1 / 1 / 0",
        "cooldown",
        "240s",
        "max_stake",
        "12:25:00 opened #7 EURUSD-OTC call 10.00 [demo]",  # markup-looking text kept verbatim
    ):
        assert piece in text, piece
    assert list(state.messages) == ["12:25:00 opened #7 EURUSD-OTC call 10.00 [demo]"]


def test_countdown_follows_server_time_and_never_goes_negative() -> None:
    state = make_state()
    console = Console(record=True, width=120, force_terminal=True)
    state.server_time = NOW + 5
    console.print(Dashboard(state, console=console).render())
    assert "7s" in console.export_text()
    state.server_time = NOW + 60
    console.print(Dashboard(state, console=console).render())
    assert " 0s" in console.export_text()


def test_the_header_says_warming_up_until_the_indicators_are_warm() -> None:
    state = make_state()
    state.warmup_needed, state.warmup_have = 15, 4
    console = Console(record=True, width=140, force_terminal=True)
    console.print(Dashboard(state, console=console).render())
    assert "warming up (4/15)" in console.export_text()
    state.warmup_have = 15
    console.print(Dashboard(state, console=console).render())
    assert "warming up" not in console.export_text()


def test_empty_state_renders() -> None:
    console = Console(record=True, width=100, force_terminal=True)
    console.print(Dashboard(RunState(), console=console).render())
    text = console.export_text()
    for piece in ("disconnected", "balance —", "none", "no messages yet", "+0.00 USD", "0 closed, 0 open"):
        assert piece in text, piece


def test_refresh_is_throttled() -> None:
    state = make_state()
    console = Console(record=True, width=120, force_terminal=True)
    with Dashboard(state, console=console, refresh_per_second=0.001) as dashboard:
        state.connection = "reconnecting"
        dashboard.refresh()  # too soon: skipped
        assert "reconnecting" not in console.export_text(clear=False)
        dashboard.refresh(force=True)
        assert "reconnecting" in console.export_text(clear=False)
    with pytest.raises(ValueError, match="refresh_per_second"):
        Dashboard(state, refresh_per_second=0)


def test_not_a_terminal_logs_plain_lines() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80)
    state = make_state()
    with Dashboard(state, console=console) as dashboard:
        assert not dashboard.interactive and not dashboard.running
        dashboard.refresh(force=True)  # draws nothing
        assert out.getvalue() == ""
        dashboard.log("opened #7 EURUSD-OTC call 10.00 [demo]")
        state.server_time = 0.0
        dashboard.log("refused: max_stake " + "x" * 100)  # long lines stay on one line
    assert out.getvalue().splitlines() == [
        "12:25:00 opened #7 EURUSD-OTC call 10.00 [demo]",
        "refused: max_stake " + "x" * 100,
    ]
    assert "\x1b" not in out.getvalue()
    assert len(state.messages) == 2


def test_log_outside_the_context_on_a_terminal_only_records() -> None:
    console = Console(record=True, width=120, force_terminal=True)
    state = RunState()
    dashboard = Dashboard(state, console=console)
    dashboard.log("hello")
    dashboard.refresh()
    assert console.export_text() == "" and list(state.messages) == ["hello"]


def test_repeated_messages_are_counted_not_repeated() -> None:
    console = Console(record=True, width=120, force_terminal=True)
    state = RunState()
    dashboard = Dashboard(state, console=console)
    for left in (60, 55, 50):
        dashboard.log(f"refused: cooldown: 3 losses in a row; paused for {left}s")
    dashboard.log("opened #8 EURUSD-OTC put 10.00 [demo]")
    dashboard.log("refused: cooldown: 3 losses in a row; paused for 5s")
    assert list(state.messages) == [
        "refused ×3: cooldown: 3 losses in a row; paused for 50s",
        "opened #8 EURUSD-OTC put 10.00 [demo]",
        "refused: cooldown: 3 losses in a row; paused for 5s",
    ]
