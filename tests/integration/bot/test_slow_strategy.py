"""A slow strategy: its candles coalesce in the one mailbox, and every trade event still arrives."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from iqwire.bot import Context, RiskLimits, Strategy
from iqwire.bot.live import LiveSession
from iqwire.bot.records import TradeRecord
from iqwire.client import Client
from iqwire.models import BalanceChanged, Candle
from iqwire.sim import ManualClock, Simulator

#: A Thursday, 2026-02-12 12:25 UTC: the forex and OTC actives are open.
START = 1_770_899_100


class Slow(Strategy):
    """Trades on every closed 1 s candle and takes 30 ms of wall time over every signal."""

    actives: ClassVar[list[str | int]] = ["EURUSD-OTC", "EURUSD"]
    sizes: ClassVar[list[int]] = [1, 5]
    params: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.candles = 0
        self.placed: list[int] = []
        self.closed: list[TradeRecord] = []
        self.balances = 0

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        self.candles += 1
        await asyncio.sleep(0.03)
        if candle.size == 1:
            trade = await ctx.buy("call" if candle.close >= candle.open else "put", 1, expiration=5)
            if trade is not None:
                self.placed.append(trade.id)

    async def on_tick(self, ctx: Context, candle: Candle) -> None:
        await asyncio.sleep(0.03)

    async def on_trade_closed(self, ctx: Context, result: TradeRecord) -> None:
        self.closed.append(result)

    async def on_balance(self, ctx: Context, balance: BalanceChanged) -> None:
        self.balances += 1


async def test_candles_coalesce_and_trade_events_all_arrive() -> None:
    async with (
        Simulator(seed=5, clock=ManualClock(START)) as sim,
        Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client,
    ):
        strategy = Slow()
        limits = RiskLimits(max_open_trades=None, max_trades_per_minute=None, daily_loss_limit=None,
                            cooldown_after_losses=None, min_payout=None)  # fmt: skip
        session = LiveSession(client, strategy, limits=limits, settle_timeout=30)
        stop = asyncio.Event()
        run = asyncio.create_task(session.run(stop=stop))
        await asyncio.sleep(0.3)  # the streams subscribe
        for _ in range(120):  # two simulated minutes, faster than the strategy can follow
            await sim.advance(1)
            await asyncio.sleep(0.02)
        stop.set()
        while not run.done():
            await sim.advance(1)
            await asyncio.sleep(0.01)
        result = await run

    mailbox = session.mailbox
    # 2 actives x 2 sizes of candles, 2 moods and the connection state coalesce: 7 slots at most,
    # plus the trade closes and balance changes, which are never dropped.
    lossless = len(strategy.closed) + strategy.balances
    assert mailbox.coalesced > 100
    assert strategy.candles < 2 * 120  # fewer, fresher candles than the 1 s candles alone
    assert mailbox.high_water <= 7 + lossless
    assert strategy.placed and result.unsettled == 0
    # Every trade placed closed, once, and every balance change of the run reached the strategy:
    # the stake out of each trade, and the payment back of each one that did not lose.
    assert sorted(r.id for r in strategy.closed) == sorted(strategy.placed)
    paid_back = sum(1 for r in strategy.closed if r.pnl > -r.amount)
    assert strategy.balances == len(strategy.placed) + paid_back
