"""``iqwire order``, ``close``, ``cancel``, ``margin`` and the margin part of ``positions``."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

from cli_helpers import account, assert_clean_failure, invoke

from iqwire.bot.journal import Journal, JournalTrade, TradeStatus, is_margin
from iqwire.cli import common
from iqwire.models import BalanceType
from iqwire.sim import Simulator

FAST = {common.SIM_SPEED_ENV: "50"}


def test_help_lists_the_margin_commands() -> None:
    result = invoke("--help")
    for command in ("order", "close", "cancel", "margin"):
        assert command in result.stdout
    order_help = invoke("order", "--help").stdout
    assert "--leverage" in order_help and "--tp" in order_help and "--sl" in order_help


def test_order_on_the_embedded_simulator_fills() -> None:
    result = invoke(
        "order", "EURUSD-OTC", "buy", "1000", "--leverage", "100", "--tp", "50pips", "--sim", env=FAST
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.match(r"order #\d+: EURUSD-OTC market buy 1000 x100 on DEMO$", lines[0]), lines
    assert re.match(
        r"position #\d+: forex\.EURUSD-OTC buy 1000 x100 at [\d.]+, margin [\d.]+, P&L ", lines[1]
    )


def test_order_positions_close_cancel_and_margin(tsim: Simulator) -> None:
    placed = invoke("order", "EURUSD-OTC", "sell", "2000", "--leverage", "200", "--sl", "1.5", *account(tsim))
    assert placed.exit_code == 0, placed.output
    position_id = re.search(r"position #(\d+)", placed.stdout)
    assert position_id is not None

    positions = invoke("positions", *account(tsim))
    assert positions.exit_code == 0, positions.output
    assert "Margin positions" in positions.stdout and position_id.group(1) in positions.stdout

    figures = invoke("margin", *account(tsim))
    assert figures.exit_code == 0, figures.output
    assert re.match(r"balance \d+: cash 10,000\.00 USD, equity [\d,.]+, margin [\d,.]+, ", figures.stdout)

    closed = invoke("close", position_id.group(1), *account(tsim))
    assert closed.exit_code == 0, closed.output
    assert re.match(
        rf"closed #{position_id.group(1)} at [\d.]+ \(default\), P&L [+-][\d.]+$", closed.stdout.strip()
    )

    pending = invoke(
        "order",
        "EURUSD-OTC",
        "buy",
        "1000",
        "--type",
        "limit",
        "--price",
        "0.5",
        "--leverage",
        "100",
        *account(tsim),
    )
    assert pending.exit_code == 0, pending.output
    order_id = re.search(r"order #(\d+)", pending.stdout)
    assert order_id is not None and "pending" in pending.stdout
    canceled = invoke("cancel", order_id.group(1), *account(tsim))
    assert canceled.exit_code == 0, canceled.output
    assert canceled.stdout.strip() == f"canceled order #{order_id.group(1)}"


def test_margin_usage_errors_are_one_line_and_exit_2(tsim: Simulator) -> None:
    assert_clean_failure(invoke("order", "EURUSD-OTC", "buy", "1500", *account(tsim)), 2, "steps of 1000")
    assert_clean_failure(invoke("order", "NOPE", "buy", "1000", *account(tsim)), 2, "no margin instrument")
    assert_clean_failure(
        invoke("order", "EURUSD-OTC", "buy", "1000", "--balance", "real", *account(tsim)), 2, "--real"
    )
    assert_clean_failure(invoke("close", "12345", *account(tsim)), 2, "no open margin position 12345")
    assert_clean_failure(invoke("cancel", "12345", *account(tsim)), 2, "no pending margin order 12345")


def _journal_rows(sim: Simulator, order_id: str) -> list[JournalTrade]:
    """The rows of an order id on this simulator's account (another simulator hands out the same ids)."""
    return [t for t in _all_margin_rows(sim) if t.ref_kind == "order" and t.ref_id == order_id]


