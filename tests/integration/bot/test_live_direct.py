"""The live session's direct lane: a strategy that keeps up sees every candle of a burst.

While the session's loop waits on an empty mailbox, a candle stream's task hands
each candle to the strategy itself. These check that it delivers every candle
of a burst in order, never interleaves callbacks (a candle whose handling awaits
a trade is finished before the next signal), and raises a callback's error from
``run()`` as the loop would.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from iqwire.bot import Context, RiskLimits, Strategy
from iqwire.bot.live import LiveSession
from iqwire.client import Client
from iqwire.models import Candle
from iqwire.sim import ManualClock, Simulator

#: A Thursday, 2026-02-12 12:25 UTC: the forex and OTC actives are open.
START = 1_770_899_100
NS = 1_000_000_000


class Counter(Strategy):
    """Plain callbacks: writes down every candle that reaches it, in order."""

    actives = ["EURUSD-OTC"]
    sizes = [1]
    params: dict[str, Any] = {}

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, int]] = []

    def on_candle(self, ctx: Context, candle: Candle) -> Any:
        self.events.append(("close", candle.id))
        return None

    def on_tick(self, ctx: Context, candle: Candle) -> Any:
        self.events.append(("tick", candle.id))
        return None


async def _run(strategy: Strategy, burst: int) -> tuple[LiveSession, Any, int]:
    """Run through a burst of ``burst`` simulated seconds; the session, its result, and what
    the mailbox had coalesced when the run was told to stop."""
    async with (
        Simulator(seed=3, clock=ManualClock(START)) as sim,
        Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client,
    ):
        limits = RiskLimits(min_payout=None)
        session = LiveSession(client, strategy, limits=limits, warmup=False, settle_timeout=10)
        stop = asyncio.Event()
        run = asyncio.create_task(session.run(stop=stop))
        await asyncio.sleep(0.3)  # the streams subscribe
        await sim.advance(burst)  # many candles' pushes at once
        await asyncio.sleep(0.3)
        coalesced = session.mailbox.coalesced
        stop.set()
        while not run.done():
            await sim.advance(1)
            await asyncio.sleep(0.01)
        return session, await run, coalesced


async def test_a_burst_reaches_a_strategy_that_keeps_up_whole() -> None:
    strategy = Counter()
    session, _result, coalesced = await _run(strategy, 40)
    closes = [candle_id for kind, candle_id in strategy.events if kind == "close"]
    assert len(closes) >= 39
    assert closes == list(range(closes[0], closes[0] + len(closes)))  # every second's candle, in order
    assert coalesced == 0
    assert (
        session.direct >= len(strategy.events) - 2
    )  # (what came through the mailbox: before the loop waited)


class Trading(Counter):
    """Buys on the third closed candle; its buy writes down when it starts and ends."""

    def on_candle(self, ctx: Context, candle: Candle) -> Any:
        super().on_candle(ctx, candle)
        if sum(1 for kind, _ in self.events if kind == "close") == 3:
            return self._buy(ctx)
        return None

    async def _buy(self, ctx: Context) -> None:
        self.events.append(("buy", 0))
        trade = await ctx.buy("call", 1.0, 5)
        assert trade is not None
        self.events.append(("bought", trade.id))


async def test_a_candle_that_awaits_a_trade_finishes_before_the_next_signal() -> None:
    strategy = Trading()
    _session, result, _coalesced = await _run(strategy, 20)
    kinds = [kind for kind, _ in strategy.events]
    start = kinds.index("buy")
    assert kinds[start + 1] == "bought"  # nothing between: the callbacks never interleave
    assert kinds[start - 1] == "close"
    assert result.report.trades == 1 and result.unsettled == 0
    closes = [candle_id for kind, candle_id in strategy.events if kind == "close"]
    assert closes == sorted(closes) and len(closes) >= 15


class Failing(Counter):
    def on_candle(self, ctx: Context, candle: Candle) -> Any:
        raise ValueError(f"strategy bug at candle {candle.id}")


async def test_an_error_in_a_callback_a_feed_ran_is_raised_by_run() -> None:
    with pytest.raises(ValueError, match="strategy bug at candle"):
        await _run(Failing(), 5)
