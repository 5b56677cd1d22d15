"""Candle streams across reconnects: the outage is back-filled from get-candles, in order, or
the gap is reported on the stream (``stream.gaps``) when it cannot be."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from iqwire.client import Client
from iqwire.client.backfill import CandleGap, CandleStream
from iqwire.models import Candle
from iqwire.sim import Simulator


@pytest.fixture
async def quick(sim: Simulator) -> AsyncIterator[Client]:
    async with Client(
        ssid=sim.issue_ssid(),
        ws_url=sim.ws_url,
        login_url=sim.login_url,
        request_timeout=0.3,
        reconnect_delay=(0.01, 0.05),
    ) as connected:
        yield connected


async def _outage(sim: Simulator, client: Client, seconds: float) -> None:
    """Drop the connection and keep the client out for ``seconds`` of simulated time."""
    count = client.reconnects
    sim.refuse_connections(seconds - 1)
    await sim.drop_connections()
    await sim.advance(seconds)
    for _ in range(500):
        if client.reconnects > count and client.is_connected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no reconnect")


def _closed_ids(candles: list[Candle], size: int) -> list[int]:
    return [c.id for c in candles if c.size == size and c.is_closed]


async def test_the_outage_is_back_filled_in_order(sim: Simulator, quick: Client) -> None:
    received: list[Candle] = []
    async with quick.candles_multi(76, [1, 5]) as stream:
        assert isinstance(stream, CandleStream)

        async def consume() -> None:
            async for candle in stream:
                received.append(candle)

        consumer = asyncio.create_task(consume())
        try:
            await sim.advance(3)
            await _outage(sim, quick, 20)
            await _outage(sim, quick, 12)  # twice, the second while the first's pushes are fresh
            await sim.advance(3)
            await asyncio.sleep(0.1)
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
    assert stream.gaps == []
    assert stream.backfilled >= 30
    for size in (1, 5):
        ids = _closed_ids(received, size)
        assert ids == list(range(ids[0], ids[0] + len(ids))), f"size {size}: a hole or a reordering"
    # The series equals what history says, candle for candle.
    ones = [c for c in received if c.size == 1 and c.is_closed]
    history = await quick.get_candles(76, 1, from_id=ones[0].id, to_id=ones[-1].id)
    assert [(c.id, c.close) for c in ones] == [(c.id, c.close) for c in history]


async def test_a_gap_that_can_not_be_back_filled_is_reported(sim: Simulator, quick: Client) -> None:
    received: list[Candle] = []
    async with quick.candles(76, 1) as stream:
        assert isinstance(stream, CandleStream)

        async def consume() -> None:
            async for candle in stream:
                received.append(candle)

        consumer = asyncio.create_task(consume())
        try:
            await sim.advance(2)
            last_before = max(c.id for c in received)
            sim.ignore_requests("get-candles", count=10)  # every back-fill attempt times out
            await _outage(sim, quick, 10)
            for _ in range(200):
                if stream.gaps:
                    break
                await asyncio.sleep(0.01)
            await sim.advance(2)
            await asyncio.sleep(0.05)
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
    assert len(stream.gaps) == 1
    gap = stream.gaps[0]
    assert isinstance(gap, CandleGap)
    assert (gap.active_id, gap.size) == (76, 1)
    assert last_before - 1 <= gap.after_id <= last_before
    assert "get-candles" in gap.reason
    assert max(c.id for c in received) > last_before + 9  # the stream carried on with new candles
