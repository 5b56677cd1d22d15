"""Connection loss: reconnect with backoff, restored streams, failed requests, the watchdog, re-login."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from client_helpers import (
    START,
    MakeClient,
    Wiretap,
    drain,
    next_state,
    only_connection,
    open_blitz_option,
    server_connections,
    wait_connected,
    wait_until,
)

from iqwire.client import Client, ConnectionState
from iqwire.errors import AuthError, ConnectionLost, RequestTimeout
from iqwire.models import Candle
from iqwire.sim import Simulator

pytestmark = pytest.mark.both_transports


async def test_a_candle_stream_carries_on_across_a_reconnect(
    client: Client, sim: Simulator, wiretap: Wiretap
) -> None:
    received: list[Candle] = []
    async with client.candles(76, 1) as stream, client.connection_states() as states:

        async def consume() -> None:
            async for candle in stream:
                received.append(candle)

        consumer = asyncio.create_task(consume())
        try:
            await sim.advance(3)
            old = only_connection(sim)
            before = wiretap.candles_sent(old.conn_id)
            await wait_until(lambda: len(received) == len(before), "the first candles arrived")

            assert await sim.drop_connections() == 1
            assert await next_state(states) is ConnectionState.RECONNECTING
            assert await next_state(states) is ConnectionState.CONNECTED
            assert client.reconnects == 1

            new = only_connection(sim)
            assert new.conn_id != old.conn_id
            await sim.advance(3)
            after = wiretap.candles_sent(new.conn_id)
            assert after
            await wait_until(lambda: len(received) == len(before) + len(after), "candles flow again")
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer

    assert received == before + after
    # restored once on the new connection, with the same subscription id
    restored = wiretap.subscribes("candle-generated", new.conn_id)
    assert len(restored) == 1
    assert restored[0].request_id == wiretap.subscribes("candle-generated", old.conn_id)[0].request_id
    assert len(new.subscriptions) == 1
    assert client.reconnects == 1


async def test_every_stream_is_restored_exactly_once(
    client: Client, sim: Simulator, wiretap: Wiretap
) -> None:
    async with client.candles(76, 1) as one, client.candles(76, 1) as same, client.candles(76, 60):
        async with client.positions_changed(), client.balance_changes():
            # A round trip first: the server reads a connection's frames in order, so once
            # its reply is back every subscribe sent before it has been received.
            await client.get_user_settings()
            subscribed = {
                (f.msg["name"], str(f.msg.get("params"))) for f in wiretap.received("subscribeMessage")
            }
            await sim.drop_connections()
            await wait_connected(client, reconnects=1)
            # CONNECTED is set once the restoring subscribes are sent, not received: the same
            # round trip, so a duplicate sent with them would be counted too.
            await client.get_user_settings()

            new = only_connection(sim)
            replayed = [
                (f.msg["name"], str(f.msg.get("params")))
                for f in wiretap.received("subscribeMessage", new.conn_id)
            ]
            assert sorted(replayed) == sorted(subscribed)  # each once: no duplicate, none missing
            assert len(new.subscriptions) == 4

            await sim.advance(2)
            sent = wiretap.candles_sent(new.conn_id)
            await wait_until(lambda: one.pending == same.pending == sum(c.size == 1 for c in sent), "candles")
            assert await drain(one) == await drain(same) == [c for c in sent if c.size == 1]


async def test_a_request_in_flight_at_the_loss_fails_with_connection_lost_and_is_not_resent(
    client: Client, sim: Simulator, wiretap: Wiretap
) -> None:
    await client.get_initialization_data()
    sim.drop_responses("binary-options.open-option")  # the trade is placed, its reply never comes
    trade = asyncio.create_task(open_blitz_option(client))
    await wait_until(lambda: bool(wiretap.rpcs("binary-options.open-option")), "the server got the trade")

    await sim.drop_connections()

    with pytest.raises(ConnectionLost, match="not re-sent"):
        await asyncio.wait_for(trade, 5)
    await wait_connected(client, reconnects=1)
    assert len(wiretap.rpcs("binary-options.open-option")) == 1  # never re-sent
    assert len(sim.positions()) == 1  # placed once, at the server
    assert len(await client.get_positions()) == 1


async def test_a_request_whose_reply_is_delayed_fails_with_connection_lost(
    client: Client, sim: Simulator, wiretap: Wiretap
) -> None:
    sim.delay_frames(1, 30)  # the reply is held at the server
    request = asyncio.create_task(client.get_user_settings())
    await wait_until(lambda: bool(wiretap.rpcs("get-user-settings")), "the server got the request")

    await sim.drop_connections()

    with pytest.raises(ConnectionLost):
        await asyncio.wait_for(request, 5)
    await wait_connected(client, reconnects=1)
    await sim.advance(31)  # the held reply is due, but its connection is gone
    assert (await client.get_user_settings()).user_id is not None


async def test_connection_lost_names_the_request_it_failed(
    client: Client, sim: Simulator, wiretap: Wiretap
) -> None:
    sim.drop_responses("get-user-settings")
    request = asyncio.create_task(client.get_user_settings())
    await wait_until(lambda: bool(wiretap.rpcs("get-user-settings")), "the server got the request")

    await sim.drop_connections()

    with pytest.raises(ConnectionLost) as caught:
        await asyncio.wait_for(request, 5)
    assert caught.value.name == "get-user-settings"
    assert caught.value.request_id == wiretap.rpcs("get-user-settings")[0].request_id


async def test_a_request_without_reply_times_out_and_the_connection_survives(
    client: Client, sim: Simulator
) -> None:
    sim.drop_responses("get-user-settings")

    with pytest.raises(RequestTimeout, match="get-user-settings") as caught:
        await client.request("get-user-settings", "2.0", {}, timeout=0.2)

    assert caught.value.name == "get-user-settings"
    # The session stopped waiting for it: a late answer is not taken for the next request's.
    assert caught.value.request_id not in client._connection._session.pending
    assert client.state is ConnectionState.CONNECTED
    assert (await client.get_user_settings()).user_id is not None
    assert client.reconnects == 0


async def test_a_request_made_while_reconnecting_waits_for_the_connection(
    client: Client, sim: Simulator
) -> None:
    sim.refuse_connections(10)
    await sim.drop_connections()
    await wait_until(lambda: client.state is ConnectionState.RECONNECTING, "reconnecting")

    request = asyncio.create_task(client.get_profile())
    await asyncio.sleep(0.1)
    assert not request.done()

    await sim.advance(11)
    profile = await asyncio.wait_for(request, 5)
    assert profile.email == sim.credentials.email
    assert client.reconnects == 1


async def test_refused_connections_are_retried_until_the_server_accepts(
    client: Client, sim: Simulator, wiretap: Wiretap
) -> None:
    async with client.candles(76, 1) as stream:
        sim.refuse_connections(5)
        await sim.drop_connections()
        await asyncio.sleep(0.3)  # several attempts, each refused with 503
        assert client.state is ConnectionState.RECONNECTING
        assert client.reconnects == 0
        assert server_connections(sim) == []

        await sim.advance(6)
        await wait_connected(client, reconnects=1)
        await sim.advance(1)
        sent = wiretap.candles_sent(only_connection(sim).conn_id)
        await wait_until(lambda: stream.pending >= len(sent) > 0, "candles flow again")
    assert client.reconnects == 1


async def test_the_heartbeat_watchdog_reconnects_a_silent_connection(
    make_client: MakeClient, sim: Simulator
) -> None:
    client = await make_client(heartbeat_timeout=0.5)
    first = only_connection(sim).conn_id
    sim.silence(60)  # and no advance: not a single timeSync

    await wait_connected(client, reconnects=1)

    assert only_connection(sim).conn_id != first
    assert (await client.get_profile()).email == sim.credentials.email


async def test_the_heartbeat_watchdog_leaves_a_live_connection_alone(
    make_client: MakeClient, sim: Simulator
) -> None:
    client = await make_client(heartbeat_timeout=0.5)

    for _ in range(16):  # 0.8 s of real time, a timeSync every 0.05 s
        await sim.advance(1)
        await asyncio.sleep(0.05)

    assert client.reconnects == 0
    assert client.state is ConnectionState.CONNECTED


async def test_server_time_never_goes_back_across_a_reconnect(client: Client, sim: Simulator) -> None:
    await asyncio.sleep(0.2)  # extrapolated past the server's (frozen) clock
    before = client.server_time()
    assert before > START + 0.1

    await sim.drop_connections()
    await wait_connected(client, reconnects=1)  # greeted with timeSync(START): behind the extrapolation

    assert client.server_time() >= before


# -- the SSID refused on reconnect -----------------------------------------------------------


async def test_an_expired_ssid_with_credentials_logs_in_again(
    make_client: MakeClient, sim: Simulator, wiretap: Wiretap
) -> None:
    old_ssid = sim.issue_ssid()
    client = await make_client(ssid=old_ssid)
    assert wiretap.received("authenticate")[0].msg["ssid"] == old_ssid  # no HTTP login at first

    async with client.candles(76, 1) as stream:
        sim.engine.accounts.logout(old_ssid)
        await sim.drop_connections()
        await wait_connected(client, reconnects=1)

        new = only_connection(sim)
        attempts = [f.msg["ssid"] for f in wiretap.received("authenticate", new.conn_id)]
        assert attempts[0] == old_ssid and attempts[-1] != old_ssid  # refused, logged in, accepted
        assert new.user is not None and new.user.user_id == (await client.user_id())
        await sim.advance(1)
        sent = wiretap.candles_sent(new.conn_id)
        await wait_until(lambda: stream.pending == len(sent) > 0, "candles flow again")
    assert client.reconnects == 1


async def test_an_expired_ssid_without_credentials_fails_for_good(
    make_client: MakeClient, sim: Simulator
) -> None:
    ssid = sim.issue_ssid()
    client = await make_client(ssid=ssid, credentials=False)
    async with client.connection_states() as states:
        sim.engine.accounts.logout(ssid)
        await sim.drop_connections()

        assert await next_state(states) is ConnectionState.RECONNECTING
        assert await next_state(states) is ConnectionState.AUTH_FAILED
    assert client.state is ConnectionState.AUTH_FAILED
    assert client.reconnects == 0
    await wait_until(lambda: not server_connections(sim), "no connection is left open")
    with pytest.raises((AuthError, ConnectionLost), match="auth"):
        await client.get_profile()


async def test_requests_after_auth_failed_raise_auth_error(make_client: MakeClient, sim: Simulator) -> None:
    ssid = sim.issue_ssid()
    client = await make_client(ssid=ssid, credentials=False)
    sim.engine.accounts.logout(ssid)
    await sim.drop_connections()
    await wait_until(lambda: client.state is ConnectionState.AUTH_FAILED, "auth failed")

    with pytest.raises(AuthError):
        await client.get_profile()


async def test_a_request_waiting_for_the_reconnect_fails_with_auth_error(
    make_client: MakeClient, sim: Simulator
) -> None:
    ssid = sim.issue_ssid()
    client = await make_client(ssid=ssid, credentials=False, request_timeout=1.0)
    async with client.connection_states() as states:
        sim.engine.accounts.logout(ssid)
        await sim.drop_connections()
        assert await next_state(states) is ConnectionState.RECONNECTING

        request = asyncio.create_task(client.get_profile())
        try:
            assert await next_state(states) is ConnectionState.AUTH_FAILED
            with pytest.raises(AuthError):
                await asyncio.wait_for(request, 0.3)  # not after the request's full timeout
        finally:
            request.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await request


async def test_close_wakes_a_request_waiting_for_the_reconnect(
    make_client: MakeClient, sim: Simulator
) -> None:
    client = await make_client(request_timeout=1.0)
    sim.refuse_connections(60)
    await sim.drop_connections()
    await wait_until(lambda: client.state is ConnectionState.RECONNECTING, "reconnecting")
    request = asyncio.create_task(client.get_profile())
    await asyncio.sleep(0.05)

    await client.close()

    try:
        with pytest.raises(ConnectionLost, match="closed"):
            await asyncio.wait_for(request, 0.3)  # not after the request's full timeout
    finally:
        request.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await request


async def test_open_streams_learn_of_auth_failed(make_client: MakeClient, sim: Simulator) -> None:
    ssid = sim.issue_ssid()
    client = await make_client(ssid=ssid, credentials=False)
    async with client.candles(76, 1) as stream:
        waiting = asyncio.create_task(stream.get())
        sim.engine.accounts.logout(ssid)
        await sim.drop_connections()
        await wait_until(lambda: client.state is ConnectionState.AUTH_FAILED, "auth failed")
        try:
            with pytest.raises(AuthError):
                await asyncio.wait_for(waiting, 0.5)
        finally:
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await waiting


async def test_a_subscription_cut_off_before_its_ack_is_not_replayed(
    client: Client, sim: Simulator, wiretap: Wiretap
) -> None:
    sim.delay_frames(1, 30)  # hold the subscription's ACK

    async def open_stream() -> None:
        async with client.candles(76, 1):
            pass

    opener = asyncio.create_task(open_stream())
    await wait_until(lambda: bool(wiretap.subscribes("candle-generated")), "the server got the subscription")
    await sim.drop_connections()
    with pytest.raises(ConnectionLost):
        await asyncio.wait_for(opener, 5)  # the caller was told it failed ...
    await wait_connected(client, reconnects=1)
    await sim.settle()

    # ... so nobody consumes it, and the new connection must not carry it
    assert only_connection(sim).subscriptions == set()
