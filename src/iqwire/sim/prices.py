"""A seeded price process per active, and candles of every size that agree exactly.

The price process itself (sub-ticks, day anchors, the Brownian bridge, closed
markets) is stated in :mod:`iqwire.sim.ticks`; this module turns its per-second
summaries into candles. Prices are held as integers ``price * 10**precision``,
so every aggregate is exact.

**Candles.** A 1-second candle of second ``s`` (``from=s``, ``to=s+1``) opens at
the close of the previous existing second, closes at the tick at ``s+1``, and
its min/max span the open and the four sub-ticks. A candle of size ``N`` (one of
:data:`CANDLE_SIZES`, all divisors of a day) has ``from`` a multiple of ``N``;
it exists iff one of its seconds exists, and aggregates its existing seconds:
open of the first, close of the last, min/max over all (``min_at``/``max_at``
are the first second reaching them), volume summed. ``ask``/``bid`` are the
close plus/minus half the spread; ``phase`` is ``"T"``. ``at`` (ns) is ``to``
for a complete candle, else the time of its last tick so far.

**Candle ids.** ``id = (from - floor(listed_at / N) * N) // N + 1``: the first
candle of an active is id 1 and ids grow by one per ``N`` seconds, so a closure
leaves a gap in the ids exactly where candles are missing.

Example::

    model = PriceModel(seed=7)
    model.tick(76, 1_770_000_000.5)
    model.candles(76, 60, 1_770_000_000, 1_770_003_600)       # 60 closed candles
    model.candle_at(76, 60, 1_770_000_030.25)                 # the forming one
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from iqwire.models.market import Candle
from iqwire.sim.actives import DAY, DEFAULT_ACTIVES, ActiveSpec, is_open, next_open
from iqwire.sim.ticks import SUBTICKS, Seconds, TickProcess, open_mask, price_scale

__all__ = ["CANDLE_SIZES", "SUBTICKS", "PriceModel", "UnknownActive"]

#: The candle sizes in seconds; each divides a day, so no candle straddles midnight UTC.
CANDLE_SIZES: tuple[int, ...] = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 14400, 86400)

_NS = 1_000_000_000
_NS_PER_SUBTICK = _NS // SUBTICKS
_INT_MAX = np.iinfo(np.int32).max
_INT_MIN = np.iinfo(np.int32).min

_Ints = npt.NDArray[np.int32]
_Index = npt.NDArray[np.intp]


class UnknownActive(KeyError):
    """The price model has no active with this id."""

    def __init__(self, active_id: int) -> None:
        super().__init__(active_id)
        self.active_id = active_id

    def __str__(self) -> str:
        return f"no simulated active with id {self.active_id}"


class _Span(NamedTuple):
    """A candle under construction, prices as scaled integers, ``at`` in ns."""

    open: int
    close: int
    low: int
    high: int
    volume: int
    min_at: int
    max_at: int
    at: int


@dataclass(slots=True)
class _Aggregate:
    """Candles of one day, existing rows only; offsets are seconds from each candle's start."""

    rows: _Index
    open: _Ints
    close: _Ints
    low: _Ints
    high: _Ints
    min_off: _Index
    max_off: _Index
    last_off: _Index
    volume: npt.NDArray[np.int64]


def _aggregate(sec: Seconds, first: int, count: int, size: int) -> _Aggregate:
    """Aggregate ``count`` candles of ``size`` seconds starting at second ``first`` of a day."""
    stop = first + count * size
    shape = (count, size)
    opens = sec.open[first:stop].reshape(shape)
    closes = sec.close[first:stop].reshape(shape)
    lows = sec.low[first:stop].reshape(shape)
    highs = sec.high[first:stop].reshape(shape)
    volumes = None if sec.volume is None else sec.volume[first:stop].reshape(shape)
    if sec.mask is None:
        rows: _Index = np.arange(count, dtype=np.intp)
        head = np.zeros(count, dtype=np.intp)
        tail = np.full(count, size - 1, dtype=np.intp)
    else:
        mask = sec.mask[first:stop].reshape(shape)
        rows = np.flatnonzero(mask.any(axis=1))
        mask = mask[rows]
        opens, closes, lows, highs = opens[rows], closes[rows], lows[rows], highs[rows]
        # Closed seconds must never win a min/max or add volume.
        lows = np.where(mask, lows, _INT_MAX)
        highs = np.where(mask, highs, _INT_MIN)
        if volumes is not None:
            volumes = np.where(mask, volumes[rows], 0)
        head = mask.argmax(axis=1)
        tail = size - 1 - mask[:, ::-1].argmax(axis=1)
    pick = np.arange(len(rows), dtype=np.intp)
    min_off = lows.argmin(axis=1)
    max_off = highs.argmax(axis=1)
    return _Aggregate(
        rows=rows,
        open=opens[pick, head],
        close=closes[pick, tail],
        low=lows[pick, min_off],
        high=highs[pick, max_off],
        min_off=min_off,
        max_off=max_off,
        last_off=tail,
        volume=np.zeros(len(rows), np.int64) if volumes is None else volumes.sum(axis=1, dtype=np.int64),
    )


