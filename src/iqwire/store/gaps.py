"""Classify runs of absent candle slots as market gaps or missing data (pure; no I/O).

A run of absent slots is classified slot by slot, first rule that can tell:

a. ``is_open`` (a predicate on unix seconds), if given: the slot is *expected* when
   the active is open at some second of it (sampled every ``min(size, 60)``
   seconds); an expected absent slot is **missing**, any other a **market** gap.
b. a :class:`Schedule` (the active's ``schedule`` from ``get-initialization-data``),
   for slots inside the span it covers: a slot outside every open interval is a
   market gap. A trailing run that reaches the end of the range while the active
   is suspended is a market gap too.
c. the ids around the run: when the candles just before and just after it have
   consecutive ids, the server numbered no candle in between, so none was
   expected: a market gap. Otherwise the run is **missing**.

:func:`iqwire.store.download` applies these to what a download left absent.

Example::

    schedule = Schedule.from_wire([[open_1, close_1], [open_2, close_2]])
    gaps, rule = classify_gaps([(run_start, run_end)], 60, schedule=schedule)
    print(rule, [(g.start, g.end, g.kind) for g in gaps])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from iqwire.store.intervals import Gap, merge_intervals

__all__ = ["Schedule", "classify_gaps"]


@dataclass(frozen=True, slots=True)
class Schedule:
    """Open intervals ``[open, close)`` known for the span ``[span_start, span_end)``."""

    intervals: tuple[tuple[int, int], ...]
    span_start: int
    span_end: int
    suspended: bool = False

    @classmethod
    def from_wire(cls, schedule: Sequence[Sequence[int]], *, suspended: bool = False) -> Schedule | None:
        """From an initialization-data ``schedule`` (``[[open, close], …]``); ``None`` if empty."""
        intervals = merge_intervals((int(pair[0]), int(pair[1])) for pair in schedule if len(pair) >= 2)
        if not intervals:
            return None
        return cls(tuple(intervals), intervals[0][0], intervals[-1][1], suspended)

    def covers(self, start: int, end: int) -> bool:
        """Whether the schedule knows about all of ``[start, end)``."""
        return self.span_start <= start and end <= self.span_end

    def open_during(self, start: int, end: int) -> bool:
        """Whether any open interval overlaps ``[start, end)``."""
        return any(a < end and b > start for a, b in self.intervals)


def _slot_open(is_open: Callable[[int], bool], start: int, size: int) -> bool:
    step = min(size, 60)
    return any(is_open(t) for t in range(start, start + size, step))


def _runs(labels: list[tuple[int, str]], size: int) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for start, label in labels:
        if out and out[-1][2] == label and out[-1][1] == start:
            out[-1] = (out[-1][0], start + size, label)
        else:
            out.append((start, start + size, label))
    return out


def classify_gaps(
    runs: Sequence[tuple[int, int]],
    size: int,
    *,
    is_open: Callable[[int], bool] | None = None,
    schedule: Schedule | None = None,
    range_end: int | None = None,
    neighbour_ids: Callable[[int, int], tuple[int | None, int | None]] | None = None,
) -> tuple[list[Gap], str]:
    """Classify runs of absent slots as market gaps or missing data (see the module's rules).

    ``neighbour_ids(start, end)`` returns the ids of the stored candles just before
    ``start`` and at ``end`` (``None`` where there is none). Returns the gaps and
    the name of the strongest rule used (``"is_open"``, ``"schedule"``, ``"ids"``; ``"none"``
    without runs).
    """
    gaps: list[Gap] = []
    used = "ids" if runs else "none"
    for run_start, run_end in runs:
        if is_open is not None:
            used = "is_open"
            labels = [
                (t, "missing" if _slot_open(is_open, t, size) else "market")
                for t in range(run_start, run_end, size)
            ]
            gaps += [Gap(a, b, size, kind) for a, b, kind in _runs(labels, size)]  # type: ignore[arg-type]
            continue
        labels = []
        for t in range(run_start, run_end, size):
            label = "unknown"
            if schedule is not None and schedule.covers(t, t + size):
                label = "missing" if schedule.open_during(t, t + size) else "market"
            labels.append((t, label))
        if schedule is not None and any(label != "unknown" for _, label in labels):
            used = "schedule" if used == "ids" else used
        if all(label == "unknown" for _, label in labels):
            kind = "missing"
            if schedule is not None and schedule.suspended and range_end is not None and run_end >= range_end:
                kind = "market"
            elif neighbour_ids is not None:
                before, after = neighbour_ids(run_start, run_end)
                if before is not None and after is not None and after == before + 1:
                    kind = "market"
            gaps.append(Gap(run_start, run_end, size, kind))  # type: ignore[arg-type]
            continue
        labels = [(t, "missing" if label == "unknown" else label) for t, label in labels]
        gaps += [Gap(a, b, size, kind) for a, b, kind in _runs(labels, size)]  # type: ignore[arg-type]
    return gaps, used
