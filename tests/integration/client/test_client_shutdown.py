"""Clean shutdown: no task left behind, closing twice, streams that end with their client."""

from __future__ import annotations

import asyncio

import pytest
from client_helpers import DEADLINE, MakeClient, Wiretap, server_connections, wait_connected, wait_until

from iqwire.client import Client, ConnectionState
from iqwire.errors import ConnectionLost, NotConnected
from iqwire.models import Candle
from iqwire.sim import Simulator

pytestmark = pytest.mark.both_transports


def _others() -> set[asyncio.Task[object]]:
    current = asyncio.current_task()
    return {task for task in asyncio.all_tasks() if task is not current}


def _describe(tasks: set[asyncio.Task[object]]) -> list[str]:
    return sorted(f"{task.get_name()}: {task.get_coro()!r}" for task in tasks)


async def test_no_task_of_the_client_remains_after_async_with(sim: Simulator) -> None:
    before = _others()
    async with Client(
        email=sim.credentials.email,
        password=sim.credentials.password,
        ws_url=sim.ws_url,
        login_url=sim.login_url,
        reconnect_delay=(0.01, 0.2),
    ) as client:
        async with client.candles(76, 1) as stream, client.positions_changed():
            await sim.advance(2)
            await wait_until(lambda: stream.pending > 0, "candles arrived")
        async with client.candles_multi(76, [1, 5]):  # left open: the client closes it
            await sim.drop_connections()  # and a reconnect happened along the way
            await wait_connected(client, reconnects=1)
            during = _others() - before
            assert any(task.get_name() == "iqwire-supervisor" for task in during)

    leftover = _others() - before
    client_tasks = {
        t for t in leftover if t.get_name().startswith("iqwire") or "websockets" in repr(t.get_coro())
    }
    assert not client_tasks, _describe(client_tasks)
    # the server side of the connection winds down too
    await wait_until(lambda: not (_others() - before), f"every task ended: {_describe(_others() - before)}")
    assert client.state is ConnectionState.CLOSED


async def test_closing_twice_is_fine(make_client: MakeClient, sim: Simulator) -> None:
    client = await make_client()

    await client.close()
    await client.close()

    assert client.state is ConnectionState.CLOSED
    await wait_until(lambda: not server_connections(sim), "the server saw the close")


async def test_closing_a_client_that_never_connected(make_client: MakeClient) -> None:
    client = await make_client(connect=False)

    await client.close()
    await client.close()

    assert client.state is ConnectionState.CLOSED


async def test_a_request_after_close_is_not_connected(make_client: MakeClient) -> None:
    client = await make_client()
    await client.close()

    with pytest.raises(NotConnected, match="closed") as caught:
        await client.get_profile()
    assert not isinstance(caught.value, ConnectionLost)  # nothing was in flight: do not retry


async def test_streams_end_when_the_client_closes(make_client: MakeClient, sim: Simulator) -> None:
    client = await make_client()
    received: list[Candle] = []

    async def consume() -> str:
        async for candle in client.candles(76, 1):
            received.append(candle)
        return "ended"

    consumer = asyncio.create_task(consume())
    opened = client.balance_changes()
    await opened.__aenter__()
    states = client.connection_states()
    await states.__aenter__()
    await wait_until(lambda: len(sim.engine.hub.connections) == 1 and bool(_subscriptions(sim)), "subscribed")
    await sim.advance(1)
    await wait_until(lambda: bool(received), "a candle arrived")

    await client.close()

    assert await asyncio.wait_for(consumer, DEADLINE) == "ended"
    assert [item async for item in opened] == []  # an `async for` over an open stream stops
    with pytest.raises(ConnectionLost, match="ended"):
        await opened.get()
    assert [state async for state in states] == [ConnectionState.CLOSED]
    await opened.aclose()
    await states.aclose()


def _subscriptions(sim: Simulator) -> list[object]:
    return [entry for conn in sim.engine.hub.connections.values() for entry in conn.subscriptions]


async def test_closing_the_client_unsubscribes_politely(make_client: MakeClient, wiretap: Wiretap) -> None:
    client = await make_client()
    stream = client.candles(76, 1)
    await stream.__aenter__()

    await client.close()
    await stream.aclose()

    assert len(wiretap.subscribes("candle-generated", verb="unsubscribeMessage")) == 1
