"""Candle streams that carry on across reconnects without a silent hole.

While the connection is down no ``candle-generated`` push arrives, so a strategy's
series would skip every candle of the outage. A :class:`CandleStream` remembers
the newest candle it delivered per ``(active_id, size)``. When the connection is
lost it starts holding new pushes; after the reconnect the client fetches the
missed candles with ``get-candles`` and the stream delivers, in order: the missed
candles (including the final, complete version of a candle that was still forming
at the loss), then the held pushes. If the fetch fails while the connection is up,
the gap is not hidden: it is appended to :attr:`CandleStream.gaps` and logged, and
the held pushes are released.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from iqwire.client.streams import Stream
from iqwire.errors import IqwireError
from iqwire.models import Candle

__all__ = ["BACKFILL_ATTEMPTS", "CandleGap", "CandleStream", "FetchSince"]

log = logging.getLogger("iqwire.client")

#: Fetch passes that may fail on a live connection before a gap is recorded.
BACKFILL_ATTEMPTS = 3

#: Forming candles per key whose complete version is awaited (older ones are forgotten).
MAX_UNFINISHED = 16

_candle_key = attrgetter("active_id", "size")

#: Fetches the candles of ``(active_id, size)`` whose start is at or after ``start``, ascending.
FetchSince = Callable[[int, int, int], Awaitable[list[Candle]]]


@dataclass(frozen=True)
class CandleGap:
    """Candles a stream could not back-fill after a reconnect: ids ``after_id + 1`` onwards."""

    active_id: int
    size: int
    after_id: int
    reason: str


class CandleStream(Stream[Candle]):
    """A candle :class:`Stream` that back-fills what a reconnect made it miss."""

    def __init__(
        self,
        *,
        open: Callable[[Stream[Candle]], Awaitable[None]],
        close: Callable[[Stream[Candle]], Awaitable[None]],
        maxsize: int = 10_000,
        coalesce_key: Callable[[Candle], Hashable] | None = None,
        name: str = "candles",
    ) -> None:
        super().__init__(open=open, close=close, maxsize=maxsize, coalesce_key=coalesce_key, name=name)
        self._last: dict[tuple[int, int], Candle] = {}
        self._held: list[Candle] | None = None
        self._backfilling = False
        self._unfinished: dict[tuple[int, int], dict[int, int]] = {}
        #: Gaps that could not be back-filled (empty when every reconnect was bridged).
        self.gaps: list[CandleGap] = []
        #: How many candles back-filling has delivered so far.
        self.backfilled = 0

    def put(self, item: Candle) -> None:
        """Queue a pushed candle (held while a back-fill is pending)."""
        held = self._held
        if held is not None:
            held.append(item)
            return
        # _deliver, with its most common case (another version of the newest candle)
        # and Stream.put's (room in the queue) inlined: this runs once per push.
        active_id = item.active_id
        size = item.size
        if active_id is not None and size is not None:
            key = (active_id, size)
            last = self._last.get(key)
            if last is not None and item.id == last.id:
                self._last[key] = item
            else:
                self._track(key, last, item)
        items = self._items
        if len(items) >= self._maxsize:
            super().put(item)
            return
        items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def put_many(self, items: Sequence[Candle], key: tuple[int, int] | None = None) -> None:
        """Queue pushed candles, oldest first: as :meth:`put` each, with one wake-up.

        ``key`` is the ``(active_id, size)`` every one of them has, when the caller
        knows it (the router does); without it the candles are looked at.
        """
        held = self._held
        if held is not None:
            held.extend(items)
            return
        if key is None:
            keys = set(map(_candle_key, items))
            if len(keys) != 1:
                for item in items:
                    self.put(item)
                return
            key = keys.pop()
        if key[0] is not None and key[1] is not None:
            # put's bookkeeping (_track) with its two common cases inlined.
            last_by_key = self._last
            last = last_by_key.get(key)
            for item in items:
                if last is not None:
                    item_id, last_id = item.id, last.id
                    if item_id == last_id or (
                        # Candle.is_closed inlined: a property call per candle costs ~15 % of this loop.
                        item_id == last_id + 1 and ((at := last.at) is None or at >= last.end * 1_000_000_000)
                    ):
                        last = item  # another version, or the next candle after a complete one
                        continue
                    last_by_key[key] = last
                self._track(key, last, item)
                last = last_by_key.get(key)
            if last is not None:
                last_by_key[key] = last
        Stream.put_many(self, items)

    def _deliver(self, item: Candle) -> None:
        if item.active_id is not None and item.size is not None:
            key = (item.active_id, item.size)
            self._track(key, self._last.get(key), item)
        super().put(item)

    def _track(self, key: tuple[int, int], last: Candle | None, item: Candle) -> None:
        """Remember ``item`` as the newest candle of ``key`` (``last`` is the one before)."""
        if last is None or item.id >= last.id:
            if last is not None and item.id > last.id:
                # Candles whose complete version has not come (yet): a push reordered
                # behind this one, or lost with its connection. Their starts, by id.
                missing = {} if last.is_closed else {last.id: last.start}
                skipped = item.id - last.id - 1
                if 0 < skipped <= MAX_UNFINISHED:  # a longer jump is a market closure
                    size = key[1]
                    missing.update(
                        (i, item.start - (item.id - i) * size) for i in range(last.id + 1, item.id)
                    )
                if missing:
                    unfinished = self._unfinished.setdefault(key, {})
                    unfinished.update(missing)
                    while len(unfinished) > MAX_UNFINISHED:
                        del unfinished[min(unfinished)]
            self._last[key] = item
        elif item.is_closed and key in self._unfinished:
            self._unfinished[key].pop(item.id, None)

    @property
    def holding(self) -> bool:
        """Whether pushes are being held until a back-fill completes."""
        return self._held is not None

    def hold(self) -> None:
        """The connection was lost: hold new pushes until :meth:`backfill` runs."""
        if self._held is None:
            self._held = []

    async def backfill(
        self, fetch: FetchSince, *, connected: Callable[[], bool], generation: Callable[[], int]
    ) -> None:
        """Deliver the candles missed since the last one seen, then the held pushes.

        ``generation()`` counts reconnects: a pass of fetches that a reconnect
        interrupted is done again, so the fetched candles always reach the first
        held push. A failed fetch while ``connected()`` is false keeps holding (the
        next reconnect's hook retries); after :data:`BACKFILL_ATTEMPTS` failures on a
        live connection the gap is recorded as a :class:`CandleGap` and logged.
        """
        if self._held is None or self._backfilling:
            return
        self._backfilling = True
        try:
            fetched: dict[tuple[int, int], list[Candle]] = {}
            failures = 0
            while True:
                fetched.clear()
                started = generation()
                failed: list[tuple[tuple[int, int], IqwireError]] = []
                for key, last in list(self._last.items()):
                    unfinished = self._unfinished.get(key)
                    start = min(last.start, *unfinished.values()) if unfinished else last.start
                    try:
                        fetched[key] = await fetch(key[0], key[1], start)
                    except IqwireError as exc:
                        failed.append((key, exc))
                if generation() == started and not failed:
                    break
                if failed and not connected():
                    log.info("%s: back-fill interrupted; retrying after the next reconnect", self.name)
                    return
                if failed:
                    failures += 1
                    if failures >= BACKFILL_ATTEMPTS and generation() == started:
                        for key, error in failed:
                            self.gaps.append(CandleGap(key[0], key[1], self._last[key].id, str(error)))
                            log.warning(
                                "%s: candles after id %s could not be back-filled: %s",
                                self.name,
                                self._last[key].id,
                                error,
                            )
                        break
            self._release(fetched)
        finally:
            self._backfilling = False

    def _release(self, fetched: dict[tuple[int, int], list[Candle]]) -> None:
        held, self._held = self._held or [], None
        for key, candles in fetched.items():
            # Complete versions of candles whose close push was reordered away and lost.
            unfinished = self._unfinished.get(key)
            if unfinished:
                for candle in candles:
                    if candle.is_closed and candle.id in unfinished:
                        del unfinished[candle.id]
                        self._deliver(candle)
                        self.backfilled += 1
                unfinished.clear()  # what history does not have did not exist (a closure)
        for candle in held:
            key = (candle.active_id or 0, candle.size or 0)
            last = self._last.get(key)
            if key in fetched and last is not None and candle.id > last.id:
                self._fill(key, fetched[key], candle.id)  # the outage(s) before this push
            self._deliver(candle)
        for key, candles in fetched.items():
            # Held pushes may all be from an earlier connection of several outages: finish the series.
            self._fill(key, candles, None)

    def _fill(self, key: tuple[int, int], candles: list[Candle], before: int | None) -> None:
        """Deliver the fetched candles after the last one delivered (and below ``before``)."""
        for candle in candles:
            if before is not None and candle.id >= before:
                return
            last = self._last[key]
            if candle.id > last.id or (candle.id == last.id and candle.is_closed and not last.is_closed):
                self._deliver(candle)
                self.backfilled += 1
