"""The numpy read (``iqwire.store.columns``) answers exactly like a plain read of every value.

Its float read hands over only what no other column gives: ``end``, ``at`` and a
series' ``id`` are computed, a column with one value in the whole range is read once,
each guessed from the range's first and last rows and proved in every row by the
query. These tests build series that follow those rules, break them in rows other
than the first and last, and compare every column bit for bit with a reference that
reads each value through the cursor; and they check which way the read went.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iqwire.store import columns as columns_module
from iqwire.store.columns import numpy_columns
from iqwire.store.sql import COLUMNS, INT_COLUMNS, SCHEMA, UPSERT, where

T0 = 1_770_000_000 // 300 * 300
INT64 = st.integers(-(2**63), 2**63 - 1)
PRICE = st.floats(allow_nan=False, width=64)  # infinities included: SQLite stores them
SERIES = [(76, 60), (76, 300), (1, 60)]
#: The order of UPSERT's parameters (its INSERT's columns).
STORED = ("active_id", "size", "start", "end", "id", *COLUMNS[5:])


def fresh(rows: list[tuple[Any, ...]]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(SCHEMA)
    db.executemany(UPSERT, rows)
    return db


def reference(
    db: sqlite3.Connection, active_id: int | None, size: int | None, start: int | None, end: int | None
) -> dict[str, np.ndarray[Any, Any]]:
    """Every value through the cursor: NULL floats NaN (and a stored inf volume/ask/bid too), NULL ``at`` -1."""
    clause, params = where(active_id, size, start, end)
    rows = db.execute(
        'SELECT active_id, size, id, "from", "to", open, high, low, close, volume, ask, bid, at '
        f'FROM candles{clause} ORDER BY active_id, size, "from"',
        params,
    ).fetchall()
    values = list(zip(*rows, strict=True)) if rows else [()] * len(COLUMNS)
    result = {}
    for name, column in zip(COLUMNS, values, strict=True):
        if name == "at":
            result[name] = np.array([-1 if v is None else v for v in column], dtype=np.int64)
        elif name in INT_COLUMNS:
            result[name] = np.array(column, dtype=np.int64)
        elif name in ("volume", "ask", "bid"):
            result[name] = np.array(
                [math.nan if v is None or math.isinf(v) else v for v in column], dtype=np.float64
            )
        else:
            result[name] = np.array(column, dtype=np.float64)
    return result


def assert_same(got: dict[str, np.ndarray[Any, Any]], expected: dict[str, np.ndarray[Any, Any]]) -> None:
    assert list(got) == list(COLUMNS)
    for name in COLUMNS:
        assert got[name].dtype == expected[name].dtype, name
        # Bit for bit: the same NaNs, the same signs of zero.
        assert got[name].view(np.int64).tolist() == expected[name].view(np.int64).tolist(), name


@st.composite
def regular_rows(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Series whose rows follow the float read's rules, with a few rows that break one."""
    rows = []
    for active_id, size in draw(st.lists(st.sampled_from(SERIES), min_size=1, max_size=3, unique=True)):
        first_id = draw(st.sampled_from([1, 123_456, -5, 2**45]))
        constants = {
            "volume": draw(st.one_of(st.none(), st.sampled_from([0.0, 7.0]), PRICE)),
            "ask": draw(st.one_of(st.none(), PRICE)),
            "bid": draw(st.one_of(st.none(), PRICE)),
        }
        complete = draw(st.booleans())
        for slot in sorted(draw(st.sets(st.integers(0, 50), min_size=1, max_size=20))):
            start = T0 + size * slot
            row: dict[str, Any] = {
                "active_id": active_id,
                "size": size,
                "start": start,
                "end": start + size,
                "id": first_id + slot,
                "open": draw(PRICE),
                "high": draw(PRICE),
                "low": draw(PRICE),
                "close": draw(PRICE),
                **constants,
                "at": (start + size) * 1_000_000_000 if complete else None,
            }
            if draw(st.integers(0, 5)) == 0:  # break a rule in this row
                name = draw(st.sampled_from(["id", "end", "at", "volume", "ask", "bid", "start"]))
                if name == "start":  # beyond what a float64 holds exactly; still a valid key
                    row["start"] = draw(st.sampled_from([2**53 + 1, -(2**60), 2**62]))
                elif name in ("id", "end"):
                    row[name] = draw(st.one_of(INT64, st.just(row[name] + 1)))
                elif name == "at":
                    row["at"] = draw(st.one_of(st.none(), INT64, st.just((row["end"] - 1) * 1_000_000_000)))
                else:
                    row[name] = draw(st.one_of(st.none(), PRICE))
            rows.append(tuple(row[name] for name in STORED))
    return rows


