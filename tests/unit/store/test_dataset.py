"""Parquet candle datasets: the hive layout, reads equal to the store's, other readers, URLs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow.dataset as pads
import pytest

from iqwire.bot.sweep import SweepJob, run_job
from iqwire.store.candles import CandleStore
from iqwire.store.dataset import CandleDataset, export_dataset, is_url, open_candles

EXAMPLE = str(Path(__file__).resolve().parents[3] / "examples" / "mean_reversion.py")
#: 2026-02-10 22:00 UTC: the data crosses midnight into 2026-02-11.
START = 1_770_760_800
END = START + 4 * 3600
DAY = 86_400


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory, candle_writer: Callable[..., Path]
) -> tuple[Path, Path]:
    """Four hours of EURUSD-OTC in 5 s and 60 s candles, as a store and its dataset."""
    root = tmp_path_factory.mktemp("dataset")
    with CandleStore(candle_writer(root / "candles.sqlite", 76, (5, 60), START, END)) as store:
        assert export_dataset(store, root / "ds") == 2880 + 240
    return root / "candles.sqlite", root / "ds"


def test_the_layout_is_hive_partitioned_by_active_size_and_day(exported: tuple[Path, Path]) -> None:
    _, root = exported
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))
    assert files == [
        f"active_id=76/size={size}/day={day}/part-0.parquet"
        for size in (5, 60)
        for day in ("2026-02-10", "2026-02-11")
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (None, None),
        (START, END),
        (START + 3600, START + 3 * 3600 + 5),
        (START + 7200, None),
        (None, START + 10),
    ],
)
def test_reads_equal_the_store(exported: tuple[Path, Path], start: int | None, end: int | None) -> None:
    db, root = exported
    with CandleStore(db) as store, CandleDataset(root) as dataset:
        for size in (5, 60):
            assert dataset.read(76, size, start, end) == store.read(76, size, start, end)
            assert dataset.count(76, size, start, end) == store.count(76, size, start, end)
        assert dataset.series() == store.series() == [(76, 5), (76, 60)]
        assert dataset.ranges() == store.ranges()
        assert dataset.count() == store.count()
        assert dataset.read(81, 5) == []
        assert dataset.actives() == store.actives() and dataset.actives()[76].name == "EURUSD-OTC"


def test_exporting_again_replaces_the_days_written(exported: tuple[Path, Path], tmp_path: Path) -> None:
    db, _ = exported
    with CandleStore(db) as store:
        export_dataset(store, tmp_path / "ds", size=5)
        export_dataset(store, tmp_path / "ds", size=5)
        export_dataset(store, tmp_path / "ds", active_id=76, size=60)
        with CandleDataset(tmp_path / "ds") as dataset:
            assert dataset.count() == store.count()
            assert dataset.read(76, 5) == store.read(76, 5)


def test_pyarrow_polars_and_pandas_read_it(exported: tuple[Path, Path]) -> None:
    db, root = exported
    table = pads.dataset(root, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 3120 and {"active_id", "size", "day", "start", "close"} <= set(
        table.column_names
    )
    frame = (
        pl.scan_parquet(f"{root}/**/*.parquet", hive_partitioning=True).filter(pl.col("size") == 60).collect()
    )
    with CandleStore(db) as store:
        assert frame.height == 240
        assert sorted(frame["close"].to_list()) == sorted(c.close for c in store.read(76, 60))
    pandas_frame = pytest.importorskip("pandas").read_parquet(root)
    assert len(pandas_frame) == 3120


def test_a_file_url_reads_through_fsspec(exported: tuple[Path, Path]) -> None:
    db, root = exported
    url = f"file://{root}"
    assert is_url(url) and not is_url(root)
    with CandleStore(db) as store, open_candles(url) as dataset:
        assert isinstance(dataset, CandleDataset)
        assert dataset.read(76, 5, START, START + DAY) == store.read(76, 5, START, START + DAY)


def test_a_file_url_is_also_a_place_to_export_to(exported: tuple[Path, Path], tmp_path: Path) -> None:
    db, _ = exported
    with CandleStore(db) as store:
        export_dataset(store, f"file://{tmp_path}/remote", size=60)
    with CandleDataset(tmp_path / "remote") as dataset:
        assert dataset.series() == [(76, 60)] and dataset.count() == 240


def test_open_candles_picks_the_reader_and_creates_nothing(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    db, root = exported
    with open_candles(db) as store:
        assert isinstance(store, CandleStore)
    with open_candles(root) as dataset:
        assert isinstance(dataset, CandleDataset)
    with pytest.raises(FileNotFoundError, match="no candle store or dataset"):
        open_candles(tmp_path / "absent.sqlite")
    assert not (tmp_path / "absent.sqlite").exists()
    with pytest.raises(FileNotFoundError, match="no candle dataset"):
        CandleDataset(tmp_path / "absent")


def test_a_url_without_fsspec_says_how_to_get_it(
    exported: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(ImportError, match=r"pip install 'iqwire\[fsspec\]'"):
        open_candles(f"file://{exported[1]}")


def test_a_backtest_job_reads_a_dataset_like_a_store(exported: tuple[Path, Path]) -> None:
    db, root = exported
    jobs = [
        SweepJob(EXAMPLE, {"period": 10}, str(source), START, END) for source in (db, root, f"file://{root}")
    ]
    from_store, from_dataset, from_url = (run_job(job) for job in jobs)
    assert from_store[1]["trades"] > 0
    assert from_dataset == from_store == from_url
