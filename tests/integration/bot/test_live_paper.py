"""A paper run against the manual-clock simulator: every signal reaches the strategy."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from iqwire.bot import Context, RiskLimits, Strategy
from iqwire.bot.live import run_live
from iqwire.bot.records import RunState, TradeRecord
from iqwire.client import Client
from iqwire.models import BalanceChanged, BalanceType, Candle, InstrumentStatus, TradersMood
from iqwire.sim import ManualClock, Simulator
from iqwire.trading import Trader

# Thursday 2026-02-12 20:59:00 UTC: EURUSD (id 1) closes at 21:00 UTC.
BEFORE_CLOSE = 1_770_929_940


class Recorder(Strategy):
    """Counts every kind of signal and trades once, on the first closed candle."""

    actives = ["EURUSD", "EURUSD-OTC"]
    sizes = [1, 5]
    params: dict[str, Any] = {}

    def __init__(self) -> None:
        super().__init__()
        self.signals: Counter[str] = Counter()
        self.results: list[TradeRecord] = []
        self.statuses: list[InstrumentStatus] = []
        self.traded = False

    async def on_start(self, ctx: Context) -> None:
        self.signals["start"] += 1

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        self.signals[f"candle{candle.size}"] += 1
        assert candle.is_closed
        if not self.traded and candle.active_id == 76 and candle.size == 5:
            self.traded = True
            assert await ctx.buy("call", 10, expiration=5) is not None
            # The guard refuses the next one: one open trade at most.
            assert await ctx.buy("put", 10, expiration=5) is None

    async def on_tick(self, ctx: Context, candle: Candle) -> None:
        self.signals["tick"] += 1

    async def on_mood(self, ctx: Context, mood: TradersMood) -> None:
        self.signals["mood"] += 1

    async def on_asset_status(self, ctx: Context, status: InstrumentStatus) -> None:
        self.signals["status"] += 1
        self.statuses.append(status)

    async def on_trade_closed(self, ctx: Context, result: TradeRecord) -> None:
        self.signals["closed"] += 1
        self.results.append(result)

    async def on_balance(self, ctx: Context, balance: BalanceChanged) -> None:
        self.signals["balance"] += 1

    async def on_stop(self, ctx: Context) -> None:
        self.signals["stop"] += 1


async def test_every_signal_kind_reaches_the_strategy() -> None:
    async with (
        Simulator(seed=11, clock=ManualClock(BEFORE_CLOSE)) as sim,
        Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client,
    ):
        strategy = Recorder()
        stop = asyncio.Event()
        state = RunState(mode="paper")
        limits = RiskLimits(max_open_trades=1, min_payout=None)
        run = asyncio.create_task(run_live(client, strategy, limits=limits, state=state, stop=stop))
        for _ in range(200):
            if strategy.signals["start"]:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the streams subscribe
        start_balance = next(b for b in sim.balances() if b.type is BalanceType.DEMO).amount
        for _ in range(90):
            await sim.advance(1)
            await asyncio.sleep(0.005)
        stop.set()
        result = await asyncio.wait_for(run, 10)

    signals = strategy.signals
    assert signals["start"] == 1 and signals["stop"] == 1
    assert signals["candle1"] > 50 and signals["candle5"] > 10
    assert signals["tick"] > 0
    assert signals["mood"] > 0
    assert signals["closed"] == 1
    assert signals["balance"] >= 1  # the stake out (and the close back unless it lost)
    assert [s.active_id for s in strategy.statuses] == [1]
    assert strategy.statuses[0].tradable is False
    assert result.state.refusals == {"max_open_trades": 1}
    assert result.report.trades == 1
    end_balance = next(b for b in sim.balances() if b.type is BalanceType.DEMO).amount
    assert end_balance == pytest.approx(start_balance + result.report.pnl)
    assert result.end_balance == pytest.approx(end_balance)


async def test_a_run_trades_through_the_trader_it_is_given() -> None:
    async with (
        Simulator(seed=11, clock=ManualClock(BEFORE_CLOSE - 3600)) as sim,
        Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client,
    ):
        trader = Trader(client)
        strategy = Recorder()
        stop = asyncio.Event()
        limits = RiskLimits(max_open_trades=1, min_payout=None)
        run = asyncio.create_task(run_live(client, strategy, limits=limits, stop=stop, trader=trader))
        while not strategy.traded:
            await sim.advance(1)
            await asyncio.sleep(0.01)
        stop.set()
        while not run.done():
            await sim.advance(1)
            await asyncio.sleep(0.01)
        result = await run
        (record,) = result.state.closed
        # The trade went through this trader (its portfolio saw it close), and the run left it running.
        assert record.id in trader.portfolio.closed
        assert trader.portfolio._started
        await trader.close()
