"""CandleStore on synthetic candles: idempotent writes, reads, ranges, gaps, columnar reads, export."""

from __future__ import annotations

import asyncio
import csv
import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iqwire.models import Candle
from iqwire.store import CandleStore, Gap
from iqwire.store.candles import COLUMNS, merge_intervals, subtract_intervals
from iqwire.store.export import export_csv_stdlib

T0 = 1_770_000_000 // 60 * 60


def candle(
    i: int,
    *,
    size: int = 60,
    active_id: int = 76,
    at: int | bool | None = True,
    volume: float | None = 3.0,
    ask: float | None = 1.5,
) -> Candle:
    start = T0 + i * size
    stamp = (start + size) * 1_000_000_000 if at is True else (None if at is False else at)
    return Candle(
        id=1000 + i,
        start=start,
        end=start + size,
        open=1.0 + i / 1000,
        close=1.0 + i / 999,
        low=0.5,
        high=2.0 + i,
        volume=volume,
        ask=ask,
        bid=1.25,
        at=stamp,  # type: ignore[arg-type]
        active_id=active_id,
        size=size,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CandleStore]:
    with CandleStore(tmp_path / "candles.sqlite") as opened:
        yield opened


def test_write_then_read_round_trips_every_stored_field(store: CandleStore) -> None:
    candles = [candle(i) for i in range(10)]
    assert store.write(candles) == 10
    assert store.read(76, 60) == candles
    assert store.read(76, 60, T0 + 120, T0 + 300) == candles[2:5]


def test_writing_again_changes_nothing(store: CandleStore) -> None:
    candles = [candle(i) for i in range(50)]
    store.write(candles)
    assert store.write(candles) == 0
    assert store.write(list(reversed(candles))) == 0
    assert store.count() == 50


def test_a_forming_candle_is_completed_but_a_complete_one_never_rewritten(store: CandleStore) -> None:
    forming = candle(0, at=(T0 + 30) * 1_000_000_000)
    store.write([forming])
    complete = candle(0)
    assert store.write([complete]) == 1
    assert store.read(76, 60) == [complete]
    changed = Candle(**{**{f: getattr(complete, f) for f in complete.__struct_fields__}, "close": 9.0})
    assert store.write([changed]) == 0
    assert store.read(76, 60)[0].close == complete.close


def test_a_candle_without_active_or_size_needs_them_given(store: CandleStore) -> None:
    bare = Candle(id=1, start=T0, end=T0 + 60, open=1, close=1, low=1, high=1)
    with pytest.raises(ValueError, match="active_id"):
        store.write([bare])
    assert store.write([bare], active_id=1, size=60) == 1
    assert store.read(1, 60)[0].id == 1


def test_series_are_kept_apart(store: CandleStore) -> None:
    store.write([candle(i) for i in range(5)])
    store.write([candle(i, size=300) for i in range(3)])
    store.write([candle(i, active_id=1) for i in range(4)])
    assert store.series() == [(1, 60), (76, 60), (76, 300)]
    assert [(r.active_id, r.size, r.count) for r in store.ranges()] == [(1, 60, 4), (76, 60, 5), (76, 300, 3)]


def test_ranges_and_gap_runs(store: CandleStore) -> None:
    store.write([candle(i) for i in (*range(0, 10), *range(15, 20), *range(30, 31))])
    (series,) = store.ranges()
    assert (series.first, series.last, series.count, series.slots) == (T0, T0 + 30 * 60, 16, 31)
    assert store.gap_runs(76, 60) == [(T0 + 600, T0 + 900), (T0 + 1200, T0 + 1800)]
    # Bounded: leading and trailing runs count too.
    assert store.gap_runs(76, 60, T0 - 120, T0 + 33 * 60) == [
        (T0 - 120, T0),
        (T0 + 600, T0 + 900),
        (T0 + 1200, T0 + 1800),
        (T0 + 31 * 60, T0 + 33 * 60),
    ]
    assert store.gap_runs(76, 5) == []
    assert store.gap_runs(76, 5, T0, T0 + 50) == [(T0, T0 + 50)]


