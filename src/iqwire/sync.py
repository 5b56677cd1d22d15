"""A blocking facade over the asyncio client, for scripts, notebooks and the CLI.

Each :class:`Client` owns a private event loop running in a daemon thread; every
method hands the matching coroutine of :class:`iqwire.client.Client` to that loop
with :func:`asyncio.run_coroutine_threadsafe` and waits for its result. Streams
become plain iterators (:class:`SyncStream`).

Example::

    from iqwire.sync import Client

    with Client(email="demo@example.com", password="demo",
                ws_url=sim_ws_url, login_url=sim_login_url) as client:
        print(client.get_balance().amount)
        for candle in client.candles(76, 1):
            print(candle.close)
            break
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ssl
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, ParamSpec, Self, TypeVar

from iqwire.client import Client as AsyncClient
from iqwire.client import ConnectionState, Stream
from iqwire.errors import ConnectionLost
from iqwire.models import (
    Active,
    Balance,
    BalanceChanged,
    BalanceType,
    Candle,
    Currency,
    Direction,
    FirstCandles,
    InitializationData,
    InstrumentsList,
    OptionInsurance,
    Order,
    Position,
    Profile,
    TradersMood,
    TradingGroupParams,
    TradingVolume,
    UserSettings,
)
from iqwire.models.requests import ALL_INSTRUMENT_TYPES
from iqwire.trading.portfolio import Portfolio
from iqwire.trading.trade import Trade, TradeResult
from iqwire.transport import TwoFactor

__all__ = ["Client", "EventLoopThread", "SyncPortfolio", "SyncStream", "SyncTrade"]

P = ParamSpec("P")
T = TypeVar("T")

_IN_LOOP_MESSAGE = (
    "the blocking iqwire.sync.Client was called from inside a running event loop "
    "(async code, or a callback of the client); there, use iqwire.client.Client with await, "
    "or move the blocking call to a worker thread with asyncio.to_thread()"
)


def _refuse_inside_a_loop() -> None:
    """Raise if the calling thread runs an event loop: blocking it would deadlock or stall it."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(_IN_LOOP_MESSAGE)


class EventLoopThread:
    """An asyncio event loop running forever in a daemon thread of its own.

    :meth:`run` executes a coroutine function there and blocks until it is done.
    :meth:`close` stops the loop, cancels what is left, closes the loop and joins
    the thread. The CLI uses one to host an embedded simulator.

    Example::

        runner = EventLoopThread()
        try:
            sim = Simulator()
            runner.run(sim.start)
            ...
            runner.run(sim.stop)
        finally:
            runner.close()
    """

    def __init__(self, name: str = "iqwire-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                if tasks:
                    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def thread(self) -> threading.Thread:
        """The thread running the loop."""
        return self._thread

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop (use it only through thread-safe calls such as ``call_soon_threadsafe``)."""
        return self._loop

    def run(self, fn: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the loop and wait for its result.

        A ``KeyboardInterrupt`` while waiting cancels the coroutine, then propagates.

        Raises:
            RuntimeError: called from a thread running an event loop, or after :meth:`close`.
        """
        _refuse_inside_a_loop()
        if self._closed:
            raise RuntimeError("this event loop thread is closed")
        future = asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def submit(
        self, fn: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        """Schedule ``fn(*args, **kwargs)`` on the loop without waiting; safe from any thread.

        Raises:
            RuntimeError: after :meth:`close`.
        """
        if self._closed:
            raise RuntimeError("this event loop thread is closed")
        return asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), self._loop)

    def close(self) -> None:
        """Stop the loop, cancel its remaining tasks, close it and join the thread. Idempotent.

        Raises:
            RuntimeError: called from a thread running an event loop (it would deadlock).
        """
        if self._closed:
            return
        _refuse_inside_a_loop()
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()


async def _open_stream(stream: Stream[Any]) -> None:
    await stream.__aenter__()


async def _next_item(stream: Stream[T]) -> list[T]:
    """The next item as a one-item list, or ``[]`` when the stream has ended."""
    try:
        return [await stream.__anext__()]
    except StopAsyncIteration:
        return []


