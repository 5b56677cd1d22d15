"""The seeded price process: the ticks of one (active, UTC day), and their per-second summary.

**Ticks.** Second ``s`` has four sub-ticks, at ``s+0.25``, ``s+0.5``, ``s+0.75``
and ``s+1.0``; the last is the second's close. A tick's price is a pure
function of ``(seed, active_id, tick time)``: it does not depend on the order
of calls or on what is cached, and two processes with the same seed agree bit
for bit (for a given numpy version).

**Process.** The log-price is a random walk with Gaussian sub-tick increments
of ``volatility / 2`` (so ``volatility`` per second), built in two levels so
any time can be priced quickly:

* *day anchors*, the log-price at each UTC midnight since ``listed_at``: a
  mean-reverting AR(1) walk whose daily step matches the volatility and whose
  stationary spread is about 4 %, so prices stay near ``base_price`` for years;
* within each day, a Brownian bridge of 345,600 sub-tick increments, drawn from
  a generator seeded by ``(seed, active_id, day)`` and pinned to the day's two
  anchors.

Prices are rounded to ``precision`` decimals and held as integers
``price * 10**precision``, so every aggregate is exact.

**Closed markets.** A second exists only if the active is open at it and it is
not before ``listed_at``. The walk runs on through closures, but the first
second after a closure opens at the close of the last second before it (a
price gap, like a real reopening).

Candles are built from these per-second summaries in :mod:`iqwire.sim.prices`.

Example::

    process = TickProcess(seed=7, cache_days=16)
    spec = DEFAULT_ACTIVES[0]
    process.ticks(spec, 20_486)[0, -1]        # the close of the day's first second, scaled
    process.seconds(spec, 20_486).high        # per-second highs of that day
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from iqwire.sim.actives import DAY, ActiveSpec, closure_start, is_open

__all__ = ["SUBTICKS", "Seconds", "TickProcess", "open_mask", "price_scale"]

#: Ticks per second.
SUBTICKS = 4

_TICKS_PER_DAY = DAY * SUBTICKS
_ANCHOR_BLOCK = 1024
_ANCHOR_SPREAD = 0.04
_MIN_REVERSION = 0.5
# Keeps price * 10**precision inside int32 (ActiveSpec caps the base at 1e8).
_MAX_LOG_MOVE = 3.0
_TAG_ANCHORS, _TAG_TICKS, _TAG_VOLUME = 0, 1, 2

Ints = npt.NDArray[np.int32]
Mask = npt.NDArray[np.bool_]


@dataclass(slots=True)
class Seconds:
    """Per-second summary of one UTC day, prices scaled; ``mask is None`` means every second exists."""

    open: Ints
    close: Ints
    low: Ints
    high: Ints
    mask: Mask | None
    volume: Ints | None


@dataclass(slots=True)
class _Day:
    ticks: Ints  # shape (DAY, SUBTICKS): ticks[i, j] is at day start + i + (j + 1) / 4
    seconds: Seconds | None = None


def open_mask(spec: ActiveSpec, day: int) -> Mask | None:
    """Which seconds of ``day`` exist, or ``None`` when all of them do."""
    day_start = day * DAY
    listed = spec.listed_at - day_start
    if spec.always_open and listed <= 0:
        return None
    mask = np.ones(DAY, dtype=np.bool_)
    if listed > 0:
        mask[: min(listed, DAY)] = False
    offset = ((day - 4) % 7) * DAY  # day 4 of the epoch was a Monday
    for start, end in spec.closed_windows:
        lo, hi = max(start - offset, 0), min(end - offset, DAY)
        if lo < hi:
            mask[lo:hi] = False
    return mask


def price_scale(spec: ActiveSpec) -> int:
    """Prices are held as integers: ``price * price_scale(spec)``."""
    return int(10**spec.precision)


class TickProcess:
    """The ticks of every (active, day) for one seed; pure, no I/O, no clock.

    Up to ``cache_days`` (active, day) tick arrays are kept, least recently used
    first out (about 3 MB each). The caller validates ``seed`` and ``cache_days``
    (:class:`~iqwire.sim.prices.PriceModel` does).

    Example::

        process = TickProcess(seed=1, cache_days=4)
        process.seconds(spec, day).close[-1]    # the day's last close, scaled
    """

    def __init__(self, seed: int, *, cache_days: int) -> None:
        self._seed = seed
        self._cache_days = cache_days
        self._days: OrderedDict[tuple[int, int], _Day] = OrderedDict()
        self._anchors: dict[int, list[float]] = {}

    def ticks(self, spec: ActiveSpec, day: int) -> Ints:
        """The day's ticks, shape ``(DAY, SUBTICKS)``: ``[i, j]`` is at day start + i + (j + 1) / 4."""
        return self._day(spec, day).ticks

    def seconds(self, spec: ActiveSpec, day: int) -> Seconds:
        """The day's per-second open, close, low, high, existence mask and volume."""
        entry = self._day(spec, day)
        if entry.seconds is None:
            entry.seconds = self._summarise(spec, day, entry.ticks)
        return entry.seconds

    def anchor_price(self, spec: ActiveSpec, day: int) -> int:
        """The scaled price at midnight starting ``day`` (the close of the day before)."""
        log_move = min(max(self._anchor(spec, day), -_MAX_LOG_MOVE), _MAX_LOG_MOVE)
        return round(spec.base_price * price_scale(spec) * math.exp(log_move))

    def _day(self, spec: ActiveSpec, day: int) -> _Day:
        key = (spec.id, day)
        entry = self._days.get(key)
        if entry is not None:
            self._days.move_to_end(key)
            return entry
        entry = _Day(ticks=self._generate(spec, day))
        self._days[key] = entry
        while len(self._days) > self._cache_days:
            self._days.popitem(last=False)
        return entry

    def _rng(self, spec: ActiveSpec, tag: int, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self._seed, spec.id, tag, index]))

    def _anchor(self, spec: ActiveSpec, day: int) -> float:
        """The log-price (relative to ``base_price``) at midnight starting ``day``."""
        offset = day - spec.listed_at // DAY
        if offset <= 0:
            return 0.0
        path = self._anchors.setdefault(spec.id, [0.0])
        daily = spec.volatility * math.sqrt(DAY)
        reversion = math.sqrt(max(1 - (daily / _ANCHOR_SPREAD) ** 2, _MIN_REVERSION**2))
        # Whole blocks from their own generators keep each anchor independent of the call order.
        while len(path) <= offset:
            block = (len(path) - 1) // _ANCHOR_BLOCK
            for shock in self._rng(spec, _TAG_ANCHORS, block).standard_normal(_ANCHOR_BLOCK).tolist():
                path.append(reversion * path[-1] + daily * shock)
        return path[offset]

    def _generate(self, spec: ActiveSpec, day: int) -> Ints:
        start, end = self._anchor(spec, day), self._anchor(spec, day + 1)
        walk = self._rng(spec, _TAG_TICKS, day).standard_normal(_TICKS_PER_DAY)
        np.cumsum(walk, out=walk)
        walk *= spec.volatility / 2
        bridge = np.arange(1, _TICKS_PER_DAY + 1, dtype=np.float64)
        bridge *= (walk[-1] - (end - start)) / _TICKS_PER_DAY
        walk -= bridge
        walk += start
        np.clip(walk, -_MAX_LOG_MOVE, _MAX_LOG_MOVE, out=walk)
        np.exp(walk, out=walk)
        walk *= spec.base_price * price_scale(spec)
        ticks = np.rint(walk).astype(np.int32).reshape(DAY, SUBTICKS)
        # Midnight is priced once, from its anchor, so adjacent days agree on it exactly.
        ticks[-1, -1] = self.anchor_price(spec, day + 1)
        return ticks

    def _summarise(self, spec: ActiveSpec, day: int, ticks: Ints) -> Seconds:
        mask = open_mask(spec, day)
        close = ticks[:, -1]
        opens = np.empty(DAY, dtype=np.int32)
        opens[0] = self.anchor_price(spec, day)
        opens[1:] = close[:-1]
        if mask is not None:
            before = np.empty(DAY, dtype=np.bool_)
            before[0] = self._exists(spec, day * DAY - 1)
            before[1:] = mask[:-1]
            for index in np.flatnonzero(mask & ~before).tolist():
                opens[index] = self._reopening_price(spec, day, mask, close, index)
        volume = None
        if spec.kind == "stock":
            volume = self._rng(spec, _TAG_VOLUME, day).integers(1, 120, DAY, dtype=np.int32)
        return Seconds(
            open=opens,
            close=close,
            low=_fold(np.minimum, opens, ticks),
            high=_fold(np.maximum, opens, ticks),
            mask=mask,
            volume=volume,
        )

    def _exists(self, spec: ActiveSpec, second: int) -> bool:
        return second >= spec.listed_at and is_open(spec, second)

    def _reopening_price(self, spec: ActiveSpec, day: int, mask: Mask, close: Ints, index: int) -> int:
        """The open of a second whose previous second does not exist: the last close before the gap."""
        earlier = np.flatnonzero(mask[:index])
        if earlier.size:
            return int(close[earlier[-1]])
        second = day * DAY + index
        if second - 1 >= spec.listed_at and not is_open(spec, second - 1):
            last = closure_start(spec, second - 1) - 1
            if last >= spec.listed_at:
                last_day, last_index = divmod(last, DAY)
                return int(self._day(spec, last_day).ticks[last_index, -1])
        # Nothing traded before (the listing): open where the walk is.
        return int(close[index - 1]) if index else self.anchor_price(spec, day)


def _fold(combine: np.ufunc, opens: Ints, ticks: Ints) -> Ints:
    """Per-second min or max over the open and the sub-ticks, column by column (much faster
    than reducing numpy's short last axis)."""
    result = opens.copy()
    for column in range(SUBTICKS):
        combine(result, ticks[:, column], out=result)
    return result
