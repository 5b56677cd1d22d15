"""The candle store read into numpy arrays through the stdlib ``sqlite3`` module.

This is the columnar read without ADBC (``to_pandas(engine="sqlite3")`` and the
fallback of every columnar function). A cursor hands over a Python object per value,
and CPython 3.11's ``sqlite3`` releases and re-takes the GIL around every one (about
75 ns a value, 130 ns a row on the benchmark machine). So the read does two things:

* It hands over as few values as it can:

  * a column the filter fixes (``active_id``, ``size``) is filled, not read;
  * a column that follows from others in every row of the range is computed, not
    read: ``end = start + size``, ``at = end * 10**9`` (a complete candle), and within
    one series ``id = (start + k) // size`` (ids step by one per candle slot); any
    other ``at`` is handed over as its distance to ``end * 10**9`` (exact in a float64);
  * a column that holds one value in every row of the range is read once: ``volume``
    0 and ``ask``/``bid`` NULL in candles from ``get-candles``, ``at`` NULL when the
    server sent none.

  Which of these hold is guessed from the first and last rows of the range, and
  *proved* row by row in the query: the ``start`` it hands over is replaced by
  ``+inf`` in any row that breaks one. Such a row makes the read start again the
  general way (every column, every row, through the cursor), so the result never
  depends on the guess.
* It hands the values over in bulk: every value left fits a float64 exactly (the
  prices, and integers proved within ±2**53: by the same test, or for one series
  read in spans of its starts by the spans' bounds), so SQLite
  calls ``struct.pack`` once a row (a function registered on the connection: one
  GIL round trip a row, not one a value) and its ``group_concat`` joins a block's
  packed rows into one ``bytes`` (SQLite copies a BLOB's bytes as they are), which
  ``np.frombuffer`` reads. Each block is checked for its row count, its length and
  the order of its keys before it is kept; anything else is the general read again.

Example::

    with store.snapshot() as db:
        columns = numpy_columns(db, 76, 60, None, None)   # {"active_id": array([76, ...]), ...}
"""

from __future__ import annotations

import itertools
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from iqwire.store.sql import COLUMNS, INT_COLUMNS, where

__all__ = ["numpy_columns"]

#: The columns' SQL, NULL floats as +inf (9e999 parses as inf), a NULL ``at`` as -1.
_SQL = {
    "active_id": "active_id",
    "size": "size",
    "id": "id",
    "start": '"from"',
    "end": '"to"',
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "IFNULL(volume, 9e999)",
    "ask": "IFNULL(ask, 9e999)",
    "bid": "IFNULL(bid, 9e999)",
    "at": "IFNULL(at, -1)",
}
#: The columns as stored (NULL stays NULL), for the sample rows and the tests of constant columns.
_SQL_PLAIN = {name: '"from"' if name == "start" else '"to"' if name == "end" else name for name in COLUMNS}
_FLOATS = ("open", "high", "low", "close", "volume", "ask", "bid")
_AT_OFFSET = 'at - "to" * 1000000000'
#: What the float read hands over: the columns, and ``at`` as its distance to the end (+inf for NULL).
_FLOAT_SQL = {**_SQL, "at_offset": f"IFNULL({_AT_OFFSET}, 9e999)"}
_DTYPE = np.dtype([(name, np.int64 if name in INT_COLUMNS else np.float64) for name in COLUMNS])
#: Rows per block of the general read: small enough to stay in the CPU caches.
_BLOCK = 16_384
#: Rows per chunk of a column being read (1 MiB of int64 or float64).
_CHUNK = 131_072
#: Rows per block of the float read (one ``group_concat``: 1 MiB of eight values a row).
_PACK_BLOCK = 16_384
#: The name of the packing function the float read registers on its connection.
_PACK = "iqwire_pack_float64"
#: Integers up to this magnitude are exact in a float64.
_EXACT = 2**53
#: ``at = end * 10**9`` is derived only for ends whose product fits an int64 (to the year 2262).
_MAX_END_FOR_AT = (2**63 - 1) // 1_000_000_000


def numpy_columns(
    db: sqlite3.Connection, active_id: int | None, size: int | None, start: int | None, end: int | None
) -> dict[str, np.ndarray[Any, Any]]:
    """Every column of :data:`~iqwire.store.sql.COLUMNS` as a numpy array (floats NaN where NULL, ``at`` -1 where NULL).

    Call it inside one read transaction: the sample rows and the rows read must see
    the same snapshot.
    """
    clause, params = where(active_id, size, start, end)
    fixed = {"active_id": active_id, "size": size}
    read = [name for name in COLUMNS if fixed.get(name) is None]
    plan = _plan(db, clause, params, read, size)
    blocks = None if plan is None else _read_floats(db, clause, params, plan)
    if blocks is None:
        plan = None
        blocks = _read_general(db, clause, params, read)
    columns: dict[str, np.ndarray[Any, Any]] = {}
    for name in list(blocks):  # one column at a time: its chunks go as it is joined, so memory stays flat
        columns[name] = blocks.pop(name).join()
    count = len(columns["start"])
    for name, value in fixed.items():
        if value is not None:
            columns[name] = np.full(count, value, dtype=np.int64)
    if plan is not None:
        plan.complete(columns)
    for name in ("volume", "ask", "bid"):
        column = columns[name]
        column[np.isinf(column)] = np.nan
    return {name: columns[name] for name in COLUMNS}


