"""A subscription followed by a task: each pushed item goes to a handler until stopped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Generic, TypeVar

from iqwire.client.streams import Stream

__all__ = ["Follower"]

T = TypeVar("T")


class Follower(Generic[T]):
    """Opens a stream once, hands every item to ``handler`` from a task, closes it on :meth:`stop`.

    Example::

        orders = Follower(lambda: client.orders_changed("digital-option"), book.apply, "digital-orders")
        await orders.start()         # idempotent; subscribed when it returns
    """

    def __init__(self, open_stream: Callable[[], Stream[T]], handler: Callable[[T], None], name: str) -> None:
        self._open = open_stream
        self._handler = handler
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        """Whether the stream is being followed."""
        return self._task is not None

    async def start(self) -> None:
        """Subscribe (once) and start handing items to the handler."""
        async with self._lock:
            if self._task is not None:
                return
            stream = self._open()
            await stream.__aenter__()
            self._task = asyncio.create_task(self._consume(stream), name=f"iqwire-{self._name}")

    async def _consume(self, stream: Stream[T]) -> None:
        try:
            async for item in stream:
                self._handler(item)
        finally:
            await stream.aclose()

    async def stop(self) -> None:
        """Stop following (and unsubscribe)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
