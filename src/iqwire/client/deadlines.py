"""The requests' timeouts: one timer for all of them, armed at the earliest deadline.

A timer per request (``loop.call_later`` and its ``cancel``) costs ~1.9 µs of Python
per round trip: a ``TimerHandle`` and its context, a push on the loop's heap, and a
cancelled handle the loop drops later. Nearly every request is answered long before
its deadline, and deadlines come in the order the requests were sent (one timeout per
connection), so :class:`Deadlines` keeps one timer, at the earliest deadline, and a
later request only joins a heap (~0.3 µs with its release). A request fails when it
did with its own timer: when the loop runs the timer, every request whose deadline
has come by asyncio's own rule for a timer (before the loop's time plus the clock's
resolution) fails, in deadline order, and the timer is armed again at the next
deadline. An answered request's future is
released at once (its entry forgets it), so neither it nor its result is kept until
its deadline.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from typing import Any

from iqwire.client.replies import expire

__all__ = ["Deadline", "Deadlines"]

#: What asyncio's loop adds to its time when it picks the timers due in a turn.
_RESOLUTION = time.get_clock_info("monotonic").resolution

#: ``[deadline, sequence number, future or None once released]``: a heap entry.
Deadline = list[Any]


class Deadlines:
    """Fails each added future with ``TimeoutError`` (:func:`~iqwire.client.replies.expire`) at its deadline.

    Example::

        deadlines = Deadlines()
        deadline = deadlines.add(loop, 10.0, future)
        try:
            reply = await future
        finally:
            deadlines.release(deadline)
    """

    __slots__ = ("_armed_at", "_heap", "_loop", "_released", "_sequence", "_timer")

    def __init__(self) -> None:
        self._heap: list[Deadline] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = math.inf
        self._sequence = 0
        self._released = 0  # entries in the heap whose future was released

    def __len__(self) -> int:
        """How many futures wait for their deadline."""
        return len(self._heap) - self._released

    def add(self, loop: asyncio.AbstractEventLoop, timeout: float, future: asyncio.Future[Any]) -> Deadline:
        """Fail ``future`` in ``timeout`` seconds unless it is released first; the entry to release."""
        when = loop.time() + timeout
        if loop is not self._loop:
            self.clear()
            self._loop = loop
        heap = self._heap
        while heap and heap[0][2] is None:  # answered requests ahead of this one
            heapq.heappop(heap)
            self._released -= 1
        deadline = [when, self._sequence, future]
        self._sequence += 1
        heapq.heappush(heap, deadline)
        if when < self._armed_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_at(when, self._fire)
            self._armed_at = when
        return deadline

    def release(self, deadline: Deadline) -> None:
        """The request ended (answered, failed or cancelled): forget its future now."""
        if deadline[2] is None:
            return
        deadline[2] = None
        self._released += 1
        heap = self._heap
        if self._released > 64 and 2 * self._released > len(heap):
            # Many answered requests behind a pending one: drop them, as asyncio drops cancelled timers.
            self._heap = [entry for entry in heap if entry[2] is not None]
            heapq.heapify(self._heap)
            self._released = 0

    def clear(self) -> None:
        """Forget every future without failing it, and stop the timer (the connection closed)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._armed_at = math.inf
        for entry in self._heap:
            entry[2] = None
        self._heap = []
        self._released = 0

    def _fire(self) -> None:
        self._timer = None
        self._armed_at = math.inf
        loop = self._loop
        assert loop is not None
        due = loop.time() + _RESOLUTION
        heap = self._heap
        while heap:
            entry = heap[0]
            future = entry[2]
            if future is None:
                heapq.heappop(heap)
                self._released -= 1
            elif entry[0] < due:
                heapq.heappop(heap)
                entry[2] = None
                expire(future)
            else:
                self._armed_at = entry[0]
                self._timer = loop.call_at(entry[0], self._fire)
                return