class _Chunks:
    """A column of unknown length, filled in chunks of :data:`_CHUNK` rows.

    No count query first (a scan of the range: 5 % of the read); and no small block
    kept per read block, which the allocator would keep after the read (the peak
    memory beyond the columns stays one chunk per column and one column).
    """

    def __init__(self, dtype: np.dtype[Any]) -> None:
        self.dtype = dtype
        self.chunks: list[np.ndarray[Any, Any]] = []
        self.filled = _CHUNK

    def append(self, values: np.ndarray[Any, Any]) -> None:
        while len(values):
            if self.filled == _CHUNK:
                self.chunks.append(np.empty(_CHUNK, dtype=self.dtype))
                self.filled = 0
            taken = min(len(values), _CHUNK - self.filled)
            self.chunks[-1][self.filled : self.filled + taken] = values[:taken]
            self.filled += taken
            values = values[taken:]

    def join(self) -> np.ndarray[Any, Any]:
        """The whole column (the chunks are released)."""
        if not self.chunks:
            return np.empty(0, dtype=self.dtype)
        self.chunks[-1] = self.chunks[-1][: self.filled]
        joined = np.concatenate(self.chunks)
        self.chunks.clear()
        return joined


@dataclass
class _Plan:
    """What the float read hands over, and how it proves and rebuilds the rest.

    ``tests`` hold in every row of the range, or the read falls back; they take
    ``test_params`` in order.
    """

    taken: list[str]
    tests: list[str] = field(default_factory=list)
    test_params: list[Any] = field(default_factory=list)
    end_from_start: bool = False  # end = start + size
    at_from_end: bool = False  # at = end * 10**9 (a complete candle)
    at_offset: bool = False  # at - end * 10**9 handed over (exact in a float64: +inf for NULL)
    id_offset: int | None = None  # id = (start + id_offset) // size (one series)
    constants: dict[str, Any] = field(default_factory=dict)  # the same value in every row
    #: One series' size and its first and last ``from`` in the range (``None``: several series).
    size: int | None = None
    first_start: int | None = None
    last_start: int | None = None

    def complete(self, columns: dict[str, np.ndarray[Any, Any]]) -> None:
        """Add the columns not read (exact: the read proved each relation in every row)."""
        start, size = columns["start"], columns["size"]
        if self.end_from_start:
            columns["end"] = start + size
        if self.at_from_end:
            columns["at"] = columns["end"] * 1_000_000_000
        if self.at_offset:
            offset = columns.pop("at_offset")
            null = np.isinf(offset)
            offset[null] = 0
            at = columns["end"] * 1_000_000_000
            at += offset.astype(np.int64)
            at[null] = -1
            columns["at"] = at
        if self.id_offset is not None:
            columns["id"] = (start + self.id_offset) // size
        for name, value in self.constants.items():
            if value is None:  # NULL: NaN (through the +inf of the general read) or -1
                value = -1 if name == "at" else np.inf
            columns[name] = np.full(len(start), value, dtype=_DTYPE[name])


