"""The asyncio client: typed RPCs, shared streams, the server clock.

:class:`Client` composes a :class:`~iqwire.client.connection.Connection` (login,
socket, reconnects) with a subscription :class:`~iqwire.client.subscriptions.Router`
(pushes to streams) and the :class:`~iqwire.client.lock.RealMoneyLock`. Every RPC
is named by its catalog entry; trading lives above, in :mod:`iqwire.trading`.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from iqwire.client.clock import ServerClock
from iqwire.client.connection import Connection
from iqwire.client.history import CandlePager
from iqwire.client.lock import RealMoneyLock
from iqwire.client.state import ConnectionState
from iqwire.client.stream_opener import StreamOpener
from iqwire.client.streams import Stream
from iqwire.client.subscriptions import Router
from iqwire.client.transports import TransportFactory
from iqwire.errors import AuthError, UnknownBalance
from iqwire.models import (
    Active,
    Balance,
    BalanceChanged,
    BalanceType,
    Candle,
    Currency,
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
from iqwire.models.requests import (
    ALL_INSTRUMENT_TYPES,
    EmptyBody,
    GetActiveBody,
    GetBalancesBody,
    GetCandlesBody,
    GetCurrencyBody,
    GetFirstCandlesBody,
    GetHistoryPositionsBody,
    GetOrdersBody,
    GetPositionsBody,
    GetTradersMoodBody,
)
from iqwire.protocol import catalog
from iqwire.protocol.catalog import RpcSpec, SubscriptionSpec
from iqwire.transport import DEFAULT_LOGIN_URL, DEFAULT_WS_URL, TwoFactor

if TYPE_CHECKING:
    from iqwire.store.recording import FrameRecorder

__all__ = ["Client"]

T = TypeVar("T")
Body = TypeVar("Body")
Reply = TypeVar("Reply")


class Client:
    """An asyncio client for the IQ Option WebSocket API.

    Credentials come from the arguments, else from ``IQWIRE_EMAIL``,
    ``IQWIRE_PASSWORD``, ``IQWIRE_SSID``; URLs from the arguments, else
    ``IQWIRE_WS_URL`` / ``IQWIRE_LOGIN_URL``, else the real platform. TLS
    certificates are always verified; pass ``ssl_context`` to trust another CA.
    ``transport="picows"`` selects the faster optional WebSocket transport
    (``pip install 'iqwire[fast]'``); the default is ``"websockets"``.
    ``allow_real_money=True`` lets requests that move money reach a REAL balance
    (see :class:`~iqwire.client.lock.RealMoneyLock`); trade through
    :class:`iqwire.trading.Trader`.

    Example::

        async with iqwire.Client(email="demo@example.com", password="demo",
                                 ws_url=sim.ws_url, login_url=sim.login_url) as client:
            balances = await client.get_balances()
            async for candle in client.candles(active_id=76, size=1):
                print(candle.close)

    The one rule: callbacks and ``async for`` bodies must not block the event loop.
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
        env = os.environ
        email = email if email is not None else env.get("IQWIRE_EMAIL")
        password = password if password is not None else env.get("IQWIRE_PASSWORD")
        if ssid is None and (email is None or password is None):
            ssid = env.get("IQWIRE_SSID")
        if ssid is None and (email is None or password is None):
            raise AuthError(
                "give email and password, or ssid (or set IQWIRE_EMAIL/IQWIRE_PASSWORD or IQWIRE_SSID)"
            )
        self.stream_maxsize = stream_maxsize
        #: How long (s) after expiry a trade waits for its close before asking history.
        self.outcome_grace = outcome_grace
        self._router = Router(self._subscribe, self._unsubscribe)
        self._streams = StreamOpener(self._router, maxsize=lambda: self.stream_maxsize, user_id=self.user_id)
        self.lock = RealMoneyLock(
            allowed=allow_real_money,
            balances=self.get_balances,
            positions=self.get_positions,
            orders=self.get_orders,
        )
        self._connection = Connection(
            email=email,
            password=password,
            ssid=ssid,
            ws_url=ws_url or env.get("IQWIRE_WS_URL") or DEFAULT_WS_URL,
            login_url=login_url or env.get("IQWIRE_LOGIN_URL") or DEFAULT_LOGIN_URL,
            two_factor=two_factor,
            request_timeout=request_timeout,
            heartbeat_timeout=heartbeat_timeout,
            reconnect=reconnect,
            reconnect_delay=reconnect_delay,
            ssl_context=ssl_context,
            record_to=record_to,
            transport=transport,
            on_push=self._router.route,
            on_pushes=self._router.route_many,
            on_lost=self._streams.hold_candles,
            on_reconnect=self._backfill_candles,
            on_failed=self._streams.fail_all,
            guard=self.lock.check_request,
        )
        self._pager = CandlePager(self._candle_page, self._connection.server_time)
        self._profile: Profile | None = None
        self._init_data: InitializationData | None = None

    def __repr__(self) -> str:
        return f"Client(ws_url={self.ws_url!r}, state={self.state.value})"

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- the connection ---------------------------------------------------------------

    @property
    def connection(self) -> Connection:
        """The connection underneath (login, socket, reconnects, raw requests)."""
        return self._connection

    @property
    def allow_real_money(self) -> bool:
        """Whether requests that move money may reach a REAL balance."""
        return self.lock.allowed

    async def connect(self) -> None:
        """Log in if needed, connect, authenticate, and start the supervisor.

        Raises:
            AuthError: the credentials or SSID were refused.
            ConnectionLost: the server could not be reached.
            TLSError: the server's certificate was refused.
        """
        await self._connection.connect()

    async def close(self) -> None:
        """Unsubscribe, close the socket, end every stream. Idempotent."""
        if self._connection.is_connected:
            for shared in self._router.shared:
                if shared.sub_id is not None:
                    await self._unsubscribe(shared.sub_id)
        self._router.close_all()
        await self._connection.close()

    async def request(
        self, name: str, version: str | None = None, body: Any = None, *, timeout: float | None = None
    ) -> Any:
        """Send any RPC and return its payload (typed when the catalog knows it).

        Requests that move money pass the real-money lock, as every other path does.

        Example::

            payload = await client.request("get-actives-index", "1.0", {})

        Raises:
            ServerError: status >= 4000 (:class:`PayoutChanged` for 4117), or a
                ``result`` with ``success: false``.
            RequestTimeout: no answer within ``timeout`` (default: the client's).
            ConnectionLost: the connection dropped first; the request is not re-sent.
            NotConnected: the client is not connected.
            RealMoneyLocked: it would move money on a REAL balance without the opt-in.
        """
        return await self._connection.request(name, version, body, timeout=timeout)

    async def call(
        self,
        spec: RpcSpec[Body, Reply],
        body: Body,
        *,
        version: str | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Send the RPC of a catalog entry; the reply has the entry's type (checked by mypy).

        Example::

            page = await client.call(catalog.GET_CANDLES, GetCandlesBody(active_id=76, size=60, count=10))

        Raises:
            as :meth:`request`.
        """
        return await self._connection.call(spec, body, version=version, timeout=timeout)

    @property
    def state(self) -> ConnectionState:
        """The connection's current :class:`ConnectionState`."""
        return self._connection.state

    def connection_states(self) -> Stream[ConnectionState]:
        """A stream of every connection state change from now on."""
        return self._connection.connection_states()

    def on_reconnect(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` after every successful reconnect (not the first connect)."""
        self._connection.on_reconnect(hook)

    @property
    def is_connected(self) -> bool:
        """Whether requests can be sent now."""
        return self._connection.is_connected

    async def wait_connected(self, timeout: float) -> None:
        """Wait until the connection is (back) up.

        Raises:
            ConnectionLost: not connected within ``timeout``.
            NotConnected: the client is closed (or was never connected).
        """
        await self._connection.wait_connected(timeout)

    def server_time(self) -> float:
        """Server time in unix seconds, from ``timeSync``, monotonic between syncs."""
        return self._connection.server_time()

    @property
    def clock(self) -> ServerClock:
        """The server clock kept from ``timeSync`` (replaceable, e.g. by a simulated one)."""
        return self._connection.clock

    @clock.setter
    def clock(self, clock: ServerClock) -> None:
        self._connection.clock = clock

    @property
    def ssid(self) -> str | None:
        """The session's SSID: a secret. Never log or print it; it logs in as you."""
        return self._connection.ssid

    @property
    def ws_url(self) -> str:
        """The WebSocket URL."""
        return self._connection.ws_url

    @property
    def login_url(self) -> str:
        """The HTTP login URL."""
        return self._connection.login_url

    @property
    def server_name(self) -> str | None:
        """The server's name from its ``front`` frame, once authenticated."""
        return self._connection.server_name

    @property
    def reconnects(self) -> int:
        """How many times the connection was re-established."""
        return self._connection.reconnects

    @property
    def request_timeout(self) -> float:
        """Seconds a request waits for its answer by default (settable)."""
        return self._connection.request_timeout

    @request_timeout.setter
    def request_timeout(self, seconds: float) -> None:
        self._connection.request_timeout = seconds

    @property
    def recorder(self) -> FrameRecorder | None:
        """The frame recorder of ``record_to=``, if any."""
        return self._connection.recorder

    # -- callbacks of the connection ------------------------------------------------------

    async def _subscribe(self, name: str, version: str | None, filters: dict[str, Any] | None) -> str:
        return await self._connection.subscribe(name, version, filters)

    async def _unsubscribe(self, sub_id: str) -> None:
        await self._connection.unsubscribe(sub_id)

    async def _backfill_candles(self) -> None:
        async def since(active_id: int, size: int, start: int) -> list[Candle]:
            return await self.get_candles(active_id, size, start=start)

        await self._streams.backfill_candles(
            since, connected=lambda: self.is_connected, generation=lambda: self.reconnects
        )

    # -- account ----------------------------------------------------------------------

    async def get_profile(self) -> Profile:
        """The user's profile (``core.get-profile``)."""
        response = await self._connection.call(catalog.GET_PROFILE, EmptyBody())
        self._profile = response.result
        return response.result

    async def user_id(self) -> int:
        """The authenticated user's id (fetched once)."""
        if self._profile is None:
            return (await self.get_profile()).user_id
        return self._profile.user_id

    async def get_user_settings(self, version: str = "2.0") -> UserSettings:
        """The user's settings (``get-user-settings``)."""
        return await self._connection.call(catalog.GET_USER_SETTINGS, {}, version=version)

    async def get_balances(self, types: Sequence[BalanceType | int] = (1, 4, 2)) -> list[Balance]:
        """Every balance of the given types (``internal-billing.get-balances``)."""
        body = GetBalancesBody(types_ids=[int(t) for t in types], tournaments_statuses_ids=[3, 2])
        result = await self._connection.call(catalog.GET_BALANCES, body)
        self.lock.learn(result)
        return result

    async def get_balance(self, balance_type: BalanceType = BalanceType.DEMO) -> Balance:
        """The first balance of a type.

        Raises:
            UnknownBalance: the account has no balance of that type.
        """
        for balance in await self.get_balances((int(balance_type),)):
            if balance.type == balance_type:
                return balance
        raise UnknownBalance(f"the account has no {balance_type.name} balance")

    # -- market data ------------------------------------------------------------------------

    async def get_initialization_data(self, *, refresh: bool = True) -> InitializationData:
        """Every active with its payout, expiries and schedule (``get-initialization-data`` 4.0).

        With ``refresh=False`` the last one fetched is returned, if any.
        """
        if refresh or self._init_data is None:
            self._init_data = await self._connection.call(catalog.GET_INITIALIZATION_DATA, EmptyBody())
        return self._init_data

    @property
    def cached_initialization_data(self) -> InitializationData | None:
        """The last initialization data fetched, if any."""
        return self._init_data

    def latest_price(self, active_id: int, max_age: float = 5.0) -> float | None:
        """The close of the newest candle pushed for an active, if not older than ``max_age`` s."""
        candle = self._router.latest.get(active_id)
        at = None if candle is None else candle.at_s
        if candle is None or at is None or self.server_time() - at > max_age:
            return None
        return candle.close

    async def get_active(self, active_id: int) -> Active:
        """One active's details (``get-active`` 1.0)."""
        return await self._connection.call(catalog.GET_ACTIVE, GetActiveBody(active_id=active_id))

    async def get_actives_index(self) -> Any:
        """The actives index (``get-actives-index``; shape not captured, plain JSON)."""
        return await self._connection.call(catalog.GET_ACTIVES_INDEX, EmptyBody())

    async def get_candles(
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

        Choose one of: ``count`` (the last ``count`` up to ``end`` or now),
        ``start``/``end`` (every candle whose start is in the range), or
        ``from_id``/``to_id`` (inclusive id range).

        Example::

            candles = await client.get_candles(76, 60, count=500)
        """
        return await self._pager.candles(
            active_id,
            size,
            count=count,
            start=start,
            end=end,
            from_id=from_id,
            to_id=to_id,
            only_closed=only_closed,
        )

    async def _candle_page(self, body: GetCandlesBody) -> list[Candle]:
        return (await self._connection.call(catalog.GET_CANDLES, body)).candles

    async def get_first_candles(self, active_id: int) -> FirstCandles:
        """The earliest candle of every size: where history begins (``get-first-candles``)."""
        body = GetFirstCandlesBody(active_id=active_id, split_normalization=False)
        return await self._connection.call(catalog.GET_FIRST_CANDLES, body)

    async def get_traders_mood(self, asset_id: int, instrument: str = "turbo-option") -> TradersMood:
        """Traders' sentiment for an asset (``get-traders-mood``)."""
        body = GetTradersMoodBody(asset_id=asset_id, instrument=instrument)
        return await self._connection.call(catalog.GET_TRADERS_MOOD, body)

    async def get_currency(self, name: str = "USD") -> Currency:
        """A currency's details (``get-currency`` 5.0)."""
        return await self._connection.call(catalog.GET_CURRENCY, GetCurrencyBody(name=name))

    async def get_trading_group_params(self) -> TradingGroupParams:
        """The user's trading limits (``trading-settings.get-trading-group-params``)."""
        return await self._connection.call(catalog.GET_TRADING_GROUP_PARAMS, EmptyBody())

    async def get_trading_volume(self) -> TradingVolume:
        """The user's traded volume (``user-activity.get-trading-volume``)."""
        return await self._connection.call(catalog.GET_TRADING_VOLUME, EmptyBody())

    async def get_option_insurance(self) -> OptionInsurance:
        """Option insurance / cashback terms (``cashback.get-option-insurance``)."""
        return await self._connection.call(catalog.GET_OPTION_INSURANCE, EmptyBody())

    # -- portfolio -----------------------------------------------------------------------------

    async def get_positions(
        self,
        user_balance_id: int | None = None,
        *,
        instrument_types: Sequence[str] = ALL_INSTRUMENT_TYPES,
        page_size: int = 30,
    ) -> list[Position]:
        """Every open position (all pages of ``portfolio.get-positions`` 4.0)."""
        out: list[Position] = []
        offset = 0
        while True:
            body = GetPositionsBody(
                instrument_types=list(instrument_types),
                limit=page_size,
                offset=offset,
                user_balance_id=user_balance_id,
            )
            page = await self._connection.call(catalog.GET_POSITIONS, body)
            out.extend(page.positions)
            offset += len(page.positions)
            if len(page.positions) < page_size or (page.total is not None and offset >= page.total):
                return out

    async def get_orders(self, user_balance_id: int | None = None, *, kind: str = "deferred") -> list[Order]:
        """Orders of a balance (``portfolio.get-orders`` 2.0)."""
        body = GetOrdersBody(user_balance_id=user_balance_id, kind=kind)
        return (await self._connection.call(catalog.GET_ORDERS, body)).all()

    async def get_history_positions(
        self,
        user_balance_id: int | None = None,
        *,
        instrument_types: Sequence[str] | None = None,
        limit: int = 30,
        offset: int = 0,
        external_id: int | None = None,
        end: int | None = None,
    ) -> list[Position]:
        """One page of closed positions, most recent first (``portfolio.get-history-positions`` 1.0)."""
        body = GetHistoryPositionsBody(
            instrument_types=list(instrument_types) if instrument_types is not None else None,
            user_balance_id=user_balance_id,
            limit=limit,
            offset=offset,
            external_id=external_id,
            end=end,
        )
        return (await self._connection.call(catalog.GET_HISTORY_POSITIONS, body)).positions

    # -- streams (opened by ``async with`` or ``async for``; see :mod:`iqwire.client.stream_opener`) --

    def candles(self, active_id: int, size: int) -> Stream[Candle]:
        """Live candles of one active and size (``candle-generated``).

        Under backpressure queued candles coalesce to the newest per (active, size).
        """
        return self._streams.candles(active_id, [size], f"candles {active_id}/{size}")

    def candles_multi(self, active_id: int, sizes: Sequence[int]) -> Stream[Candle]:
        """One stream of several timeframes of one active (``candle.size`` tells them apart)."""
        return self._streams.candles(active_id, sizes, f"candles {active_id}/{list(sizes)}")

    def traders_mood(self, asset_id: int, instrument_type: str = "turbo-option") -> Stream[TradersMood]:
        """Traders' sentiment changes of one asset (``traders-mood-changed``)."""
        filters = {"asset_id": asset_id, "instrument_type": instrument_type}
        return self.subscribe(catalog.TRADERS_MOOD_CHANGED, filters, f"mood {asset_id}", lambda m: m.asset_id)

    def positions_changed(
        self, user_balance_id: int | None = None, instrument_type: str = "blitz-option"
    ) -> Stream[Position]:
        """Every position open/close of the user (``portfolio.position-changed`` 3.0). Lossless."""
        return self._streams.positions(user_balance_id, instrument_type)

    def orders_changed(self, instrument_type: str = "blitz-option") -> Stream[Order]:
        """Every order change of the user (``portfolio.order-changed`` 2.0). Lossless."""
        return self._streams.orders(instrument_type)

    def balance_changes(self) -> Stream[BalanceChanged]:
        """Every balance change of the user (``balance-changed``). Lossless."""
        return self.subscribe(catalog.BALANCE_CHANGED, None, "balances")

    def instruments(self, instrument_type: str = "blitz-option") -> Stream[InstrumentsList]:
        """Asset status changes (opened/closed) (``instruments-list``)."""
        return self.subscribe(
            catalog.INSTRUMENTS_LIST, {"type": instrument_type}, "instruments", lambda i: i.type
        )

    def currency_updates(self, name: str = "USD") -> Stream[Currency]:
        """Updates of one currency (``currency-updated`` 5.0)."""
        return self.subscribe(catalog.CURRENCY_UPDATED, {"name": name}, f"currency {name}", lambda c: c.name)

    def subscribe(
        self,
        spec: SubscriptionSpec[T],
        filters: dict[str, Any] | None = None,
        name: str | None = None,
        coalesce_key: Callable[[Any], Any] | None = None,
    ) -> Stream[T]:
        """A stream of one catalogued subscription with these routing filters (opened by ``async with``)."""
        return self._streams.subscribe(spec, filters, name or spec.name, coalesce_key)
