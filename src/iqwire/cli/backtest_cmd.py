"""``iqwire backtest``: replay stored candles through a strategy, once or as a parameter sweep.

Example::

    $ iqwire backtest examples/mean_reversion.py --db candles.sqlite --from 2026-02-10 --to 2026-02-11
    $ iqwire backtest examples/mean_reversion.py --db candles.sqlite --sweep period=10,14,20
"""

from __future__ import annotations

import asyncio
import csv
import enum
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from iqwire.bot.backtest import run_backtest
from iqwire.bot.report import Report
from iqwire.bot.sweep import SweepRow, make_resolver, parse_grid, read_series, run_sweep, strategy_actives
from iqwire.cli.common import EXIT_ERROR, EXIT_USAGE, fail, stderr_console, stdout_console
from iqwire.cli.strategy_opts import (
    ConfigOpt,
    LoadedStrategy,
    ParamOpt,
    StrategyArg,
    load_strategy_args,
    params_text,
)
from iqwire.cli.trade_cmd import print_wide
from iqwire.store.candles import CandleStore

__all__ = ["SweepBackend", "backtest", "parse_time"]


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
    store: CandleStore, names: dict[int, str], sizes: Sequence[int], start: int | None, end: int | None
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
        stored = ", ".join(f"{a}/{s}s" for a, s in store.series()) or "nothing"
        fail(
            f"no candles to replay in {store.path} (it holds: {stored}); download some with iqwire.store.download"
        )
    return total


def _sweep_table(rows: list[SweepRow], keys: list[str]) -> Table:
    table = Table(title="Sweep (best P&L first)", box=box.SIMPLE_HEAD)
    for key in keys:
        table.add_column(key, justify="right", no_wrap=True)
    for name in ("trades", "win %", "P&L", "return", "max DD", "Sharpe", "PF", "refused"):
        table.add_column(name, justify="right", no_wrap=True)
    for params, summary in rows:
        pnl = float(summary["pnl"])
        table.add_row(
            *(str(params.get(key, "")) for key in keys),
            str(summary["trades"]),
            _pct(summary["win_rate"]),
            f"[{'green' if pnl > 0 else 'red' if pnl < 0 else ''}]{pnl:+,.2f}[/]",
            "—" if summary["return_pct"] is None else f"{summary['return_pct']:+.2f}%",
            f"{summary['max_drawdown_pct']:.2f}%",
            _num(summary["sharpe"]),
            _num(summary["profit_factor"]),
            str(summary["refused"]),
        )
    return table


def _pct(ratio: float | None) -> str:
    return "—" if ratio is None else f"{100 * ratio:.1f}%"


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return "∞" if value == float("inf") else f"{value:.3f}"


def _write_sweep_csv(path: Path, rows: list[SweepRow], keys: list[str]) -> None:
    columns = ["trades", "wins", "losses", "equals", "win_rate", "pnl", "return_pct", "max_drawdown"]
    columns += ["max_drawdown_pct", "sharpe", "profit_factor", "refused", "candles", "unsettled"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*keys, *columns])
        for params, summary in rows:
            writer.writerow([*(params.get(key, "") for key in keys), *(summary.get(c, "") for c in columns)])


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


def backtest(
    strategy: StrategyArg = None,
    db: Annotated[Path, typer.Option("--db", help="The candle store (SQLite) to replay.")] = Path(
        "candles.sqlite"
    ),
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
            "--csv", help="Write the trades (with --sweep: the sweep table) as CSV.", show_default=False
        ),
    ] = None,
    parquet: Annotated[
        Path | None,
        typer.Option("--parquet", help="Write the trades as Parquet (needs pyarrow).", show_default=False),
    ] = None,
    png: Annotated[
        Path | None,
        typer.Option("--png", help="Draw the equity curve (needs matplotlib).", show_default=False),
    ] = None,
    balance: Annotated[float, typer.Option("--balance", min=0.0, help="Starting balance.")] = 10_000.0,
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
) -> None:
    """Replay stored candles through a strategy and print the report (or a sweep's table).

    The strategy's actives (built-in names, or ids with --payout) and candle sizes
    are read from --db between --from and --to. --sweep runs every combination of
    the values given, one backtest per process (--workers), and prints them by P&L.
    """
    loaded = load_strategy_args(strategy, config, param)
    try:
        first = None if start is None else parse_time(start)
        last = None if end is None else parse_time(end, end=True)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    if first is not None and last is not None and first >= last:
        fail(f"--from {start} is not before --to {end}", EXIT_USAGE)
    if not db.is_file():
        fail(f"no candle store at {db}", EXIT_USAGE)
    if sweep and (parquet is not None or png is not None):
        fail("--parquet and --png export one backtest's trades; with --sweep use --csv", EXIT_USAGE)
    strategy_obj = loaded.cls(**loaded.params)
    console = stdout_console()
    with CandleStore(db) as store:
        try:
            names, payouts = strategy_actives(loaded.cls, payout, store.actives())
        except ValueError as exc:
            fail(str(exc), EXIT_USAGE)
        count = _check_data(store, names, strategy_obj.sizes, first, last)
        if sweep:
            store.close()
            _run_sweep_cli(
                loaded, sweep, db, first, last, payout, balance, workers, backend, ray_address, csv_path
            )
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
    result = asyncio.run(
        run_backtest(
            strategy_obj,
            list(series.values()),
            payouts=payouts,
            limits=loaded.config.risk,
            balance=balance,
            resolve=make_resolver(names),
            names=names,
        )
    )
    result.report.print(console)
    console.print(escape(result.report.summary_line()), soft_wrap=True)
    if result.unsettled:
        console.print(
            f"{result.unsettled} trade(s) still open when the data ran out (not counted)", soft_wrap=True
        )
    export_report(result.report, csv_path, parquet, png, console)


def _run_sweep_cli(
    loaded: LoadedStrategy,
    specs: list[str],
    db: Path,
    first: int | None,
    last: int | None,
    payout: float | None,
    balance: float,
    workers: int | None,
    backend: str,
    ray_address: str | None,
    csv_path: Path | None,
) -> None:
    try:
        grid = parse_grid(specs)
    except ValueError as exc:
        fail(f"--sweep: {exc}", EXIT_USAGE)
    total = 1
    for values in grid.values():
        total *= len(values)
    progress = stderr_console()
    done = 0

    def on_result(row: SweepRow) -> None:
        nonlocal done
        done += 1
        params, summary = row
        progress.print(
            escape(
                f"[{done}/{total}] {params_text(params)}: {summary['trades']} trades, P&L {summary['pnl']:+.2f}"
            ),
            soft_wrap=True,
        )

    base = {key: value for key, value in loaded.params.items() if key not in grid}
    try:
        rows = run_sweep(
            loaded.reference,
            grid,
            db,
            first,
            last,
            base_params=base,
            payout=payout,
            balance=balance,
            limits=loaded.config.risk,
            workers=workers,
            backend=backend,
            ray_address=ray_address,
            on_result=on_result,
        )
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    except ImportError as exc:
        fail(str(exc), EXIT_ERROR)
    keys = list(grid)
    print_wide(stdout_console(), _sweep_table(rows, keys))
    if csv_path is not None:
        try:
            _write_sweep_csv(csv_path, rows, keys)
        except OSError as exc:
            fail(f"cannot write {csv_path}: {exc}")
        stdout_console().print(f"wrote {escape(str(csv_path))}", soft_wrap=True)
