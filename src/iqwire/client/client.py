"""The asyncio client: typed RPCs, shared streams, server time, reconnects."""

from __future__ import annotations

import os
import ssl
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from iqwire.client.backfill import CandleStream
from iqwire.client.connection import ConnectionCore, TransportFactory
from iqwire.client.streams import Stream
from iqwire.client.subscriptions import Router, SharedSubscription
from iqwire.errors import AuthError, RealMoneyLocked
from iqwire.models import (
    Active,
    Balance,
    BalanceChanged,
    BalanceType,
    Candle,
    CandlesResponse,
    Currency,
    Direction,
    FirstCandles,
    HistoryPositions,
    InitializationData,
    InstrumentsList,
    OptionInsurance,
    Order,
    OrdersResponse,
    Position,
    PositionsResponse,
    Profile,
    ProfileResponse,
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
from iqwire.protocol import Push, catalog
from iqwire.trading.blitz import buy_blitz
from iqwire.trading.portfolio import Portfolio
from iqwire.trading.trade import Trade
from iqwire.transport import DEFAULT_LOGIN_URL, DEFAULT_WS_URL, TwoFactor

__all__ = ["Client"]

T = TypeVar("T")

MAX_CANDLES_PER_REQUEST = 1000
OPEN_OPTION = "binary-options.open-option"


def _typed(value: Any, tp: type[T]) -> T:
    if not isinstance(value, tp):
        from iqwire.errors import ProtocolError

        raise ProtocolError(f"expected {tp.__name__}, got {type(value).__name__}")
    return value


class Client(ConnectionCore):
    """An asyncio client for the IQ Option WebSocket API.

    Credentials come from the arguments, else from ``IQWIRE_EMAIL``,
    ``IQWIRE_PASSWORD``, ``IQWIRE_SSID``; URLs from the arguments, else
    ``IQWIRE_WS_URL`` / ``IQWIRE_LOGIN_URL``, else the real platform. TLS
    certificates are always verified; pass ``ssl_context`` to trust another CA.
    ``transport="picows"`` selects the faster optional WebSocket transport
    (``pip install 'iqwire[fast]'``); the default is ``"websockets"``.

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
        super().__init__(
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
        )
        self.allow_real_money = allow_real_money
        self.stream_maxsize = stream_maxsize
        self.outcome_grace = outcome_grace
        self._router = Router(self._subscribe_frame, self._unsubscribe_frame)
        self._profile: Profile | None = None
        self._init_data: InitializationData | None = None
        self._commissions: dict[int, float] = {}
        self._portfolio: Portfolio | None = None
        self._candle_streams: set[CandleStream] = set()
        #: The type of every balance get_balances has returned (the real-money lock reads it).
        self._balance_types: dict[int, BalanceType] = {}
        self.on_reconnect(self._backfill_candles)

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Unsubscribe, close the socket, end every stream. Idempotent."""
        if self._portfolio is not None:
            await self._portfolio.stop()
        if self._ready.is_set():
            for shared in self._router.shared:
                if shared.sub_id is not None:
                    await self._unsubscribe_frame(shared.sub_id)
        self._router.close_all()
        await super().close()

    def _route_push(self, push: Push) -> None:
        self._router.route(push)

    async def request(
        self, name: str, version: str | None = None, body: Any = None, *, timeout: float | None = None
    ) -> Any:
        if name == OPEN_OPTION and not self.allow_real_money:
            await self._check_not_real(body)  # the lock holds for raw requests too, not only buy_blitz
        return await super().request(name, version, body, timeout=timeout)

    async def _check_not_real(self, body: Any) -> None:
        raw = (
            body.get("user_balance_id") if isinstance(body, dict) else getattr(body, "user_balance_id", None)
        )
        try:
            balance_id = None if raw is None or isinstance(raw, bool) else int(raw)
        except (TypeError, ValueError):
            balance_id = None
        if balance_id is not None and balance_id not in self._balance_types:
            await self.get_balances()  # a balance not seen yet: learn its type first
        if balance_id is None or self._balance_types.get(balance_id) == BalanceType.REAL:
            raise RealMoneyLocked(
                "refusing to send open-option for a REAL balance (or one not named): "
                "create the client with allow_real_money=True to trade real money"
            )

    def _connection_lost(self) -> None:
        super()._connection_lost()
        if self._reconnect_enabled:
            for stream in self._candle_streams:
                stream.hold()  # pushes wait until the missed candles are back-filled

    async def _backfill_candles(self) -> None:
        """After a reconnect: deliver to each candle stream the candles it missed."""

        async def since(active_id: int, size: int, start: int) -> list[Candle]:
            return await self.get_candles(active_id, size, start=start)

        for stream in list(self._candle_streams):
            await stream.backfill(
                since, connected=lambda: self.is_connected, generation=lambda: self.reconnects
            )

    def _fail_streams(self, error: BaseException) -> None:
        for shared in self._router.shared:
            for stream in list(shared.consumers):
                stream.fail(error)

    # -- account ----------------------------------------------------------------------

    async def get_profile(self) -> Profile:
        """The user's profile (``core.get-profile``)."""
        response = _typed(await self.request("core.get-profile", "1.0", EmptyBody()), ProfileResponse)
        self._profile = response.result
        return response.result

    async def user_id(self) -> int:
        """The authenticated user's id (fetched once)."""
        if self._profile is None:
            await self.get_profile()
        assert self._profile is not None
        return self._profile.user_id

    async def get_user_settings(self, version: str = "2.0") -> UserSettings:
        """The user's settings (``get-user-settings``)."""
        return _typed(await self.request("get-user-settings", version, {}), UserSettings)

    async def get_balances(self, types: Sequence[BalanceType | int] = (1, 4, 2)) -> list[Balance]:
        """Every balance of the given types (``internal-billing.get-balances``)."""
        body = GetBalancesBody(types_ids=[int(t) for t in types], tournaments_statuses_ids=[3, 2])
        result: list[Balance] = await self.request("internal-billing.get-balances", "1.0", body)
        self._balance_types.update((b.id, b.type) for b in result)
        return result

    async def get_balance(self, balance_type: BalanceType = BalanceType.DEMO) -> Balance:
        """The first balance of a type.

        Raises:
            LookupError: the account has no balance of that type.
        """
        for balance in await self.get_balances((int(balance_type),)):
            if balance.type == balance_type:
                return balance
        raise LookupError(f"the account has no {balance_type.name} balance")

    # -- market data ------------------------------------------------------------------------

    async def get_initialization_data(self, *, refresh: bool = True) -> InitializationData:
        """Every active with its payout, expiries and schedule (``get-initialization-data`` 4.0).

        Also refreshes the payout cache that trades are priced with.
        """
        if refresh or self._init_data is None:
            self._init_data = _typed(
                await self.request("get-initialization-data", "4.0", EmptyBody()), InitializationData
            )
            self._commissions = {active.id: active.commission for active in self._init_data.blitz.all()}
        return self._init_data

    @property
    def cached_initialization_data(self) -> InitializationData | None:
        """The last initialization data fetched, if any."""
        return self._init_data

    def commission(self, active_id: int) -> float:
        """The blitz commission of an active as last known (init data, or a 4117 reply).

        Raises:
            KeyError: the active is unknown (fetch the initialization data first).
        """
        return self._commissions[active_id]

    def set_commission(self, active_id: int, commission: float) -> None:
        """Record an active's new commission (the client does this on every 4117)."""
        self._commissions[active_id] = commission

    def latest_price(self, active_id: int, max_age: float = 5.0) -> float | None:
        """The close of the newest candle pushed for an active, if not older than ``max_age`` s."""
        candle = self._router.latest.get(active_id)
        if candle is None or candle.at is None:
            return None
        if self.server_time() - candle.at / 1e9 > max_age:
            return None
        return candle.close

    async def get_active(self, active_id: int) -> Active:
        """One active's details (``get-active`` 1.0)."""
        return _typed(await self.request("get-active", "1.0", GetActiveBody(active_id=active_id)), Active)

    async def get_actives_index(self) -> Any:
        """The actives index (``get-actives-index``; shape not captured, plain JSON)."""
        return await self.request("get-actives-index", None, EmptyBody())

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
        if from_id is not None or to_id is not None:
            if from_id is None or to_id is None:
                raise ValueError("from_id and to_id go together")
            return await self._candles_by_id(active_id, size, from_id, to_id, only_closed)
        if start is not None:
            return await self._candles_forward(active_id, size, start, end, count, only_closed)
        return await self._candles_backward(active_id, size, count or 100, end, only_closed)

    async def _candle_page(self, body: GetCandlesBody) -> list[Candle]:
        response = _typed(await self.request("get-candles", "2.0", body), CandlesResponse)
        return response.candles

    async def _candles_by_id(
        self, active_id: int, size: int, from_id: int, to_id: int, only_closed: bool
    ) -> list[Candle]:
        out: list[Candle] = []
        cursor = from_id
        while cursor <= to_id:
            last = min(to_id, cursor + MAX_CANDLES_PER_REQUEST - 1)
            body = GetCandlesBody(
                active_id=active_id, size=size, from_id=cursor, to_id=last, only_closed=only_closed or None
            )
            out.extend(await self._candle_page(body))
            cursor = last + 1
        return out

    async def _candles_forward(
        self, active_id: int, size: int, start: int, end: int | None, count: int | None, only_closed: bool
    ) -> list[Candle]:
        out: list[Candle] = []
        cursor = start
        while count is None or len(out) < count:
            wanted = (
                MAX_CANDLES_PER_REQUEST if count is None else min(MAX_CANDLES_PER_REQUEST, count - len(out))
            )
            body = GetCandlesBody(
                active_id=active_id,
                size=size,
                start=cursor,
                end=end,
                count=wanted if count is not None else None,
                only_closed=only_closed or None,
            )
            page = [
                c
                for c in await self._candle_page(body)
                if c.start >= cursor and (end is None or c.start <= end)
            ]
            if not page:
                break
            out.extend(page)
            cursor = page[-1].start + size
            if end is not None and cursor > end:
                break
            if len(page) < wanted or page[-1].end > self.server_time():
                break  # a short page, or the forming candle: nothing after it exists yet
        return out if count is None else out[:count]

    async def _candles_backward(
        self, active_id: int, size: int, count: int, end: int | None, only_closed: bool
    ) -> list[Candle]:
        pages: list[list[Candle]] = []
        remaining = count
        cursor = end if end is not None else int(self.server_time())
        while remaining > 0:
            wanted = min(MAX_CANDLES_PER_REQUEST, remaining)
            body = GetCandlesBody(
                active_id=active_id, size=size, end=cursor, count=wanted, only_closed=only_closed or None
            )
            page = [c for c in await self._candle_page(body) if c.start <= cursor]
            if not page:
                break
            pages.append(page)
            remaining -= len(page)
            cursor = page[0].start - 1
            if len(page) < wanted:
                break
        return [candle for page in reversed(pages) for candle in page][-count:]

    async def get_first_candles(self, active_id: int) -> FirstCandles:
        """The earliest candle of every size: where history begins (``get-first-candles``)."""
        body = GetFirstCandlesBody(active_id=active_id, split_normalization=False)
        return _typed(await self.request("get-first-candles", "1.0", body), FirstCandles)

    async def get_traders_mood(self, asset_id: int, instrument: str = "turbo-option") -> TradersMood:
        """Traders' sentiment for an asset (``get-traders-mood``)."""
        body = GetTradersMoodBody(asset_id=asset_id, instrument=instrument)
        return _typed(await self.request("get-traders-mood", "1.0", body), TradersMood)

    async def get_currency(self, name: str = "USD") -> Currency:
        """A currency's details (``get-currency`` 5.0)."""
        return _typed(await self.request("get-currency", "5.0", GetCurrencyBody(name=name)), Currency)

    async def get_trading_group_params(self) -> TradingGroupParams:
        """The user's trading limits (``trading-settings.get-trading-group-params``)."""
        return _typed(
            await self.request("trading-settings.get-trading-group-params", None, EmptyBody()),
            TradingGroupParams,
        )

    async def get_trading_volume(self) -> TradingVolume:
        """The user's traded volume (``user-activity.get-trading-volume``)."""
        return _typed(
            await self.request("user-activity.get-trading-volume", None, EmptyBody()), TradingVolume
        )

    async def get_option_insurance(self) -> OptionInsurance:
        """Option insurance / cashback terms (``cashback.get-option-insurance``)."""
        return _typed(await self.request("cashback.get-option-insurance", None, EmptyBody()), OptionInsurance)

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
            page = _typed(await self.request("portfolio.get-positions", "4.0", body), PositionsResponse)
            out.extend(page.positions)
            offset += len(page.positions)
            if len(page.positions) < page_size or (page.total is not None and offset >= page.total):
                return out

    async def get_orders(self, user_balance_id: int | None = None, *, kind: str = "deferred") -> list[Order]:
        """Orders of a balance (``portfolio.get-orders`` 2.0)."""
        body = GetOrdersBody(user_balance_id=user_balance_id, kind=kind)
        return _typed(await self.request("portfolio.get-orders", "2.0", body), OrdersResponse).all()

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
        return _typed(
            await self.request("portfolio.get-history-positions", "1.0", body), HistoryPositions
        ).positions

    # -- trading ----------------------------------------------------------------------------------

    @property
    def portfolio(self) -> Portfolio:
        """Open positions, today's realised P&L and balances, kept current by pushes."""
        if self._portfolio is None:
            self._portfolio = Portfolio(self)
        return self._portfolio

    async def buy_blitz(
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
    ) -> Trade:
        """Buy a blitz option: sent once, priced from server time and the current payout.

        Example::

            trade = await client.buy_blitz("EURUSD-OTC", "call", 10, expiration=30)
            result = await trade.outcome()
            print(result.outcome, result.pnl)

        Args:
            active: id, ticker or name (``76``, ``"EURUSD-OTC"``).
            direction: ``"call"`` or ``"put"``.
            amount: the stake, in the balance's currency.
            expiration: seconds; one of the active's blitz expiries.
            balance: a :class:`BalanceType` or a balance id. REAL needs ``allow_real_money=True``.
            requote: retry once with the new payout after a 4117 (``max_requotes`` for more).
            min_payout: never trade (nor re-quote) below this payout percent.

        Raises:
            InvalidOrder, InsufficientBalance, MarketClosed, RealMoneyLocked: nothing was sent.
            PayoutChanged: the payout moved (and no re-quote was allowed or possible).
            TradeNotPlaced: the answer was lost and reconciliation found no such trade.
            TradeStateUnknown: the answer was lost and several positions could be it.
        """
        return await buy_blitz(
            self,
            active,
            direction,
            amount,
            expiration,
            balance=balance,
            requote=requote,
            max_requotes=max_requotes,
            min_payout=min_payout,
        )

    # -- streams --------------------------------------------------------------------------------

    def _stream(
        self,
        subscriptions: Callable[[], Awaitable[list[tuple[str, str | None, dict[str, Any] | None]]]],
        *,
        name: str,
        coalesce_key: Callable[[Any], Any] | None = None,
        candles: bool = False,
    ) -> Stream[Any]:
        held: list[SharedSubscription] = []

        async def open_(stream: Stream[Any]) -> None:
            if isinstance(stream, CandleStream):
                self._candle_streams.add(stream)
            try:
                for sub_name, version, filters in await subscriptions():
                    spec = catalog.subscription(sub_name)
                    assert spec is not None, sub_name
                    held.append(await self._router.acquire(spec, sub_name, version, filters, stream))
            except BaseException:
                await close(stream)
                raise

        async def close(stream: Stream[Any]) -> None:
            self._candle_streams.discard(stream)
            while held:
                await self._router.release(held.pop(), stream)

        factory = CandleStream if candles else Stream
        return factory(
            open=open_, close=close, maxsize=self.stream_maxsize, coalesce_key=coalesce_key, name=name
        )

    def candles(self, active_id: int, size: int) -> Stream[Candle]:
        """Live candles of one active and size (``candle-generated``).

        Under backpressure queued candles coalesce to the newest per (active, size).
        """

        async def subs() -> list[tuple[str, str | None, dict[str, Any] | None]]:
            return [("candle-generated", "1.0", {"active_id": active_id, "size": size})]

        return self._stream(
            subs,
            name=f"candles {active_id}/{size}",
            coalesce_key=lambda c: (c.active_id, c.size),
            candles=True,
        )

    def candles_multi(self, active_id: int, sizes: Sequence[int]) -> Stream[Candle]:
        """One stream of several timeframes of one active (``candle.size`` tells them apart)."""

        async def subs() -> list[tuple[str, str | None, dict[str, Any] | None]]:
            return [("candle-generated", "1.0", {"active_id": active_id, "size": size}) for size in sizes]

        return self._stream(
            subs,
            name=f"candles {active_id}/{list(sizes)}",
            coalesce_key=lambda c: (c.active_id, c.size),
            candles=True,
        )

    def traders_mood(self, asset_id: int, instrument_type: str = "turbo-option") -> Stream[TradersMood]:
        """Traders' sentiment changes of one asset (``traders-mood-changed``)."""

        async def subs() -> list[tuple[str, str | None, dict[str, Any] | None]]:
            return [
                ("traders-mood-changed", None, {"asset_id": asset_id, "instrument_type": instrument_type})
            ]

        return self._stream(subs, name=f"mood {asset_id}", coalesce_key=lambda m: m.asset_id)

    def positions_changed(
        self, user_balance_id: int | None = None, instrument_type: str = "blitz-option"
    ) -> Stream[Position]:
        """Every position open/close of the user (``portfolio.position-changed`` 3.0). Lossless."""

        async def subs() -> list[tuple[str, str | None, dict[str, Any] | None]]:
            filters: dict[str, Any] = {"user_id": await self.user_id(), "instrument_type": instrument_type}
            if user_balance_id is not None:
                filters["user_balance_id"] = user_balance_id
            return [("portfolio.position-changed", "3.0", filters)]

        return self._stream(subs, name="positions")

    def orders_changed(self, instrument_type: str = "blitz-option") -> Stream[Order]:
        """Every order change of the user (``portfolio.order-changed`` 2.0). Lossless."""

        async def subs() -> list[tuple[str, str | None, dict[str, Any] | None]]:
            return [
                (
                    "portfolio.order-changed",
                    "2.0",
                    {"user_id": await self.user_id(), "instrument_type": instrument_type},
                )
            ]

        return self._stream(subs, name="orders")

    def balance_changes(self) -> Stream[BalanceChanged]:
        """Every balance change of the user (``balance-changed``). Lossless."""

        async def subs() -> list[tuple[str, str | None, dict[str, Any] | None]]:
            return [("balance-changed", "1.0", None)]

        return self._stream(subs, name="balances")

    def instruments(self, instrument_type: str = "blitz-option") -> Stream[InstrumentsList]:
        """Asset status changes (opened/closed) (``instruments-list``)."""

        async def subs() -> list[tuple[str, str | None, dict[str, Any] | None]]:
            return [("instruments-list", None, {"type": instrument_type})]

        return self._stream(subs, name="instruments", coalesce_key=lambda i: i.type)

    def currency_updates(self, name: str = "USD") -> Stream[Currency]:
        """Updates of one currency (``currency-updated`` 5.0)."""

        async def subs() -> list[tuple[str, str | None, dict[str, Any] | None]]:
            return [("currency-updated", "5.0", {"name": name})]

        return self._stream(subs, name=f"currency {name}", coalesce_key=lambda c: c.name)
