"""No growth: 10,000 request/response cycles and 1,000 subscribe/unsubscribe cycles leave no
tasks, futures, pending requests, subscriptions or memory behind."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from dataclasses import dataclass

import pytest

from iqwire.client import Client
from iqwire.errors import RequestTimeout
from iqwire.sim import Simulator

REQUESTS = 10_000
SUBSCRIPTIONS = 1_000


@dataclass(frozen=True)
class Footprint:
    tasks: int
    waiting: int
    pending: int
    subscriptions: int
    shared: int
    candle_streams: int
    hooks: int
    server_subscriptions: int
    memory: int


def footprint(client: Client, sim: Simulator) -> Footprint:
    gc.collect()
    return Footprint(
        tasks=len(asyncio.all_tasks()),
        waiting=len(client.connection._waiting),
        pending=len(client.connection._session.pending),
        subscriptions=len(client.connection._session.subscriptions),
        shared=len(client._router.shared),
        candle_streams=len(client._streams.candle_streams),
        hooks=len(client.connection._reconnect_hooks),
        server_subscriptions=sum(len(c.subscriptions) for c in sim.engine.hub.connections.values()),
        memory=tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0,
    )


def report(name: str, before: Footprint, after: Footprint, peak: int) -> str:
    return (
        f"{name}: tasks {before.tasks}->{after.tasks}, futures {before.waiting}->{after.waiting}, "
        f"session pending {before.pending}->{after.pending}, "
        f"memory {before.memory / 1024:.0f}->{after.memory / 1024:.0f} KiB (peak {peak / 1024:.0f} KiB)"
    )


async def test_ten_thousand_requests_leave_nothing_behind(
    sim: Simulator, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(200):  # warm up caches (decoders, interned keys) before measuring
        await client.get_user_settings()
    tracemalloc.start()
    try:
        before = footprint(client, sim)
        for i in range(REQUESTS):
            if i % 2:
                await client.get_user_settings()
            else:
                await client.request("get-currency", "5.0", {"name": "USD"})
        after = footprint(client, sim)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    with capsys.disabled():
        print("\n" + report(f"{REQUESTS} request/response cycles", before, after, peak))
    assert after.tasks == before.tasks
    assert after.waiting == before.waiting == 0
    assert after.pending == before.pending == 0
    assert after.memory - before.memory < 256 * 1024, report("requests", before, after, peak)


async def test_requests_that_time_out_leave_nothing_pending(sim: Simulator, client: Client) -> None:
    before = footprint(client, sim)
    for _ in range(50):
        sim.ignore_requests("get-user-settings")
        with pytest.raises(RequestTimeout):
            await client.request("get-user-settings", "2.0", {}, timeout=0.02)
    after = footprint(client, sim)
    assert after.waiting == 0
    assert after.pending == before.pending, "timed-out requests must not stay pending in the session"
    assert (await client.get_user_settings()) is not None  # the connection is fine


async def test_a_thousand_subscribe_cycles_leave_nothing_behind(
    sim: Simulator, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(20):  # warm up, and let the simulator build its price caches of both actives
        async with client.candles(76, 1) as one, client.candles_multi(81, [1, 5]) as two:
            await sim.advance(0.25)
            await one.get()
            await two.get()
    tracemalloc.start()
    try:
        before = footprint(client, sim)
        for i in range(SUBSCRIPTIONS):
            stream = client.candles(76, 1) if i % 2 else client.candles_multi(81, [1, 5])
            async with stream:
                if i % 100 == 0:
                    await sim.advance(0.25)
                    await stream.get()
            if i % 250 == 0:
                async with client.balance_changes(), client.positions_changed():
                    pass
        await sim.settle()
        after = footprint(client, sim)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    with capsys.disabled():
        print("\n" + report(f"{SUBSCRIPTIONS} subscribe/unsubscribe cycles", before, after, peak))
    assert after.tasks == before.tasks
    assert after.waiting == 0 and after.pending == 0
    assert after.subscriptions == before.subscriptions == 0
    assert after.shared == 0 and after.candle_streams == 0
    assert after.hooks == before.hooks
    assert after.server_subscriptions == 0
    assert after.memory - before.memory < 256 * 1024, report("subscriptions", before, after, peak)