async def _get_item(stream: Stream[T], timeout: float | None) -> T:
    return await asyncio.wait_for(stream.get(), timeout)


class SyncStream(Generic[T]):
    """A blocking iterator over one of the client's streams.

    Iterate it directly (the subscription is released when the loop ends, breaks
    or raises), or hold it open with ``with``::

        for candle in client.candles(76, 1):
            if candle.close > 1.1:
                break                      # unsubscribes here

        with client.candles(76, 1) as stream:
            first = next(stream)
            second = stream.get(timeout=5)

    ``next(stream)`` outside ``with``/``for`` opens the subscription; call
    :meth:`close` to release it. When the client closes, the stream yields what is
    queued and then stops.
    """

    def __init__(self, runner: EventLoopThread, stream: Stream[T]) -> None:
        self._runner = runner
        self._stream = stream
        self._opened = False
        self._closed = False

    def __repr__(self) -> str:
        return f"SyncStream({self._stream.name!r}, pending={self._stream.pending})"

    @property
    def name(self) -> str:
        """What the stream carries, e.g. ``"candles 76/1"``."""
        return self._stream.name

    @property
    def pending(self) -> int:
        """Items received and not yet read."""
        return self._stream.pending

    @property
    def coalesced(self) -> int:
        """Candles replaced by a newer one while the consumer was behind."""
        return self._stream.coalesced

    def open(self) -> None:
        """Subscribe now (``with`` and iteration do it for you). Idempotent.

        Raises:
            ServerError: the server refused the subscription.
            ConnectionLost: the client is not connected.
        """
        if self._opened:
            return
        if self._closed or self._runner.closed:
            raise ConnectionLost(f"{self.name} cannot open: its client is closed")
        self._opened = True
        try:
            self._runner.run(_open_stream, self._stream)
        except BaseException:
            self._closed = True
            raise

    def close(self) -> None:
        """Release the subscription if nobody else uses it. Idempotent.

        Example::

            stream = client.balance_changes()
            change = next(stream)
            stream.close()
        """
        if self._closed:
            return
        self._closed = True
        if not self._opened or self._runner.closed:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._runner.run(self._stream.aclose)
        else:
            # Only reachable when an abandoned iterator is garbage-collected on a loop's
            # thread: release the subscription without blocking that loop.
            self._runner.submit(self._stream.aclose)

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[T]:
        if self._opened:
            return self
        return self._iterate()

    def _iterate(self) -> Iterator[T]:
        with self:
            while True:
                try:
                    item = self.__next__()
                except StopIteration:
                    return
                yield item

    def __next__(self) -> T:
        if self._runner.closed:
            return self._drain()
        if self._closed:
            raise StopIteration
        self.open()
        items = self._runner.run(_next_item, self._stream)
        if not items:
            raise StopIteration
        return items[0]

    def _drain(self) -> T:
        """After the client closed (the loop is gone): hand out what is still queued."""
        if not self._opened or self._stream.pending == 0:
            raise StopIteration
        coro = self._stream.__anext__()
        try:
            coro.send(None)
        except StopIteration as done:
            item: T = done.value
            return item
        except StopAsyncIteration:
            raise StopIteration from None
        coro.close()  # pragma: no cover - a queued item never needs to wait
        raise StopIteration  # pragma: no cover

    def get(self, timeout: float | None = None) -> T:
        """The next item, waiting at most ``timeout`` seconds (``None``: forever).

        Example::

            with client.candles(76, 1) as stream:
                candle = stream.get(timeout=5)

        Raises:
            TimeoutError: nothing arrived in time.
            ConnectionLost: the stream or its client is closed.
        """
        if self._runner.closed:
            try:
                return self._drain()
            except StopIteration:
                raise ConnectionLost(f"{self.name} has ended: its client closed") from None
        if self._closed:
            raise ConnectionLost(f"{self.name} is closed")
        self.open()
        return self._runner.run(_get_item, self._stream, timeout)