@settings(max_examples=300, deadline=None)
@given(
    rows=regular_rows(),
    bounds=st.tuples(st.integers(0, 30), st.integers(10, 60)),
    block=st.sampled_from([1, 2, 3, 7, 16_384]),
)
def test_the_numpy_read_equals_every_value_read(
    rows: list[tuple[Any, ...]], bounds: tuple[int, int], block: int
) -> None:
    # Small blocks: many packed blocks a read, spans with gaps between them (one series)
    # and blocks that end inside a series (several).
    db = fresh(rows)
    queries: list[tuple[int | None, int | None, int | None, int | None]] = [(None, None, None, None)]
    queries += [(active_id, size, None, None) for active_id, size in SERIES]
    queries += [(76, 60, T0 + 60 * bounds[0], T0 + 60 * bounds[1]), (76, None, T0 + 300 * bounds[0], None)]
    db.execute("BEGIN")
    with patch.object(columns_module, "_PACK_BLOCK", block):
        for query in queries:
            assert_same(numpy_columns(db, *query), reference(db, *query))


# -- which way the read goes ---------------------------------------------------------------------------


@pytest.fixture
def general_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the reads that fell back to the general way."""
    calls: list[int] = []
    general: Callable[..., Any] = columns_module._read_general

    def counted(*args: Any) -> Any:
        calls.append(1)
        return general(*args)

    monkeypatch.setattr(columns_module, "_read_general", counted)
    return calls


def candle_row(slot: int, **changes: Any) -> tuple[Any, ...]:
    """A complete one-minute candle of (76, 60) from ``get-candles``: volume 0, no ask/bid."""
    start = T0 + 60 * slot
    row = {
        "active_id": 76,
        "size": 60,
        "id": 1000 + slot,
        "start": start,
        "end": start + 60,
        "open": 1.0 + slot * 1e-5,
        "high": 1.1 + slot * 1e-5,
        "low": 0.9 + slot * 1e-5,
        "close": 1.05 + slot * 1e-5,
        "volume": 0.0,
        "ask": None,
        "bid": None,
        "at": (start + 60) * 1_000_000_000,
    }
    row.update(changes)
    return tuple(row[name] for name in STORED)


N = 5_000  # five blocks of the float read (``small_blocks``)


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 1,000 rows: the tests below read several, and break a rule in the fourth."""
    monkeypatch.setattr(columns_module, "_PACK_BLOCK", 1_000)


def test_a_regular_series_takes_the_float_read(general_reads: list[int]) -> None:
    db = fresh([candle_row(slot) for slot in range(N)])
    for query in [(76, 60, None, None), (None, None, None, None), (76, 60, T0 + 600, T0 + 60 * 4000)]:
        assert_same(numpy_columns(db, *query), reference(db, *query))
    assert general_reads == []


def test_a_series_without_at_or_with_prices_everywhere_takes_the_float_read(general_reads: list[int]) -> None:
    rows = [candle_row(slot, at=None, volume=float(slot % 7), ask=2.0 + slot, bid=0.5) for slot in range(N)]
    db = fresh(rows)
    assert_same(numpy_columns(db, 76, 60, None, None), reference(db, 76, 60, None, None))
    assert general_reads == []


def test_a_recorded_series_with_at_inside_its_candles_takes_the_float_read(general_reads: list[int]) -> None:
    # As candle-generated pushes leave it: at is the last tick's time, inside the candle; some NULL.
    rows = [
        candle_row(slot, at=None if slot % 11 == 0 else (T0 + 60 * slot + slot % 60) * 1_000_000_000 + 7)
        for slot in range(1, N)
    ]
    db = fresh(rows)
    assert_same(numpy_columns(db, 76, 60, None, None), reference(db, 76, 60, None, None))
    assert general_reads == []


@pytest.mark.parametrize("at", [-(2**63), 2**63 - 1, (T0 + 60 * 3001) * 1_000_000_000 + 2**53 + 1])
def test_an_at_too_far_from_its_candle_makes_the_read_fall_back(general_reads: list[int], at: int) -> None:
    rows = [
        candle_row(slot, at=at if slot == 3000 else (T0 + 60 * slot + 1) * 1_000_000_000) for slot in range(N)
    ]
    db = fresh(rows)
    assert_same(numpy_columns(db, 76, 60, None, None), reference(db, 76, 60, None, None))
    assert general_reads == [1]


