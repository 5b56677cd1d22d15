"""Optuna searches: they run, prune, resume after an interrupt or a kill, and keep a holdout apart."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from iqwire.bot.loader import load_config
from iqwire.bot.optimize import OptimizeResult, TrialJob, optimize, run_trial, study_url
from iqwire.bot.risk import RiskLimits
from iqwire.bot.search_report import plot_search, search_table, write_run_file
from iqwire.bot.search_space import parse_space
from iqwire.bot.sweep import SweepJob, run_job

EXAMPLE = str(Path(__file__).resolve().parents[3] / "examples" / "mean_reversion.py")
#: 2026-02-10 00:00 UTC.
START = 1_770_681_600
END = START + 2 * 3600
SPACE = parse_space(["period=5..30,low=20..40"])


@pytest.fixture
def store(candles_2h: Path) -> Path:
    """Two hours of EURUSD-OTC 5-second candles (1,440) from ``START``."""
    return candles_2h


def _counts(storage: Path, name: str) -> dict[str, int]:
    study = optuna.load_study(study_name=name, storage=study_url(storage))
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def test_a_search_runs_resumes_and_scores_the_holdout(store: Path, tmp_path: Path) -> None:
    storage = tmp_path / "study.sqlite"
    seen: list[int] = []
    first = optimize(
        EXAMPLE, SPACE, store, None, None, trials=6, holdout=0.25, storage=storage, workers=1,
        startup_trials=3, on_trial=lambda row: seen.append(row.number),
    )  # fmt: skip
    assert first.ran == 6 and sorted(seen) == list(range(6))
    assert first.in_sample == (START, START + 5400) and first.holdout == (START + 5400, END)
    assert first.count("complete") + first.count("pruned") == 6
    # Re-opening the study runs only what is missing to reach the new total.
    second = optimize(EXAMPLE, SPACE, store, None, None, trials=9, holdout=0.25, storage=storage, workers=2)
    assert second.ran == 3
    assert sorted(row.number for row in second.rows) == list(range(9))
    assert optimize(EXAMPLE, SPACE, store, None, None, trials=9, holdout=0.25, storage=storage).ran == 0

    best = second.best
    assert best is not None and best.state == "complete" and best.value is not None
    complete = [row.value for row in second.rows if row.state == "complete"]
    assert complete == sorted(complete, reverse=True) and best.value == complete[0]
    assert best.summary["candles"] == 1080  # 75 % of 1,440: the search never saw the holdout
    assert best.holdout_summary is not None and best.holdout_summary["candles"] == 360
    # The holdout score is that of a plain backtest of the holdout period.
    _, held = run_job(SweepJob(EXAMPLE, best.params, str(store), START + 5400, END))
    assert best.holdout_value == (held["sharpe"] if held["sharpe"] is not None else 0.0)
    assert "sharpe (out)" in str([column.header for column in search_table(second).columns])


@pytest.fixture(scope="module")
def twin_searches(candles_2h: Path, tmp_path_factory: pytest.TempPathFactory) -> list[OptimizeResult]:
    """Two new studies of 5 trials each with the same seed."""
    root = tmp_path_factory.mktemp("twins")
    return [
        optimize(
            EXAMPLE, SPACE, candles_2h, START, END, trials=5, storage=root / f"{n}.sqlite", workers=1, seed=3
        )
        for n in range(2)
    ]


def test_the_same_seed_samples_the_same_parameters(twin_searches: list[OptimizeResult]) -> None:
    first, second = twin_searches
    assert [row.params for row in first.rows] == [row.params for row in second.rows]
    assert [row.value for row in first.rows] == [row.value for row in second.rows]


def test_a_study_refuses_other_settings(store: Path, tmp_path: Path) -> None:
    storage = tmp_path / "study.sqlite"
    optimize(EXAMPLE, SPACE, store, START, END, trials=1, storage=storage, workers=1)
    with pytest.raises(ValueError, match="other settings"):
        optimize(EXAMPLE, SPACE, store, START, END - 5, trials=2, storage=storage, workers=1)
    with pytest.raises(ValueError, match="unknown objective"):
        optimize(EXAMPLE, SPACE, store, START, END, trials=1, objective="sortino", storage=storage)
    with pytest.raises(ValueError, match="no parameter"):
        optimize(EXAMPLE, parse_space(["nope=1..2"]), store, START, END, trials=1, storage=storage)


def test_a_trial_below_the_threshold_stops_at_that_checkpoint(store: Path) -> None:
    job = SweepJob(EXAMPLE, {"period": 10}, str(store), START, END)
    marks = (START + 1800, START + 3600, START + 5400)
    full = run_trial(TrialJob(job, "pnl", marks, (None, None, None)))
    assert full.summary is not None and len(full.intermediate) == 3
    assert full.summary == run_job(job)[1]  # watching changes nothing
    pruned = run_trial(TrialJob(job, "pnl", marks, (None, math.inf, None)))
    assert pruned.summary is None and pruned.intermediate == full.intermediate[:2]
    assert run_trial(replace(TrialJob(job, "pnl"), checkpoints=())).summary == full.summary


def test_a_killed_search_resumes(store: Path, tmp_path: Path) -> None:
    storage = tmp_path / "study.sqlite"
    script = textwrap.dedent(
        f"""
        from iqwire.bot.optimize import optimize
        from iqwire.bot.search_space import parse_space

        if __name__ == "__main__":
            optimize({EXAMPLE!r}, parse_space(["period=5..30,low=20..40"]), {str(store)!r}, None, None,
                     trials=10_000, storage={str(storage)!r}, workers=1,
                     on_trial=lambda row: print(row.number, flush=True))
        """
    )
    (tmp_path / "search.py").write_text(script, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(tmp_path / "search.py")], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert process.stdout is not None
        for _ in range(3):  # three trials told, more running
            assert process.stdout.readline().strip().isdigit()
    finally:
        process.kill()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
    name = "MeanReversion-sharpe"
    before = _counts(storage, name)
    done = before.get("COMPLETE", 0) + before.get("PRUNED", 0)
    assert done >= 3
    result = optimize(EXAMPLE, SPACE, store, None, None, trials=done + 2, storage=storage, workers=1)
    after = _counts(storage, name)
    assert after.get("COMPLETE", 0) + after.get("PRUNED", 0) == done + 2
    assert "RUNNING" not in after  # what the kill left running is marked failed, never counted
    assert after.get("FAIL", 0) == before.get("RUNNING", 0)
    assert result.ran == 2


def test_the_best_parameters_as_a_run_file_and_a_plot(
    twin_searches: list[OptimizeResult], tmp_path: Path
) -> None:
    result = twin_searches[0]
    assert result.best is not None
    limits = RiskLimits(max_stake=20.0, min_payout=None)
    path = write_run_file(
        tmp_path / "best.toml", EXAMPLE, {**result.best.params, "mode": 'a "q"', "flag": True},
        risk=limits, comments=["found by a test"],
    )  # fmt: skip
    config = load_config(path)
    assert config.strategy == EXAMPLE
    assert config.params == {**result.best.params, "mode": 'a "q"', "flag": True}
    assert config.risk.max_stake == 20.0 and config.risk.min_payout == RiskLimits().min_payout
    assert "min_payout was off" in path.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="cannot hold"):
        write_run_file(tmp_path / "bad.toml", EXAMPLE, {"x": math.inf})
    png = plot_search(result, tmp_path / "search.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_study_in_use_is_refused(store: Path, tmp_path: Path) -> None:
    import fcntl

    storage = tmp_path / "study.sqlite"
    with (tmp_path / "study.sqlite.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(ValueError, match="in use by another search"):
            optimize(EXAMPLE, SPACE, store, START, END, trials=1, storage=storage, workers=1)
