"""``iqwire backtest --optimize``: an Optuna search over a strategy's parameters.

Example::

    $ iqwire backtest examples/mean_reversion.py --db candles.sqlite \\
          --optimize "period=5..50,low=20..40" --trials 200 --objective sharpe --holdout 20%
"""

from __future__ import annotations

import csv
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from iqwire.bot.optimize import OptimizeResult, TrialRow, optimize
from iqwire.bot.search_report import plot_search, search_table, write_run_file
from iqwire.bot.search_space import parse_holdout, parse_space
from iqwire.cli.common import EXIT_ERROR, EXIT_USAGE, fail, stderr_console, stdout_console
from iqwire.cli.strategy_opts import LoadedStrategy, params_text
from iqwire.cli.sweep_cmd import Runs
from iqwire.cli.trade_cmd import print_wide

__all__ = [
    "BestOpt",
    "HoldoutOpt",
    "Objective",
    "ObjectiveOpt",
    "OptimizeOpt",
    "SearchPlan",
    "SeedOpt",
    "StudyNameOpt",
    "StudyOpt",
    "TrialsOpt",
    "run_search",
]


class Objective(enum.StrEnum):
    """What a search maximises."""

    SHARPE = "sharpe"
    PNL = "pnl"
    PROFIT_FACTOR = "profit_factor"


OptimizeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--optimize",
        help='Search with Optuna: "period=5..50,low=20..40" (ranges lo..hi[:log] or choices a|b).',
        show_default=False,
    ),
]
TrialsOpt = Annotated[int, typer.Option("--trials", min=1, help="With --optimize: finished trials in all.")]
ObjectiveOpt = Annotated[
    Objective, typer.Option("--objective", case_sensitive=False, help="With --optimize: what to maximise.")
]
HoldoutOpt = Annotated[
    str, typer.Option("--holdout", help="With --optimize: the last share of the period kept out (20%).")
]
StudyOpt = Annotated[
    Path, typer.Option("--study", help="With --optimize: the study's SQLite file (resumes if it exists).")
]
StudyNameOpt = Annotated[
    str | None,
    typer.Option("--study-name", help="With --optimize: default Strategy-objective.", show_default=False),
]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="With --optimize: the sampler's seed.")]
BestOpt = Annotated[
    Path, typer.Option("--best", help="With --optimize: write the best parameters as a run file.")
]


@dataclass(frozen=True)
class SearchPlan:
    """The search options of ``iqwire backtest``, together."""

    specs: list[str]
    trials: int
    objective: str
    holdout: str
    study: Path
    study_name: str | None
    seed: int
    best: Path
    csv_path: Path | None
    png: Path | None


def _progress(objective: str) -> Callable[[TrialRow], None]:
    console = stderr_console()
    seen = 0

    def on_trial(row: TrialRow) -> None:
        nonlocal seen
        seen += 1
        value = "—" if row.value is None else f"{row.value:.4f}"
        console.print(
            escape(
                f"[{seen}] trial {row.number} {params_text(row.params)}: {row.state}, {objective} {value}"
            ),
            soft_wrap=True,
        )

    return on_trial


def _write_csv(path: Path, result: OptimizeResult) -> None:
    keys = sorted({key for row in result.rows for key in row.params})
    stats = ["trades", "pnl", "max_drawdown_pct", "sharpe", "profit_factor", "candles"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["number", "state", *keys, "value", *stats, "holdout_value", "holdout_pnl"])
        for row in result.rows:
            held = row.holdout_summary or {}
            writer.writerow(
                [row.number, row.state, *(row.params.get(k, "") for k in keys), row.value]
                + [row.summary.get(s, "") for s in stats]
                + [row.holdout_value, held.get("pnl", "")]
            )


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M")


def run_search(loaded: LoadedStrategy, plan: SearchPlan, runs: Runs) -> None:
    """Run the search, print the table, write the run file (and the CSV and plot if asked)."""
    try:
        space = parse_space(plan.specs)
        share = parse_holdout(plan.holdout)
    except ValueError as exc:
        fail(f"--optimize: {exc}", EXIT_USAGE)
    try:
        result = optimize(
            loaded.reference,
            space,
            runs.source,
            runs.first,
            runs.last,
            trials=plan.trials,
            objective=plan.objective,
            holdout=share,
            storage=plan.study,
            study_name=plan.study_name,
            seed=plan.seed,
            workers=runs.workers,
            backend=runs.backend,
            ray_address=runs.ray_address,
            base_params={key: value for key, value in loaded.params.items() if key not in space},
            payout=runs.payout,
            balance=runs.balance,
            limits=loaded.config.risk,
            on_trial=_progress(plan.objective),
        )
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    except ImportError as exc:
        fail(str(exc), EXIT_ERROR)
    console = stdout_console()
    print_wide(console, search_table(result))
    period = f"in-sample {_when(result.in_sample[0])} → {_when(result.in_sample[1])}"
    if result.holdout is not None:
        period += f", holdout {_when(result.holdout[0])} → {_when(result.holdout[1])}"
    console.print(escape(f"study {result.study_name} in {result.storage}: {period}"), soft_wrap=True)
    best = result.best
    if best is None:
        fail("no trial completed: nothing to write", EXIT_ERROR)
    comments = [
        f"The best of {len(result.rows)} trials of the study {result.study_name} ({result.storage}),",
        f"{plan.objective} {best.value:.4f} in-sample {_when(result.in_sample[0])} → {_when(result.in_sample[1])}"
        + (
            ""
            if result.holdout is None or best.holdout_value is None
            else f", {best.holdout_value:.4f} on the holdout {_when(result.holdout[0])} → {_when(result.holdout[1])}"
        ),
    ]
    chosen = {**loaded.params, **best.params}

    def run_file(path: Path) -> object:
        return write_run_file(path, loaded.reference, chosen, risk=loaded.config.risk, comments=comments)

    outputs: list[tuple[Path | None, Callable[[Path], object]]] = [
        (plan.best, run_file),
        (plan.csv_path, lambda path: _write_csv(path, result)),
        (plan.png, lambda path: plot_search(result, path)),
    ]
    for path, write in outputs:
        if path is None:
            continue
        try:
            write(path)
        except (ImportError, OSError, ValueError) as exc:
            fail(f"cannot write {path}: {exc}")
        console.print(f"wrote {escape(str(path))}", soft_wrap=True)
