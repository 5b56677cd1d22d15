"""Per-consumer streams of pushes: bounded, and never blocking the reader.

Candle streams may coalesce under backpressure (the newest candle per
(active, size) replaces an older queued one); every other stream is lossless:
it grows past its bound with a warning rather than drop a position, order or
balance event.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from types import TracebackType
from typing import Generic, Self, TypeVar

from iqwire.errors import ConnectionLost, LocalProtocolError

__all__ = ["Stream"]

log = logging.getLogger("iqwire.client.streams")

T = TypeVar("T")


class _Ended(Exception):
    """Raised inside the stream when the client closed it for good."""


class Stream(Generic[T]):
    """An async iterator over one kind of push, shared-subscription aware.

    Use it as ``async with client.candles(76, 60) as stream: async for c in stream``
    or directly ``async for c in client.candles(76, 60)``; leaving either form
    releases the server subscription when no other consumer holds it.
    """

    def __init__(
        self,
        *,
        open: Callable[[Stream[T]], Awaitable[None]],
        close: Callable[[Stream[T]], Awaitable[None]],
        maxsize: int = 10_000,
        coalesce_key: Callable[[T], Hashable] | None = None,
        name: str = "stream",
    ) -> None:
        self._open = open
        self._close = close
        self._items: collections.deque[T] = collections.deque()
        self._maxsize = maxsize
        self._coalesce_key = coalesce_key
        self._waiter: asyncio.Future[None] | None = None
        self._opened = False
        self._closed = False
        self._error: BaseException | None = None
        self._ended = False
        self.name = name
        self.coalesced = 0
        self._warned_at = maxsize

    # -- producer side (the client's reader) ------------------------------------------

    def put(self, item: T) -> None:
        """Queue one item; never blocks, never raises."""
        items = self._items
        if len(items) >= self._maxsize:
            if self._coalesce_key is not None and self._replace(item):
                return
            if len(items) >= self._warned_at:
                log.warning("%s consumer is %d items behind; keeping every item", self.name, len(items))
                self._warned_at *= 2
        items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def put_many(self, items: Sequence[T]) -> None:
        """Queue several items, oldest first: as :meth:`put` each, with one wake-up."""
        queue = self._items
        if len(queue) + len(items) > self._maxsize:
            for item in items:
                Stream.put(self, item)  # the bound reached: each item as put decides
            return
        queue.extend(items)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _replace(self, item: T) -> bool:
        assert self._coalesce_key is not None
        key = self._coalesce_key(item)
        items = self._items
        for index in range(len(items) - 1, -1, -1):
            if self._coalesce_key(items[index]) == key:
                del items[index]
                items.append(item)
                self.coalesced += 1
                return True
        return False

    def end(self) -> None:
        """End the stream: the consumer reads what is queued, then iteration stops."""
        self._ended = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def fail(self, error: BaseException) -> None:
        """End the stream with an error the consumer will see after the queued items."""
        self._error = error
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- consumer side -------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Items queued and not yet read."""
        return len(self._items)

    async def __aenter__(self) -> Self:
        if not self._opened:
            self._opened = True
            await self._open(self)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop consuming; releases the server subscription if nobody else uses it."""
        if self._opened and not self._closed:
            self._closed = True
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)  # a consumer waiting in async for stops
            await self._close(self)
        self._closed = True

    def __aiter__(self) -> AsyncIterator[T]:
        if self._opened:
            return self._drain()
        return self._iterate()

    async def _drain(self) -> AsyncIterator[T]:
        # __anext__ as an async generator (an open stream's ``async for``): a step of
        # one costs less than a coroutine per item, and a queued item costs no await.
        items = self._items
        popleft = items.popleft
        while not self._closed:
            if items:
                yield popleft()
                continue
            try:
                item = await self._next()
            except _Ended:
                return
            except ConnectionLost:
                if self._closed:
                    return
                raise
            yield item

    async def _iterate(self) -> AsyncIterator[T]:
        async with self:
            items = self._items
            while True:
                if items:  # the hot path: no coroutine when an item is queued
                    item = items.popleft()
                else:
                    try:
                        item = await self._next()
                    except _Ended:
                        return
                yield item

    async def __anext__(self) -> T:
        if self._closed:
            raise StopAsyncIteration
        items = self._items
        if items and self._opened:  # the hot path: no second coroutine when an item is queued
            return items.popleft()
        try:
            return await self._next()
        except _Ended:
            raise StopAsyncIteration from None
        except ConnectionLost:
            if self._closed:
                raise StopAsyncIteration from None
            raise

    async def get(self) -> T:
        """The next item, waiting for one.

        Raises:
            ConnectionLost: the stream or its client is closed.
        """
        try:
            return await self._next()
        except _Ended:
            raise ConnectionLost(f"{self.name} has ended: its client closed") from None

    async def _next(self) -> T:
        if not self._opened:
            raise LocalProtocolError(f"{self.name} is not open: use 'async with' or 'async for' on it")
        while not self._items:
            if self._error is not None:
                raise self._error
            if self._ended:
                raise _Ended
            if self._closed:
                raise ConnectionLost(f"{self.name} is closed")
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()
