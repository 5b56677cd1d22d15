"""Half-open ``[start, end)`` interval arithmetic and the gap/series records of the candle store.

The store keeps two interval tables (``coverage`` and ``market_closed``); this module
holds the pure arithmetic over them and the read-only records that describe a stored
series. Nothing here touches SQLite.

Example::

    merge_intervals([(0, 10), (10, 20), (30, 40)])       # [(0, 20), (30, 40)]
    subtract_intervals([(0, 100)], [(10, 20)])            # [(0, 10), (20, 100)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Gap",
    "GapKind",
    "SeriesInfo",
    "SeriesRange",
    "classify_by_intervals",
    "merge_intervals",
    "subtract_intervals",
]

GapKind = Literal["market", "missing"]


def merge_intervals(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, merged ``[start, end)`` intervals (touching ones join; empty ones vanish)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def subtract_intervals(
    intervals: Iterable[tuple[int, int]], removed: Iterable[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The parts of ``intervals`` outside every interval of ``removed``."""
    cuts = merge_intervals(removed)
    out: list[tuple[int, int]] = []
    for start, end in merge_intervals(intervals):
        cursor = start
        for cut_start, cut_end in cuts:
            if cut_end <= cursor:
                continue
            if cut_start >= end:
                break
            if cut_start > cursor:
                out.append((cursor, cut_start))
            cursor = max(cursor, cut_end)
            if cursor >= end:
                break
        if cursor < end:
            out.append((cursor, end))
    return out


@dataclass(frozen=True, slots=True)
class Gap:
    """A run of absent candles: ``from`` values ``start, start + size, …`` below ``end``.

    ``kind`` is ``"market"`` (the active was closed: no candle was expected) or
    ``"missing"`` (an expected candle is absent).
    """

    start: int
    end: int
    size: int
    kind: GapKind = "missing"

    @property
    def candles(self) -> int:
        """How many candle slots the gap spans."""
        return (self.end - self.start) // self.size

    def __str__(self) -> str:
        return f"{self.kind} gap [{self.start}, {self.end}) ({self.candles} x {self.size}s)"


@dataclass(frozen=True, slots=True)
class SeriesRange:
    """The stored extent of one ``(active_id, size)``: ``first``/``last`` are ``from`` values."""

    active_id: int
    size: int
    first: int
    last: int
    count: int

    @property
    def slots(self) -> int:
        """Candle slots from ``first`` to ``last`` inclusive."""
        return (self.last - self.first) // self.size + 1


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """:class:`SeriesRange` plus the gaps between ``first`` and ``last``, classified."""

    active_id: int
    size: int
    first: int
    last: int
    count: int
    gaps: tuple[Gap, ...] = field(default=())

    @property
    def market_gaps(self) -> list[Gap]:
        """Gaps where the active was closed."""
        return [gap for gap in self.gaps if gap.kind == "market"]

    @property
    def missing_gaps(self) -> list[Gap]:
        """Gaps where candles were expected but are absent (or were never downloaded)."""
        return [gap for gap in self.gaps if gap.kind == "missing"]

    @property
    def market_candles(self) -> int:
        """Candle slots inside market gaps."""
        return sum(gap.candles for gap in self.market_gaps)

    @property
    def missing_candles(self) -> int:
        """Candle slots inside missing gaps."""
        return sum(gap.candles for gap in self.missing_gaps)


def classify_by_intervals(
    runs: Iterable[tuple[int, int]], closed: Sequence[tuple[int, int]], size: int
) -> list[Gap]:
    """Split gap runs into the parts inside ``closed`` (market) and outside (missing)."""
    gaps: list[Gap] = []
    for start, end in runs:
        inside = [(max(a, start), min(b, end)) for a, b in closed if a < end and b > start]
        pieces = [(a, b, "market") for a, b in merge_intervals(inside)]
        pieces += [(a, b, "missing") for a, b in subtract_intervals([(start, end)], inside)]
        for a, b, kind in sorted(pieces):
            # Snap to the candle grid of the run.
            a = start + -(-(a - start) // size) * size
            b = start + -(-(b - start) // size) * size
            if a < b:
                gaps.append(Gap(a, b, size, kind))  # type: ignore[arg-type]
    return gaps
