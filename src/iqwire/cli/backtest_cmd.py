"""``iqwire backtest``: replay stored candles through a strategy, once or as a parameter sweep.

Example::

    $ iqwire backtest examples/mean_reversion.py --db candles.sqlite --from 2026-02-10 --to 2026-02-11
    $ iqwire backtest examples/mean_reversion.py --db candles.sqlite --sweep period=10,14,20
    $ iqwire backtest examples/mean_reversion.py --dataset s3://bucket/candles \
          --optimize "period=5..50,low=20..40" --trials 200 --holdout 20% --backend ray
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from iqwire.bot.backtest import run_backtest
from iqwire.bot.report import Report
from iqwire.bot.sweep import make_resolver, read_series, strategy_actives
from iqwire.cli.common import EXIT_USAGE, fail, stderr_console, stdout_console, strategy_failure
from iqwire.cli.optimize_cmd import (
    BestOpt,
    HoldoutOpt,
    Objective,
    ObjectiveOpt,
    OptimizeOpt,
    SearchPlan,
    SeedOpt,
    StudyNameOpt,
    StudyOpt,
    TrialsOpt,
    run_search,
)
from iqwire.cli.strategy_opts import (
    ConfigOpt,
    ParamOpt,
    StrategyArg,
    load_strategy_args,
    params_text,
)
from iqwire.cli.sweep_cmd import Runs, run_sweep_cli
from iqwire.store.dataset import CandleReader, open_candles

__all__ = ["SweepBackend", "app", "backtest", "parse_time"]

app = typer.Typer()


class SweepBackend(enum.StrEnum):
    """Where the backtests of a sweep run."""

    PROCESS = "process"
    RAY = "ray"


def parse_time(text: str, *, end: bool = False) -> int:
    """Unix seconds from ``2026-02-10``, ``2026-02-10T12:00`` (UTC unless it says) or ``1770681600``.

    A bare date as an ``end`` means the whole day: the next midnight.

    Raises:
        ValueError: none of these forms.
    """
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (2026-02-10), a time (2026-02-10T12:00) or unix seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end and len(value) == 10:  # YYYY-MM-DD: include the whole day
        moment += timedelta(days=1)
    return int(moment.timestamp())


def _when(seconds: int | None) -> str:
    if seconds is None:
        return "…"
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _check_data(
    store: CandleReader, names: dict[int, str], sizes: Sequence[int], start: int | None, end: int | None
) -> int:
    """How many candles the run will replay; warn about empty series, fail when all are."""
    total = 0
    for active_id, name in names.items():
        for size in sizes:
            count = store.count(active_id, size, start, end)
            if count == 0:
                stderr_console().print(
                    f"warning: no {name}/{size}s candles in the store between {_when(start)} and {_when(end)}",
                    soft_wrap=True,
                )
            total += count
    if total == 0:
        known = store.actives()
        held = [
            f"{known[r.active_id].name if r.active_id in known else r.active_id}/{r.size}s "
            f"{_when(r.first)} → {_when(r.last + r.size)}"
            for r in store.ranges()
        ]
        name = next(iter(names.values()))
        fail(
            f"no candles to replay in {store.path} between {_when(start)} and {_when(end)} "
            f"(it holds: {'; '.join(held) or 'nothing'}); download them with: iqwire candles download "
            f"{name} --size {sizes[0]} --start {_day(start)} --end {_day(end)} --db {store.path}",
            EXIT_USAGE,
        )
    return total


def _day(seconds: int | None) -> str:
    if seconds is None:
        return "…"
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M")


def export_report(
    report: Report, csv_path: Path | None, parquet: Path | None, png: Path | None, console: Console
) -> None:
    """Write a report's trades as CSV / Parquet and its equity curve as PNG (each when asked)."""
    exports: list[tuple[Path | None, Callable[[Path], Path]]] = [
        (csv_path, report.to_csv),
        (parquet, report.to_parquet),
        (png, report.equity_png),
    ]
    for path, write in exports:
        if path is None:
            continue
        try:
            write(path)
        except (ImportError, OSError) as exc:
            fail(f"cannot write {path}: {exc}")
        console.print(f"wrote {escape(str(path))}", soft_wrap=True)


