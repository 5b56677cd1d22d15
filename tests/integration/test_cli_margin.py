"""``iqwire order``, ``close``, ``cancel``, ``margin`` and the margin part of ``positions``."""

from __future__ import annotations

import re

from cli_helpers import account, assert_clean_failure, invoke

from iqwire.cli import common
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