class PriceModel:
    """Deterministic prices and candles for a set of actives; pure, no I/O, no clock.

    ``seed`` must be non-negative. Up to ``cache_days`` (active, day) tick
    arrays are kept, least recently used first out (about 3 MB each).

    Example::

        model = PriceModel(seed=1)
        first = model.first_candle(76, 60)
        model.candle_by_id(76, 60, first.id + 10)

    Raises:
        ValueError: a negative seed, duplicate active ids, or ``cache_days < 2``.
    """

    def __init__(
        self, seed: int = 0, actives: Sequence[ActiveSpec] = DEFAULT_ACTIVES, *, cache_days: int = 16
    ) -> None:
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        if cache_days < 2:
            raise ValueError(f"cache_days must be at least 2, got {cache_days}")
        self._seed = seed
        self._specs = {spec.id: spec for spec in actives}
        if len(self._specs) != len(actives):
            raise ValueError("active ids must be unique")
        self._process = TickProcess(seed, cache_days=cache_days)
        # A pure function of (seed, spec, size), asked by every download's get-first-candles:
        # without it the listing day is regenerated each time (~9 ms, evicted by any long download).
        self._first: dict[tuple[int, int], Candle] = {}

    @property
    def seed(self) -> int:
        """The seed every price derives from."""
        return self._seed

    @property
    def actives(self) -> tuple[ActiveSpec, ...]:
        """The modelled actives, in the order given."""
        return tuple(self._specs.values())

    def spec(self, active_id: int) -> ActiveSpec:
        """The active with this id.

        Raises:
            UnknownActive: no such active (a :class:`KeyError`).
        """
        try:
            return self._specs[active_id]
        except KeyError:
            raise UnknownActive(active_id) from None

    # -- public queries -------------------------------------------------------------------

    def tick(self, active_id: int, t: float) -> float | None:
        """The price of the last tick at or before ``t``, or ``None`` if the active is closed at ``t``.

        Example::

            model.tick(76, 1_770_000_000.3)   # the sub-tick at 1_770_000_000.25

        Raises:
            UnknownActive: no such active.
            ValueError: ``t`` is not finite.
        """
        spec = self.spec(active_id)
        _check_time(t)
        second = math.floor(t)
        if second < spec.listed_at or not is_open(spec, second):
            return None
        day, index = divmod(second, DAY)
        sec = self._process.seconds(spec, day)
        sub = math.floor(t * SUBTICKS) - second * SUBTICKS
        value = sec.open[index] if sub == 0 else self._process.ticks(spec, day)[index, sub - 1]
        return int(value) / price_scale(spec)

    def candle_at(self, active_id: int, size: int, t: float) -> Candle | None:
        """The candle of ``size`` holding ``t``, formed from the ticks at or before ``t``.

        A candle holds the times ``from < t <= to``: at ``t == to`` it is complete
        and equals the entry of :meth:`candles`. ``None`` if no tick of it exists
        yet (it has just begun, or the market is closed).

        Example::

            live = model.candle_at(76, 60, clock.now())

        Raises:
            UnknownActive: no such active.
            ValueError: ``size`` is not in :data:`CANDLE_SIZES`, or ``t`` is not finite.
        """
        spec = self.spec(active_id)
        _check_size(size)
        _check_time(t)
        second = math.floor(t)
        end = -(-second // size) * size if t == second else (second // size + 1) * size
        start = end - size
        if end <= spec.listed_at:
            return None
        if t >= end:
            return self._complete(spec, size, start)
        day = start // DAY
        sec = self._process.seconds(spec, day)
        first = start - day * DAY
        last_tick = math.floor(t * SUBTICKS)
        whole, sub = divmod(last_tick - start * SUBTICKS, SUBTICKS)
        spans: list[_Span] = []
        if whole > 0:
            agg = _aggregate(sec, first, 1, whole)
            if len(agg.rows):
                opened, closed, low, high = (int(a[0]) for a in (agg.open, agg.close, agg.low, agg.high))
                min_at, max_at = start + int(agg.min_off[0]), start + int(agg.max_off[0])
                at = (start + int(agg.last_off[0]) + 1) * _NS
                spans.append(_Span(opened, closed, low, high, int(agg.volume[0]), min_at, max_at, at))
        partial = first + whole
        if sub and (sec.mask is None or sec.mask[partial]):
            ticks = [int(x) for x in self._process.ticks(spec, day)[partial, :sub]]
            opened = int(sec.open[partial])
            # A second's volume accrues with its ticks, reaching the full amount at its close.
            volume = 0 if sec.volume is None else int(sec.volume[partial]) * sub // SUBTICKS
            low, high, at = min(opened, *ticks), max(opened, *ticks), last_tick * _NS_PER_SUBTICK
            spans.append(_Span(opened, ticks[-1], low, high, volume, start + whole, start + whole, at))
        if not spans:
            return None
        lowest = min(spans, key=lambda span: span.low)  # the first on ties, like argmin
        highest = max(spans, key=lambda span: span.high)
        return self._candle(
            spec,
            size,
            start,
            _Span(
                spans[0].open,
                spans[-1].close,
                lowest.low,
                highest.high,
                sum(span.volume for span in spans),
                lowest.min_at,
                highest.max_at,
                spans[-1].at,
            ),
        )

    def candles(
        self, active_id: int, size: int, start: int, end: int, *, only_closed_at: float | None = None
    ) -> list[Candle]:
        """Every existing candle of ``size`` with ``start <= from < end``, ascending, all complete.

        With ``only_closed_at``, candles whose ``to`` is after it are left out
        (use :meth:`candle_at` for the forming one). Candles before
        ``listed_at`` do not exist.

        Example::

            model.candles(76, 60, now - 3600, now, only_closed_at=now)

        Raises:
            UnknownActive: no such active.
            ValueError: ``size`` is not in :data:`CANDLE_SIZES`, ``start > end``, or
                ``only_closed_at`` is nan (``inf`` means no limit).
        """
        spec = self.spec(active_id)
        _check_size(size)
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        lo = max(-(-math.ceil(start) // size) * size, spec.listed_at // size * size)
        hi = math.ceil(end)
        if only_closed_at is not None:
            if math.isnan(only_closed_at):
                raise ValueError("only_closed_at must be a time, got nan")
            if only_closed_at < math.inf:
                hi = min(hi, math.floor(only_closed_at) - size + 1)
        result: list[Candle] = []
        if lo >= hi:
            return result
        stop = lo + ((hi - 1 - lo) // size + 1) * size
        for day in range(lo // DAY, (stop - 1) // DAY + 1):
            day_start = day * DAY
            first, last = max(lo, day_start) - day_start, min(stop, day_start + DAY) - day_start
            mask = open_mask(spec, day)
            if mask is not None and not mask[first:last].any():
                continue  # nothing trades: skip generating the day's ticks
            agg = _aggregate(self._process.seconds(spec, day), first, (last - first) // size, size)
            result += self._build(spec, size, day_start + first, agg)
        return result

    def candle_by_id(self, active_id: int, size: int, candle_id: int) -> Candle | None:
        """The complete candle with this id, or ``None`` if the market was closed (or ``id < 1``).

        The id is not checked against any clock: a future id gives a future candle.

        Raises:
            UnknownActive: no such active.
            ValueError: ``size`` is not in :data:`CANDLE_SIZES`.
        """
        start = self.from_of(active_id, size, candle_id)
        return self._complete(self.spec(active_id), size, start) if candle_id >= 1 else None

    def id_of(self, active_id: int, size: int, from_: int) -> int:
        """The id of the candle of ``size`` holding second ``from_`` (below 1 before listing).

        Raises:
            UnknownActive: no such active.
            ValueError: ``size`` is not in :data:`CANDLE_SIZES`.
        """
        spec = self.spec(active_id)
        _check_size(size)
        return (from_ - spec.listed_at // size * size) // size + 1

    def from_of(self, active_id: int, size: int, candle_id: int) -> int:
        """The ``from`` of the candle of ``size`` with this id (the inverse of :meth:`id_of`).

        Raises:
            UnknownActive: no such active.
            ValueError: ``size`` is not in :data:`CANDLE_SIZES`.
        """
        spec = self.spec(active_id)
        _check_size(size)
        return spec.listed_at // size * size + (candle_id - 1) * size

    def first_candle(self, active_id: int, size: int) -> Candle:
        """The first existing candle of ``size``: the one holding the first open second.

        Example::

            model.first_candle(1, 60).start   # 2025-01-01 00:00 UTC

        Raises:
            UnknownActive: no such active.
            ValueError: ``size`` is not in :data:`CANDLE_SIZES`.
        """
        cached = self._first.get((active_id, size))
        if cached is not None:
            return cached
        spec = self.spec(active_id)
        _check_size(size)
        opened = next_open(spec, spec.listed_at)
        candle = self._complete(spec, size, opened // size * size)
        assert candle is not None, "the first open second always makes a candle"
        self._first[(active_id, size)] = candle  # a Candle is frozen: safe to hand out again
        return candle

    # -- candles -------------------------------------------------------------------------

    def _complete(self, spec: ActiveSpec, size: int, start: int) -> Candle | None:
        found = self.candles(spec.id, size, start, start + 1)
        return found[0] if found else None

    def _build(self, spec: ActiveSpec, size: int, first: int, agg: _Aggregate) -> list[Candle]:
        starts = first + agg.rows.astype(np.int64) * size
        ids = (starts - spec.listed_at // size * size) // size + 1
        scale = price_scale(spec)
        ask_up, bid_down = _half_spreads(spec)
        columns = zip(
            ids.tolist(),
            starts.tolist(),
            (agg.open / scale).tolist(),
            (agg.close / scale).tolist(),
            (agg.low / scale).tolist(),
            (agg.high / scale).tolist(),
            agg.volume.tolist(),
            (starts + agg.min_off).tolist(),
            (starts + agg.max_off).tolist(),
            ((agg.close.astype(np.int64) + ask_up) / scale).tolist(),
            ((agg.close.astype(np.int64) - bid_down) / scale).tolist(),
            strict=True,
        )
        active_id = spec.id
        return [
            Candle(
                id=candle_id,
                start=start,
                end=start + size,
                open=opened,
                close=closed,
                low=low,
                high=high,
                volume=volume,
                active_id=active_id,
                size=size,
                at=(start + size) * _NS,
                min_at=min_at,
                max_at=max_at,
                ask=ask,
                bid=bid,
                phase="T",
            )
            for candle_id, start, opened, closed, low, high, volume, min_at, max_at, ask, bid in columns
        ]

    def _candle(self, spec: ActiveSpec, size: int, start: int, span: _Span) -> Candle:
        scale = price_scale(spec)
        ask_up, bid_down = _half_spreads(spec)
        return Candle(
            id=(start - spec.listed_at // size * size) // size + 1,
            start=start,
            end=start + size,
            open=span.open / scale,
            close=span.close / scale,
            low=span.low / scale,
            high=span.high / scale,
            volume=span.volume,
            active_id=spec.id,
            size=size,
            at=span.at,
            min_at=span.min_at,
            max_at=span.max_at,
            ask=(span.close + ask_up) / scale,
            bid=(span.close - bid_down) / scale,
            phase="T",
        )


def _check_time(t: float) -> None:
    if not math.isfinite(t):
        raise ValueError(f"time must be a finite unix time, got {t}")


def _check_size(size: int) -> None:
    if size not in CANDLE_SIZES:
        raise ValueError(f"candle size must be one of {', '.join(map(str, CANDLE_SIZES))}, got {size}")


def _half_spreads(spec: ActiveSpec) -> tuple[int, int]:
    """The integer steps from close to ask and to bid; they add up to the spread."""
    spread = round(spec.spread * price_scale(spec))
    return (spread + 1) // 2, spread // 2
