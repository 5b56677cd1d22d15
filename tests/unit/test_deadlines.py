"""``Deadlines`` fails each request when a timer of its own (``loop.call_later``) would have.

Two fake event loops run the same script of requests, answers and time steps, turn by
turn as asyncio's loop does (a turn runs every timer due before its time plus the
clock's resolution, in deadline order; what they schedule waits for the next turn):
one gives each request its own timer (the connection's former scheme, cancelled on
an answer), the other one ``Deadlines``. When a loop turns depends on everything else
it does (sockets, other tasks), and a timer runs in the first turn that comes after
its deadline minus the clock's resolution, so the script's loops turn at the same
moments (every ``TICK`` and at the end of each step), whatever their timers. Every
request must end the same way in the same turn.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import itertools
import math
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iqwire.client import deadlines as deadlines_module
from iqwire.client.deadlines import Deadlines
from iqwire.client.replies import expire

RESOLUTION = deadlines_module._RESOLUTION
#: Seconds between the script's common turns.
TICK = 0.05


class _Handle:
    def __init__(self, when: float, callback: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.when, self.callback, self.args, self.cancelled = when, callback, args, False

    def cancel(self) -> None:
        self.cancelled = True


class _Loop:
    """Time and timers only, turned as asyncio's ``_run_once`` turns them."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, _Handle]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> _Handle:
        handle = _Handle(when, callback, args)
        heapq.heappush(self._timers, (when, next(self._order), handle))
        return handle

    def call_later(self, delay: float, callback: Callable[..., None], *args: Any) -> _Handle:
        return self.call_at(self.now + delay, callback, *args)

    def turn_until(self, until: float) -> None:
        """Turn every ``TICK`` up to ``until``, and at ``until`` (the script's common turns)."""
        while True:
            tick = math.floor(self.now / TICK) + 1
            while tick * TICK <= self.now:  # float rounding at a tick
                tick += 1
            self.now = min(until, tick * TICK)
            self.turn()
            if self.now >= until:
                return

    def turn(self) -> None:
        end = self.now + RESOLUTION
        ready = []
        while self._timers and self._timers[0][0] < end:
            ready.append(heapq.heappop(self._timers)[2])
        for handle in ready:
            if not handle.cancelled:
                handle.callback(*handle.args)

    def live_timers(self) -> int:
        return sum(not handle.cancelled for _, _, handle in self._timers)

    def run_until(self, until: float) -> None:
        while True:
            while self._timers and self._timers[0][2].cancelled:
                heapq.heappop(self._timers)
            if not self._timers or self._timers[0][0] > until:
                self.now = max(self.now, until)
                return
            self.now = max(self.now, self._timers[0][0])
            self.turn()


class _Future:
    """What ``expire`` needs of a future, and when it failed."""

    def __init__(self, loop: _Loop) -> None:
        self.loop = loop
        self.ended_at: float | None = None
        self.outcome: str | None = None

    def done(self) -> bool:
        return self.outcome is not None

    def set_exception(self, exc: BaseException) -> None:
        assert not self.done()
        assert isinstance(exc, TimeoutError)
        self.outcome, self.ended_at = "timed out", self.loop.now

    def answer(self) -> None:
        if not self.done():
            self.outcome, self.ended_at = "answered", self.loop.now


class _OwnTimers:
    """The former scheme: a timer per request, cancelled when the request ends."""

    def __init__(self) -> None:
        self.loop = _Loop()
        self.futures: list[_Future] = []
        self.handles: list[_Handle] = []

    def send(self, timeout: float) -> None:
        future = _Future(self.loop)
        self.futures.append(future)
        self.handles.append(self.loop.call_later(timeout, expire, future))

    def answer(self, index: int) -> None:
        self.futures[index].answer()
        self.handles[index].cancel()


class _Shared:
    def __init__(self) -> None:
        self.loop = _Loop()
        self.deadlines = Deadlines()
        self.futures: list[_Future] = []
        self.entries: list[list[Any]] = []

    def send(self, timeout: float) -> None:
        future = _Future(self.loop)
        self.futures.append(future)
        self.entries.append(self.deadlines.add(self.loop, timeout, future))  # type: ignore[arg-type]

    def answer(self, index: int) -> None:
        self.futures[index].answer()
        self.deadlines.release(self.entries[index])


