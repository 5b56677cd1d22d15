"""``iqwire trade --product``, ``sell``, ``strikes`` and ``positions`` for turbo, binary and digital options.

Simulators on a real clock 50x fast (``tsim``, or ``--sim`` with ``IQWIRE_SIM_SPEED=50``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from cli_helpers import account, assert_clean_failure, invoke

from iqwire.bot.journal import Journal
from iqwire.cli import common
from iqwire.models import BalanceType
from iqwire.sim import Simulator
from iqwire.sync import Client, Trader

FAST = {common.SIM_SPEED_ENV: "50"}
OUTCOME = re.compile(r"^(WIN|LOSS|EQUAL): closed at [\d.]+ \(opened [\d.]+\), P&L ([+-][\d,.]+) USD$", re.M)


def _client(sim: Simulator) -> Client:
    return Client("demo@example.com", "demo", ws_url=sim.ws_url, login_url=sim.login_url)


def test_help_lists_the_option_commands() -> None:
    result = invoke("--help")
    for command in ("trade", "sell", "strikes", "positions"):
        assert command in result.stdout
    trade_help = invoke("trade", "--help").stdout
    assert "--product" in trade_help and "--strike" in trade_help


@pytest.mark.parametrize("product", ["turbo", "digital"])
def test_trade_a_product_on_the_embedded_simulator(product: str) -> None:
    result = invoke("trade", "EURUSD-OTC", "put", "10", "--product", product, "--sim", env=FAST)
    assert result.exit_code == 0, result.output
    assert re.match(rf"opened #\d+: EURUSD-OTC {product} put 10\.00 USD on DEMO at [\d.]+", result.stdout)
    outcome = OUTCOME.search(result.stdout)
    assert outcome is not None, result.stdout
    pnl = float(outcome.group(2).replace(",", ""))
    assert {"WIN": pnl > 0, "LOSS": pnl == -10.0, "EQUAL": pnl == 0.0}[outcome.group(1)]


def test_trade_is_journaled_with_its_product(tsim: Simulator) -> None:
    result = invoke("trade", "76", "call", "9", "--product", "binary", "-e", "60", *account(tsim))
    assert result.exit_code == 0, result.output
    (position,) = tsim.positions()
    assert position.instrument_type == "binary-option" and position.is_closed
    rows = []
    for path in Path(os.environ["IQWIRE_DATA_DIR"]).glob("journals/*.sqlite"):
        with Journal.open(path, create=False) as journal:
            rows += [t for t in journal.trades() if t.account.startswith(tsim.ws_url + "|")]
    (row,) = rows
    assert row.product == "binary" and row.ref_id == str(position.option_id) and row.outcome is not None
    assert row.pnl == pytest.approx(position.pnl)


def test_trade_at_a_digital_strike_and_sell_before_expiry(tsim: Simulator) -> None:
    with _client(tsim) as client:
        trader = Trader(client)
        table = trader.digital_strikes(76, 300)
        strike = next(s for s in table.strikes if s.strike is not None)
        placed = trader.buy_digital(76, "put", 12, 300, strike=strike.strike or 0)
        turbo = trader.buy_turbo(76, "call", 8, 300)

        shown = invoke("positions", *account(tsim))
        assert shown.exit_code == 0, shown.output
        for trade, product in ((placed, "digital"), (turbo, "turbo")):
            line = next(line for line in shown.stdout.splitlines() if str(trade.id) in line)
            assert product in line, shown.stdout
            assert re.search(r"\d+\.\d\d\s+\S+\s+DEMO", line), line  # the live sale value, then the balance

        sold = invoke("sell", str(turbo.id), *account(tsim))
        assert sold.exit_code == 0, sold.output
        assert re.search(rf"SOLD #{turbo.id}: paid back [\d.,]+, P&L [+-][\d.,]+", sold.stdout)
        closed = invoke("sell", str(placed.id), *account(tsim))
        assert closed.exit_code == 0, closed.output
    by_id = {p.option_id: p for p in tsim.positions()}
    assert by_id[turbo.id].close_reason == "sold"
    assert by_id[placed.id].close_reason == "default"


def test_strikes_prints_a_table(tsim: Simulator) -> None:
    result = invoke("strikes", "EURUSD-OTC", "--period", "60", "--once", *account(tsim))
    assert result.exit_code == 0, result.output
    assert "EURUSD-OTC digital 60s" in result.stdout
    assert re.search(r"spot\s+.*53\.19", result.stdout), result.stdout


def test_usage_errors_exit_2_before_connecting() -> None:
    assert_clean_failure(
        invoke("trade", "EURUSD-OTC", "call", "10", "--strike", "1.1", "--sim"), 2, "--strike is for digital"
    )
    assert_clean_failure(
        invoke("trade", "EURUSD-OTC", "call", "10", "--product", "digital", "-e", "120", "--sim"),
        2,
        "the digital period",
    )
    bad = invoke("trade", "EURUSD-OTC", "call", "10", "--product", "digital", "--strike", "-3", "--sim")
    assert bad.exit_code == 2


def test_selling_an_unknown_position_fails_cleanly(tsim: Simulator) -> None:
    assert_clean_failure(invoke("sell", "123", *account(tsim)), 2, "no open option or digital position 123")


def test_selling_on_the_real_balance_needs_real(tsim: Simulator) -> None:
    with Client(
        "demo@example.com", "demo", ws_url=tsim.ws_url, login_url=tsim.login_url, allow_real_money=True
    ) as client:
        trade = Trader(client).buy_turbo(76, "call", 5, 300, balance=BalanceType.REAL)
    assert_clean_failure(invoke("sell", str(trade.id), *account(tsim)), 2, "RealMoneyLocked")
    assert [p.status for p in tsim.positions()] == ["open"]
    assert invoke("sell", str(trade.id), "--real", *account(tsim)).exit_code == 0
