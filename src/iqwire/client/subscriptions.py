"""Shared, reference-counted subscriptions and the router that feeds their streams.

Two consumers of the same (name, routing filters) share one server subscription;
the last one leaving unsubscribes. The session replays live subscriptions after
a reconnect, so streams carry on across it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from iqwire.client.backfill import CandleStream
from iqwire.client.streams import Stream
from iqwire.models import Candle
from iqwire.protocol import Push, Pushes
from iqwire.protocol.catalog import CANDLE_GENERATED, SubscriptionSpec, canonical_push

__all__ = ["Router", "SharedSubscription"]

log = logging.getLogger("iqwire.client")

#: The candle push, routed on the hot path by (active, size).
_CANDLES = CANDLE_GENERATED.push_name


@dataclass(eq=False)
class SharedSubscription:
    """One server subscription and the streams that consume it."""

    spec: SubscriptionSpec[Any]
    name: str
    version: str | None
    filters: dict[str, Any] | None
    key: tuple[str, tuple[tuple[str, Any], ...]]
    sub_id: str | None = None
    consumers: set[Stream[Any]] = field(default_factory=set)

    def matches(self, payload: Any) -> bool:
        """Whether a push payload is of this subscription's type and falls under its routing filters.

        The type test keeps apart two services' pushes of one name (the billing and the
        marginal ``balance-changed``): each stream gets only the shape it was opened for.
        """
        wanted = self.spec.payload_type
        if isinstance(wanted, type) and not isinstance(payload, wanted):
            return False
        if not self.filters:
            return True
        for field_name, wanted in self.filters.items():
            if isinstance(payload, dict):
                value = payload.get(field_name)
            else:
                value = getattr(payload, field_name, None)
            if value is not None and value != wanted:
                return False
        return True


Subscribe = Callable[[str, str | None, dict[str, Any] | None], Awaitable[str]]
Unsubscribe = Callable[[str], Awaitable[None]]


class Router:
    """Every shared subscription, indexed for the reader's hot path."""

    def __init__(self, subscribe: Subscribe, unsubscribe: Unsubscribe) -> None:
        self._subscribe = subscribe
        self._unsubscribe = unsubscribe
        self._shared: dict[tuple[str, tuple[tuple[str, Any], ...]], SharedSubscription] = {}
        self._by_push: dict[str, list[SharedSubscription]] = {}
        self._candles: dict[tuple[int, int], SharedSubscription] = {}
        #: The newest candle seen per active (any size): the price a trade is priced at.
        self.latest: dict[int, Candle] = {}

    @property
    def shared(self) -> list[SharedSubscription]:
        """The live shared subscriptions."""
        return list(self._shared.values())

    async def acquire(
        self,
        spec: SubscriptionSpec[Any],
        name: str,
        version: str | None,
        filters: dict[str, Any] | None,
        stream: Stream[Any],
    ) -> SharedSubscription:
        """Add a consumer; subscribes at the server only for the first one."""
        key = (name, tuple(sorted((filters or {}).items())))
        shared = self._shared.get(key)
        if shared is None:
            shared = SharedSubscription(spec, name, version, filters, key)
            self._shared[key] = shared
            self._index(shared)
            # Consume before the ACK: pushes read in the same burst as the ACK must not be lost.
            shared.consumers.add(stream)
            try:
                shared.sub_id = await self._subscribe(name, version, filters)
            except BaseException:
                shared.consumers.discard(stream)
                self._forget(shared)
                raise
            return shared
        shared.consumers.add(stream)
        return shared

    async def release(self, shared: SharedSubscription, stream: Stream[Any]) -> None:
        """Remove a consumer; the last one out unsubscribes at the server."""
        shared.consumers.discard(stream)
        if shared.consumers or self._shared.get(shared.key) is not shared:
            return
        self._forget(shared)
        if shared.sub_id is not None:
            await self._unsubscribe(shared.sub_id)

    def _index(self, shared: SharedSubscription) -> None:
        push = shared.spec.push_name
        self._by_push.setdefault(push, []).append(shared)
        if push == _CANDLES and shared.filters:
            active, size = shared.filters.get("active_id"), shared.filters.get("size")
            if isinstance(active, int) and isinstance(size, int):
                self._candles[(active, size)] = shared

    def _forget(self, shared: SharedSubscription) -> None:
        self._shared.pop(shared.key, None)
        entries = self._by_push.get(shared.spec.push_name, [])
        if shared in entries:
            entries.remove(shared)
        if shared.filters:
            key = (shared.filters.get("active_id"), shared.filters.get("size"))
            if self._candles.get(key) is shared:  # type: ignore[arg-type]
                del self._candles[key]  # type: ignore[arg-type]

    def route(self, push: Push) -> None:
        """Hand a push to every stream that asked for it."""
        self._deliver(push.name, push.payload)

    def route_many(self, pushes: Pushes) -> None:
        """Hand a run of pushes to their streams: as :meth:`route` each, in order."""
        payloads = pushes.payloads
        if pushes.name == _CANDLES and payloads:
            first = payloads[0]
            active_id, size = first.active_id, first.size
            for payload in payloads:  # faster than sets of their keys (no call per candle)
                if payload.active_id != active_id or payload.size != size:
                    break
            else:
                # One (active, size), the common burst: the run goes to its streams at once.
                key = (active_id, size)
                newest = payloads[-1]
                self.latest[newest.active_id] = newest
                shared = self._candles.get(key)
                if shared is not None:
                    for stream in shared.consumers:
                        if isinstance(stream, CandleStream):
                            stream.put_many(payloads, key)
                        else:
                            stream.put_many(payloads)
                return
        deliver = self._deliver
        name = pushes.name
        for payload in payloads:
            deliver(name, payload)

    def _deliver(self, name: str, payload: Any) -> None:
        if name == _CANDLES:
            self.latest[payload.active_id] = payload
            shared = self._candles.get((payload.active_id, payload.size))
            if shared is not None:
                for stream in shared.consumers:
                    stream.put(payload)
            return
        delivered = False
        for shared in self._by_push.get(canonical_push(name), ()):
            if shared.matches(payload):
                for stream in shared.consumers:
                    stream.put(payload)
                delivered = True
        if not delivered:
            log.debug("push %r matched no subscription", name)

    def close_all(self) -> None:
        """End every stream (the client is closing)."""
        for shared in list(self._shared.values()):
            for stream in list(shared.consumers):
                stream.end()
        self._shared.clear()
        self._by_push.clear()
        self._candles.clear()
