"""``iqwire backtest --optimize`` / ``--dataset`` and ``iqwire candles export --dataset``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cli_helpers import assert_clean_failure, invoke

from iqwire.bot.loader import load_config
from iqwire.store.dataset import CandleDataset

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "mean_reversion.py")
#: 2026-02-10 00:00 UTC: where ``candles_2h`` begins.
DAY0 = 1_770_681_600


def test_export_a_dataset_and_backtest_from_it(candles_2h: Path, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    exported = invoke(
        "candles", "export", "--db", str(candles_2h), "--format", "parquet", "--dataset", str(root)
    )
    assert exported.exit_code == 0, exported.output
    assert "wrote 1,440 candles to the dataset" in exported.stdout
    with CandleDataset(root) as dataset:
        assert dataset.series() == [(76, 5)] and dataset.actives()[76].name == "EURUSD-OTC"

    def summary(*source: str) -> str:
        result = invoke("backtest", EXAMPLE, *source, "--param", "period=10")
        assert result.exit_code == 0, result.output
        return next(line for line in result.stdout.splitlines() if " trades (" in line)

    from_store = summary("--db", str(candles_2h))
    assert summary("--dataset", str(root)) == from_store
    assert summary("--dataset", f"file://{root}") == from_store
    # A sweep reads the dataset in its worker processes.
    swept = invoke("backtest", EXAMPLE, "--dataset", str(root), "--sweep", "period=10,20", "--workers", "1")
    assert swept.exit_code == 0, swept.output
    assert "Sweep (best P&L first)" in swept.stdout


def test_export_and_dataset_errors(candles_2h: Path, tmp_path: Path) -> None:
    db = str(candles_2h)
    assert_clean_failure(
        invoke("candles", "export", "--db", db), 2, "give one of --out FILE and --dataset DIR"
    )
    both = invoke("candles", "export", "--db", db, "--out", str(tmp_path / "x"), "--dataset", str(tmp_path))
    assert_clean_failure(both, 2, "give one of --out FILE and --dataset DIR")
    as_csv = invoke("candles", "export", "--db", db, "--format", "csv", "--dataset", str(tmp_path / "d"))
    assert_clean_failure(as_csv, 2, "--dataset writes Parquet")
    missing = invoke("backtest", EXAMPLE, "--dataset", str(tmp_path / "absent"))
    assert_clean_failure(missing, 2, "no candle store or dataset at")


def test_optimize_writes_the_table_run_file_csv_and_plot_and_resumes(
    candles_2h: Path, tmp_path: Path
) -> None:
    common = [
        "backtest", EXAMPLE, "--db", str(candles_2h), "--from", str(DAY0), "--to", str(DAY0 + 7200),
        "--optimize", "period=5..30,low=20..40", "--holdout", "25%", "--objective", "pnl", "--workers", "1",
        "--study", str(tmp_path / "study.sqlite"), "--best", str(tmp_path / "best.toml"),
        "--csv", str(tmp_path / "trials.csv"), "--png", str(tmp_path / "search.png"),
    ]  # fmt: skip
    result = invoke(*common, "--trials", "6")
    assert result.exit_code == 0, result.output
    assert "Search: " in result.stdout and "pnl (in)" in result.stdout and "pnl (out)" in result.stdout
    assert "study MeanReversion-pnl" in result.stdout
    assert result.stderr.count("] trial ") == 6  # one progress line per trial
    config = load_config(tmp_path / "best.toml")
    assert config.strategy == EXAMPLE and set(config.params) == {"period", "low"}
    rows = list(csv.DictReader(io.StringIO((tmp_path / "trials.csv").read_text(encoding="utf-8"))))
    assert len(rows) == 6 and {row["state"] for row in rows} <= {"complete", "pruned"}
    assert (tmp_path / "search.png").stat().st_size > 0
    # The best parameters replay as a run file.
    replay = invoke("backtest", "--config", str(tmp_path / "best.toml"), "--db", str(candles_2h))
    assert replay.exit_code == 0, replay.output
    # The same command with more trials continues the study.
    resumed = invoke(*common, "--trials", "8")
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stderr.count("] trial ") == 2
    assert len((tmp_path / "trials.csv").read_text(encoding="utf-8").splitlines()) == 1 + 8


def test_optimize_errors(candles_2h: Path, tmp_path: Path) -> None:
    base = ["backtest", EXAMPLE, "--db", str(candles_2h), "--study", str(tmp_path / "s.sqlite")]
    both = invoke(*base, "--optimize", "period=5..9", "--sweep", "period=5,9")
    assert_clean_failure(both, 2, "choose one of --sweep and --optimize")
    assert_clean_failure(invoke(*base, "--optimize", "period=9"), 2, "--optimize: period=9: give a range")
    assert_clean_failure(invoke(*base, "--optimize", "nope=1..3"), 2, "has no parameter(s) nope")
    held = invoke(*base, "--optimize", "period=5..9", "--holdout", "100%")
    assert_clean_failure(held, 2, "--optimize: holdout '100%'")
