"""``iqwire trade``, ``positions`` and ``history`` against simulators on a fast real clock.

The embedded simulator (``--sim``) is sped up with ``IQWIRE_SIM_SPEED=50`` (the hidden
``--sim-speed`` option): a 5-second option settles in about 0.1 s.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from cli_helpers import account, assert_clean_failure, invoke

from iqwire.cli import common, connect
from iqwire.models import BalanceType
from iqwire.sim import Simulator
from iqwire.sync import Client, Trader

FAST = {common.SIM_SPEED_ENV: "50"}


def balance_of(sim: Simulator, kind: BalanceType) -> float:
    return next(b for b in sim.balances() if b.type is kind).amount


def test_help_lists_the_trading_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("trade", "positions", "history", "bot", "backtest", "demo"):
        assert command in result.stdout
    trade_help = invoke("trade", "--help").stdout
    assert "--real" in trade_help and "--expiration" in trade_help and "--sim" in trade_help
    assert "--sim-speed" not in trade_help  # hidden: a testing aid


# -- iqwire trade ---------------------------------------------------------------------------------


def test_trade_on_the_embedded_simulator_settles_and_shows_the_balance() -> None:
    result = invoke("trade", "EURUSD-OTC", "call", "10", "--expiration", "5", "--sim", env=FAST)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.match(
        r"opened #\d+: EURUSD-OTC call 10\.00 USD on DEMO at [\d.]+, payout 88%, expires ", lines[0]
    )
    countdown = [line for line in lines if "s left" in line]
    assert countdown, lines  # plain lines off a terminal
    assert all(
        re.match(r"^\s+\d+s left  price \S+ \([+-][\d.]+\)  (winning|losing|even)$", c) for c in countdown
    )
    outcome = re.search(
        r"^(WIN|LOSS|EQUAL): closed at [\d.]+ \(opened [\d.]+\), P&L ([+-][\d,.]+) USD$", result.stdout, re.M
    )
    assert outcome is not None, result.stdout
    pnl = float(outcome.group(2).replace(",", ""))
    assert {"WIN": pnl == 8.8, "LOSS": pnl == -10.0, "EQUAL": pnl == 0.0}[outcome.group(1)]
    assert lines[-1] == f"balance DEMO: {10_000 + pnl:,.2f} USD"


def test_trade_sends_one_option_with_the_given_terms(tsim: Simulator) -> None:
    before = balance_of(tsim, BalanceType.DEMO)
    result = invoke("trade", "76", "PUT", "7", "-e", "10", *account(tsim))
    assert result.exit_code == 0, result.output
    (position,) = tsim.positions()
    assert position.is_closed
    assert (position.active_id, position.direction, position.amount) == (76, "put", 7)
    assert position.expiration_size == 10
    assert f"#{position.option_id}" in result.stdout
    assert balance_of(tsim, BalanceType.DEMO) == pytest.approx(before + (position.pnl or 0.0))
    assert f"balance DEMO: {balance_of(tsim, BalanceType.DEMO):,.2f} USD" in result.stdout


def test_a_real_balance_without_real_is_refused_before_anything_is_sent(tsim: Simulator) -> None:
    real_before = balance_of(tsim, BalanceType.REAL)
    result = invoke("trade", "EURUSD-OTC", "call", "1", "-e", "5", "--balance", "real", *account(tsim))
    assert_clean_failure(result, 2, "RealMoneyLocked: refusing to trade on the REAL balance without --real")
    assert tsim.positions() == []
    assert balance_of(tsim, BalanceType.REAL) == real_before
    assert list(tsim.engine.accounts._ssids) == []  # it did not even log in


def test_a_real_balance_with_real_trades_real_money(tsim: Simulator) -> None:
    real_before = balance_of(tsim, BalanceType.REAL)
    result = invoke(
        "trade", "EURUSD-OTC", "call", "1", "-e", "5", "--balance", "real", "--real", *account(tsim)
    )
    assert result.exit_code == 0, result.output
    (position,) = tsim.positions()
    real_id = next(b.id for b in tsim.balances() if b.type is BalanceType.REAL)
    assert position.user_balance_id == real_id
    assert " on REAL at " in result.stdout
    assert balance_of(tsim, BalanceType.REAL) == pytest.approx(real_before + (position.pnl or 0.0))
    assert "balance REAL:" in result.stdout


class _SpyClient(Client):
    created: list[bool] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _SpyClient.created.append(kwargs["allow_real_money"])
        super().__init__(*args, **kwargs)


@pytest.mark.parametrize(("flags", "allowed"), [([], False), (["--real"], True)])
def test_the_client_allows_real_money_only_with_real(
    tsim: Simulator, monkeypatch: pytest.MonkeyPatch, flags: list[str], allowed: bool
) -> None:
    monkeypatch.setattr(connect, "Client", _SpyClient)
    monkeypatch.setattr(_SpyClient, "created", [])
    result = invoke("trade", "EURUSD-OTC", "call", "1", "-e", "5", *flags, *account(tsim))
    assert result.exit_code == 0, result.output
    assert _SpyClient.created == [allowed]
    assert " on DEMO at " in result.stdout  # --real alone does not change the balance


def test_trade_errors_are_one_line() -> None:
    assert_clean_failure(
        invoke("trade", "NOPE-OTC", "call", "1", "--sim", env=FAST), 2, "unknown asset 'NOPE-OTC'"
    )
    assert_clean_failure(
        invoke("trade", "EURUSD-OTC", "call", "1", "-e", "7", "--sim", env=FAST),
        2,
        "InvalidOrder: expiration 7s",
    )
    assert_clean_failure(
        invoke("trade", "EURUSD-OTC", "put", "50000", "--balance", "tournament", "--sim", env=FAST),
        2,
        "InvalidOrder: amount 50000 is outside the limits",
    )
    usage = invoke("trade", "EURUSD-OTC", "sideways", "1", "--sim")
    assert usage.exit_code == 2 and "sideways" in usage.output


# -- iqwire positions / history ------------------------------------------------------------------


def test_positions_and_history_tables(tsim: Simulator) -> None:
    with Client("demo@example.com", "demo", ws_url=tsim.ws_url, login_url=tsim.login_url) as client:
        trader = Trader(client)
        settled = trader.buy_blitz(76, "call", 3, expiration=5)
        result = settled.outcome()
        still_open = trader.buy_blitz(81, "put", 4, expiration=300, balance=BalanceType.TOURNAMENT)

    positions = invoke("positions", *account(tsim))
    assert positions.exit_code == 0, positions.output
    assert "Open positions" in positions.stdout
    assert str(still_open.id) in positions.stdout and "GBPUSD-OTC" in positions.stdout
    assert "TOURNAMENT" in positions.stdout
    assert str(settled.id) not in positions.stdout
    only_demo = invoke("positions", "--balance", "demo", *account(tsim))
    assert only_demo.exit_code == 0 and str(still_open.id) not in only_demo.stdout

    history = invoke("history", "--limit", "5", *account(tsim))
    assert history.exit_code == 0, history.output
    assert str(settled.id) in history.stdout and "EURUSD-OTC" in history.stdout
    assert result.outcome.name in history.stdout
    assert f"1 positions, P&L {result.pnl:+,.2f}" in history.stdout


def test_history_of_a_fresh_account_is_empty() -> None:
    result = invoke("history", "--sim", "--balance", "real")
    assert result.exit_code == 0, result.output
    assert "0 positions, P&L +0.00" in result.stdout
