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
import importlib.util
import itertools
import logging
import operator
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

import numpy as np

from iqwire.models import Candle

log = logging.getLogger("iqwire.store")

if TYPE_CHECKING:
    import pandas  # type: ignore[import-untyped,import-not-found,unused-ignore]
    import polars  # type: ignore[import-untyped,import-not-found,unused-ignore]
    import pyarrow  # type: ignore[import-untyped,import-not-found,unused-ignore]

__all__ = [
    "COLUMNS",
    "CandleStore",
    "Gap",
    "GapKind",
    "SeriesInfo",
    "SeriesRange",
    "merge_intervals",
    "subtract_intervals",
]

#: The columns of :meth:`CandleStore.to_arrow` / ``to_pandas`` / ``to_polars``, in order
#: (Python names, as on :class:`~iqwire.models.Candle`: ``start``/``end`` are the wire's ``from``/``to``).
COLUMNS = (
    "active_id",
    "size",
    "id",
    "start",
    "end",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "ask",
    "bid",
    "at",
)
_INT_COLUMNS = frozenset({"active_id", "size", "id", "start", "end", "at"})
#: Nullable columns: floats read as NaN in pandas, ``at`` as a nullable ``Int64``.
_NULLABLE = frozenset({"volume", "ask", "bid", "at"})

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS candles (
    active_id INTEGER NOT NULL,
    size INTEGER NOT NULL,
    "from" INTEGER NOT NULL,
    "to" INTEGER NOT NULL,
    id INTEGER NOT NULL,
    open REAL NOT NULL,
    high REAL NOT NULL,
    low REAL NOT NULL,
    close REAL NOT NULL,
    volume REAL,
    ask REAL,
    bid REAL,
    at INTEGER,
    PRIMARY KEY (active_id, size, "from")
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS coverage (
    active_id INTEGER NOT NULL,
    size INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    PRIMARY KEY (active_id, size, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS market_closed (
    active_id INTEGER NOT NULL,
    size INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    PRIMARY KEY (active_id, size, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_UPSERT = """
INSERT INTO candles (active_id, size, "from", "to", id, open, high, low, close, volume, ask, bid, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (active_id, size, "from") DO UPDATE SET
    "to" = excluded."to", id = excluded.id, open = excluded.open, high = excluded.high,
    low = excluded.low, close = excluded.close, volume = excluded.volume, ask = excluded.ask,
    bid = excluded.bid, at = excluded.at
WHERE candles.at IS NOT NULL AND candles.at < candles."to" * 1000000000
    AND (excluded.at IS NULL OR excluded.at > candles.at)
"""

_SELECT_CANDLES = 'SELECT id, "from", "to", open, high, low, close, volume, ask, bid, at FROM candles'
# For the numpy path: NULL floats come back as +inf (9e999 parses as inf), a NULL ``at`` as -1.
_SELECT_NUMERIC = (
    'SELECT active_id, size, id, "from", "to", open, high, low, close, '
    "IFNULL(volume, 9e999), IFNULL(ask, 9e999), IFNULL(bid, 9e999), IFNULL(at, -1) FROM candles"
)
_SELECT_ARROW = (
    'SELECT active_id, size, id, "from" AS start, "to" AS "end", open, high, low, close, '
    "volume, ask, bid, at FROM candles"
)
_ADBC_FIRST_ROW = (
    'SELECT 0 AS active_id, 0 AS size, 0 AS id, 0 AS start, 0 AS "end", 0.0 AS open, 0.0 AS high, '
    "0.0 AS low, 0.0 AS close, 0.0 AS volume, 0.0 AS ask, 0.0 AS bid, 0 AS at"
)
_NUMPY_BLOCK = 65_536
_ADBC_BATCH_ROWS = 1 << 24
_NUMPY_DTYPE = np.dtype([(name, np.int64 if name in _INT_COLUMNS else np.float64) for name in COLUMNS])

#: A candle's stored fields in column order after ``active_id, size`` (a C-level getter).
_ROW = operator.attrgetter("start", "end", "id", "open", "high", "low", "close", "volume", "ask", "bid", "at")

Engine = Literal["auto", "adbc", "sqlite3"]
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


def _sorted(active: np.ndarray[Any, Any], size: np.ndarray[Any, Any], start: np.ndarray[Any, Any]) -> bool:
    """Whether rows are in ``(active_id, size, start)`` order (vectorised)."""
    if len(start) < 2:
        return True
    a0, a1, s0, s1, t0, t1 = active[:-1], active[1:], size[:-1], size[1:], start[:-1], start[1:]
    ordered = (a1 > a0) | ((a1 == a0) & ((s1 > s0) | ((s1 == s0) & (t1 > t0))))
    return bool(ordered.all())


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _missing_extra(module: str, extra: str) -> ImportError:
    return ImportError(f"this needs {module}: pip install 'iqwire[{extra}]' (or pip install {module})")


@contextlib.contextmanager
def _needs(module: str, extra: str) -> Iterator[None]:
    """Turn a failed import of ``module`` into an ImportError that names the extra to install."""
    try:
        yield
    except ImportError:
        raise _missing_extra(module, extra) from None


def _through_arrow(engine: Engine) -> bool:
    """Whether a DataFrame read goes through :meth:`CandleStore.to_arrow` (pyarrow installed).

    Raises:
        ImportError: ``engine="adbc"`` without pyarrow.
    """
    if engine == "sqlite3":
        return False
    if _installed("pyarrow"):
        return True
    if engine == "adbc":
        raise _missing_extra("pyarrow", "parquet")
    return False


def _where(
    active_id: int | None, size: int | None, start: int | None, end: int | None
) -> tuple[str, list[int]]:
    clauses: list[str] = []
    params: list[int] = []
    for clause, value in (
        ("active_id = ?", active_id),
        ("size = ?", size),
        ('"from" >= ?', start),
        ('"from" < ?', end),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(int(value))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


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
            self._conn.executescript(_SCHEMA)
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
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one read transaction: one snapshot for several queries."""
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
        rows = self._rows(candles, active_id, size)
        if covered and (active_id is None or size is None):
            raise ValueError("covered= needs active_id= and size=")
        with self._transaction() as db:
            before = db.total_changes
            if rows:
                db.executemany(_UPSERT, rows)
            changed = db.total_changes - before
            if covered:
                assert active_id is not None and size is not None
                self._add_intervals(db, "coverage", active_id, size, covered)
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
        if active_id is not None and size is not None:
            key = (active_id, size)
            return [key + row for row in map(_ROW, candles)]
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

    @staticmethod
    def _intervals_in(db: sqlite3.Connection, table: str, active_id: int, size: int) -> list[tuple[int, int]]:
        rows = db.execute(
            f'SELECT start, "end" FROM {table} WHERE active_id = ? AND size = ? ORDER BY start',
            (active_id, size),
        ).fetchall()
        return [(int(a), int(b)) for a, b in rows]

    def _replace_intervals(
        self, db: sqlite3.Connection, table: str, active_id: int, size: int, intervals: list[tuple[int, int]]
    ) -> None:
        db.execute(f"DELETE FROM {table} WHERE active_id = ? AND size = ?", (active_id, size))
        db.executemany(
            f'INSERT INTO {table} (active_id, size, start, "end") VALUES (?, ?, ?, ?)',
            [(active_id, size, a, b) for a, b in merge_intervals(intervals)],
        )

    def _add_intervals(
        self, db: sqlite3.Connection, table: str, active_id: int, size: int, added: Iterable[tuple[int, int]]
    ) -> None:
        current = self._intervals_in(db, table, active_id, size)
        self._replace_intervals(db, table, active_id, size, [*current, *added])

    def _remove_intervals(
        self,
        db: sqlite3.Connection,
        table: str,
        active_id: int,
        size: int,
        removed: Iterable[tuple[int, int]],
    ) -> None:
        current = self._intervals_in(db, table, active_id, size)
        self._replace_intervals(db, table, active_id, size, subtract_intervals(current, removed))

    def coverage(self, active_id: int, size: int) -> list[tuple[int, int]]:
        """The ``[start, end)`` ranges fetched in full by downloads, merged."""
        with self._lock:
            return self._intervals_in(self._db, "coverage", active_id, size)

    def uncovered(self, active_id: int, size: int, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of ``[start, end)`` no download has fetched in full yet."""
        return subtract_intervals([(start, end)], self.coverage(active_id, size))

    def mark_covered(self, active_id: int, size: int, intervals: Iterable[tuple[int, int]]) -> None:
        """Record ranges as fetched in full."""
        with self._transaction() as db:
            self._add_intervals(db, "coverage", active_id, size, intervals)

    def uncover(self, active_id: int, size: int, intervals: Iterable[tuple[int, int]]) -> None:
        """Forget that ranges were fetched (a later download fetches them again)."""
        with self._transaction() as db:
            self._remove_intervals(db, "coverage", active_id, size, intervals)

    def market_closed(self, active_id: int, size: int) -> list[tuple[int, int]]:
        """The ranges classified as market gaps (the active was closed), merged."""
        with self._lock:
            return self._intervals_in(self._db, "market_closed", active_id, size)

    def set_market_closed(
        self, active_id: int, size: int, start: int, end: int, closed: Iterable[tuple[int, int]]
    ) -> None:
        """Within ``[start, end)``, replace the market-gap ranges with ``closed``."""
        clipped = [(max(a, start), min(b, end)) for a, b in closed]
        with self._transaction() as db:
            self._remove_intervals(db, "market_closed", active_id, size, [(start, end)])
            self._add_intervals(db, "market_closed", active_id, size, clipped)

    # -- reading ----------------------------------------------------------------------------

    def read(
        self, active_id: int, size: int, start: int | None = None, end: int | None = None
    ) -> list[Candle]:
        """The stored candles with ``start <= from < end``, ascending."""
        where, params = _where(active_id, size, start, end)
        with self._lock:
            rows = self._db.execute(f'{_SELECT_CANDLES}{where} ORDER BY "from"', params).fetchall()
        return [
            Candle(
                id=r[0],
                start=r[1],
                end=r[2],
                open=r[3],
                high=r[4],
                low=r[5],
                close=r[6],
                volume=r[7],
                ask=r[8],
                bid=r[9],
                at=r[10],
                active_id=active_id,
                size=size,
            )
            for r in rows
        ]

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
        where, params = _where(active_id, size, start, end)
        with self._lock:
            (value,) = self._db.execute(f"SELECT count(*) FROM candles{where}", params).fetchone()
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
        where, params = _where(active_id, size, start, end)
        with self._snapshot() as db:  # one snapshot for both queries
            count, first, last = db.execute(
                f'SELECT count(*), min("from"), max("from") FROM candles{where}', params
            ).fetchone()
            inner: list[tuple[int, int]] = []
            if count and (int(last) - int(first)) // size + 1 != count:
                # Only the "from" column, straight into numpy; the gaps are where it jumps.
                cursor = db.execute(f'SELECT "from" FROM candles{where} ORDER BY "from"', params)
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
        return _classify_by_intervals(runs, closed, size)

    def info(self) -> list[SeriesInfo]:
        """Every series with its range, count, and gaps split into market and missing."""
        return [
            SeriesInfo(r.active_id, r.size, r.first, r.last, r.count, tuple(self.gaps(r.active_id, r.size)))
            for r in self.ranges()
        ]

    # -- columnar reads ---------------------------------------------------------------------------

    def _numpy_columns(
        self, active_id: int | None, size: int | None, start: int | None, end: int | None
    ) -> dict[str, np.ndarray[Any, Any]]:
        """Every column as a numpy array (floats NaN where NULL, ``at`` -1 where NULL)."""
        where, params = _where(active_id, size, start, end)
        with self._snapshot() as db:  # one snapshot for the count and the rows
            (count,) = db.execute(f"SELECT count(*) FROM candles{where}", params).fetchone()
            columns = {name: np.empty(count, dtype=_NUMPY_DTYPE[name]) for name in COLUMNS}
            cursor = db.execute(f'{_SELECT_NUMERIC}{where} ORDER BY active_id, size, "from"', params)
            done = 0
            while done < count:
                # A block of rows at a time, so only the final columns are ever whole; the
                # C iterator fills the block from the cursor: no Python loop per row.
                rows = min(_NUMPY_BLOCK, count - done)
                block = np.fromiter(itertools.islice(cursor, rows), dtype=_NUMPY_DTYPE, count=rows)
                for name in COLUMNS:
                    columns[name][done : done + rows] = block[name]
                done += rows
        for name in ("volume", "ask", "bid"):
            column = columns[name]
            column[np.isinf(column)] = np.nan
        return columns

    def _adbc_table(
        self, active_id: int | None, size: int | None, start: int | None, end: int | None
    ) -> pyarrow.Table | None:
        """The rows as Arrow through ADBC's SQLite driver, or ``None`` when it cannot be used."""
        if self.path == ":memory:" or self.path.startswith("file:"):
            return None
        try:
            import adbc_driver_sqlite.dbapi as adbc  # type: ignore[import-untyped,import-not-found,unused-ignore]
            import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError:
            return None
        where, params = _where(active_id, size, start, end)
        # The driver infers each column's type from the first rows it sees; a first row
        # with no NULL (dropped below) pins every type, whatever the data holds.
        query = f'{_ADBC_FIRST_ROW} UNION ALL SELECT * FROM ({_SELECT_ARROW}{where} ORDER BY active_id, size, "from")'
        try:
            with adbc.connect(self.path) as conn, conn.cursor() as cursor:
                # One big batch: a table of one chunk per column converts to pandas without a copy.
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_ADBC_BATCH_ROWS)})
                cursor.execute(query, params)
                table = cursor.fetch_arrow_table().slice(1)
            table = table.cast(_arrow_schema(pa))
        except Exception as exc:  # a driver quirk: the stdlib path still works
            log.debug("ADBC read failed, using sqlite3: %s", exc)
            return None
        if not _sorted(*(table.column(name).to_numpy() for name in ("active_id", "size", "start"))):
            table = table.sort_by([("active_id", "ascending"), ("size", "ascending"), ("start", "ascending")])
        return table

    def to_arrow(
        self,
        active_id: int | None = None,
        size: int | None = None,
        start: int | None = None,
        end: int | None = None,
        *,
        engine: Engine = "auto",
    ) -> pyarrow.Table:
        """The candles as a ``pyarrow.Table`` with :data:`COLUMNS` (NULLs stay null).

        ``engine="auto"`` reads through ADBC's SQLite driver (``adbc-driver-sqlite``)
        when it is installed: straight into Arrow memory, no Python object per value.
        Otherwise (or with ``engine="sqlite3"``) the stdlib cursor fills numpy
        arrays in C, chunk-free, with no Python loop per row.

        Raises:
            ImportError: pyarrow is not installed (``pip install 'iqwire[parquet]'``).
        """
        with _needs("pyarrow", "parquet"):
            import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]
        if engine != "sqlite3":
            table = self._adbc_table(active_id, size, start, end)
            if table is not None:
                return table
            if engine == "adbc":
                raise ImportError("engine='adbc' needs adbc-driver-sqlite and a database file")
        columns = self._numpy_columns(active_id, size, start, end)
        arrays = []
        for name in COLUMNS:
            values = columns[name]
            mask: np.ndarray[Any, Any] | None = None
            if name in _NULLABLE:
                mask = values == -1 if name == "at" else np.isnan(values)
                if not mask.any():
                    mask = None
            arrays.append(
                pa.array(values, mask=mask, type=pa.int64() if name in _INT_COLUMNS else pa.float64())
            )
        return pa.Table.from_arrays(arrays, schema=_arrow_schema(pa))

    def to_pandas(
        self,
        active_id: int | None = None,
        size: int | None = None,
        start: int | None = None,
        end: int | None = None,
        *,
        engine: Engine = "auto",
    ) -> pandas.DataFrame:
        """The candles as a ``pandas.DataFrame`` with :data:`COLUMNS`, ordered by series and time.

        Integer columns are ``int64``; ``volume``/``ask``/``bid`` are ``float64``
        (NaN where absent); ``at`` (nanoseconds) is a nullable ``Int64``.

        Raises:
            ImportError: pandas is not installed (``pip install 'iqwire[pandas]'``).
        """
        with _needs("pandas", "pandas"):
            import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]
        if _through_arrow(engine):
            return _arrow_to_pandas(self.to_arrow(active_id, size, start, end, engine=engine), pd)
        columns = self._numpy_columns(active_id, size, start, end)
        at = columns.pop("at")
        frame = pd.DataFrame(columns, copy=False)
        frame["at"] = pd.arrays.IntegerArray(at, at == -1)
        return frame

    def to_polars(
        self,
        active_id: int | None = None,
        size: int | None = None,
        start: int | None = None,
        end: int | None = None,
        *,
        engine: Engine = "auto",
    ) -> polars.DataFrame:
        """The candles as a ``polars.DataFrame`` with :data:`COLUMNS` (NULLs are null).

        Raises:
            ImportError: polars is not installed (``pip install 'iqwire[polars]'``).
        """
        with _needs("polars", "polars"):
            import polars as pl  # type: ignore[import-untyped,import-not-found,unused-ignore]
        if _through_arrow(engine):
            result = pl.from_arrow(self.to_arrow(active_id, size, start, end, engine=engine))
            assert isinstance(result, pl.DataFrame)
            return result
        columns = self._numpy_columns(active_id, size, start, end)
        series = []
        for name in COLUMNS:
            values = columns[name]
            if name == "at":
                column = pl.Series(name, values).set(pl.Series(values == -1), None)  # type: ignore[arg-type,unused-ignore]
            elif name in _NULLABLE:
                column = pl.Series(name, values, nan_to_null=True)
            else:
                column = pl.Series(name, values)
            series.append(column)
        return pl.DataFrame(series)

    def iter_arrow(
        self, active_id: int | None = None, size: int | None = None, *, engine: Engine = "auto"
    ) -> Iterator[pyarrow.Table]:
        """One Arrow table per stored series (bounded memory for exports)."""
        for series_active, series_size in self.series():
            if (active_id is None or series_active == active_id) and (size is None or series_size == size):
                yield self.to_arrow(series_active, series_size, engine=engine)

    def export(
        self,
        out: str | Path,
        fmt: Literal["parquet", "csv"] = "parquet",
        *,
        active_id: int | None = None,
        size: int | None = None,
        on_series: Callable[[int], None] | None = None,
    ) -> int:
        """Write the candles (all, or one active/size) to a Parquet or CSV file; returns the rows.

        Parquet needs pyarrow; CSV uses pyarrow when present, else the stdlib ``csv``
        writer fed straight from the cursor.

        Raises:
            ImportError: Parquet without pyarrow (``pip install 'iqwire[parquet]'``).
            ValueError: an unknown format.
        """
        if fmt not in ("parquet", "csv"):
            raise ValueError(f"unknown export format {fmt!r}: use 'parquet' or 'csv'")
        try:
            import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError:
            if fmt == "parquet":
                raise _missing_extra("pyarrow", "parquet") from None
            return self._export_csv_stdlib(Path(out), active_id, size)
        schema = _arrow_schema(pa)
        if fmt == "parquet":
            import pyarrow.parquet as pq  # type: ignore[import-untyped,import-not-found,unused-ignore]

            writer = pq.ParquetWriter(str(out), schema)
        else:
            import pyarrow.csv as pacsv  # type: ignore[import-untyped,import-not-found,unused-ignore]

            try:  # plain header names, like the stdlib writer's (quoting_header needs pyarrow 15+)
                options = pacsv.WriteOptions(quoting_header="none")
            except TypeError:
                options = pacsv.WriteOptions()
            writer = pacsv.CSVWriter(str(out), schema, write_options=options)
        rows = 0
        with writer:
            for table in self.iter_arrow(active_id, size):
                writer.write_table(table)
                rows += table.num_rows
                if on_series is not None:
                    on_series(table.num_rows)
        return rows

    def _export_csv_stdlib(self, out: Path, active_id: int | None, size: int | None) -> int:
        import csv

        where, params = _where(active_id, size, None, None)
        with self._lock, out.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            # writerows consumes the cursor in C: no Python loop per row.
            writer.writerows(
                self._db.execute(f'{_SELECT_ARROW}{where} ORDER BY active_id, size, "from"', params)
            )
            return self.count(active_id, size)


def _arrow_schema(pa: Any) -> pyarrow.Schema:
    fields = [
        pa.field(name, pa.int64() if name in _INT_COLUMNS else pa.float64(), nullable=name in _NULLABLE)
        for name in COLUMNS
    ]
    schema: pyarrow.Schema = pa.schema(fields)
    return schema


def _arrow_to_pandas(table: pyarrow.Table, pd: Any) -> pandas.DataFrame:
    import pyarrow.compute as pc  # type: ignore[import-untyped,import-not-found,unused-ignore]

    index = table.schema.get_field_index("at")
    at = table.column(index)
    mask = at.is_null().to_numpy(zero_copy_only=False)
    table = table.set_column(index, "at", pc.fill_null(at, -1))
    frame: pandas.DataFrame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    frame["at"] = pd.arrays.IntegerArray(frame["at"].to_numpy(dtype=np.int64), mask)
    return frame


def _classify_by_intervals(
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
