"""Blocking iterators over the client's streams."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from iqwire.client.streams import Stream
from iqwire.errors import ConnectionLost, NotConnected
from iqwire.sync.loop import EventLoopThread

__all__ = ["SyncStream"]

T = TypeVar("T")


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
            NotConnected: the stream or its client is closed.
        """
        if self._opened:
            return
        if self._closed or self._runner.closed:
            raise NotConnected(f"{self.name} cannot open: its client is closed")
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