@app.command("backtest")
def backtest(
    strategy: StrategyArg = None,
    db: Annotated[Path, typer.Option("--db", help="The candle store (SQLite) to replay.")] = Path(
        "candles.sqlite"
    ),
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Replay a Parquet dataset instead of --db: a directory or a URL (s3://…, file://…).",
            show_default=False,
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First day or time (UTC): 2026-02-10, 2026-02-10T12:00, unix s.",
            show_default=False,
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Last day (included) or an exact end time (excluded).", show_default=False),
    ] = None,
    config: ConfigOpt = None,
    param: ParamOpt = None,
    csv_path: Annotated[
        Path | None,
        typer.Option(
            "--csv", help="Write the trades (with --sweep/--optimize: the table) as CSV.", show_default=False
        ),
    ] = None,
    parquet: Annotated[
        Path | None,
        typer.Option("--parquet", help="Write the trades as Parquet (needs pyarrow).", show_default=False),
    ] = None,
    png: Annotated[
        Path | None,
        typer.Option(
            "--png",
            help="Draw the equity curve (with --optimize: the search); needs matplotlib.",
            show_default=False,
        ),
    ] = None,
    start_balance: Annotated[
        float, typer.Option("--start-balance", min=0.0, help="The simulated account's starting balance.")
    ] = 10_000.0,
    payout: Annotated[
        float | None,
        typer.Option(
            "--payout",
            min=0.0,
            max=100.0,
            help="Payout % of every active (default: 100 - its commission).",
            show_default=False,
        ),
    ] = None,
    sweep: Annotated[
        list[str] | None,
        typer.Option(
            "--sweep",
            help="Try several values: period=10,20,30 (repeatable: the cartesian product).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Sweep processes (default: CPU count).", show_default=False),
    ] = None,
    backend: Annotated[
        SweepBackend,
        typer.Option(
            "--backend", case_sensitive=False, help="Where a sweep runs (ray: see docs/scaling.md)."
        ),
    ] = SweepBackend.PROCESS,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="With --backend ray: the cluster (ray://host:10001, auto).",
            show_default=False,
        ),
    ] = None,
    optimize: OptimizeOpt = None,
    trials: TrialsOpt = 100,
    objective: ObjectiveOpt = Objective.SHARPE,
    holdout: HoldoutOpt = "0%",
    study: StudyOpt = Path("optimize.sqlite"),
    study_name: StudyNameOpt = None,
    seed: SeedOpt = 0,
    best: BestOpt = Path("best.toml"),
) -> None:
    """Replay stored candles through a strategy and print the report (or a sweep's table).

    The strategy's actives (built-in names, or ids with --payout) and candle sizes
    are read from --db (or --dataset) between --from and --to. --sweep runs every
    combination of the values given, one backtest per process (--workers), and prints
    them by P&L. --optimize searches ranges with Optuna instead (--trials, --objective,
    --holdout; the study in --study resumes), prints the trials and writes the best
    parameters to --best. See docs/scaling.md.
    """
    loaded = load_strategy_args(strategy, config, param)
    try:
        first = None if start is None else parse_time(start)
        last = None if end is None else parse_time(end, end=True)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    if first is not None and last is not None and first >= last:
        fail(f"--from {start} is not before --to {end}", EXIT_USAGE)
    if sweep and optimize:
        fail("choose one of --sweep and --optimize", EXIT_USAGE)
    if sweep and (parquet is not None or png is not None):
        fail("--parquet and --png export one backtest's trades; with --sweep use --csv", EXIT_USAGE)
    if optimize and parquet is not None:
        fail("--parquet exports one backtest's trades; with --optimize use --csv and --png", EXIT_USAGE)
    if dataset is None and not db.is_file():
        fail(f"no candle store at {db}", EXIT_USAGE)
    source = dataset if dataset is not None else str(db)
    strategy_obj = loaded.cls(**loaded.params)
    console = stdout_console()
    try:
        opened = open_candles(source)
    except (FileNotFoundError, ImportError) as exc:
        fail(str(exc), EXIT_USAGE)
    with opened as store:
        try:
            names, payouts = strategy_actives(loaded.cls, payout, store.actives())
        except ValueError as exc:
            fail(str(exc), EXIT_USAGE)
        count = _check_data(store, names, strategy_obj.sizes, first, last)
        if sweep or optimize:
            store.close()
            runs = Runs(source, first, last, payout, start_balance, workers, backend, ray_address)
            if optimize:
                plan = SearchPlan(
                    optimize, trials, objective.value, holdout, study, study_name, seed, best, csv_path, png
                )
                run_search(loaded, plan, runs)
            else:
                run_sweep_cli(loaded, sweep or [], runs, csv_path)
            return
        series = read_series(store, names, strategy_obj.sizes, first, last)
    series_text = ", ".join(f"{names[a]}/{s}s" for a, s in series)
    console.print(
        escape(
            f"backtest of {loaded.cls.__name__} ({params_text(strategy_obj.params)}) on {count} candles "
            f"({series_text}), {_when(first)} → {_when(last)}, payout "
            + ", ".join(f"{names[a]} {p:g}%" for a, p in payouts.items())
        ),
        soft_wrap=True,
    )
    try:
        result = asyncio.run(
            run_backtest(
                strategy_obj,
                list(series.values()),
                payouts=payouts,
                limits=loaded.config.risk,
                balance=start_balance,
                resolve=make_resolver(names),
                names=names,
            )
        )
    except Exception as exc:
        strategy_failure(exc, loaded.file)
    result.report.print(console)
    console.print(escape(result.report.summary_line()), soft_wrap=True)
    if result.unsettled:
        console.print(
            f"{result.unsettled} trade(s) still open when the data ran out (not counted)", soft_wrap=True
        )
    export_report(result.report, csv_path, parquet, png, console)
