"""What trading needs of a client: the :class:`TradingClient` protocol.

:class:`iqwire.trading.Trader` and its product modules talk to this protocol,
never to the concrete :class:`iqwire.Client`, the way ``store/download.py``'s
``CandleSource`` does: a test double, a replay, or another client fits as long
as it has these members.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from iqwire.client.lock import RealMoneyLock
from iqwire.client.state import ConnectionState
from iqwire.client.streams import Stream
from iqwire.models import Balance, BalanceChanged, Candle, InitializationData, Order, Position
from iqwire.protocol.catalog import RpcSpec, SubscriptionSpec

__all__ = ["TradingClient"]

Body = TypeVar("Body")
Reply = TypeVar("Reply")
Payload = TypeVar("Payload")


class TradingClient(Protocol):
    """The client members trading uses: typed RPCs, balances, prices, positions, the clock.

    Example::

        def trader_for(client: TradingClient) -> Trader:
            return Trader(client)
    """

    @property
    def lock(self) -> RealMoneyLock:
        """The real-money lock every money-moving request passes."""
        ...

    @property
    def state(self) -> ConnectionState:
        """The connection's state."""
        ...

    @property
    def is_connected(self) -> bool:
        """Whether requests can be sent now."""
        ...

    @property
    def outcome_grace(self) -> float:
        """Seconds after expiry a trade waits for its close before asking history."""
        ...

    @property
    def cached_initialization_data(self) -> InitializationData | None:
        """The last initialization data fetched, if any."""
        ...

    async def call(
        self,
        spec: RpcSpec[Body, Reply],
        body: Body,
        *,
        version: str | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Send a catalogued RPC; the reply has the entry's type."""
        ...

    def server_time(self) -> float:
        """Server time in unix seconds."""
        ...

    async def wait_connected(self, timeout: float) -> None:
        """Wait until the connection is (back) up."""
        ...

    def on_reconnect(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` after every successful reconnect."""
        ...

    async def get_balances(self, types: Sequence[Any] = ...) -> list[Balance]:
        """Every balance."""
        ...

    async def get_initialization_data(self, *, refresh: bool = True) -> InitializationData:
        """Every active with its payout, expiries and schedule."""
        ...

    def latest_price(self, active_id: int, max_age: float = 5.0) -> float | None:
        """The newest pushed price of an active, if fresh."""
        ...

    async def get_candles(self, active_id: int, size: int, *, count: int | None = None) -> list[Candle]:
        """Historical candles."""
        ...

    async def get_positions(
        self, user_balance_id: int | None = None, *, instrument_types: Sequence[str] = ...
    ) -> list[Position]:
        """Every open position."""
        ...

    async def get_history_positions(
        self,
        user_balance_id: int | None = None,
        *,
        instrument_types: Sequence[str] | None = None,
        limit: int = 30,
        external_id: int | None = None,
    ) -> list[Position]:
        """One page of closed positions, most recent first."""
        ...

    def positions_changed(
        self, user_balance_id: int | None = None, instrument_type: str = "blitz-option"
    ) -> Stream[Position]:
        """Every position open/close of the user."""
        ...

    async def get_orders(self, user_balance_id: int | None = None, *, kind: str = ...) -> list[Order]:
        """A balance's pending orders."""
        ...

    def balance_changes(self) -> Stream[BalanceChanged]:
        """Every balance change of the user."""
        ...

    def orders_changed(self, instrument_type: str = "blitz-option") -> Stream[Order]:
        """Every order change of the user for one instrument type."""
        ...

    def subscribe(
        self,
        spec: SubscriptionSpec[Payload],
        filters: dict[str, Any] | None,
        name: str,
        coalesce_key: Callable[[Any], Any] | None = None,
    ) -> Stream[Payload]:
        """A stream of one catalogued subscription (positions-state, digital prices...)."""
        ...