def test_info_splits_gaps_by_the_recorded_market_closures(store: CandleStore) -> None:
    store.write([candle(i) for i in (*range(0, 10), *range(15, 20), *range(30, 31))])
    store.set_market_closed(76, 60, T0, T0 + 31 * 60, [(T0 + 600, T0 + 900), (T0 + 1200, T0 + 1500)])
    (info,) = store.info()
    assert info.gaps == (
        Gap(T0 + 600, T0 + 900, 60, "market"),
        Gap(T0 + 1200, T0 + 1500, 60, "market"),
        Gap(T0 + 1500, T0 + 1800, 60, "missing"),
    )
    assert (info.market_candles, info.missing_candles) == (10, 5)
    assert str(info.gaps[0]) == f"market gap [{T0 + 600}, {T0 + 900}) (5 x 60s)"


def test_coverage_is_merged_and_subtracted(store: CandleStore) -> None:
    store.mark_covered(76, 60, [(0, 600), (600, 1200), (3000, 3600)])
    assert store.coverage(76, 60) == [(0, 1200), (3000, 3600)]
    assert store.uncovered(76, 60, 0, 4000) == [(1200, 3000), (3600, 4000)]
    store.uncover(76, 60, [(300, 360)])
    assert store.coverage(76, 60) == [(0, 300), (360, 1200), (3000, 3600)]
    assert store.coverage(76, 300) == []


def test_write_with_coverage_is_one_transaction(store: CandleStore) -> None:
    store.write([candle(i) for i in range(3)], active_id=76, size=60, covered=[(T0, T0 + 180)])
    assert store.coverage(76, 60) == [(T0, T0 + 180)]
    with pytest.raises(ValueError, match="covered"):
        store.write([candle(3)], covered=[(T0, T0 + 240)])


def test_a_failed_write_rolls_back_entirely(store: CandleStore) -> None:
    good = [candle(i) for i in range(3)]
    bad = Candle(id=9, start=T0 + 900, end=T0 + 960, open=None, close=1, low=1, high=1)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        store.write([*good, bad], active_id=76, size=60, covered=[(T0, T0 + 960)])
    assert store.count() == 0
    assert store.coverage(76, 60) == []


def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "c.sqlite")
    store.close()
    store.close()
    with pytest.raises(ValueError, match="closed"):
        store.count()


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    with CandleStore(tmp_path / "c.sqlite"):
        pass
    connection = sqlite3.connect(tmp_path / "c.sqlite")
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        connection.close()


async def test_async_reads_and_writes_run_in_a_thread(store: CandleStore) -> None:
    candles = [candle(i) for i in range(2000)]
    written, _ = await asyncio.gather(store.write_async(candles), asyncio.sleep(0))
    assert written == 2000
    assert await store.read_async(76, 60, T0, T0 + 600) == candles[:10]


