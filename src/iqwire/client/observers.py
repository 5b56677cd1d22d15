"""Who hears what happens to a connection: streams of its state changes, and its reconnect hooks.

:class:`StateFeed` holds the connection's :class:`~iqwire.client.state.ConnectionState`
and puts every change into each open ``connection_states()`` stream (lossless; the
streams end when the connection closes). :class:`ReconnectHooks` runs every hook after
a successful reconnect, each in a task of its own so one slow hook never holds up the
others or the reader; a hook's :class:`~iqwire.errors.IqwireError` is logged, not raised.

Example::

    feed = StateFeed()
    async with feed.stream() as states:
        feed.set(ConnectionState.CONNECTING)
        assert await states.get() is ConnectionState.CONNECTING
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from iqwire.client.state import ConnectionState
from iqwire.client.streams import Stream
from iqwire.errors import IqwireError

__all__ = ["ReconnectHooks", "StateFeed"]

log = logging.getLogger("iqwire.client")

Hook = Callable[[], Awaitable[None]]


class StateFeed:
    """The connection's current state, and a stream of every change to each listener."""

    def __init__(self) -> None:
        self.state = ConnectionState.DISCONNECTED
        self._streams: set[Stream[ConnectionState]] = set()

    def set(self, state: ConnectionState) -> None:
        """Move to ``state`` (a change is logged and put into every open stream)."""
        if state is self.state:
            return
        log.info("connection state: %s -> %s", self.state.value, state.value)
        self.state = state
        for stream in list(self._streams):
            stream.put(state)

    def stream(self) -> Stream[ConnectionState]:
        """A stream of every state change from now on."""

        async def open_(stream: Stream[ConnectionState]) -> None:
            self._streams.add(stream)

        async def close(stream: Stream[ConnectionState]) -> None:
            self._streams.discard(stream)

        return Stream(open=open_, close=close, name="connection states")

    def end(self) -> None:
        """The connection is closed: every open stream ends after what it holds."""
        for stream in list(self._streams):
            stream.end()


class ReconnectHooks:
    """Coroutines run after every successful reconnect (not the first connect)."""

    def __init__(self) -> None:
        self._hooks: list[Hook] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._hooks)

    def add(self, hook: Hook) -> None:
        """Run ``hook`` after every successful reconnect from now on."""
        self._hooks.append(hook)

    def run(self) -> None:
        """Start every hook, each in its own task."""
        for hook in self._hooks:
            task = asyncio.create_task(_guarded(hook))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def cancel(self) -> None:
        """Cancel the hooks still running and wait for them to end (the connection closes)."""
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _guarded(hook: Hook) -> None:
    try:
        await hook()
    except IqwireError as exc:
        log.warning("a reconnect hook failed: %s", exc)