def test_order_close_and_cancel_are_journaled_and_reported(tsim: Simulator) -> None:
    placed = invoke(
        "order", "EURUSD-OTC", "buy", "3000", "--leverage", "100", "--tp", "80pips", *account(tsim)
    )
    assert placed.exit_code == 0, placed.output
    found = re.search(r"order #(\d+).*\nposition #(\d+): \S+ buy 3000 x100 at ([\d.]+)", placed.stdout)
    assert found is not None, placed.stdout
    order_id, position_id = found.group(1), found.group(2)
    (row,) = _journal_rows(tsim, order_id)
    assert (row.product, row.direction, row.amount, row.status) == (
        "marginal-forex",
        "buy",
        3000,
        TradeStatus.OPEN,
    )
    assert row.details == {"type": "market", "price": None, "leverage": 100}
    assert row.open_price == float(found.group(3))
    marginal = next(b for b in tsim.balances() if b.is_marginal and b.type == BalanceType.DEMO)
    assert row.balance_id == marginal.id
    with Journal.open(_journal_path(row), create=False) as journal:
        assert [kind for kind, _, _ in journal.events(row.id)] == ["intent", "answer"]

    closed = invoke("close", position_id, *account(tsim))
    assert closed.exit_code == 0, closed.output
    pnl = re.search(r"P&L ([+-][\d,.]+)", closed.stdout)
    assert pnl is not None
    (row,) = _journal_rows(tsim, order_id)
    assert row.status is TradeStatus.CLOSED and row.pnl is not None and f"{row.pnl:+,.2f}" == pnl.group(1)
    csv_path = Path(os.environ["IQWIRE_DATA_DIR"]) / f"report-{order_id}.csv"
    report = invoke("bot", "report", "--journal", str(_journal_path(row)), "--csv", str(csv_path))
    assert report.exit_code == 0, report.output
    with csv_path.open(encoding="utf-8") as handle:
        reported = [float(r["pnl"]) for r in csv.DictReader(handle) if r["id"] == order_id]
    assert row.pnl in reported  # (an option of the same server id may be reported too)

    pending = invoke(
        "order",
        "EURUSD-OTC",
        "sell",
        "1000",
        "--type",
        "limit",
        "--price",
        "9",
        "--leverage",
        "100",
        *account(tsim),
    )
    assert pending.exit_code == 0, pending.output
    pending_id = re.search(r"order #(\d+)", pending.stdout)
    assert pending_id is not None
    (row,) = _journal_rows(tsim, pending_id.group(1))
    assert row.status is TradeStatus.OPEN and row.open_price is None
    assert invoke("cancel", pending_id.group(1), *account(tsim)).exit_code == 0
    (row,) = _journal_rows(tsim, pending_id.group(1))
    assert row.status is TradeStatus.NOT_PLACED and row.error == "canceled: the order never filled"


def test_a_refused_order_is_journaled_as_rejected(tsim: Simulator) -> None:
    before = len(_all_margin_rows(tsim))
    assert_clean_failure(invoke("order", "EURUSD-OTC", "buy", "100000000", *account(tsim)), 2, "margin")
    rows = _all_margin_rows(tsim)
    assert len(rows) == before + 1 and rows[-1].status is TradeStatus.REJECTED
    assert rows[-1].error is not None and rows[-1].error.startswith("InsufficientBalance")


def _all_margin_rows(sim: Simulator) -> list[JournalTrade]:
    found = []
    for path in sorted(Path(os.environ["IQWIRE_DATA_DIR"]).glob("journals/*.sqlite")):
        with Journal.open(path, create=False) as journal:
            found += [
                t for t in journal.trades() if is_margin(t.product) and t.account.startswith(f"{sim.ws_url}|")
            ]
    return sorted(found, key=lambda t: t.intent_at)


def _journal_path(row: JournalTrade) -> Path:
    for path in Path(os.environ["IQWIRE_DATA_DIR"]).glob("journals/*.sqlite"):
        with Journal.open(path, create=False) as journal:
            if journal.trade(row.id) == row:
                return path
    raise AssertionError(f"no journal holds {row}")
