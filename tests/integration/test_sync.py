"""The blocking facade (iqwire.sync) end to end against the simulator.

Most tests run the simulator on a fast real clock in a thread of its own and call
the sync client from the test's (loop-free) thread; one runs the sync client in
``asyncio.to_thread`` against the manual-clock ``sim`` fixture.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from iqwire.client import Client as AsyncClient
from iqwire.client import ConnectionState
from iqwire.errors import AuthError, ConnectionLost, NotConnected, ServerError
from iqwire.models import Active, BalanceType, Candle
from iqwire.sim import Simulator
from iqwire.sync import Client, EventLoopThread, SyncStream, SyncTrade, Trader
from iqwire.trading import Trader as AsyncTrader

#: tests/conftest.py's START: a Thursday mid-session, every default active open.
START = 1_770_899_100
DEMO_USER_ID = 141_527_657


@dataclass
class ThreadedSim:
    """A simulator on a real clock 50x fast, served by an event loop in another thread."""

    sim: Simulator
    runner: EventLoopThread

    def candle_subscriptions(self) -> set[tuple[int, int]]:
        async def read() -> set[tuple[int, int]]:
            return set(self.sim.engine.hub.candle_streams())

        return self.runner.run(read)


@pytest.fixture
def tsim(tsim: Simulator, sim_thread: EventLoopThread) -> ThreadedSim:
    """The threaded simulator of tests/conftest.py, with the thread that serves it."""
    return ThreadedSim(tsim, sim_thread)


def make_client(sim: Simulator, password: str | None = None) -> Client:
    return Client(
        sim.credentials.email,
        password if password is not None else sim.credentials.password,
        ws_url=sim.ws_url,
        login_url=sim.login_url,
        request_timeout=5.0,
        reconnect_delay=(0.01, 0.2),
    )


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def client_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "iqwire-sync-client"]


def test_account_market_data_and_portfolio(tsim: ThreadedSim) -> None:
    with make_client(tsim.sim) as client:
        assert client.state is ConnectionState.CONNECTED
        assert client.server_name is not None
        assert client.get_profile().user_id == DEMO_USER_ID
        assert client.user_id() == DEMO_USER_ID
        assert {b.type for b in client.get_balances()} == {
            BalanceType.REAL,
            BalanceType.DEMO,
            BalanceType.TOURNAMENT,
        }
        assert client.get_balance(BalanceType.DEMO).amount == 10_000
        assert client.get_user_settings().user_id == DEMO_USER_ID

        candles = client.get_candles(76, 60, count=10)
        assert len(candles) == 10
        assert [c.start for c in candles] == [candles[0].start + 60 * i for i in range(10)]
        assert abs(client.server_time() - candles[-1].start) < 120
        assert 60 in client.get_first_candles(76).candles_by_size
        assert 0 <= client.get_traders_mood(76).value <= 1
        assert client.get_currency("USD").name == "USD"
        init = client.get_initialization_data()
        eurusd_otc = init.find_active(76)
        assert eurusd_otc is not None and eurusd_otc.payout == 88
        assert client.get_active(76).ticker == "EURUSD-OTC"
        assert isinstance(client.request("get-active", "1.0", {"active_id": 76}), Active)
        assert client.get_actives_index() is not None
        assert client.get_trading_group_params() is not None
        assert client.get_trading_volume().volume == 0
        assert client.get_option_insurance() is not None

        demo_id = client.get_balance().id
        assert client.get_positions(demo_id) == []
        assert client.get_orders(demo_id) == []
        assert client.get_history_positions(demo_id) == []

        with pytest.raises(ServerError):
            client.get_active(999_999)
    assert client.state is ConnectionState.CLOSED
    assert client_threads() == []


def test_repr_shows_no_secret(tsim: ThreadedSim) -> None:
    with make_client(tsim.sim) as client:
        ssid = client.async_client.ssid
        assert ssid is not None
        text = repr(client)
        assert tsim.sim.credentials.password not in text.replace("demo@example.com", "")
        assert ssid not in text
        assert "ws://127.0.0.1" in text


def test_for_loop_releases_the_subscription_on_break(tsim: ThreadedSim) -> None:
    with make_client(tsim.sim) as client:
        received: list[Candle] = []
        for candle in client.candles(76, 1):
            received.append(candle)
            assert tsim.candle_subscriptions() == {(76, 1)}
            if len(received) == 3:
                break
        assert all(c.active_id == 76 and c.size == 1 for c in received)
        wait_until(lambda: tsim.candle_subscriptions() == set())


def test_for_loop_releases_the_subscription_on_error(tsim: ThreadedSim) -> None:
    with make_client(tsim.sim) as client:

        def consume() -> None:
            for _candle in client.candles(81, 1):
                raise KeyError("stop")

        with pytest.raises(KeyError):
            consume()
        wait_until(lambda: tsim.candle_subscriptions() == set())


def test_with_stream_next_get_and_release(tsim: ThreadedSim) -> None:
    with make_client(tsim.sim) as client:
        with client.candles(76, 1) as stream:
            assert isinstance(stream, SyncStream)
            assert stream.name == "candles 76/1"
            first = next(stream)
            second = stream.get(timeout=5)
            assert first.active_id == second.active_id == 76
            assert iter(stream) is stream
            for third in stream:
                assert third.size == 1
                break
            assert tsim.candle_subscriptions() == {(76, 1)}
        wait_until(lambda: tsim.candle_subscriptions() == set())
        with pytest.raises(ConnectionLost):
            stream.get(timeout=1)
        assert next(stream, None) is None


def test_next_outside_with_opens_and_close_releases(tsim: ThreadedSim) -> None:
    with make_client(tsim.sim) as client:
        stream = client.candles_multi(76, [1, 5])
        assert tsim.candle_subscriptions() == set()
        assert next(stream).active_id == 76
        assert tsim.candle_subscriptions() == {(76, 1), (76, 5)}
        stream.close()
        stream.close()
        wait_until(lambda: tsim.candle_subscriptions() == set())


def test_shared_subscription_outlives_one_consumer(tsim: ThreadedSim) -> None:
    with make_client(tsim.sim) as client:
        with client.candles(76, 1) as keeper:
            for _candle in client.candles(76, 1):
                break
            assert tsim.candle_subscriptions() == {(76, 1)}
            assert keeper.get(timeout=5).active_id == 76
        wait_until(lambda: tsim.candle_subscriptions() == set())


def test_get_timeout_leaves_the_stream_usable(tsim: ThreadedSim) -> None:
    with make_client(tsim.sim) as client, client.positions_changed() as positions:
        with pytest.raises(TimeoutError):
            positions.get(timeout=0.05)
        with pytest.raises(TimeoutError):
            positions.get(timeout=0.05)
        assert positions.pending == 0


def test_close_ends_streams_after_what_is_queued(tsim: ThreadedSim) -> None:
    client = make_client(tsim.sim)
    client.connect()
    stream = client.candles(76, 1)
    stream.open()
    states = client.connection_states()
    states.open()
    wait_until(lambda: stream.pending >= 2)
    client.close()
    client.close()  # idempotent
    assert client_threads() == []
    assert len(list(stream)) >= 2  # the queued candles, then the end
    with pytest.raises(ConnectionLost):
        stream.get()
    assert list(states) == [ConnectionState.CLOSED]
    with pytest.raises(NotConnected, match="closed"):
        client.get_profile()
    with pytest.raises(NotConnected, match="closed"):
        client.connect()
    with pytest.raises(NotConnected):
        client.balance_changes().open()
    stream.close()


def test_trading_blocks_until_the_outcome(tsim: ThreadedSim) -> None:
    with make_client(tsim.sim) as client:
        demo_before = client.get_balance(BalanceType.DEMO).amount
        trader = Trader(client)
        trade = trader.buy_blitz("EURUSD-OTC", "call", 10, expiration=5)
        assert isinstance(trade, SyncTrade)
        assert (trade.active_id, trade.direction, trade.amount, trade.payout) == (76, "call", 10, 88)
        assert trade.expires - trade.created in (5, 6) and trade.expires_at.year == 2026
        assert trade.result is None
        result = trade.outcome()
        assert trade.result is result
        assert result.pnl in (-10, 0, 8.8)
        closed = trader.portfolio.wait_closed(trade.id, timeout=5)
        assert closed.is_closed
        assert trader.portfolio.open_positions == []
        assert trader.portfolio.realised_pnl_today() == result.pnl
        assert client.get_balance(BalanceType.DEMO).amount == pytest.approx(demo_before + result.pnl)
        assert trader.commission(76) == 12
        assert client.cached_initialization_data is not None


def test_reconnect_hook_and_connection_states(tsim: ThreadedSim) -> None:
    reconnected = threading.Event()
    hook_threads: list[str] = []

    def hook() -> None:
        hook_threads.append(threading.current_thread().name)
        reconnected.set()

    with make_client(tsim.sim) as client, client.connection_states() as states:
        client.on_reconnect(hook)
        assert tsim.runner.run(tsim.sim.drop_connections) == 1
        assert states.get(timeout=5) is ConnectionState.RECONNECTING
        assert states.get(timeout=5) is ConnectionState.CONNECTED
        assert reconnected.wait(5)
        assert hook_threads == ["iqwire-sync-client"]
        assert client.reconnects == 1
        client.wait_connected(timeout=5)
        assert client.is_connected
        assert client.get_profile().user_id == DEMO_USER_ID


def test_bad_credentials_raise_and_stop_the_thread(tsim: ThreadedSim) -> None:
    client = make_client(tsim.sim, password="Not-The-Password-42")
    with pytest.raises(AuthError, match="check the credentials") as caught:
        client.__enter__()
    assert "Not-The-Password-42" not in str(caught.value)
    assert client_threads() == []


def test_missing_credentials_raise_before_any_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IQWIRE_EMAIL", "IQWIRE_PASSWORD", "IQWIRE_SSID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AuthError, match="email and password"):
        Client(ws_url="ws://127.0.0.1:9/echo/websocket")
    assert client_threads() == []


def test_unreachable_server_raises_connection_lost() -> None:
    client = Client(
        "demo@example.com", "demo", ws_url="ws://127.0.0.1:9/x", login_url="http://127.0.0.1:9/api/v2/login"
    )
    with pytest.raises(ConnectionLost, match="cannot reach"), client:
        pass
    assert client_threads() == []


async def test_calling_from_a_running_loop_raises(tsim: ThreadedSim) -> None:
    client = make_client(tsim.sim)
    try:
        with pytest.raises(RuntimeError, match="running event loop"):
            client.connect()
        with pytest.raises(RuntimeError, match=r"asyncio\.to_thread"):
            client.get_profile()
        with pytest.raises(RuntimeError, match="running event loop"):
            next(client.candles(76, 1))
        with pytest.raises(RuntimeError, match="running event loop"):
            client.close()
        await asyncio.to_thread(client.connect)
        profile = await asyncio.to_thread(client.get_profile)
        assert profile.user_id == DEMO_USER_ID
    finally:
        await asyncio.to_thread(client.close)


def test_calling_from_another_loops_callback_raises(tsim: ThreadedSim) -> None:
    with make_client(tsim.sim) as client:

        async def callback() -> Any:
            return client.get_profile()

        with pytest.raises(RuntimeError, match="running event loop"):
            tsim.runner.run(callback)
        assert client.get_profile().user_id == DEMO_USER_ID


async def test_sync_client_in_a_worker_thread_with_the_manual_clock(sim: Simulator) -> None:
    client = make_client(sim)
    await asyncio.to_thread(client.connect)
    try:
        candles = await asyncio.to_thread(client.get_candles, 76, 60, count=5)
        assert len(candles) == 5 and candles[-1].start <= START
        stream = client.candles(76, 1)
        await asyncio.to_thread(stream.open)

        def read_three() -> list[Candle]:
            return [stream.get(timeout=5) for _ in range(3)]

        reader = asyncio.ensure_future(asyncio.to_thread(read_three))
        while not reader.done():
            await sim.advance(1)
            await asyncio.sleep(0.01)
        got = await reader
        assert all(START <= c.start <= sim.now() for c in got)
        await asyncio.to_thread(stream.close)
    finally:
        await asyncio.to_thread(client.close)


def test_event_loop_thread_runs_and_closes() -> None:
    runner = EventLoopThread(name="test-runner")

    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    async def boom() -> None:
        raise ValueError("boom")

    async def forever() -> None:
        await asyncio.Event().wait()

    assert runner.run(add, 2, b=3) == 5
    with pytest.raises(ValueError, match="boom"):
        runner.run(boom)
    assert runner.submit(add, 1, 1).result(timeout=5) == 2
    runner.submit(forever)  # cancelled by close()
    runner.close()
    runner.close()
    assert runner.closed and not runner.thread.is_alive() and runner.loop.is_closed()
    with pytest.raises(RuntimeError, match="closed"):
        runner.run(add, 1, 1)


def _public_methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }


@pytest.mark.parametrize(("async_cls", "sync_cls"), [(AsyncClient, Client), (AsyncTrader, Trader)])
def test_same_constructor_as_the_async_class(async_cls: type, sync_cls: type) -> None:
    expected = inspect.signature(async_cls.__init__).parameters
    got = inspect.signature(sync_cls.__init__).parameters
    assert [(p.name, p.kind, p.default) for p in got.values()] == [
        (p.name, p.kind, p.default) for p in expected.values()
    ], f"{sync_cls.__name__}.__init__ differs from {async_cls.__name__}.__init__"
    assert "transport" in inspect.signature(Client.__init__).parameters


def test_the_sync_trader_has_the_async_traders_api() -> None:
    async_api = _public_methods(AsyncTrader)
    sync_api = _public_methods(Trader)
    missing = set(async_api) - set(sync_api) - {"desk", "client", "payouts"}
    assert not missing, f"iqwire.sync.Trader lacks {sorted(missing)}"
    for name, member in async_api.items():
        if isinstance(member, property) or name not in sync_api:
            continue
        expected = list(inspect.signature(member).parameters)
        assert list(inspect.signature(sync_api[name]).parameters) == expected, name
        assert sync_api[name].__doc__ == member.__doc__, f"{name}: the docstring did not carry over"


def test_same_api_as_the_async_client() -> None:
    async_api = _public_methods(AsyncClient)
    sync_api = _public_methods(Client)
    missing = set(async_api) - set(sync_api)
    assert not missing, f"iqwire.sync.Client lacks {sorted(missing)}"
    for name, member in async_api.items():
        if isinstance(member, property):
            continue
        expected = list(inspect.signature(member).parameters)
        assert list(inspect.signature(sync_api[name]).parameters) == expected, name
        assert sync_api[name].__doc__, f"{name} has no docstring"