class SyncTrade:
    """A placed blitz option; :meth:`outcome` blocks until it closes.

    Example::

        trade = client.buy_blitz(76, "put", 5, expiration=60)
        print(trade.id, trade.open_price, trade.expires_at)
        print(trade.outcome().pnl)
    """

    def __init__(self, runner: EventLoopThread, trade: Trade) -> None:
        self._runner = runner
        self._trade = trade

    def __repr__(self) -> str:
        return repr(self._trade)

    @property
    def trade(self) -> Trade:
        """The underlying asyncio :class:`~iqwire.trading.trade.Trade`."""
        return self._trade

    @property
    def id(self) -> int:
        """The option id."""
        return self._trade.id

    @property
    def active_id(self) -> int:
        """The active traded."""
        return self._trade.active_id

    @property
    def direction(self) -> str:
        """``"call"`` or ``"put"``."""
        return self._trade.direction

    @property
    def amount(self) -> float:
        """The stake."""
        return self._trade.amount

    @property
    def balance_id(self) -> int:
        """The balance the stake came from."""
        return self._trade.balance_id

    @property
    def balance_type(self) -> BalanceType:
        """The type of that balance."""
        return self._trade.balance_type

    @property
    def open_price(self) -> float:
        """The price the option opened at."""
        return self._trade.open_price

    @property
    def created(self) -> int:
        """When the option opened (unix seconds)."""
        return self._trade.created

    @property
    def expires(self) -> int:
        """When the option expires (unix seconds)."""
        return self._trade.expires

    @property
    def expires_at(self) -> datetime:
        """Expiry as a UTC datetime."""
        return self._trade.expires_at

    @property
    def expiration(self) -> int:
        """The expiration asked for, in seconds."""
        return self._trade.expiration

    @property
    def payout(self) -> float:
        """The payout in percent the option was bought at."""
        return self._trade.payout

    @property
    def reconciled(self) -> bool:
        """Whether the trade was found by reconciliation after a lost answer."""
        return self._trade.reconciled

    @property
    def result(self) -> TradeResult | None:
        """The result, once :meth:`outcome` has returned it."""
        return self._trade.result

    def outcome(self, grace: float | None = None) -> TradeResult:
        """Block until the option closes and return how it ended.

        Raises:
            OutcomeUnknown: nothing known ``grace`` seconds (server time) after expiry.
        """
        return self._runner.run(self._trade.outcome, grace)


async def _read(fn: Callable[[], T]) -> T:
    return fn()


class SyncPortfolio:
    """The client's portfolio tracker, read on the client's loop thread.

    Example::

        client.portfolio.start()
        print(client.portfolio.open_positions, client.portfolio.realised_pnl_today())
    """

    def __init__(self, runner: EventLoopThread, portfolio: Portfolio) -> None:
        self._runner = runner
        self._portfolio = portfolio

    def start(self) -> None:
        """Subscribe to position and balance pushes and load the current state. Idempotent."""
        self._runner.run(self._portfolio.start)

    def stop(self) -> None:
        """Stop following pushes."""
        self._runner.run(self._portfolio.stop)

    def resync(self) -> None:
        """Reload balances and open positions."""
        self._runner.run(self._portfolio.resync)

    def fetch_closed(self, option_id: int) -> Position | None:
        """Look a position up in history by option id; apply it if it closed."""
        return self._runner.run(self._portfolio.fetch_closed, option_id)

    @property
    def open_positions(self) -> list[Position]:
        """Open positions, oldest first."""
        return self._runner.run(_read, lambda: self._portfolio.open_positions)

    @property
    def balances(self) -> dict[int, Balance]:
        """The balances as last pushed, by id (a copy)."""
        return self._runner.run(_read, lambda: dict(self._portfolio.balances))

    def realised_pnl_today(self, balance_id: int | None = None, *, now: float | None = None) -> float:
        """Realised P&L of positions closed today (UTC), for one balance or all."""
        return self._runner.run(_read, lambda: self._portfolio.realised_pnl_today(balance_id, now=now))

    def wait_closed(self, option_id: int, timeout: float | None = None) -> Position:
        """Block until the position closes (at once if it already did).

        Raises:
            TimeoutError: it did not close within ``timeout`` seconds.
        """

        async def wait() -> Position:
            return await asyncio.wait_for(self._portfolio.wait_closed(option_id), timeout)

        return self._runner.run(wait)


