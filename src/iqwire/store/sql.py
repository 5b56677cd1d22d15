"""The candle store's SQL: the schema, the statements, the multi-row upsert, the interval tables.

Everything here works on a ``sqlite3.Connection`` the caller holds (and locks):
:class:`~iqwire.store.candles.CandleStore` owns the connection and the transactions,
:mod:`iqwire.store.columns` the read into numpy arrays, :mod:`iqwire.store.export` the
columnar formats built on it.
The column names are the wire's (``"from"``, ``"to"``) in SQL and the Python ones
(``start``, ``end``) in :data:`COLUMNS`.
"""

from __future__ import annotations

import functools
import itertools
import operator
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from iqwire.models import Candle
from iqwire.store.intervals import merge_intervals, subtract_intervals

__all__ = [
    "ADBC_FIRST_ROW",
    "COLUMNS",
    "INT_COLUMNS",
    "NULLABLE",
    "ROW",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SELECT_ARROW",
    "SELECT_CANDLES",
    "UPSERT",
    "add_intervals",
    "candles_from_rows",
    "intervals_in",
    "remove_intervals",
    "upsert",
    "where",
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
INT_COLUMNS = frozenset({"active_id", "size", "id", "start", "end", "at"})
#: Nullable columns: floats read as NaN in pandas, ``at`` as a nullable ``Int64``.
NULLABLE = frozenset({"volume", "ask", "bid", "at"})

SCHEMA_VERSION = 1

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS actives (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    payout REAL,
    precision INTEGER
);
"""

_INSERT = (
    'INSERT INTO candles (active_id, size, "from", "to", id, open, high, low, close, volume, ask, bid, at)'
)
_VALUES_ROW = "(" + ", ".join(["?"] * 13) + ")"
_SERIES_ROW = "(" + ", ".join(["?"] * 11) + ")"  # a row of one series: active_id and size bound once
_ON_CONFLICT = """
ON CONFLICT (active_id, size, "from") DO UPDATE SET
    "to" = excluded."to", id = excluded.id, open = excluded.open, high = excluded.high,
    low = excluded.low, close = excluded.close, volume = excluded.volume, ask = excluded.ask,
    bid = excluded.bid, at = excluded.at
WHERE candles.at IS NOT NULL AND candles.at < candles."to" * 1000000000
    AND (excluded.at IS NULL OR excluded.at > candles.at)
"""
#: One candle row, 13 parameters in its INSERT's order (``active_id, size, from, to, id, open, …``,
#: :data:`ROW` after the first two); a complete stored candle is never rewritten.
UPSERT = f"{_INSERT}\nVALUES {_VALUES_ROW}{_ON_CONFLICT}"

SELECT_CANDLES = 'SELECT id, "from", "to", open, high, low, close, volume, ask, bid, at FROM candles'


def candles_from_rows(rows: Iterable[Sequence[Any]], active_id: int, size: int) -> list[Candle]:
    """Candles of one series from rows in :data:`SELECT_CANDLES` order (also a Parquet dataset's)."""
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


SELECT_ARROW = (
    'SELECT active_id, size, id, "from" AS start, "to" AS "end", open, high, low, close, '
    "volume, ask, bid, at FROM candles"
)
ADBC_FIRST_ROW = (
    'SELECT 0 AS active_id, 0 AS size, 0 AS id, 0 AS start, 0 AS "end", 0.0 AS open, 0.0 AS high, '
    "0.0 AS low, 0.0 AS close, 0.0 AS volume, 0.0 AS ask, 0.0 AS bid, 0 AS at"
)
#: A candle's stored fields in column order after ``active_id, size`` (a C-level getter).
ROW = operator.attrgetter("start", "end", "id", "open", "high", "low", "close", "volume", "ask", "bid", "at")


def where(
    active_id: int | None, size: int | None, start: int | None, end: int | None
) -> tuple[str, list[int]]:
    """A ``WHERE`` clause (or ``""``) and its parameters; ``None`` leaves a column unfiltered."""
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


#: Rows per multi-row upsert statement at most (a download's page; SQLite's parameter limit may lower it).
_UPSERT_ROWS = 1000


@functools.lru_cache(maxsize=32)
def _upsert_many(rows: int, series: bool) -> str:
    """The upsert of ``rows`` rows in one statement (cached: the same text, so a cached prepare).

    With ``series``, ``?1``/``?2`` are the active and size of every row and each row
    holds the 11 values after them; ``WHERE true`` tells SQLite's parser that the
    ``ON CONFLICT`` that follows is the upsert's, not a join's.
    """
    if series:
        values = ", ".join([_SERIES_ROW] * rows)
        return f"{_INSERT}\nSELECT ?1, ?2, * FROM (VALUES {values}) WHERE true{_ON_CONFLICT}"
    return f"{_INSERT}\nVALUES {', '.join([_VALUES_ROW] * rows)}{_ON_CONFLICT}"


def upsert(
    db: sqlite3.Connection, rows: Sequence[Sequence[Any]], series: tuple[int, int] | None = None
) -> None:
    """Upsert candle rows in order, exactly as ``executemany(UPSERT)`` would, row by row.

    A row holds the 13 values of :data:`COLUMNS`, or with ``series=(active_id, size)``
    the 11 after those two (what :data:`ROW` takes from a candle). Up to 1000 rows go
    in one statement: one ``sqlite3_step`` with the GIL released, where ``executemany``
    takes the GIL back after every row (and waits for it while the event loop's thread
    runs). Inside the caller's transaction.
    """
    width = len(COLUMNS) - (0 if series is None else 2)
    limit = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 2
    most = max(1, min(_UPSERT_ROWS, limit // width))
    for done in range(0, len(rows), most):
        chunk = rows[done : done + most]
        flat = itertools.chain.from_iterable(chunk)
        params = list(flat) if series is None else [*series, *flat]
        db.execute(_upsert_many(len(chunk), series is not None), params)


def intervals_in(db: sqlite3.Connection, table: str, active_id: int, size: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` rows of an interval table (``coverage``, ``market_closed``) for one series."""
    rows = db.execute(
        f'SELECT start, "end" FROM {table} WHERE active_id = ? AND size = ? ORDER BY start',
        (active_id, size),
    ).fetchall()
    return [(int(a), int(b)) for a, b in rows]


def _replace_intervals(
    db: sqlite3.Connection, table: str, active_id: int, size: int, intervals: list[tuple[int, int]]
) -> None:
    db.execute(f"DELETE FROM {table} WHERE active_id = ? AND size = ?", (active_id, size))
    db.executemany(
        f'INSERT INTO {table} (active_id, size, start, "end") VALUES (?, ?, ?, ?)',
        [(active_id, size, a, b) for a, b in merge_intervals(intervals)],
    )


def add_intervals(
    db: sqlite3.Connection, table: str, active_id: int, size: int, added: Iterable[tuple[int, int]]
) -> None:
    """Add ranges to an interval table, merged with the ones it holds (inside the caller's transaction)."""
    current = intervals_in(db, table, active_id, size)
    _replace_intervals(db, table, active_id, size, [*current, *added])


def remove_intervals(
    db: sqlite3.Connection, table: str, active_id: int, size: int, removed: Iterable[tuple[int, int]]
) -> None:
    """Cut ranges out of an interval table (inside the caller's transaction)."""
    current = intervals_in(db, table, active_id, size)
    _replace_intervals(db, table, active_id, size, subtract_intervals(current, removed))
