"""The blocking client: :class:`iqwire.client.Client` without ``await``.

Every method is generated from the async one (:mod:`iqwire.sync.facade`): same
name, parameters, types and docstring; each runs the coroutine on a private
event loop in a daemon thread. Only the lifecycle (connect, close, ``with``) and
``on_reconnect`` (a plain callback here) are written by hand.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar

from iqwire.client import Client as AsyncClient
from iqwire.client.transports import TransportFactory
from iqwire.errors import NotConnected
from iqwire.sync.facade import blocking, direct, mirrored, streaming
from iqwire.sync.loop import EventLoopThread, refuse_inside_a_loop
from iqwire.transport import TwoFactor

__all__ = ["Client"]

P = ParamSpec("P")
T = TypeVar("T")


class Client:
    """A blocking client for the IQ Option WebSocket API, over :class:`iqwire.client.Client`.

    It takes the same arguments (and the same ``IQWIRE_*`` environment variables)
    and has the same methods, without ``await``. Each instance runs a private
    event loop in a daemon thread; :meth:`close` (or leaving ``with``) stops it.
    Trade with :class:`iqwire.sync.Trader`.

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
        transport: str | TransportFactory = "websockets",
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
            transport=transport,
        )
        self._runner = EventLoopThread(name="iqwire-sync-client")

    def __repr__(self) -> str:
        return f"iqwire.sync.Client(ws_url={self.ws_url!r}, state={self.state.value})"

    @property
    def _target(self) -> AsyncClient:
        return self._async

    @property
    def async_client(self) -> AsyncClient:
        """The underlying asyncio client; await its coroutines only on its own loop thread."""
        return self._async

    def _call(self, fn: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._runner.closed:
            refuse_inside_a_loop()
            raise NotConnected("this iqwire.sync.Client is closed: create a new one")
        return self._runner.run(fn, *args, **kwargs)

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
            ConnectionLost: the server could not be reached.
            NotConnected: the client is closed.
        """
        self._call(self._async.connect)

    def close(self) -> None:
        """Unsubscribe, close the socket, end every stream, stop the loop thread. Idempotent.

        Raises:
            RuntimeError: called from async code.
        """
        if self._runner.closed:
            return
        refuse_inside_a_loop()
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

    def on_reconnect(self, hook: Callable[[], object]) -> None:
        """Call ``hook()`` after every successful reconnect; it runs on the loop thread: don't block.

        Example::

            client.on_reconnect(lambda: print("reconnected"))
        """

        async def run_hook() -> None:
            hook()

        self._async.on_reconnect(run_hook)

    # -- generated from iqwire.client.Client ---------------------------------------------

    allow_real_money = mirrored(AsyncClient.allow_real_money)
    cached_initialization_data = mirrored(AsyncClient.cached_initialization_data)
    clock = mirrored(AsyncClient.clock)
    connection = mirrored(AsyncClient.connection)
    is_connected = mirrored(AsyncClient.is_connected)
    login_url = mirrored(AsyncClient.login_url)
    reconnects = mirrored(AsyncClient.reconnects)
    recorder = mirrored(AsyncClient.recorder)
    request_timeout = mirrored(AsyncClient.request_timeout)
    server_name = mirrored(AsyncClient.server_name)
    ssid = mirrored(AsyncClient.ssid)
    state = mirrored(AsyncClient.state)
    ws_url = mirrored(AsyncClient.ws_url)

    latest_price = direct(AsyncClient.latest_price)
    server_time = direct(AsyncClient.server_time)

    call = blocking(AsyncClient.call)
    get_active = blocking(AsyncClient.get_active)
    get_actives_index = blocking(AsyncClient.get_actives_index)
    get_balance = blocking(AsyncClient.get_balance)
    get_balances = blocking(AsyncClient.get_balances)
    get_candles = blocking(AsyncClient.get_candles)
    get_currency = blocking(AsyncClient.get_currency)
    get_first_candles = blocking(AsyncClient.get_first_candles)
    get_history_positions = blocking(AsyncClient.get_history_positions)
    get_initialization_data = blocking(AsyncClient.get_initialization_data)
    get_option_insurance = blocking(AsyncClient.get_option_insurance)
    get_orders = blocking(AsyncClient.get_orders)
    get_positions = blocking(AsyncClient.get_positions)
    get_profile = blocking(AsyncClient.get_profile)
    get_traders_mood = blocking(AsyncClient.get_traders_mood)
    get_trading_group_params = blocking(AsyncClient.get_trading_group_params)
    get_trading_volume = blocking(AsyncClient.get_trading_volume)
    get_user_settings = blocking(AsyncClient.get_user_settings)
    request = blocking(AsyncClient.request)
    user_id = blocking(AsyncClient.user_id)
    wait_connected = blocking(AsyncClient.wait_connected)

    subscribe = streaming(AsyncClient.subscribe)
    balance_changes = streaming(AsyncClient.balance_changes)
    candles = streaming(AsyncClient.candles)
    candles_multi = streaming(AsyncClient.candles_multi)
    connection_states = streaming(AsyncClient.connection_states)
    currency_updates = streaming(AsyncClient.currency_updates)
    instruments = streaming(AsyncClient.instruments)
    orders_changed = streaming(AsyncClient.orders_changed)
    positions_changed = streaming(AsyncClient.positions_changed)
    traders_mood = streaming(AsyncClient.traders_mood)
