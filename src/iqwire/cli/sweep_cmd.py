"""``iqwire backtest --sweep``: one backtest per combination of parameter values, as a table.

Example::

    $ iqwire backtest examples/mean_reversion.py --db candles.sqlite --sweep period=10,14,20 --sweep low=25,30
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from rich import box
from rich.markup import escape
from rich.table import Table

from iqwire.bot.sweep import SweepRow, parse_grid, run_sweep
from iqwire.cli.common import EXIT_ERROR, EXIT_USAGE, fail, stderr_console, stdout_console
from iqwire.cli.strategy_opts import LoadedStrategy, params_text
from iqwire.cli.trade_cmd import print_wide

__all__ = ["Runs", "run_sweep_cli"]


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


@dataclass(frozen=True)
class Runs:
    """Where the backtests of a sweep or a search read, run and start from."""

    source: str
    first: int | None
    last: int | None
    payout: float | None
    balance: float
    workers: int | None
    backend: str
    ray_address: str | None


def run_sweep_cli(loaded: LoadedStrategy, specs: list[str], runs: Runs, csv_path: Path | None) -> None:
    """Run the sweep, print the table (best P&L first), write it as CSV if asked."""
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
            runs.source,
            runs.first,
            runs.last,
            base_params=base,
            payout=runs.payout,
            balance=runs.balance,
            limits=loaded.config.risk,
            workers=runs.workers,
            backend=runs.backend,
            ray_address=runs.ray_address,
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
