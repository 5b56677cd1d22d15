"""An asyncio event loop in a thread of its own, for blocking code.

The blocking facade runs every coroutine there; the CLI hosts an embedded
simulator on one. Calling it from a thread that runs an event loop raises,
instead of deadlocking that loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

__all__ = ["EventLoopThread", "refuse_inside_a_loop"]

P = ParamSpec("P")
T = TypeVar("T")

_IN_LOOP_MESSAGE = (
    "the blocking iqwire.sync.Client was called from inside a running event loop "
    "(async code, or a callback of the client); there, use iqwire.client.Client with await, "
    "or move the blocking call to a worker thread with asyncio.to_thread()"
)


def refuse_inside_a_loop() -> None:
    """Raise if the calling thread runs an event loop: blocking it would deadlock or stall it."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(_IN_LOOP_MESSAGE)


class EventLoopThread:
    """An asyncio event loop running forever in a daemon thread of its own.

    :meth:`run` executes a coroutine function there and blocks until it is done.
    :meth:`close` stops the loop, cancels what is left, closes the loop and joins
    the thread. The CLI uses one to host an embedded simulator.

    Example::

        runner = EventLoopThread()
        try:
            sim = Simulator()
            runner.run(sim.start)
            ...
            runner.run(sim.stop)
        finally:
            runner.close()
    """

    def __init__(self, name: str = "iqwire-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                if tasks:
                    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def thread(self) -> threading.Thread:
        """The thread running the loop."""
        return self._thread

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop (use it only through thread-safe calls such as ``call_soon_threadsafe``)."""
        return self._loop

    def run(self, fn: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the loop and wait for its result.

        A ``KeyboardInterrupt`` while waiting cancels the coroutine, then propagates.

        Raises:
            RuntimeError: called from a thread running an event loop, or after :meth:`close`.
        """
        refuse_inside_a_loop()
        if self._closed:
            raise RuntimeError("this event loop thread is closed")
        future = asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def submit(
        self, fn: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        """Schedule ``fn(*args, **kwargs)`` on the loop without waiting; safe from any thread.

        Raises:
            RuntimeError: after :meth:`close`.
        """
        if self._closed:
            raise RuntimeError("this event loop thread is closed")
        return asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), self._loop)

    def close(self) -> None:
        """Stop the loop, cancel its remaining tasks, close it and join the thread. Idempotent.

        Raises:
            RuntimeError: called from a thread running an event loop (it would deadlock).
        """
        if self._closed:
            return
        refuse_inside_a_loop()
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