def _plan(
    db: sqlite3.Connection, clause: str, params: list[int], read: list[str], size: int | None
) -> _Plan | None:
    """The float read's plan, guessed from the first and last rows of the range (``None``: no rows)."""
    names = ", ".join(_SQL_PLAIN[name] for name in COLUMNS)
    select = f"SELECT {names} FROM candles{clause} ORDER BY "
    first = db.execute(f'{select} active_id, size, "from" LIMIT 1', params).fetchone()
    if first is None:
        return None
    last = db.execute(f'{select} active_id DESC, size DESC, "from" DESC LIMIT 1', params).fetchone()
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in (first, last)]
    plan = _Plan(taken=[])
    first_start, last_start = rows[0]["start"], rows[1]["start"]
    one_series = "active_id" not in read and "size" not in read and size is not None and size > 0
    # Read in spans of its starts: every row read then has first_start <= "from" <= last_start
    # (the spans' bounds say so), which proves per row what a test would otherwise prove.
    spans = one_series and -_EXACT <= first_start <= last_start <= _EXACT
    if spans:
        plan.size, plan.first_start, plan.last_start = size, first_start, last_start
    # The tests' parameters go in the order of the tests, all before the WHERE clause's.
    if all(row["end"] == row["start"] + row["size"] for row in rows):
        plan.end_from_start = True
        plan.tests.append('"to" = "from" + size' if size is None else '"to" = "from" + ?')
        plan.test_params += [] if size is None else [size]
    # end * 10**9 must fit an int64. With "to" = "from" + size proved per row and "from"
    # within the spans' bounds, the bounds' ends fitting is enough.
    ends_fit = (
        spans and plan.end_from_start and 0 <= first_start + size <= last_start + size <= _MAX_END_FOR_AT
    )
    to_fits = "" if ends_fit else f' AND "to" BETWEEN 0 AND {_MAX_END_FOR_AT}'
    if all(row["at"] is not None and row["at"] == row["end"] * 1_000_000_000 for row in rows):
        plan.at_from_end = True
        plan.tests.append(f'at = "to" * 1000000000{to_fits}')
    elif rows[0]["at"] == rows[1]["at"]:
        plan.constants["at"] = rows[0]["at"]
    else:  # a forming candle's at lies within it: its distance to the end is exact in a float64
        plan.at_offset = True
        plan.tests.append(f"(at IS NULL OR {_AT_OFFSET} BETWEEN -{_EXACT} AND {_EXACT}){to_fits}")
    if one_series:
        offset = rows[0]["id"] * size - rows[0]["start"]
        if rows[1]["id"] * size - rows[1]["start"] == offset and abs(offset) < _EXACT:
            plan.id_offset = offset
            # Exact without a range test on id: "from" is within +-2**53 in every row that
            # passes (the spans' bounds, or its own test below), so "from" + offset is an
            # exact integer, and an id * size that overflows an int64 becomes, in SQLite, a
            # REAL of magnitude >= 2**63, which cannot equal it.
            plan.tests.append('id * ? = "from" + ?')
            plan.test_params += [size, offset]
    for name in _FLOATS:
        if rows[0][name] == rows[1][name] or rows[0][name] is rows[1][name] is None:
            plan.constants[name] = rows[0][name]
    derived = {"end": plan.end_from_start, "id": plan.id_offset is not None, "at": True}
    plan.taken = [name for name in read if not derived.get(name) and name not in plan.constants]
    plan.taken += ["at_offset"] if plan.at_offset else []
    for name in plan.taken:
        if name in INT_COLUMNS and not (spans and name == "start"):  # handed over as a float64: exact in one
            plan.tests.append(f"{_SQL[name]} BETWEEN -{_EXACT} AND {_EXACT}")
    for name, value in plan.constants.items():
        plan.tests.append(f"{_SQL_PLAIN[name]} IS ?")
        plan.test_params.append(value)
    return plan


def _read_floats(
    db: sqlite3.Connection, clause: str, params: list[int], plan: _Plan
) -> dict[str, _Chunks] | None:
    """The blocks of the columns the plan reads; ``None`` if a row breaks one of its tests.

    Every value handed over is a float64 or an integer proved within ±2**53 by the
    plan's tests. SQLite packs each row's values as little-endian float64 (``struct``,
    registered as a function of the connection) and ``group_concat`` joins a block's
    rows, so the cursor hands over one ``bytes`` per block instead of a Python object
    per value, and ``np.frombuffer`` reads it. ``group_concat`` does not promise the
    order of what it joins, so each block is checked: ``count(*)`` rows, the bytes of
    that many rows, and the sort key strictly increasing from the previous block's
    last row; anything else makes the read start again the general way.
    """
    # The first column carries the proof: "from" where every test holds, +inf where one fails.
    guarded = f'CASE WHEN {" AND ".join(plan.tests)} THEN "from" ELSE 9e999 END'
    select = ", ".join(guarded if name == "start" else _FLOAT_SQL[name] for name in plan.taken)
    width = len(plan.taken)
    db.create_function(_PACK, width, struct.Struct(f"<{width}d").pack, deterministic=True)
    packed_row = f"{_PACK}({select})"
    # The sort key's columns the filter leaves open (the filter fixes the others), "from" last.
    key = [plan.taken.index(name) for name in ("active_id", "size", "start") if name in plan.taken]
    source = (
        _blocks_by_start(db, packed_row, clause, params, plan)
        if plan.size is not None
        else _blocks_by_key(db, packed_row, clause, params, plan, key)
    )
    blocks = {name: _Chunks(np.dtype(np.int64 if name in INT_COLUMNS else np.float64)) for name in plan.taken}
    last: np.ndarray[Any, Any] | None = None  # the previous block's last key
    try:
        for packed, count in source:
            if len(packed) != count * width * 8:
                return None
            block = np.frombuffer(packed, dtype="<f8").reshape(count, width)
            if np.isinf(block[:, key[-1]]).any() or not _ascending(block[:, key], last):
                return None
            for index, name in enumerate(plan.taken):
                blocks[name].append(block[:, index])  # an integer's float is exact: the tests said so
            last = block[-1, key]
    except sqlite3.OperationalError:  # a value the function could not pack: the general read says why
        return None
    return blocks