class Client:
    """A blocking client for the IQ Option WebSocket API, over :class:`iqwire.client.Client`.

    It takes the same arguments (and the same ``IQWIRE_*`` environment variables)
    and has the same methods, without ``await``. Each instance runs a private
    event loop in a daemon thread; :meth:`close` (or leaving ``with``) stops it.

    Example::

        from iqwire.sync import Client

        with Client(email="demo@example.com", password="demo",
                    ws_url=sim.ws_url, login_url=sim.login_url) as client:
            print(client.get_profile().user_id)
            for candle in client.get_candles(76, 60, count=10):
                print(candle.datetime, candle.close)

    The one rule: callbacks (``on_reconnect`` hooks, a two-factor callback) run on
    the client's loop thread and must not block; and do not call this client from
    async code: it raises ``RuntimeError`` there (use ``iqwire.client.Client`` with
    ``await``, or ``asyncio.to_thread``).
    """

    def __init__(
        self,
        email: str | None = None,
        password: str | None = None,
        *,
        ssid: str | None = None,
        ws_url: str | None = None,
        login_url: str | None = None,
        two_factor: TwoFactor | None = None,
        request_timeout: float = 15.0,
        heartbeat_timeout: float = 60.0,
        reconnect: bool = True,
        reconnect_delay: tuple[float, float] = (0.1, 10.0),
        ssl_context: ssl.SSLContext | None = None,
        allow_real_money: bool = False,
        stream_maxsize: int = 1000,
        outcome_grace: float = 30.0,
        record_to: str | Path | None = None,
    ) -> None:
        # Built first: missing credentials raise AuthError before any thread starts.
        self._async = AsyncClient(
            email,
            password,
            ssid=ssid,
            ws_url=ws_url,
            login_url=login_url,
            two_factor=two_factor,
            request_timeout=request_timeout,
            heartbeat_timeout=heartbeat_timeout,
            reconnect=reconnect,
            reconnect_delay=reconnect_delay,
            ssl_context=ssl_context,
            allow_real_money=allow_real_money,
            stream_maxsize=stream_maxsize,
            outcome_grace=outcome_grace,
            record_to=record_to,
        )
        self._runner = EventLoopThread(name="iqwire-sync-client")
        self._portfolio: SyncPortfolio | None = None

    def __repr__(self) -> str:
        return f"iqwire.sync.Client(ws_url={self.ws_url!r}, state={self.state.value})"

    def _stream(self, stream: Stream[T]) -> SyncStream[T]:
        return SyncStream(self._runner, stream)

    # -- lifecycle ---------------------------------------------------------------------

    def connect(self) -> None:
        """Log in if needed, connect and authenticate (``with Client(...)`` does it for you).

        Example::

            client = Client()          # credentials from IQWIRE_EMAIL / IQWIRE_PASSWORD
            client.connect()
            try:
                print(client.get_balances())
            finally:
                client.close()

        Raises:
            AuthError: the credentials or SSID were refused.
            ConnectionLost: the server could not be reached, or the client is closed.
        """
        if self._runner.closed:
            raise ConnectionLost("this iqwire.sync.Client is closed: create a new one")
        self._runner.run(self._async.connect)

    def close(self) -> None:
        """Unsubscribe, close the socket, end every stream, stop the loop thread. Idempotent.

        Raises:
            RuntimeError: called from async code.
        """
        if self._runner.closed:
            return
        _refuse_inside_a_loop()
        try:
            self._runner.run(self._async.close)
        finally:
            self._runner.close()

    def __enter__(self) -> Self:
        try:
            self.connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, fn: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._runner.closed:
            _refuse_inside_a_loop()
            raise ConnectionLost("this iqwire.sync.Client is closed: create a new one")
        return self._runner.run(fn, *args, **kwargs)

    # -- state -----------------------------------------------------------------------------

    @property
    def async_client(self) -> AsyncClient:
        """The underlying asyncio client; await its coroutines only on its own loop thread."""
        return self._async

    @property
    def state(self) -> ConnectionState:
        """The connection's current :class:`~iqwire.client.ConnectionState`."""
        return self._async.state

    @property
    def ws_url(self) -> str:
        """The WebSocket URL."""
        return self._async.ws_url

    @property
    def login_url(self) -> str:
        """The HTTP login URL."""
        return self._async.login_url

    @property
    def server_name(self) -> str | None:
        """The server's name from its ``front`` frame, once authenticated."""
        return self._async.server_name

    @property
    def reconnects(self) -> int:
        """How many times the connection was re-established."""
        return self._async.reconnects

    @property
    def is_connected(self) -> bool:
        """Whether requests can be sent now."""
        return self._async.is_connected

    @property
    def ssid(self) -> str | None:
        """The session's SSID: a secret. Never log or print it; it logs in as you."""
        return self._async.ssid

    def wait_connected(self, timeout: float) -> None:
        """Wait until the connection is (back) up.

        Example::

            client.wait_connected(timeout=30)   # after a ConnectionLost, before retrying

        Raises:
            ConnectionLost: not connected within ``timeout``, or closed for good.
        """
        self._call(self._async.wait_connected, timeout)

    def server_time(self) -> float:
        """Server time in unix seconds, from ``timeSync`` (no round trip).

        Example::

            age = client.server_time() - candle.start
        """
        return self._async.server_time()

    def on_reconnect(self, hook: Callable[[], object]) -> None:
        """Call ``hook()`` after every successful reconnect; it runs on the loop thread: don't block.

        Example::

            client.on_reconnect(lambda: print("reconnected"))
        """

        async def run_hook() -> None:
            hook()

        self._async.on_reconnect(run_hook)

    # -- account ----------------------------------------------------------------------------

    def get_profile(self) -> Profile:
        """The user's profile.

        Example::

            print(client.get_profile().user_id)
        """
        return self._call(self._async.get_profile)

    def user_id(self) -> int:
        """The authenticated user's id (fetched once)."""
        return self._call(self._async.user_id)

    def get_user_settings(self, version: str = "2.0") -> UserSettings:
        """The user's settings."""
        return self._call(self._async.get_user_settings, version)

    def get_balances(self, types: Sequence[BalanceType | int] = (1, 4, 2)) -> list[Balance]:
        """Every balance of the given types.

        Example::

            for balance in client.get_balances():
                print(balance.type.name, balance.amount, balance.currency)
        """
        return self._call(self._async.get_balances, types)

    def get_balance(self, balance_type: BalanceType = BalanceType.DEMO) -> Balance:
        """The first balance of a type.

        Example::

            demo = client.get_balance(BalanceType.DEMO)

        Raises:
            LookupError: the account has no balance of that type.
        """
        return self._call(self._async.get_balance, balance_type)

    # -- market data ----------------------------------------------------------------------

    def get_initialization_data(self, *, refresh: bool = True) -> InitializationData:
        """Every active with its payout, expiries and schedule.

        Example::

            eurusd = client.get_initialization_data().find_active(76)
            print(eurusd.payout)
        """
        return self._call(self._async.get_initialization_data, refresh=refresh)

    @property
    def cached_initialization_data(self) -> InitializationData | None:
        """The last initialization data fetched, if any (no round trip)."""
        return self._async.cached_initialization_data

    def commission(self, active_id: int) -> float:
        """The blitz commission of an active as last known (no round trip).

        Raises:
            KeyError: the active is unknown (call :meth:`get_initialization_data` first).
        """
        return self._async.commission(active_id)

    def set_commission(self, active_id: int, commission: float) -> None:
        """Record an active's new commission (the client does this on every 4117)."""
        self._async.set_commission(active_id, commission)

    def latest_price(self, active_id: int, max_age: float = 5.0) -> float | None:
        """The close of the newest candle pushed for an active, if not older than ``max_age`` s.

        Example::

            with client.candles(76, 1) as stream:
                next(stream)
                print(client.latest_price(76))
        """
        return self._async.latest_price(active_id, max_age)

    def get_active(self, active_id: int) -> Active:
        """One active's details.

        Example::

            print(client.get_active(76).ticker)
        """
        return self._call(self._async.get_active, active_id)

    def get_actives_index(self) -> Any:
        """The actives index (plain JSON)."""
        return self._call(self._async.get_actives_index)

    def get_candles(
        self,
        active_id: int,
        size: int,
        *,
        count: int | None = None,
        start: int | None = None,
        end: int | None = None,
        from_id: int | None = None,
        to_id: int | None = None,
        only_closed: bool = False,
    ) -> list[Candle]:
        """Historical candles, ascending, paged transparently past 1000.

        Choose one of ``count``, ``start``/``end`` or ``from_id``/``to_id``.

        Example::

            candles = client.get_candles(76, 60, count=500)
        """
        return self._call(
            self._async.get_candles,
            active_id,
            size,
            count=count,
            start=start,
            end=end,
            from_id=from_id,
            to_id=to_id,
            only_closed=only_closed,
        )

    def get_first_candles(self, active_id: int) -> FirstCandles:
        """The earliest candle of every size: where history begins.

        Example::

            first_minute = client.get_first_candles(76).candles_by_size[60]
        """
        return self._call(self._async.get_first_candles, active_id)

    def get_traders_mood(self, asset_id: int, instrument: str = "turbo-option") -> TradersMood:
        """Traders' sentiment for an asset.

        Example::

            print(client.get_traders_mood(76).call_share)
        """
        return self._call(self._async.get_traders_mood, asset_id, instrument)

    def get_currency(self, name: str = "USD") -> Currency:
        """A currency's details."""
        return self._call(self._async.get_currency, name)

    def get_trading_group_params(self) -> TradingGroupParams:
        """The user's trading limits."""
        return self._call(self._async.get_trading_group_params)

    def get_trading_volume(self) -> TradingVolume:
        """The user's traded volume."""
        return self._call(self._async.get_trading_volume)

    def get_option_insurance(self) -> OptionInsurance:
        """Option insurance / cashback terms."""
        return self._call(self._async.get_option_insurance)

    # -- portfolio ----------------------------------------------------------------------

    def get_positions(
        self,
        user_balance_id: int | None = None,
        *,
        instrument_types: Sequence[str] = ALL_INSTRUMENT_TYPES,
        page_size: int = 30,
    ) -> list[Position]:
        """Every open position (all pages).

        Example::

            open_positions = client.get_positions(client.get_balance().id)
        """
        return self._call(
            self._async.get_positions, user_balance_id, instrument_types=instrument_types, page_size=page_size
        )

    def get_orders(self, user_balance_id: int | None = None, *, kind: str = "deferred") -> list[Order]:
        """Orders of a balance."""
        return self._call(self._async.get_orders, user_balance_id, kind=kind)

    def get_history_positions(
        self,
        user_balance_id: int | None = None,
        *,
        instrument_types: Sequence[str] | None = None,
        limit: int = 30,
        offset: int = 0,
        external_id: int | None = None,
        end: int | None = None,
    ) -> list[Position]:
        """One page of closed positions, most recent first.

        Example::

            last_ten = client.get_history_positions(limit=10)
        """
        return self._call(
            self._async.get_history_positions,
            user_balance_id,
            instrument_types=instrument_types,
            limit=limit,
            offset=offset,
            external_id=external_id,
            end=end,
        )

    def request(
        self, name: str, version: str | None = None, body: Any = None, *, timeout: float | None = None
    ) -> Any:
        """Send any RPC and return its payload (typed when the catalog knows it).

        Example::

            active = client.request("get-active", "1.0", {"active_id": 76})

        Raises:
            ServerError: the server refused it.
            RequestTimeout: no answer within ``timeout``.
            ConnectionLost: the connection dropped first; the request is not re-sent.
        """
        return self._call(self._async.request, name, version, body, timeout=timeout)

    # -- trading ----------------------------------------------------------------------------

    @property
    def portfolio(self) -> SyncPortfolio:
        """Open positions, today's realised P&L and balances, kept current by pushes."""
        if self._portfolio is None:
            self._portfolio = SyncPortfolio(self._runner, self._async.portfolio)
        return self._portfolio

    def buy_blitz(
        self,
        active: str | int,
        direction: str | Direction,
        amount: float,
        expiration: int,
        *,
        balance: BalanceType | int = BalanceType.DEMO,
        requote: bool = False,
        max_requotes: int | None = None,
        min_payout: float | None = None,
    ) -> SyncTrade:
        """Buy a blitz option: sent once, priced from server time and the current payout.

        Example::

            trade = client.buy_blitz("EURUSD-OTC", "call", 10, expiration=30)
            result = trade.outcome()          # blocks until the option closes
            print(result.outcome, result.pnl)

        Raises:
            InvalidOrder, InsufficientBalance, MarketClosed, RealMoneyLocked: nothing was sent.
            PayoutChanged: the payout moved (and no re-quote was allowed or possible).
            TradeNotPlaced, TradeStateUnknown: the answer was lost (see the async client).
        """
        trade = self._call(
            self._async.buy_blitz,
            active,
            direction,
            amount,
            expiration,
            balance=balance,
            requote=requote,
            max_requotes=max_requotes,
            min_payout=min_payout,
        )
        return SyncTrade(self._runner, trade)

    # -- streams ----------------------------------------------------------------------------

    def candles(self, active_id: int, size: int) -> SyncStream[Candle]:
        """Live candles of one active and size; a forming candle arrives several times.

        Example::

            for candle in client.candles(76, 1):
                print(candle.close)
        """
        return self._stream(self._async.candles(active_id, size))

    def candles_multi(self, active_id: int, sizes: Sequence[int]) -> SyncStream[Candle]:
        """One stream of several timeframes of one active (``candle.size`` tells them apart).

        Example::

            with client.candles_multi(76, [1, 60]) as stream:
                candle = next(stream)
        """
        return self._stream(self._async.candles_multi(active_id, sizes))

    def traders_mood(self, asset_id: int, instrument_type: str = "turbo-option") -> SyncStream[TradersMood]:
        """Traders' sentiment changes of one asset."""
        return self._stream(self._async.traders_mood(asset_id, instrument_type))

    def positions_changed(
        self, user_balance_id: int | None = None, instrument_type: str = "blitz-option"
    ) -> SyncStream[Position]:
        """Every position open/close of the user. Lossless.

        Example::

            with client.positions_changed() as changes:
                position = changes.get(timeout=60)
        """
        return self._stream(self._async.positions_changed(user_balance_id, instrument_type))

    def orders_changed(self, instrument_type: str = "blitz-option") -> SyncStream[Order]:
        """Every order change of the user. Lossless."""
        return self._stream(self._async.orders_changed(instrument_type))

    def balance_changes(self) -> SyncStream[BalanceChanged]:
        """Every balance change of the user. Lossless."""
        return self._stream(self._async.balance_changes())

    def instruments(self, instrument_type: str = "blitz-option") -> SyncStream[InstrumentsList]:
        """Asset status changes (opened/closed)."""
        return self._stream(self._async.instruments(instrument_type))

    def currency_updates(self, name: str = "USD") -> SyncStream[Currency]:
        """Updates of one currency."""
        return self._stream(self._async.currency_updates(name))

    def connection_states(self) -> SyncStream[ConnectionState]:
        """Every connection state change from now on.

        Example::

            with client.connection_states() as states:
                ...
                print(next(states))        # e.g. ConnectionState.RECONNECTING
        """
        return self._stream(self._async.connection_states())
