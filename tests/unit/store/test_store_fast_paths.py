"""The store's fast paths answer exactly like the plain ones.

* ``sql.upsert`` (multi-row statements) against ``executemany(UPSERT)``, one row at a
  time: the same table afterwards and the same count of changed rows, duplicates and
  forming candles included, across statement boundaries.
* ``sql.numpy_columns`` with a series fixed (its ``active_id``/``size`` filled, not read)
  against the unfiltered read and against ``CandleStore.read``.
* A download's gap runs, which skip the pages it stored whole, against ``gap_runs``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iqwire.models import Candle
from iqwire.store import CandleStore
from iqwire.store.columns import numpy_columns
from iqwire.store.download import _absent_runs
from iqwire.store.sql import COLUMNS, SCHEMA, UPSERT, upsert

T0 = 1_770_000_000 // 60 * 60
INT64 = st.integers(-(2**63), 2**63 - 1)
PRICE = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def candle_rows(draw: st.DrawFn) -> tuple[Any, ...]:
    """One row of 13 values; few keys, so the same candle comes twice; forming and complete ``at``."""
    start = T0 + 60 * draw(st.integers(0, 12))
    end = start + 60
    at = draw(
        st.one_of(
            st.none(),
            st.just(end * 1_000_000_000),  # complete
            st.integers(start * 1_000_000_000, end * 1_000_000_000 - 1),  # still forming
            INT64,
        )
    )
    optional = st.one_of(st.none(), PRICE)
    return (
        draw(st.sampled_from([76, 1])),
        draw(st.sampled_from([60, 300])),
        start,
        end,
        draw(INT64),
        draw(PRICE),
        draw(PRICE),
        draw(PRICE),
        draw(PRICE),
        draw(optional),
        draw(optional),
        draw(optional),
        at,
    )


def fresh(rows_per_statement: int | None = None) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(SCHEMA)
    if rows_per_statement is not None:
        # Lower SQLite's parameter limit: the upsert must split its statements to fit.
        db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, rows_per_statement * len(COLUMNS) + 5)
    return db


def table(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return db.execute('SELECT * FROM candles ORDER BY active_id, size, "from"').fetchall()


@settings(max_examples=200, deadline=None)
@given(
    batches=st.lists(st.lists(candle_rows(), max_size=12), min_size=1, max_size=4),
    rows_per_statement=st.sampled_from([None, 1, 2, 5]),
    one_series=st.booleans(),
)
def test_the_multi_row_upsert_equals_executemany(
    batches: list[list[tuple[Any, ...]]], rows_per_statement: int | None, one_series: bool
) -> None:
    slow, fast = fresh(), fresh(rows_per_statement)
    for rows in batches:
        if one_series:  # the download's form: active and size bound once, 11 values a row
            rows = [(76, 60, *row[2:]) for row in rows]
        before = (slow.total_changes, fast.total_changes)
        slow.executemany(UPSERT, rows)
        if one_series:
            upsert(fast, [row[2:] for row in rows], (76, 60))
        else:
            upsert(fast, rows)
        assert fast.total_changes - before[1] == slow.total_changes - before[0]
    assert table(fast) == table(slow)


def test_a_write_larger_than_one_statement_keeps_its_order(tmp_path: Path) -> None:
    # 2,500 rows: three statements (1000, 1000, 500); the same candle forming, then complete,
    # then changed again, must end complete (the second version), as row-by-row writes do:
    # 2,497 inserted, the first inserted then completed (two changes), the last refused.
    forming = Candle(id=1, start=T0, end=T0 + 60, open=1, close=1, low=1, high=1, at=(T0 + 1) * 10**9)
    complete = Candle(id=1, start=T0, end=T0 + 60, open=2, close=2, low=2, high=2, at=(T0 + 60) * 10**9)
    later = Candle(id=1, start=T0, end=T0 + 60, open=3, close=3, low=3, high=3, at=(T0 + 61) * 10**9)
    filler = [
        Candle(id=10 + i, start=T0 + 60 * (i + 1), end=T0 + 60 * (i + 2), open=1, close=1, low=1, high=1)
        for i in range(2497)
    ]
    candles = [forming, *filler[:1200], complete, *filler[1200:], later]
    with CandleStore(tmp_path / "c.sqlite") as store:
        assert store.write(candles, active_id=76, size=60) == 2499
        assert store.read(76, 60, T0, T0 + 60)[0].open == 2
        assert store.count() == 2498


# -- the numpy read --------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CandleStore]:
    with CandleStore(tmp_path / "candles.sqlite") as opened:
        yield opened


@st.composite
def stored_candles(draw: st.DrawFn) -> list[Candle]:
    candles = []
    for active_id, size in draw(st.lists(st.sampled_from([(76, 60), (76, 300), (1, 60)]), max_size=3)):
        for i in draw(st.lists(st.integers(0, 40), unique=True, max_size=25)):
            start = T0 + size * i
            optional = st.one_of(st.none(), PRICE)
            candles.append(
                Candle(
                    id=draw(INT64),
                    start=start,
                    end=start + size,
                    open=draw(PRICE),
                    close=draw(PRICE),
                    low=draw(PRICE),
                    high=draw(PRICE),
                    volume=draw(optional),
                    ask=draw(optional),
                    bid=draw(optional),
                    at=draw(st.one_of(st.none(), st.integers(0, 2**63 - 1))),
                    active_id=active_id,
                    size=size,
                )
            )
    return candles


def test_a_fixed_series_reads_like_the_whole_store_and_like_read(tmp_path: Path) -> None:
    @settings(max_examples=60, deadline=None)
    @given(stored_candles())
    def check(candles: list[Candle]) -> None:
        path = tmp_path / "h.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        with CandleStore(path) as store:
            store.write(candles)
            whole = store.numpy_columns(None, None, None, None)
            for active_id, size in {(76, 60), (76, 300), (1, 60), (2, 60)}:
                columns = store.numpy_columns(active_id, size, None, None)
                picked = (whole["active_id"] == active_id) & (whole["size"] == size)
                for name in COLUMNS:
                    assert columns[name].dtype == whole[name].dtype
                    np.testing.assert_array_equal(columns[name], whole[name][picked], err_msg=name)
                expected = store.read(active_id, size)
                assert columns["start"].tolist() == [c.start for c in expected]
                assert columns["id"].tolist() == [c.id for c in expected]
                assert columns["close"].tolist() == [c.close for c in expected]
                assert columns["at"].tolist() == [-1 if c.at is None else c.at for c in expected]
                volume = [np.nan if c.volume is None else c.volume for c in expected]
                np.testing.assert_array_equal(columns["volume"], np.array(volume, dtype=np.float64))

    check()


def test_a_range_of_a_fixed_series_is_filled_and_read(store: CandleStore) -> None:
    store.write(
        [
            Candle(id=i, start=T0 + 60 * i, end=T0 + 60 * (i + 1), open=i, close=i, low=i, high=i, at=None)
            for i in range(40_000)  # more than one block of the read
        ],
        active_id=76,
        size=60,
    )
    with store.snapshot() as db:
        columns = numpy_columns(db, 76, 60, T0 + 60 * 100, T0 + 60 * 30_100)
    assert columns["active_id"].tolist() == [76] * 30_000
    assert columns["size"].tolist() == [60] * 30_000
    assert columns["id"].tolist() == list(range(100, 30_100))
    assert (columns["at"] == -1).all() and np.isnan(columns["volume"]).all()


# -- a download's gap runs ---------------------------------------------------------------------------


def test_runs_that_skip_the_full_pages_equal_the_stores_runs(tmp_path: Path) -> None:
    @settings(max_examples=150, deadline=None)
    @given(
        present=st.sets(st.integers(0, 39)),
        page=st.integers(1, 9),
        skip=st.sets(st.integers(0, 39)),
        bounds=st.tuples(st.integers(0, 10), st.integers(30, 40)),
    )
    def check(present: set[int], page: int, skip: set[int], bounds: tuple[int, int]) -> None:
        path = tmp_path / "runs.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        with CandleStore(path) as store:
            slots = sorted(present)
            store.write(
                [
                    Candle(id=i, start=T0 + 60 * i, end=T0 + 60 * (i + 1), open=1, close=1, low=1, high=1)
                    for i in slots
                ],
                active_id=76,
                size=60,
            )
            first, last = bounds
            start, end = T0 + 60 * first, T0 + 60 * last
            pages = [(a, min(a + 60 * page, end)) for a in range(start, end, 60 * page)]
            full = [  # every page that holds all its slots, except those the example leaves out
                (a, b)
                for number, (a, b) in enumerate(pages)
                if number not in skip and all((t - T0) // 60 in present for t in range(a, b, 60))
            ]
            assert _absent_runs(store, 76, 60, start, end, full) == store.gap_runs(76, 60, start, end)

    check()