def _blocks_by_start(
    db: sqlite3.Connection, packed_row: str, clause: str, params: list[int], plan: _Plan
) -> Iterator[tuple[bytes, int]]:
    """One series' packed blocks: its rows whose ``from`` lies in successive spans of :data:`_PACK_BLOCK` candles.

    A span is one range scan of the primary key; an empty one (a gap in the series)
    makes the next span start at the next row's ``from``.
    """
    assert plan.size is not None and plan.first_start is not None and plan.last_start is not None
    assert clause  # one series: the filter names it
    span, start, last_start = _PACK_BLOCK * plan.size, plan.first_start, plan.last_start
    block_sql = (
        f"SELECT CAST(group_concat({packed_row}, '') AS BLOB), count(*) "
        f'FROM candles{clause} AND "from" >= ? AND "from" < ?'
    )
    seek_sql = f'SELECT "from" FROM candles{clause} AND "from" >= ? ORDER BY "from" LIMIT 1'
    while start <= last_start:
        # Never past last_start, even if rows were added since the plan (the plan's tests rely on it).
        stop = min(start + span, last_start + 1)
        packed, count = db.execute(block_sql, [*plan.test_params, *params, start, stop]).fetchone()
        if count:
            yield packed, count
            start += span
        else:
            following = db.execute(seek_sql, [*params, start]).fetchone()
            if following is None:
                return
            start = following[0]


def _blocks_by_key(
    db: sqlite3.Connection, packed_row: str, clause: str, params: list[int], plan: _Plan, key: list[int]
) -> Iterator[tuple[bytes, int]]:
    """Packed blocks of :data:`_PACK_BLOCK` rows in the sort order, across series.

    Each block is the rows after the previous block's last key (a seek of the
    primary key with a row-value comparison); ``key`` are the key's places in a row.
    """
    names = [plan.taken[index] for index in key]
    after = f"({', '.join(_SQL[name] for name in names)}) > ({', '.join('?' * len(names))})"
    rows = (
        f'SELECT {packed_row} AS packed FROM candles{{}} ORDER BY active_id, size, "from" LIMIT {_PACK_BLOCK}'
    )
    block_sql = f"SELECT CAST(group_concat(packed, '') AS BLOB), count(*) FROM ({rows})"
    query, args = block_sql.format(clause), [*plan.test_params, *params]
    next_sql = block_sql.format(f"{clause} AND {after}" if clause else f" WHERE {after}")
    width = len(plan.taken)
    while True:
        packed, count = db.execute(query, args).fetchone()
        if not count:
            return
        yield packed, count
        if count < _PACK_BLOCK:
            return
        last = np.frombuffer(packed, dtype="<f8", offset=len(packed) - width * 8)[key]
        if np.isinf(last).any():  # the caller refuses this block; nothing after it is read
            return
        query, args = next_sql, [*plan.test_params, *params, *(int(value) for value in last)]


def _ascending(keys: np.ndarray[Any, Any], last: np.ndarray[Any, Any] | None) -> bool:
    """Whether the rows' keys (one column each, most significant first) rise strictly from ``last``."""
    if last is not None:
        keys = np.vstack([last, keys])
    if len(keys) < 2:
        return True
    rising = np.zeros(len(keys) - 1, dtype=bool)
    tied = np.ones(len(keys) - 1, dtype=bool)
    for column in keys.T:
        step = np.diff(column)
        rising |= tied & (step > 0)
        tied &= step == 0
    return bool(rising.all())


def _read_general(
    db: sqlite3.Connection, clause: str, params: list[int], read: list[str]
) -> dict[str, _Chunks]:
    """The blocks of every column not fixed by the filter, whatever the rows hold."""
    block_type = np.dtype([(name, _DTYPE[name]) for name in read])
    select = ", ".join(_SQL[name] for name in read)
    cursor = db.execute(f'SELECT {select} FROM candles{clause} ORDER BY active_id, size, "from"', params)
    blocks = {name: _Chunks(_DTYPE[name]) for name in read}
    while True:
        # A block of rows at a time, so only the final columns are ever whole; the
        # C iterator fills the block from the cursor: no Python loop per row.
        block = np.fromiter(itertools.islice(cursor, _BLOCK), dtype=block_type)
        if not len(block):
            return blocks
        for name in read:
            blocks[name].append(block[name])