@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=8),
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=8),
)
def test_interval_algebra_matches_sets(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    def points(intervals: list[tuple[int, int]]) -> set[int]:
        return {x for start, end in intervals for x in range(start, end)}

    merged = merge_intervals(a)
    assert points(merged) == points(a)
    assert all(x[1] < y[0] for x, y in itertools.pairwise(merged))
    assert points(subtract_intervals(a, b)) == points(a) - points(b)


# -- columnar reads and export --------------------------------------------------------------------


def mixed(store: CandleStore) -> list[Candle]:
    """Candles with NULLs where the wire may leave fields out, in two series."""
    candles = [
        candle(
            i,
            at=i >= 1500,
            volume=None if i % 3 == 0 else 2.5,
            ask=None if i > 1800 else 1.5,
        )
        for i in range(2100)
    ] + [candle(i, size=300) for i in range(7)]
    store.write(candles)
    return candles


@pytest.mark.parametrize("engine", ["auto", "sqlite3"])
def test_to_pandas_has_every_column_and_the_nulls(store: CandleStore, engine: str) -> None:
    pd = pytest.importorskip("pandas")
    candles = mixed(store)
    frame = store.to_pandas(76, 60, engine=engine)  # type: ignore[arg-type]
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 2100
    assert str(frame["at"].dtype) == "Int64" and frame["at"].isna().sum() == 1500
    assert frame["volume"].isna().sum() == 700 and frame["ask"].isna().sum() == 299
    assert frame["start"].tolist() == [c.start for c in candles[:2100]]
    assert frame["close"].tolist() == [c.close for c in candles[:2100]]
    assert int(frame["at"].iloc[-1]) == candles[2099].at
    assert isinstance(frame, pd.DataFrame)


def test_both_engines_agree(store: CandleStore) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    mixed(store)
    fast = store.to_pandas()
    plain = store.to_pandas(engine="sqlite3")
    assert fast.equals(plain)
    assert store.to_arrow().equals(store.to_arrow(engine="sqlite3"))
    assert len(store.to_pandas(76, 300)) == 7
    assert len(store.to_pandas(76, 60, T0, T0 + 600)) == 10


@pytest.mark.parametrize("engine", ["auto", "sqlite3"])
def test_to_polars(store: CandleStore, engine: str) -> None:
    pl = pytest.importorskip("polars")
    mixed(store)
    frame = store.to_polars(76, 60, engine=engine)  # type: ignore[arg-type]
    assert frame.columns == list(COLUMNS)
    assert frame["at"].null_count() == 1500 and frame["volume"].null_count() == 700
    assert frame.schema["at"] == pl.Int64


def test_an_empty_store_reads_as_empty_frames(store: CandleStore) -> None:
    pd = pytest.importorskip("pandas")
    assert len(store.to_pandas()) == 0
    assert len(store.to_pandas(engine="sqlite3")) == 0
    assert isinstance(store.to_pandas(), pd.DataFrame)


def test_a_memory_store_uses_the_stdlib_path() -> None:
    pytest.importorskip("pyarrow")
    with CandleStore(":memory:") as store:
        store.write([candle(i) for i in range(5)])
        assert store.to_arrow().num_rows == 5
        with pytest.raises(ImportError, match="adbc"):
            store.to_arrow(engine="adbc")


def test_missing_extras_name_the_extra(store: CandleStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_extras(name: str, *args: object, **kwargs: object) -> object:
        if name.split(".")[0] in {"pandas", "polars", "pyarrow"}:
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_extras)
    with pytest.raises(ImportError, match=r"iqwire\[pandas\]"):
        store.to_pandas()
    with pytest.raises(ImportError, match=r"iqwire\[polars\]"):
        store.to_polars()
    with pytest.raises(ImportError, match=r"iqwire\[parquet\]"):
        store.to_arrow()
    with pytest.raises(ImportError, match=r"iqwire\[parquet\]"):
        store.export(store.path + ".parquet", "parquet")


def test_parquet_export_reads_back_equal(store: CandleStore, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    mixed(store)
    out = tmp_path / "all.parquet"
    assert store.export(out, "parquet") == 2107
    back = pd.read_parquet(out)
    back["at"] = back["at"].astype("Int64")
    assert back.equals(store.to_pandas())
    assert store.export(tmp_path / "one.parquet", "parquet", active_id=76, size=300) == 7


def test_csv_export_without_pyarrow(store: CandleStore, tmp_path: Path) -> None:
    mixed(store)
    out = tmp_path / "all.csv"
    assert export_csv_stdlib(store, out, 76, 300) == 7
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(COLUMNS)
    assert [int(r["start"]) for r in rows] == [T0 + i * 300 for i in range(7)]


def test_csv_export(store: CandleStore, tmp_path: Path) -> None:
    mixed(store)
    out = tmp_path / "all.csv"
    assert store.export(out, "csv") == 2107
    with out.open() as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 2108
    with pytest.raises(ValueError, match="format"):
        store.export(out, "xlsx")  # type: ignore[arg-type]
