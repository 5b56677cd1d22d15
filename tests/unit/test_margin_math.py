"""The margin arithmetic: hand-computed examples and the properties a broker relies on."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iqwire.margin_math import (
    Exposure,
    close_price,
    equity,
    fill_price,
    is_triggered,
    leverage_for_equity,
    margin,
    margin_level,
    pending_kind,
    pnl,
    stop_out,
    swap_charge,
    target_price,
    to_decimal,
)

money = st.decimals(min_value=-10_000, max_value=10_000, places=2, allow_nan=False, allow_infinity=False)
positive = st.decimals(min_value="0.01", max_value=100_000, places=2, allow_nan=False, allow_infinity=False)
leverages = st.integers(min_value=1, max_value=1000)


def test_worked_examples_of_docs_simulator() -> None:
    # 1 lot EUR/USD at 1.08 with leverage 100 on a USD account.
    assert margin(D(100_000), D("1.08"), 100) == D(1080)
    # A 10-pip rise from the ask 1.08002 to the bid 1.08102 earns 100 USD.
    assert pnl("buy", D(100_000), D("1.08002"), D("1.08102")) == D(100)
    # Swap of 0.01 % a night on the long notional 108,000 USD.
    assert swap_charge("buy", D(100_000), D("1.08"), D("0.01"), D("0.005")) == D("-10.8")
    assert margin_level(D(1100), D(1000)) == D(110)


def test_prices_sides() -> None:
    assert fill_price("buy", D(1), D(2)) == 2 and fill_price("sell", D(1), D(2)) == 1
    assert close_price("buy", D(1), D(2)) == 1 and close_price("sell", D(1), D(2)) == 2


def test_to_decimal_reads_strings_and_numbers() -> None:
    assert to_decimal("1000") == D(1000) and to_decimal(1.08) == D("1.08")
    with pytest.raises(ValueError, match="not a number"):
        to_decimal("ten")
    with pytest.raises(ValueError, match="not a finite number"):
        to_decimal("NaN")


def test_margin_refuses_leverage_below_one() -> None:
    with pytest.raises(ValueError, match="leverage must be at least 1"):
        margin(D(1), D(1), 0)


@given(count=positive, price=positive, low=leverages, high=leverages)
def test_margin_falls_as_leverage_rises(count: D, price: D, low: int, high: int) -> None:
    low, high = min(low, high), max(low, high)
    assert margin(count, price, high) <= margin(count, price, low)


@given(cash=money, pnls=st.lists(money, max_size=6))
def test_equity_is_cash_plus_pnl(cash: D, pnls: list[D]) -> None:
    assert equity(cash, pnls) == cash + sum(pnls, D(0))


@given(count=positive, open_=positive, move=money)
def test_buy_and_sell_pnl_mirror(count: D, open_: D, move: D) -> None:
    assert pnl("buy", count, open_, open_ + move) == -pnl("sell", count, open_, open_ + move)


def test_margin_level_without_margin_is_none() -> None:
    assert margin_level(D(100), D(0)) is None


def test_target_prices_by_kind() -> None:
    pip = D("0.0001")
    args = (D("1.08"), D(1000), pip)
    assert target_price("pips", D(50), "take_profit", "buy", *args) == D("1.0850")
    assert target_price("pips", D(-50), "stop_loss", "buy", *args) == D("1.0750")
    assert target_price("delta", D("0.01"), "take_profit", "sell", *args) == D("1.07")
    # 10 USD of profit on 1000 units: 0.01 of price.
    assert target_price("pnl", D(10), "take_profit", "buy", *args) == D("1.09")
    assert target_price("pnl", D(10), "stop_loss", "sell", *args) == D("1.09")
    assert target_price("price", D("1.2"), "stop_loss", "buy", *args) == D("1.2")
    with pytest.raises(ValueError, match="positive count"):
        target_price("pnl", D(10), "stop_loss", "sell", D(1), D(0), pip)


@given(
    side=st.sampled_from(["buy", "sell"]),
    kind=st.sampled_from(["pips", "delta", "pnl"]),
    value=positive,
    open_=positive,
)
def test_levels_are_hit_exactly_at_their_price(side: str, kind: str, value: D, open_: D) -> None:
    for level in ("take_profit", "stop_loss"):
        price = target_price(kind, value, level, side, open_, D(10), D("0.01"))  # type: ignore[arg-type]
        assert is_triggered(level, side, price, price)  # type: ignore[arg-type]
        # The level is on the profitable side for a take-profit, the losing one for a stop-loss.
        profit = pnl(side, D(10), open_, price)  # type: ignore[arg-type]
        assert (profit > 0) if level == "take_profit" else (profit < 0)


def test_trigger_directions() -> None:
    assert is_triggered("take_profit", "buy", D(2), D("2.1"))
    assert not is_triggered("take_profit", "buy", D(2), D("1.9"))
    assert is_triggered("stop_loss", "buy", D(2), D("1.9"))
    assert is_triggered("take_profit", "sell", D(2), D("1.9"))
    assert is_triggered("stop_loss", "sell", D(2), D("2.1"))


def test_pending_kind_converts_like_the_platform() -> None:
    bid, ask = D("1.0"), D("1.1")
    assert pending_kind("buy", D("0.9"), bid, ask) == "limit"
    assert pending_kind("buy", D("1.2"), bid, ask) == "stop"
    assert pending_kind("sell", D("1.2"), bid, ask) == "limit"
    assert pending_kind("sell", D("0.9"), bid, ask) == "stop"
    assert pending_kind("buy", ask, bid, ask) == "market"


def test_dynamic_leverage_steps() -> None:
    steps = [(D(0), 500), (D(10_000), 200), (D(50_000), 100)]
    assert leverage_for_equity(300, steps, D(5000)) == 500
    assert leverage_for_equity(300, steps, D(10_000)) == 200
    assert leverage_for_equity(300, steps, D(60_000)) == 100
    assert leverage_for_equity(300, [], D(60_000)) == 300


def test_stop_out_closes_the_biggest_loss_first() -> None:
    positions = [Exposure(1, D(50), D(-80)), Exposure(2, D(50), D(10)), Exposure(3, D(50), D(-5))]
    # equity 100 - 75 = 25 over margin 150: 16.7 % < 50 %; closing #1 leaves 25 / 100 = 25 %,
    # closing #3 then leaves 25 / 50 = 50 %: enough.
    assert stop_out(D(100), positions, D(50)) == [1, 3]
    assert stop_out(D(1000), positions, D(50)) == []


exposures = st.lists(
    st.builds(Exposure, key=st.integers(0, 10**6), margin=positive, pnl=money),
    max_size=8,
    unique_by=lambda e: e.key,
)


@given(cash=money, positions=exposures, level=st.decimals(min_value=1, max_value=200, places=0))
def test_stop_out_restores_the_level_or_closes_everything(
    cash: D, positions: list[Exposure], level: D
) -> None:
    closed = stop_out(cash, positions, level)
    remaining = [p for p in positions if p.key not in closed]
    # Closing realises pnl into cash: equity is unchanged, margin shrinks.
    used = sum((p.margin for p in remaining), D(0))
    after = margin_level(equity(cash, (p.pnl for p in positions)), used)
    assert not remaining or after is None or after >= level
    # Losses go first: nothing closed has a higher pnl than something kept.
    if closed and remaining:
        assert max(p.pnl for p in positions if p.key in closed) <= min(p.pnl for p in remaining)
