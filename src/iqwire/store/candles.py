"""Candles at rest: one SQLite file (stdlib ``sqlite3``, WAL mode), idempotent writes.

Theory of operation. Every candle is one row of ``candles``, keyed by
``(active_id, size, "from")``; writing a candle twice changes nothing (a stored
candle that was still forming is completed by a later write, a complete one is
never rewritten). Two small interval tables sit beside it:

* ``coverage``: the ``[start, end)`` ranges of ``from`` that a download fetched in
  full. A download commits a page's candles and its coverage in one transaction,
  so an interrupted download resumes exactly where its last commit ended.
* ``market_closed``: ranges a download classified as *market gaps* (the active was
  closed, no candle was expected). :meth:`CandleStore.info` uses them to split
  the gaps of a series into market gaps and missing data.

Times are unix seconds; every range is half-open, ``start <= from < end``.

The object is thread-safe (one connection behind a lock), so async code runs big
writes with :meth:`CandleStore.write_async` (``asyncio.to_thread``) and never
blocks the event loop for long.

Example::

    with CandleStore("candles.sqlite") as store:
        store.write(candles)
        store.read(76, 60, start=1_770_000_000, end=1_770_086_400)
        df = store.to_pandas(76, 60)                 # needs iqwire[pandas]
        for series in store.info():
            print(series.active_id, series.size, series.count, series.missing_candles)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from iqwire.models import Candle
from iqwire.store import export as _export
from iqwire.store.columns import numpy_columns
from iqwire.store.intervals import (
    Gap,
    GapKind,
    SeriesInfo,
    SeriesRange,
    classify_by_intervals,
    merge_intervals,
    subtract_intervals,
)
from iqwire.store.sql import (
    COLUMNS,
    ROW,
    SCHEMA,
    SCHEMA_VERSION,
    SELECT_CANDLES,
    add_intervals,
    candles_from_rows,
    intervals_in,
    remove_intervals,
    upsert,
    where,
)

if TYPE_CHECKING:
    pass  # type: ignore[import-untyped,import-not-found,unused-ignore]

__all__ = [
    "COLUMNS",
    "CandleStore",
    "Gap",
    "GapKind",
    "SeriesInfo",
    "SeriesRange",
    "StoredActive",
    "merge_intervals",
    "subtract_intervals",
]


@dataclass(frozen=True, slots=True)
class StoredActive:
    """What a download recorded about an active, so a backtest needs no server.

    ``payout`` is in percent (``100 - commission`` when it was downloaded);
    ``precision`` the decimals of its prices (``None`` when the server did not say).
    """

    id: int
    name: str
    payout: float | None = None
    precision: int | None = None


class CandleStore:
    """Candles of any actives and sizes in one SQLite file.

    Args:
        path: the database file (created if absent), or ``":memory:"``.
        timeout: seconds to wait for a lock held by another process.

    Example::

        store = CandleStore("candles.sqlite")
        inserted = store.write(await client.get_candles(76, 60, count=1000))
        store.close()
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(SCHEMA)
            self._conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    def __repr__(self) -> str:
        return f"CandleStore({self.path!r})"

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Close the database (waits for a write in progress). Idempotent."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("the candle store is closed")
        return self._conn

    class _Transaction:
        def __init__(self, store: CandleStore) -> None:
            self.store = store

        def __enter__(self) -> sqlite3.Connection:
            self.store._lock.acquire()
            try:
                db = self.store._db
                db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.store._lock.release()
                raise
            return db

        def __exit__(
            self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
        ) -> None:
            try:
                self.store._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
            finally:
                self.store._lock.release()

    def _transaction(self) -> CandleStore._Transaction:
        return CandleStore._Transaction(self)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one read transaction: one snapshot for several queries.

        The store's lock is held meanwhile; use it for reads only.
        """
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    # -- writing ------------------------------------------------------------------------

    def write(
        self,
        candles: Iterable[Candle],
        *,
        active_id: int | None = None,
        size: int | None = None,
        covered: Sequence[tuple[int, int]] = (),
    ) -> int:
        """Store candles in one transaction; returns the rows inserted or completed.

        Writing a candle that is already stored complete changes nothing. With
        ``covered``, the ``[start, end)`` ranges are recorded as fully fetched in
        the same transaction (``active_id`` and ``size`` are then required).

        Raises:
            ValueError: a candle carries no ``active_id``/``size`` and none was given.
        """
        series = None if active_id is None or size is None else (active_id, size)
        rows = list(map(ROW, candles)) if series is not None else self._rows(candles, active_id, size)
        if covered and series is None:
            raise ValueError("covered= needs active_id= and size=")
        with self._transaction() as db:
            before = db.total_changes
            if rows:
                upsert(db, rows, series)
            changed = db.total_changes - before
            if covered:
                assert active_id is not None and size is not None
                add_intervals(db, "coverage", active_id, size, covered)
        return changed

    async def write_async(
        self,
        candles: Iterable[Candle],
        *,
        active_id: int | None = None,
        size: int | None = None,
        covered: Sequence[tuple[int, int]] = (),
    ) -> int:
        """:meth:`write` in a worker thread, so the event loop keeps running."""
        candles = list(candles)
        return await asyncio.to_thread(self.write, candles, active_id=active_id, size=size, covered=covered)

    @staticmethod
    def _rows(candles: Iterable[Candle], active_id: int | None, size: int | None) -> list[tuple[Any, ...]]:
        """Rows of all 13 columns, each candle's own active and size where none is given."""
        rows = []
        for c in candles:
            a_id = active_id if active_id is not None else c.active_id
            c_size = size if size is not None else c.size
            if a_id is None or c_size is None:
                raise ValueError(f"candle {c.id} has no active_id/size: pass active_id= and size=")
            rows.append(
                (
                    a_id,
                    c_size,
                    c.start,
                    c.end,
                    c.id,
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    c.volume,
                    c.ask,
                    c.bid,
                    c.at,
                )
            )
        return rows

    # -- interval tables ------------------------------------------------------------------

    def coverage(self, active_id: int, size: int) -> list[tuple[int, int]]:
        """The ``[start, end)`` ranges fetched in full by downloads, merged."""
        with self._lock:
            return intervals_in(self._db, "coverage", active_id, size)

    def uncovered(self, active_id: int, size: int, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of ``[start, end)`` no download has fetched in full yet."""
        return subtract_intervals([(start, end)], self.coverage(active_id, size))

    def mark_covered(self, active_id: int, size: int, intervals: Iterable[tuple[int, int]]) -> None:
        """Record ranges as fetched in full."""
        with self._transaction() as db:
            add_intervals(db, "coverage", active_id, size, intervals)

    def uncover(self, active_id: int, size: int, intervals: Iterable[tuple[int, int]]) -> None:
        """Forget that ranges were fetched (a later download fetches them again)."""
        with self._transaction() as db:
            remove_intervals(db, "coverage", active_id, size, intervals)

    def market_closed(self, active_id: int, size: int) -> list[tuple[int, int]]:
        """The ranges classified as market gaps (the active was closed), merged."""
        with self._lock:
            return intervals_in(self._db, "market_closed", active_id, size)

    def set_market_closed(
        self, active_id: int, size: int, start: int, end: int, closed: Iterable[tuple[int, int]]
    ) -> None:
        """Within ``[start, end)``, replace the market-gap ranges with ``closed``."""
        clipped = [(max(a, start), min(b, end)) for a, b in closed]
        with self._transaction() as db:
            remove_intervals(db, "market_closed", active_id, size, [(start, end)])
            add_intervals(db, "market_closed", active_id, size, clipped)

    # -- reading ----------------------------------------------------------------------------

    def read(
        self, active_id: int, size: int, start: int | None = None, end: int | None = None
    ) -> list[Candle]:
        """The stored candles with ``start <= from < end``, ascending."""
        clause, params = where(active_id, size, start, end)
        with self._lock:
            rows = self._db.execute(f'{SELECT_CANDLES}{clause} ORDER BY "from"', params).fetchall()
        return candles_from_rows(rows, active_id, size)

    async def read_async(
        self, active_id: int, size: int, start: int | None = None, end: int | None = None
    ) -> list[Candle]:
        """:meth:`read` in a worker thread."""
        return await asyncio.to_thread(self.read, active_id, size, start, end)

    def count(
        self,
        active_id: int | None = None,
        size: int | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> int:
        """How many candles match (all of them by default)."""
        clause, params = where(active_id, size, start, end)
        with self._lock:
            (value,) = self._db.execute(f"SELECT count(*) FROM candles{clause}", params).fetchone()
        return int(value)

    def series(self) -> list[tuple[int, int]]:
        """Every stored ``(active_id, size)``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT active_id, size FROM candles ORDER BY active_id, size"
            ).fetchall()
        return [(int(a), int(s)) for a, s in rows]

    def ranges(self) -> list[SeriesRange]:
        """First and last ``from`` and the count of every stored ``(active_id, size)``."""
        with self._lock:
            rows = self._db.execute(
                'SELECT active_id, size, min("from"), max("from"), count(*) FROM candles '
                "GROUP BY active_id, size ORDER BY active_id, size"
            ).fetchall()
        return [SeriesRange(int(a), int(s), int(f), int(la), int(n)) for a, s, f, la, n in rows]

    def gap_runs(
        self, active_id: int, size: int, start: int | None = None, end: int | None = None
    ) -> list[tuple[int, int]]:
        """Runs of absent candle slots, unclassified.

        Without bounds: between the first and the last stored candle. With
        ``start``/``end``: within ``[start, end)`` on the grid of ``start``,
        leading and trailing runs included.
        """
        clause, params = where(active_id, size, start, end)
        with self.snapshot() as db:  # one snapshot for both queries
            count, first, last = db.execute(
                f'SELECT count(*), min("from"), max("from") FROM candles{clause}', params
            ).fetchone()
            inner: list[tuple[int, int]] = []
            if count and (int(last) - int(first)) // size + 1 != count:
                # Only the "from" column, straight into numpy; the gaps are where it jumps.
                cursor = db.execute(f'SELECT "from" FROM candles{clause} ORDER BY "from"', params)
                starts = np.fromiter(itertools.chain.from_iterable(cursor), dtype=np.int64, count=count)
                jumps = np.flatnonzero(np.diff(starts) > size)
                inner = list(zip((starts[jumps] + size).tolist(), starts[jumps + 1].tolist(), strict=True))
        runs: list[tuple[int, int]] = []
        if not count:
            if start is not None and end is not None and start < end:
                runs.append((start, end))
            return runs
        if start is not None and first > start:
            runs.append((start, int(first)))
        runs += inner
        if end is not None and int(last) + size < end:
            runs.append((int(last) + size, end))
        return runs

    def gaps(self, active_id: int, size: int, start: int | None = None, end: int | None = None) -> list[Gap]:
        """:meth:`gap_runs` split into market gaps (as classified by downloads) and missing data."""
        runs = self.gap_runs(active_id, size, start, end)
        closed = self.market_closed(active_id, size)
        return classify_by_intervals(runs, closed, size)

    def info(self) -> list[SeriesInfo]:
        """Every series with its range, count, and gaps split into market and missing."""
        return [
            SeriesInfo(r.active_id, r.size, r.first, r.last, r.count, tuple(self.gaps(r.active_id, r.size)))
            for r in self.ranges()
        ]

    # -- columnar reads ---------------------------------------------------------------------------

    def numpy_columns(
        self, active_id: int | None, size: int | None, start: int | None, end: int | None
    ) -> dict[str, np.ndarray[Any, Any]]:
        """Every column of :data:`COLUMNS` as a numpy array (floats NaN where NULL, ``at`` -1)."""
        with self.snapshot() as db:  # one snapshot for the count and the rows
            return numpy_columns(db, active_id, size, start, end)

    # -- what the store knows of its actives --------------------------------------------------

    def describe_active(self, active: StoredActive) -> None:
        """Record an active's name, payout and precision (a download does it for you)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO actives (id, name, payout, precision) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, payout = excluded.payout, "
                "precision = excluded.precision",
                (active.id, active.name, active.payout, active.precision),
            )

    def actives(self) -> dict[int, StoredActive]:
        """The actives the store has names for, by id."""
        with self._lock:
            rows = self._db.execute("SELECT id, name, payout, precision FROM actives ORDER BY id").fetchall()
        return {
            int(i): StoredActive(
                int(i), str(n), None if p is None else float(p), None if d is None else int(d)
            )
            for i, n, p, d in rows
        }

    # -- columnar reads and exports: the functions of iqwire.store.export, as methods -------------

    to_arrow = _export.to_arrow
    to_pandas = _export.to_pandas
    to_polars = _export.to_polars
    iter_arrow = _export.iter_arrow
    export = _export.export
