"""The backtest's option rules: expiries, settlement and sale prices, the simulator's economics."""

from __future__ import annotations

import asyncio

import pytest

from iqwire.bot import RiskLimits, Strategy
from iqwire.bot.backtest import BacktestBroker, run_backtest
from iqwire.bot.context import Context
from iqwire.bot.option_terms import estimate_volatility, expiry, open_terms, sale_value, settle
from iqwire.client import Client
from iqwire.errors import InvalidOrder
from iqwire.models import Candle, Outcome
from iqwire.pricing import buyback_price
from iqwire.sim import ManualClock, Simulator
from iqwire.sim.prices import PriceModel
from iqwire.trading import Trader

T0 = 1_770_899_100  # 12:25:00 UTC


def test_expiry_rules_of_each_product() -> None:
    assert expiry("blitz", T0 + 0.7, 30) == T0 + 30
    assert expiry("turbo", T0, 60) == T0 + 60  # 12:26, 60 s away: more than the 30 s deadtime
    assert expiry("turbo", T0 + 31, 60) == T0 + 120  # 12:26 closed for purchase at 12:25:30
    assert expiry("turbo", T0, 180) == T0 + 180
    assert expiry("binary", T0, 60) == T0 + 1200  # 12:30 is only 300 s away (the deadtime): 12:45
    assert expiry("binary", T0, 1300) == T0 + 2100  # the first quarter hour at least 1300 s away: 13:00
    assert expiry("digital", T0 + 55, 60) == T0 + 120
    assert expiry("digital", T0, 300) == T0 + 300
    for product, expiration in (("blitz", 7), ("turbo", 90), ("digital", 120), ("forex", 60)):
        with pytest.raises(InvalidOrder):
            expiry(product, T0, expiration)


def test_settlement_and_sale() -> None:
    turbo = open_terms("turbo", "call", 10, 1.08, T0, 60, commission=12, volatility=2e-5)
    assert settle(turbo, 1.081) == (Outcome.WIN, 8.8)
    assert settle(turbo, 1.079) == (Outcome.LOSS, -10)
    assert settle(turbo, 1.08) == (Outcome.EQUAL, 0.0)
    assert sale_value(turbo, 1.0805, T0 + 10, 2e-5) == buyback_price(
        "call", 10, 88, 1.08, 1.0805, 2e-5, 50, 12
    )
    with pytest.raises(InvalidOrder, match="sale time is over"):
        sale_value(turbo, 1.08, T0 + 50, 2e-5)  # 10 s left: inside the 15 s buy-back deadtime

    spot = open_terms("digital", "put", 10, 1.08, T0, 60, commission=12, volatility=2e-5)
    assert spot.strike == 1.08 and spot.ask == 53.19 and spot.payout == pytest.approx(88.0, abs=0.01)
    assert settle(spot, 1.079) == (Outcome.WIN, round(1000 / 53.19 - 10, 2))
    away = open_terms("digital", "call", 10, 1.08, T0, 60, commission=12, volatility=2e-5, strike=1.0802)
    assert away.payout > spot.payout
    assert settle(away, 1.0801) == (Outcome.LOSS, -10)  # above the spot, below the strike
    assert estimate_volatility([0, 1], [1.0, 1.0]) == 2e-5  # too few moves: the default


async def test_a_digital_trade_costs_the_same_in_the_backtest_and_the_simulator() -> None:
    async with Simulator(seed=7, clock=ManualClock(T0)) as sim:
        async with Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client:
            async with Trader(client) as trader:
                trade = await trader.buy_digital(76, "call", 10, 60)
                waiter = asyncio.create_task(trade.outcome())
                await sim.advance(trade.expires - sim.now() + 1)
                live = await asyncio.wait_for(waiter, 10)
        volatility = sim.engine.model.spec(76).volatility
        close = sim.engine.model.tick(76, trade.expires)
    terms = open_terms(
        "digital", "call", 10, trade.open_price, trade.created, 60, commission=12, volatility=volatility
    )
    assert close is not None
    assert terms.expires == trade.expires
    assert terms.payout == pytest.approx(trade.payout, abs=0.01)
    assert settle(terms, close) == (live.outcome, live.pnl)


class _SellAtOnce(Strategy):
    """Buys one turbo option and sells it back on the next candle."""

    actives = [76]
    sizes = [5]

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        if ctx.open_positions:
            await ctx.sell(ctx.open_positions[0])
        elif not ctx.state.closed:
            await ctx.buy("call", 10, 120, product="turbo")


async def test_the_backtest_sells_early_and_splits_the_report_by_product() -> None:
    candles = PriceModel(seed=5).candles(76, 5, T0 - 600, T0)
    limits = RiskLimits(min_payout=None)
    result = await run_backtest(_SellAtOnce(), [candles], payouts={76: 88.0}, limits=limits, resolve=int)
    [record] = result.state.closed
    assert record.product == "turbo" and record.outcome is Outcome.SOLD
    assert result.report.by_product["turbo"]["sold"] == 1
    assert result.final_balance == pytest.approx(10_000 + record.pnl)
    assert -10 < record.pnl < 8.8  # between losing the stake and the full payout


def test_blitz_cannot_be_sold_in_the_backtest() -> None:
    broker = BacktestBroker({76: 88.0}, 100.0)
    terms = open_terms("blitz", "call", 10, 1.08, T0, 30, commission=12, volatility=2e-5)
    with pytest.raises(InvalidOrder, match="blitz options cannot be sold"):
        sale_value(terms, 1.08, T0 + 1, 2e-5)
    assert broker.payout(76, "digital") == 88.0
