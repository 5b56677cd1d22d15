"""Opening the client's streams over the subscription router.

A stream acquires its subscriptions from the :class:`~iqwire.client.subscriptions.Router`
when it opens and releases them when it closes (so several consumers of one
subscription share it). Candle streams are remembered while open: the
connection holds them while it is down and back-fills the candles they missed
after a reconnect. :class:`~iqwire.client.client.Client` exposes these streams as
its public methods (``client.candles(...)``, ``client.positions_changed()``, ...).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from iqwire.client.backfill import CandleStream, FetchSince
from iqwire.client.streams import Stream
from iqwire.client.subscriptions import Router, SharedSubscription
from iqwire.models import Candle, Order, Position
from iqwire.protocol import catalog
from iqwire.protocol.catalog import SubscriptionSpec

__all__ = ["StreamOpener", "Subscriptions"]

T = TypeVar("T")

#: What a stream subscribes to: catalog entries and their routing filters.
Subscriptions = Callable[[], Awaitable[list[tuple[SubscriptionSpec[Any], dict[str, Any] | None]]]]


class StreamOpener:
    """Makes the streams of one client; each subscribes through ``router`` when opened.

    ``maxsize`` is read when a stream is made (the client's ``stream_maxsize``
    may change); ``user_id`` names the user for the portfolio streams' filters.

    Example::

        opener = StreamOpener(router, maxsize=lambda: 1000, user_id=client.user_id)
        async with opener.candles(76, [1, 60], "candles 76") as stream:
            candle = await stream.get()
    """

    def __init__(
        self, router: Router, *, maxsize: Callable[[], int], user_id: Callable[[], Awaitable[int]]
    ) -> None:
        self._router = router
        self._maxsize = maxsize
        self._user_id = user_id
        self._candle_streams: set[CandleStream] = set()

    @property
    def candle_streams(self) -> frozenset[CandleStream]:
        """The candle streams open now."""
        return frozenset(self._candle_streams)

    def open(
        self,
        subscriptions: Subscriptions,
        *,
        name: str,
        coalesce_key: Callable[[Any], Any] | None = None,
        candles: bool = False,
    ) -> Stream[Any]:
        """A stream that acquires ``subscriptions()`` when opened and releases them when closed."""
        held: list[SharedSubscription] = []

        async def open_(stream: Stream[Any]) -> None:
            if isinstance(stream, CandleStream):
                self._candle_streams.add(stream)
            try:
                for spec, filters in await subscriptions():
                    held.append(
                        await self._router.acquire(spec, spec.name, spec.default_version, filters, stream)
                    )
            except BaseException:
                await close(stream)
                raise

        async def close(stream: Stream[Any]) -> None:
            self._candle_streams.discard(stream)
            while held:
                await self._router.release(held.pop(), stream)

        factory = CandleStream if candles else Stream
        return factory(open=open_, close=close, maxsize=self._maxsize(), coalesce_key=coalesce_key, name=name)

    def subscribe(
        self,
        spec: SubscriptionSpec[T],
        filters: dict[str, Any] | None,
        name: str,
        coalesce_key: Callable[[Any], Any] | None = None,
    ) -> Stream[T]:
        """A stream of one catalogued subscription with these routing filters."""

        async def subs() -> list[tuple[SubscriptionSpec[Any], dict[str, Any] | None]]:
            return [(spec, filters)]

        return self.open(subs, name=name, coalesce_key=coalesce_key)

    def candles(self, active_id: int, sizes: Sequence[int], name: str) -> Stream[Candle]:
        """Live candles of one active in several sizes; queued ones coalesce per (active, size)."""

        async def subs() -> list[tuple[SubscriptionSpec[Any], dict[str, Any] | None]]:
            return [(catalog.CANDLE_GENERATED, {"active_id": active_id, "size": size}) for size in sizes]

        return self.open(subs, name=name, coalesce_key=lambda c: (c.active_id, c.size), candles=True)

    def positions(self, user_balance_id: int | None, instrument_type: str) -> Stream[Position]:
        """Every position change of the user for one instrument type (optionally one balance)."""

        async def subs() -> list[tuple[SubscriptionSpec[Any], dict[str, Any] | None]]:
            filters: dict[str, Any] = {"user_id": await self._user_id(), "instrument_type": instrument_type}
            if user_balance_id is not None:
                filters["user_balance_id"] = user_balance_id
            return [(catalog.POSITION_CHANGED, filters)]

        return self.open(subs, name="positions")

    def orders(self, instrument_type: str) -> Stream[Order]:
        """Every order change of the user for one instrument type."""

        async def subs() -> list[tuple[SubscriptionSpec[Any], dict[str, Any] | None]]:
            filters = {"user_id": await self._user_id(), "instrument_type": instrument_type}
            return [(catalog.ORDER_CHANGED, filters)]

        return self.open(subs, name="orders")

    # -- the connection's callbacks --------------------------------------------------------

    def hold_candles(self) -> None:
        """The connection is down: candle pushes wait until the missed candles are back-filled."""
        for stream in self._candle_streams:
            stream.hold()

    async def backfill_candles(
        self, since: FetchSince, *, connected: Callable[[], bool], generation: Callable[[], int]
    ) -> None:
        """After a reconnect: deliver to each candle stream the candles it missed."""
        for stream in list(self._candle_streams):
            await stream.backfill(since, connected=connected, generation=generation)

    def fail_all(self, error: BaseException) -> None:
        """The connection gave up: every open stream ends with ``error``."""
        for shared in self._router.shared:
            for stream in list(shared.consumers):
                stream.fail(error)