_TIMEOUTS = st.sampled_from([0.0, 0.2, 1.0, 1.0, 1.0, 2.5, 15.0]) | st.floats(0, 20)
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), _TIMEOUTS),
        st.tuples(st.just("answer"), st.integers(0, 200)),
        st.tuples(st.just("wait"), st.sampled_from([0.0, 1e-9, 0.1, 1.0, 5.0]) | st.floats(0, 10)),
    ),
    max_size=60,
)


@settings(max_examples=400, deadline=None)
@given(_STEPS)
def test_every_request_ends_as_with_a_timer_of_its_own(steps: list[tuple[str, float]]) -> None:
    own, shared = _OwnTimers(), _Shared()
    for kind, value in steps:
        for scheme in (own, shared):
            if kind == "send":
                scheme.send(value)
            elif kind == "answer" and scheme.futures:
                scheme.answer(int(value) % len(scheme.futures))
            elif kind == "wait":
                scheme.loop.turn_until(scheme.loop.now + value)
        assert [(f.outcome, f.ended_at) for f in shared.futures] == [
            (f.outcome, f.ended_at) for f in own.futures
        ]
    for scheme in (own, shared):
        scheme.loop.turn_until(scheme.loop.now + 100)
    assert [(f.outcome, f.ended_at) for f in shared.futures] == [(f.outcome, f.ended_at) for f in own.futures]
    assert all(f.done() for f in shared.futures)
    assert len(shared.deadlines) == 0
    assert shared.loop.live_timers() == 0  # nothing left armed once every request ended


def test_requests_answered_in_turn_arm_one_timer() -> None:
    shared = _Shared()
    for index in range(1000):
        shared.send(15.0)
        shared.answer(index)
    assert shared.loop.live_timers() == 1
    assert len(shared.deadlines._heap) == 1  # the answered ones ahead were dropped


def test_answered_requests_behind_a_pending_one_do_not_pile_up() -> None:
    shared = _Shared()
    shared.send(15.0)  # never answered here
    for index in range(1, 1001):
        shared.send(15.0)
        shared.answer(index)
    assert len(shared.deadlines) == 1
    assert len(shared.deadlines._heap) <= 130
    shared.loop.run_until(15.0)
    assert shared.futures[0].outcome == "timed out"
    assert len(shared.deadlines._heap) == 0


def test_a_shorter_timeout_re_arms_the_timer_earlier() -> None:
    shared = _Shared()
    shared.send(10.0)
    shared.send(1.0)
    shared.loop.run_until(1.0)
    assert [f.outcome for f in shared.futures] == [None, "timed out"]
    shared.loop.run_until(10.0)
    assert [f.outcome for f in shared.futures] == ["timed out", "timed out"]


async def test_an_answered_future_is_released_at_once() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    future: asyncio.Future[Any] = loop.create_future()
    entry = deadlines.add(loop, 30.0, future)
    future.set_result("reply")
    deadlines.release(entry)
    gone = weakref.ref(future)
    del future
    gc.collect()
    assert gone() is None  # the pending timer does not keep it (nor its reply) alive
    deadlines.clear()


async def test_a_future_fails_with_timeout_error_on_a_real_loop() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    future: asyncio.Future[Any] = loop.create_future()
    deadlines.add(loop, 0.01, future)
    with pytest.raises(TimeoutError):
        await future
    assert len(deadlines) == 0


async def test_clear_forgets_without_failing_and_another_loop_starts_afresh() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    future: asyncio.Future[Any] = loop.create_future()
    deadlines.add(loop, 0.01, future)
    deadlines.clear()
    await asyncio.sleep(0.03)
    assert not future.done() and len(deadlines) == 0
    other = _Loop()
    late = _Future(other)
    deadlines.add(other, 1.0, late)  # type: ignore[arg-type]
    assert len(deadlines) == 1
    other.run_until(1.0)
    assert late.outcome == "timed out"
    future.cancel()
