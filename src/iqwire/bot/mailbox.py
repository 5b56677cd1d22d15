"""The live bot's one mailbox: bounded for market data, lossless for money events.

Every stream of a live run puts its items here and one task takes them out in
arrival order. What only says "the latest value is X" coalesces per key: a
candle per (active, size), the traders' mood per active, the connection state.
A newer one replaces the queued one in place, so a slow strategy sees fewer,
fresher candles instead of a growing backlog, and the mailbox never holds more
of them than there are subscriptions. Everything else (trade closes, balance
changes, asset status) is queued in full and never dropped.

Example::

    mailbox = Mailbox()
    mailbox.put(candle)          # from a stream
    event = await mailbox.get()  # in the dispatcher
    match event:
        case Candle(): ...
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable

from iqwire.client.state import ConnectionState
from iqwire.models import Candle, TradersMood

__all__ = ["Mailbox"]

#: A lossless entry in the queue (its event travels with it).
_LOSSLESS = object()


class Mailbox:
    """An ordered mailbox in which market data coalesces per key and nothing else is dropped.

    ``coalesced`` counts replaced items; ``high_water`` the most items ever
    waiting at once (for tests and the benchmarks).
    """

    def __init__(self) -> None:
        # Entries in arrival order: (key, None) for a coalescing slot, (_LOSSLESS, event) otherwise.
        self._queue: deque[tuple[Hashable, object]] = deque()
        self._slots: dict[Hashable, object] = {}
        self._waiter: asyncio.Future[None] | None = None
        self.coalesced = 0
        self.high_water = 0

    @staticmethod
    def _key(event: object) -> Hashable | None:
        if type(event) is Candle:  # most of what arrives: no pattern match
            return ("candle", event.active_id, event.size)
        match event:
            case Candle(active_id=active_id, size=size):
                return ("candle", active_id, size)
            case TradersMood(asset_id=asset_id):
                return ("mood", asset_id)
            case ConnectionState():
                return ("connection",)
            case _:
                return None

    def put(self, event: object) -> None:
        """Queue an event; never blocks. Market data replaces its queued predecessor."""
        key = self._key(event)
        if key is None:
            self._queue.append((_LOSSLESS, event))
        elif key in self._slots:
            self._slots[key] = event
            self.coalesced += 1
            return
        else:
            self._slots[key] = event
            self._queue.append((key, None))
        size = len(self._queue)
        if size > self.high_water:
            self.high_water = size
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> object | None:
        """The next event, or ``None`` when the mailbox is empty."""
        if not self._queue:
            return None
        key, event = self._queue.popleft()
        if key is _LOSSLESS:
            return event
        return self._slots.pop(key)

    async def get(self) -> object:
        """The next event, waiting for one."""
        while not self._queue:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        event = self.get_nowait()
        assert event is not None
        return event

    def __len__(self) -> int:
        return len(self._queue)