@pytest.mark.parametrize(
    "changes",
    [
        {"end": T0 + 60 * 3000 + 61},  # end is not start + size
        {"id": 7},  # ids do not step by one per slot
        {"at": (T0 + 60 * 3001) * 1_000_000_000 - 1},  # a forming candle
        {"at": None},
        {"volume": 1.0},  # not the one volume of the range
        {"ask": 1.5},
        {"bid": 0.0},
    ],
)
def test_a_row_that_breaks_a_rule_makes_the_read_fall_back(
    general_reads: list[int], changes: dict[str, Any]
) -> None:
    rows = [candle_row(slot, **(changes if slot == 3000 else {})) for slot in range(N)]
    db = fresh(rows)
    assert_same(numpy_columns(db, 76, 60, None, None), reference(db, 76, 60, None, None))
    assert general_reads == [1]


def test_integers_beyond_a_float64_make_the_read_fall_back(general_reads: list[int]) -> None:
    # The whole store: ids are read (no series fixed), and one in the middle is not exact in a float64.
    rows = [candle_row(slot) for slot in range(N)]
    rows += [candle_row(slot, active_id=1, id=2**53 + 1 if slot == 3 else slot) for slot in range(5)]
    rows += [candle_row(slot, active_id=200) for slot in range(5)]
    db = fresh(rows)
    assert_same(numpy_columns(db, None, None, None, None), reference(db, None, None, None, None))
    assert general_reads == [1]


def test_an_id_whose_product_with_the_size_wraps_around_makes_the_read_fall_back(
    general_reads: list[int],
) -> None:
    # id * 60 overflows an int64 and wraps to exactly "from" + offset modulo 2**64: only
    # SQLite's switch to a REAL on overflow (no range test on id is made) rejects the row.
    slot = 3000
    offset = 1000 * 60 - T0  # the series' id * size - start
    wrapped = (T0 + 60 * slot + offset + 15 * 2**64) // 60  # 15 * 2**64 is a multiple of 60
    assert wrapped * 60 == T0 + 60 * slot + offset + 15 * 2**64 and wrapped < 2**63
    rows = [candle_row(s, id=wrapped if s == slot else 1000 + s) for s in range(N)]
    db = fresh(rows)
    got = numpy_columns(db, 76, 60, None, None)
    assert_same(got, reference(db, 76, 60, None, None))
    assert got["id"][slot] == wrapped
    assert general_reads == [1]


def test_ends_past_the_last_nanosecond_year_make_the_read_fall_back(general_reads: list[int]) -> None:
    # Ends past 2262 (end * 10**9 beyond an int64) with at inside the candle: a row whose end
    # is past it but whose at is the largest int64 sits 145,224,193 ns before end * 10**9,
    # an offset a float64 holds, but end * 10**9 cannot be rebuilt. The range test on "to"
    # stays in the plan whenever the range's own ends do not prove it.
    last_end = (2**63 - 1) // 1_000_000_000
    base = (last_end - 60 * 10) // 60 * 60

    def at(slot: int) -> int | None:
        end = base + 60 * slot + 60
        if end <= last_end:
            return end * 1_000_000_000 - 7
        return 2**63 - 1 if slot == 15 else None

    rows = [
        candle_row(0, start=base + 60 * slot, end=base + 60 * slot + 60, at=at(slot), id=slot)
        for slot in range(20)
    ]
    db = fresh(rows)
    assert_same(numpy_columns(db, 76, 60, None, None), reference(db, 76, 60, None, None))
    assert general_reads == [1]


def test_spans_never_read_past_the_plans_last_start(monkeypatch: pytest.MonkeyPatch) -> None:
    # The plan proves "from" within its first and last starts by the spans' bounds alone, so a
    # row past the last start (say, written since the plan) must not be read by the spans.
    db = fresh([candle_row(slot) for slot in range(N)])
    plan = columns_module._plan(db, *where(76, 60, None, None), ["id", "start", "end", *COLUMNS[5:]], 60)
    assert plan is not None and plan.size == 60
    plan.last_start = T0 + 60 * 2_499
    clause, params = where(76, 60, None, None)
    blocks = columns_module._read_floats(db, clause, params, plan)
    assert blocks is not None
    starts = blocks["start"].join()
    assert starts.tolist() == [T0 + 60 * slot for slot in range(2_500)]


