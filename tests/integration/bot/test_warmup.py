"""Warm-up from history: the indicators are warm on the first live candle."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from iqwire.bot import Context, Strategy
from iqwire.bot.indicators import RSI, SMA
from iqwire.bot.live import LiveSession
from iqwire.client import Client
from iqwire.models import Candle
from iqwire.sim import ManualClock, Simulator

#: A Thursday, 2026-02-12 12:25 UTC: the forex and OTC actives are open.
START = 1_770_899_100


class Rsi(Strategy):
    actives: ClassVar[list[str | int]] = ["EURUSD-OTC"]
    sizes: ClassVar[list[int]] = [5, 60]
    params: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.first: tuple[int, float | None, float | None] | None = None

    async def on_start(self, ctx: Context) -> None:
        ctx.window("EURUSD-OTC", 5).add("rsi", RSI(14))
        ctx.window("EURUSD-OTC", 60).add("sma", SMA(3))

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        if self.first is None and candle.size == 5:
            window = ctx.window("EURUSD-OTC", 5)
            self.first = (len(window), window["rsi"].value, ctx.window("EURUSD-OTC", 60)["sma"].value)


class Declared(Rsi):
    warmup = 40


async def _run(strategy: Rsi) -> tuple[LiveSession, list[str]]:
    lines: list[str] = []
    async with (
        Simulator(seed=2, clock=ManualClock(START)) as sim,
        Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client,
    ):
        session = LiveSession(client, strategy, emit=lines.append, settle_timeout=5)
        stop = asyncio.Event()
        run = asyncio.create_task(session.run(stop=stop))
        await asyncio.sleep(0.3)
        for _ in range(12):
            await sim.advance(1)
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(run, 10)
    return session, lines


async def test_indicators_are_warm_on_the_first_live_candle() -> None:
    strategy = Rsi()
    session, lines = await _run(strategy)
    assert strategy.first is not None
    length, rsi, sma = strategy.first
    assert length >= 15 and rsi is not None and sma is not None
    assert (session.state.warmup_needed, session.state.warmup_have) == (15, 15)
    assert lines[:2] == ["warming up (0/15)", "warmed up from history (15 candles)"]


async def test_a_declared_warmup_loads_that_many_for_every_window() -> None:
    strategy = Declared()
    session, _ = await _run(strategy)
    assert strategy.first is not None and strategy.first[0] >= 40
    assert session.runner is not None
    assert len(session.runner.ctx.window_of(76, 60)) >= 40
