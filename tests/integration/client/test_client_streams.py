"""Streams: every push arrives in order, subscriptions are shared and released, backpressure."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from client_helpers import (
    DEADLINE,
    START,
    MakeClient,
    Wiretap,
    collect,
    drain,
    only_connection,
    open_blitz_option,
    server_subscriptions,
    wait_until,
)

from iqwire.client import Client
from iqwire.models import BalanceChanged, BalanceType, Candle, Order, Position
from iqwire.sim import Simulator

pytestmark = pytest.mark.both_transports


def assert_stream_order(candles: list[Candle]) -> None:
    """Ids never go back; pushes of one candle carry a non-decreasing ``at``."""
    ids = [c.id for c in candles]
    assert ids == sorted(ids)
    by_start: dict[int, list[int]] = {}
    for candle in candles:
        assert candle.at is not None
        by_start.setdefault(candle.start, []).append(candle.at)
    for ats in by_start.values():
        assert ats == sorted(ats)


@contextlib.asynccontextmanager
async def ticking(sim: Simulator, step: float = 1.0) -> AsyncIterator[None]:
    """Advance the manual clock by ``step`` every few real ms while the block runs."""
    stop = asyncio.Event()

    async def tick() -> None:
        while not stop.is_set():
            await sim.advance(step)
            await asyncio.sleep(0.005)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        stop.set()
        await task


# -- candles -----------------------------------------------------------------------------


async def test_every_candle_push_arrives_in_order(client: Client, sim: Simulator, wiretap: Wiretap) -> None:
    async with client.candles(76, 1) as stream:
        await sim.advance(10)
        sent = wiretap.candles_sent()
        await wait_until(lambda: stream.pending == len(sent), "every push is queued")
        received = await drain(stream)

    assert len(sent) >= 10 * 4  # a push every 0.25 s at least
    assert START + 9 <= received[-1].start <= START + 10  # up to the time advanced to
    assert received == sent
    assert {(c.active_id, c.size) for c in received} == {(76, 1)}
    assert_stream_order(received)
    assert len({c.start for c in received}) >= 10


async def test_async_for_sees_every_candle_across_advances(
    client: Client, sim: Simulator, wiretap: Wiretap
) -> None:
    received: list[Candle] = []

    async def consume() -> None:
        async for candle in client.candles(76, 1):
            received.append(candle)

    consumer = asyncio.create_task(consume())
    await wait_until(lambda: bool(only_connection(sim).subscriptions), "subscribed")
    for _ in range(5):
        await sim.advance(2.5)
    sent = wiretap.candles_sent()
    await wait_until(lambda: len(received) == len(sent), "the consumer has every candle")

    assert received == sent
    assert_stream_order(received)
    consumer.cancel()  # cancelling the consumer releases its subscription
    with contextlib.suppress(asyncio.CancelledError):
        await consumer
    await wait_until(lambda: not only_connection(sim).subscriptions, "the server subscription is gone")


async def test_candles_multi_delivers_every_size(client: Client, sim: Simulator, wiretap: Wiretap) -> None:
    async with client.candles_multi(76, [1, 5, 60]) as stream:
        assert sorted(f["size"] for _, _, f in server_subscriptions(sim)) == [1, 5, 60]
        await sim.advance(61)
        sent = wiretap.candles_sent()
        await wait_until(lambda: stream.pending == len(sent), "every push is queued")
        received = await drain(stream)

    assert received == sent
    assert {c.size for c in received} == {1, 5, 60}
    for size in (1, 5, 60):
        of_size = [c for c in received if c.size == size]
        assert_stream_order(of_size)
        assert all(c.end - c.start == size for c in of_size)
    assert len({c.start for c in received if c.size == 60}) == 2  # one minute closed, the next forming


async def test_breaking_out_of_async_for_releases_the_subscription(
    client: Client, sim: Simulator, wiretap: Wiretap
) -> None:
    seen: list[Candle] = []
    async with ticking(sim):
        async for candle in client.candles(76, 1):
            seen.append(candle)
            if len(seen) == 3:
                break

    await wait_until(lambda: not only_connection(sim).subscriptions, "the server subscription is gone")
    assert len(wiretap.subscribes("candle-generated", verb="unsubscribeMessage")) == 1
    assert [c.active_id for c in seen] == [76, 76, 76]


async def test_leaving_async_with_releases_the_subscription(client: Client, sim: Simulator) -> None:
    async with client.candles(76, 1):
        assert len(only_connection(sim).subscriptions) == 1

    await wait_until(lambda: not only_connection(sim).subscriptions, "the server subscription is gone")


# -- shared subscriptions --------------------------------------------------------------------


async def test_two_consumers_share_one_server_subscription(
    client: Client, sim: Simulator, wiretap: Wiretap
) -> None:
    first = client.candles(76, 1)
    second = client.candles(76, 1)
    await first.__aenter__()
    try:
        async with second:
            conn = only_connection(sim)
            assert len(conn.subscriptions) == 1
            assert len(wiretap.subscribes("candle-generated")) == 1

            await sim.advance(3)
            sent = wiretap.candles_sent()
            await wait_until(lambda: first.pending == second.pending == len(sent), "both have every push")
            assert await drain(first) == sent
            assert await drain(second) == sent

            await first.aclose()  # the first consumer leaves: the subscription stays
            await sim.advance(3)
            assert len(conn.subscriptions) == 1
            more = wiretap.candles_sent()[len(sent) :]
            assert more
            await wait_until(lambda: second.pending == len(more), "the second still gets every push")
            assert await drain(second) == more
            assert first.pending == 0
        # the last consumer left: unsubscribed
        await wait_until(lambda: not conn.subscriptions, "the server subscription is gone")
        assert len(wiretap.subscribes("candle-generated", verb="unsubscribeMessage")) == 1
        assert len(wiretap.subscribes("candle-generated")) == 1
    finally:
        await first.aclose()


async def test_shared_subscription_with_two_async_for_consumers(
    client: Client, sim: Simulator, wiretap: Wiretap
) -> None:
    async def take(count: int) -> list[Candle]:
        out: list[Candle] = []
        async for candle in client.candles(76, 1):
            out.append(candle)
            if len(out) == count:
                break
        return out

    short = asyncio.create_task(take(5))
    long = asyncio.create_task(take(30))
    await wait_until(lambda: bool(only_connection(sim).subscriptions), "subscribed")
    async with ticking(sim, 0.5):
        few, many = await asyncio.wait_for(asyncio.gather(short, long), DEADLINE)

    assert len(wiretap.subscribes("candle-generated")) == 1
    assert many[:5] == few
    assert many == wiretap.candles_sent()[:30]
    await wait_until(lambda: not only_connection(sim).subscriptions, "the server subscription is gone")


async def test_a_closed_stream_yields_nothing_more(client: Client, sim: Simulator) -> None:
    async with client.candles(76, 1) as stream:
        await sim.advance(1)
        await wait_until(lambda: stream.pending > 0, "a candle is queued")
    received = [candle async for candle in stream]  # closed: nothing more is delivered

    assert received == []


async def test_closing_a_stream_wakes_a_consumer_waiting_on_it(client: Client, sim: Simulator) -> None:
    received: list[Candle] = []
    async with client.candles(76, 1) as stream:

        async def consume() -> str:
            async for candle in stream:
                received.append(candle)
            return "ended"

        consumer = asyncio.create_task(consume())
        await sim.advance(1)
        await wait_until(lambda: bool(received) and stream.pending == 0, "the consumer waits for more")
    try:
        assert await asyncio.wait_for(consumer, 0.5) == "ended"
    finally:
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer


# -- private streams and a trade ---------------------------------------------------------------


def _decoded(msgs: list[bytes], tp: type[Any]) -> list[Any]:
    return [msgspec.json.decode(m, type=tp) for m in msgs]


async def test_trade_pushes_reach_position_balance_and_order_streams(
    client: Client, sim: Simulator, wiretap: Wiretap
) -> None:
    demo = await client.get_balance(BalanceType.DEMO)
    async with client.positions_changed() as positions, client.balance_changes() as balances:
        async with client.orders_changed() as orders:
            option = await open_blitz_option(client, price=10)

            opened = await collect(positions, 1, "position opened")
            debited = await collect(balances, 1, "balance debited")
            filled = await collect(orders, 1, "order filled")
            assert [p.id for p in await client.get_positions()] == [option.id]

            await sim.advance(6)
            closed = await collect(positions, 1, "position closed")

    position = opened[0]
    assert isinstance(position, Position)
    assert (position.status, position.option_id, position.amount) == ("open", option.id, 10)
    assert position.user_balance_id == demo.id

    assert isinstance(debited[0], BalanceChanged)
    assert debited[0].current_balance.id == demo.id
    assert debited[0].current_balance.amount == 9_990

    assert isinstance(filled[0], Order)
    assert (filled[0].status, filled[0].position_id) == ("filled", option.id)

    settled = closed[0]
    assert settled.is_closed and settled.option_id == option.id
    assert settled.outcome is not None
    final = next(b for b in sim.balances() if b.type is BalanceType.DEMO)
    assert final.amount == round(9_990 + (settled.close_profit or 0), 2)
    # what the streams got is exactly what the server pushed
    assert [position, settled] == _decoded(wiretap.pushes("position-changed"), Position)
    credited = _decoded(wiretap.pushes("balance-changed"), BalanceChanged)
    assert credited[0] == debited[0]
    assert credited[-1].current_balance.amount == final.amount

    assert await client.get_positions() == []
    history = await client.get_history_positions()
    assert [p.option_id for p in history] == [option.id]


# -- backpressure ----------------------------------------------------------------------------


async def test_a_slow_candle_consumer_stays_bounded_and_keeps_the_newest(
    make_client: MakeClient, sim: Simulator, wiretap: Wiretap
) -> None:
    client = await make_client(stream_maxsize=50)
    async with client.candles(76, 1) as stream:
        await sim.advance(1500)  # 4+ pushes a second
        sent = wiretap.candles_sent()
        assert len(sent) >= 5_000

        await wait_until(lambda: stream.coalesced + stream.pending == len(sent), "every push was handled")
        assert stream.pending <= 50
        kept = await drain(stream)

    assert kept[-1] == sent[-1]  # the newest candle survives coalescing
    assert stream.coalesced == len(sent) - len(kept)
    positions = iter(range(len(sent)))  # what was kept is in the order it was sent
    assert all(any(sent[i] == candle for i in positions) for candle in kept)


async def test_balance_and_position_streams_keep_every_event_under_backpressure(
    make_client: MakeClient, sim: Simulator, wiretap: Wiretap
) -> None:
    client = await make_client(stream_maxsize=10)
    trades = 25
    async with client.positions_changed() as positions, client.balance_changes() as balances:
        for _ in range(trades):
            await open_blitz_option(client, price=1)
        await sim.advance(6)
        position_pushes = _decoded(wiretap.pushes("position-changed"), Position)
        balance_pushes = _decoded(wiretap.pushes("balance-changed"), BalanceChanged)
        assert len(position_pushes) == 2 * trades  # opened and closed
        assert len(balance_pushes) >= trades

        await wait_until(
            lambda: positions.pending == len(position_pushes) and balances.pending == len(balance_pushes),
            "every private push is queued",
        )
        assert await drain(positions) == position_pushes
        assert await drain(balances) == balance_pushes
    assert positions.coalesced == balances.coalesced == 0