def test_an_empty_range_reads_empty_columns(general_reads: list[int]) -> None:
    db = fresh([candle_row(slot) for slot in range(10)])
    assert_same(numpy_columns(db, 76, 60, T0 - 600, T0), reference(db, 76, 60, T0 - 600, T0))
    assert_same(numpy_columns(db, 1, 60, None, None), reference(db, 1, 60, None, None))


# -- the packed blocks ---------------------------------------------------------------------------------


def test_packed_values_keep_every_bit(general_reads: list[int]) -> None:
    # Packed rows hold NUL bytes and bytes that are not UTF-8; group_concat must join them as they are.
    odd = [0.0, -0.0, 5e-324, -5e-324, math.inf, -math.inf, 1.0, -1.7976931348623157e308, 2.0**-1022]
    rows = [
        candle_row(slot, open=odd[slot % len(odd)], close=odd[(slot + 3) % len(odd)], volume=odd[slot % 5])
        for slot in range(N)
    ]
    db = fresh(rows)
    for query in [(76, 60, None, None), (None, None, None, None)]:
        assert_same(numpy_columns(db, *query), reference(db, *query))
    assert general_reads == []


def test_a_gap_costs_one_seek_not_a_query_per_empty_span(general_reads: list[int]) -> None:
    # Spans of 1,000 candles; 10 million slots between the two halves of the series.
    rows = [candle_row(slot) for slot in range(1_500)]
    rows += [candle_row(slot) for slot in range(10_000_000, 10_001_500)]
    db = fresh(rows)
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    got = numpy_columns(db, 76, 60, None, None)
    db.set_trace_callback(None)
    assert_same(got, reference(db, 76, 60, None, None))
    assert general_reads == []
    packed = [sql for sql in statements if "group_concat" in sql]
    assert len(packed) <= 6, packed  # 2 spans a half, and at most one empty span before the seek


def test_a_value_the_packing_function_refuses_makes_the_read_fall_back(
    general_reads: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without its IFNULL, a NULL volume reaches struct.pack, which raises inside SQLite.
    monkeypatch.setitem(columns_module._FLOAT_SQL, "volume", "volume")
    rows = [candle_row(slot, volume=None if slot == 3000 else float(slot)) for slot in range(N)]
    db = fresh(rows)
    assert_same(numpy_columns(db, 76, 60, None, None), reference(db, 76, 60, None, None))
    assert general_reads == [1]


def replace_group_concat(db: sqlite3.Connection, join: Callable[[list[bytes]], bytes]) -> None:
    """Make ``group_concat`` on ``db`` join a block's rows with ``join`` (SQLite promises no order)."""

    class Joined:
        def __init__(self) -> None:
            self.parts: list[bytes] = []

        def step(self, value: bytes, separator: str) -> None:
            self.parts.append(value)

        def finalize(self) -> bytes:
            return join(self.parts)

    db.create_aggregate("group_concat", 2, Joined)  # type: ignore[arg-type]


@pytest.mark.parametrize("query", [(76, 60, None, None), (None, None, None, None)])
@pytest.mark.parametrize(
    "join",
    [
        lambda parts: b"".join(reversed(parts)),  # every value intact, the rows out of order
        lambda parts: b"".join(parts)[:-1],  # a byte short
        lambda parts: b"\0".join(parts),  # a separator between rows
    ],
    ids=["backwards", "short", "separated"],
)
def test_rows_joined_otherwise_make_the_read_fall_back(
    general_reads: list[int],
    query: tuple[int | None, int | None, int | None, int | None],
    join: Callable[[list[bytes]], bytes],
) -> None:
    db = fresh([candle_row(slot) for slot in range(N)])
    replace_group_concat(db, join)
    assert_same(numpy_columns(db, *query), reference(db, *query))
    assert general_reads == [1]


@pytest.mark.parametrize(
    ("keys", "last", "ascending"),
    [
        ([[1], [2], [5]], None, True),
        ([[1], [1]], None, False),
        ([[2], [1]], None, False),
        ([[3]], [3], False),
        ([[4]], [3], True),
        ([[1, 60, 9], [1, 300, 0], [2, 60, 0]], [1, 60, 8], True),
        ([[1, 60, 9], [1, 60, 9]], None, False),
        ([[1, 300, 0], [1, 60, 9]], None, False),
        ([[1, 60, 9]], [1, 300, 0], False),
    ],
)
def test_the_block_order_check(keys: list[list[int]], last: list[int] | None, ascending: bool) -> None:
    previous = None if last is None else np.array(last, dtype=np.float64)
    assert columns_module._ascending(np.array(keys, dtype=np.float64), previous) is ascending
