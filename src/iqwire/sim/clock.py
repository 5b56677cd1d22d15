"""Clocks for the simulator: time is injected, so tests jump instead of sleeping.

Every part of the simulator asks a :class:`Clock` for the time instead of
calling :func:`time.time`. Tests use :class:`ManualClock` and move time
explicitly; a running simulator uses :class:`SystemClock`, optionally faster
than real time.
"""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["REPRODUCIBLE_START", "Clock", "ManualClock", "SystemClock"]

#: Where a reproducible run's clock starts: 2026-02-12 12:25 UTC, a Thursday, when every
#: active of the built-in schedule trades. With a seed and this origin, prices and candles
#: are the same on every run; ``SystemClock(start=None)`` starts from the wall clock instead.
REPRODUCIBLE_START = 1_770_899_100


class Clock(Protocol):
    """Anything that tells the simulator the current unix time in seconds.

    Example::

        def expired(clock: Clock, expiry: float) -> bool:
            return clock.now() >= expiry
    """

    def now(self) -> float:
        """The current unix time in seconds."""
        ...


class ManualClock:
    """A clock that moves only when told to, and never backwards.

    Example::

        clock = ManualClock(1_770_000_000.0)
        clock.advance(60)           # 1_770_000_060.0
        clock.set(1_770_000_120.0)
        clock.now()                 # 1_770_000_120.0
    """

    def __init__(self, start: float) -> None:
        self._now = float(start)

    def now(self) -> float:
        """The current unix time in seconds."""
        return self._now

    def set(self, t: float) -> None:
        """Jump to ``t``.

        Raises:
            ValueError: ``t`` is earlier than :meth:`now`; simulated deadlines
                and candles assume time never runs backwards.
        """
        if t < self._now:
            raise ValueError(f"cannot move the clock back from {self._now} to {t}")
        self._now = float(t)

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` and return the new time.

        Raises:
            ValueError: ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError(f"cannot advance the clock by a negative amount ({seconds} s)")
        self._now += seconds
        return self._now


class SystemClock:
    """Wall-clock time, optionally sped up, anchored at a start time.

    ``now() = start + (monotonic() - monotonic_at_construction) * speed``, so it
    is immune to system clock steps. ``start`` defaults to :func:`time.time`.

    Example::

        clock = SystemClock(speed=60)   # one real second is one simulated minute
        clock.now()

    Raises:
        ValueError: ``speed`` is not positive.
    """

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._speed = float(speed)
        self._start = time.time() if start is None else float(start)
        self._t0 = time.monotonic()

    @property
    def speed(self) -> float:
        """How many simulated seconds pass per real second."""
        return self._speed

    def now(self) -> float:
        """The current simulated unix time in seconds."""
        return self._start + (time.monotonic() - self._t0) * self._speed
