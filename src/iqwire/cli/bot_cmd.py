"""``iqwire bot run``, ``iqwire backtest`` and ``iqwire demo``: strategies, paper, live and on history.

A strategy is named ``package.module:Class`` or by a file (``examples/mean_reversion.py``,
``file.py:Class``). Its parameters are its defaults, then the run file's ``[params]``
(``--config run.toml``), then each ``--param key=value`` (values read as int, float,
``true``/``false`` or text; an int becomes a float where the default is a float).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import enum
import signal
import sys
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from iqwire.bot.backtest import run_backtest
from iqwire.bot.dashboard import Dashboard
from iqwire.bot.live import LiveResult, run_live
from iqwire.bot.loader import RunConfig, load_config, load_strategy
from iqwire.bot.records import RunState
from iqwire.bot.report import Report
from iqwire.bot.risk import RiskLimits
from iqwire.bot.strategy import Strategy
from iqwire.bot.sweep import (
    SweepRow,
    coerce_params,
    make_resolver,
    parse_assignment,
    parse_grid,
    parse_value,
    read_series,
    run_sweep,
    strategy_actives,
)
from iqwire.cli.common import (
    EXIT_ERROR,
    EXIT_USAGE,
    ConnectionOptions,
    EmailOpt,
    LoginUrlOpt,
    PasswordOpt,
    RealOpt,
    WsUrlOpt,
    cli_errors,
    fail,
    stderr_console,
    stdout_console,
)
from iqwire.cli.trade_cmd import EXIT_INTERRUPTED, BalanceChoice, check_real_money, print_wide
from iqwire.client import Client as AsyncClient
from iqwire.sim import Simulator
from iqwire.store.candles import CandleStore

__all__ = ["SweepBackend", "app", "backtest", "demo", "parse_params", "parse_time", "run"]


class SweepBackend(enum.StrEnum):
    """Where the backtests of a sweep run."""

    PROCESS = "process"
    RAY = "ray"


app = typer.Typer(
    help="Trading bots: run a strategy on the simulator (paper) or an account (live).",
    no_args_is_help=True,
)

_STRATEGY_HELP = (
    "The strategy: package.module:Class, path/to/file.py or file.py:Class (default: the config's)."
)

StrategyArg = Annotated[str | None, typer.Argument(help=_STRATEGY_HELP, show_default=False)]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="A run file (TOML): strategy, balance, and params and risk tables.",
        show_default=False,
    ),
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="A strategy parameter, key=value (repeatable; overrides the config).",
        show_default=False,
    ),
]


# -- strategies and parameters -----------------------------------------------------------------------


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``["period=10", "low=25.5"]`` → ``{"period": 10, "low": 25.5}``.

    Raises:
        ValueError: an item without ``=``.
    """
    params: dict[str, Any] = {}
    for item in items:
        key, raw = parse_assignment(item)
        params[key] = parse_value(raw)
    return params


@dataclass
class _Loaded:
    reference: str
    cls: type[Strategy]
    params: dict[str, Any]
    config: RunConfig


def _read_config(path: Path | None) -> RunConfig:
    if path is None:
        return RunConfig()
    try:
        return load_config(path)
    except (OSError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
        fail(f"cannot use the run file {path}: {exc}", EXIT_USAGE)


def _config_relative(reference: str, config_path: Path | None) -> str:
    """A file reference from the run file, found next to it when not from the current directory."""
    target, sep, class_name = reference.partition(":")
    if config_path is None or not target.endswith(".py") or Path(target).exists():
        return reference
    beside = config_path.parent / target
    return f"{beside}{sep}{class_name}" if beside.is_file() else reference


def _load(strategy: str | None, config_path: Path | None, params: Sequence[str] | None) -> _Loaded:
    config = _read_config(config_path)
    reference = strategy or (
        _config_relative(config.strategy, config_path) if config.strategy is not None else None
    )
    if reference is None:
        fail(
            "name a strategy (module:Class or a file), or set strategy = ... in the --config file", EXIT_USAGE
        )
    try:
        cls = load_strategy(reference)
    except (ValueError, ImportError, SyntaxError) as exc:
        fail(f"cannot load the strategy {reference!r}: {exc}", EXIT_USAGE)
    try:
        merged = coerce_params(cls, {**config.params, **parse_params(params or [])})
        cls(**merged)
    except (TypeError, ValueError) as exc:
        fail(f"{exc}; {cls.__name__} takes: {', '.join(sorted(cls.params)) or 'no parameters'}", EXIT_USAGE)
    return _Loaded(reference, cls, merged, config)


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in params.items())


# -- iqwire bot run -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _sigint_stops(stop: asyncio.Event, on_first: Callable[[], None]) -> Iterator[None]:
    """First Ctrl-C: set ``stop`` (the run settles its trades). Second: cancel the run."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    previous = signal.getsignal(signal.SIGINT)

    def handler() -> None:
        if stop.is_set():
            if task is not None:
                task.cancel()
            return
        stop.set()
        on_first()

    installed = True
    try:
        loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no support
        installed = False
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signal.SIGINT, previous)


async def _refresh(dashboard: Dashboard, client: AsyncClient) -> None:
    while True:
        await asyncio.sleep(0.25)
        _catch_up(dashboard.state, client)
        dashboard.refresh()


def _catch_up(state: RunState, client: AsyncClient) -> None:
    """Move the run's clock to server time: run_live stops doing it once the signals stop."""
    state.server_time = max(state.server_time, client.server_time())


@dataclass(frozen=True)
class _RunPlan:
    mode: str
    balance: BalanceChoice
    real: bool
    duration: float | None
    speed: float
    seed: int
    limits: RiskLimits


async def _run_on(
    client: AsyncClient, strategy: Strategy, plan: _RunPlan, console: Console, where: str
) -> LiveResult:
    state = RunState(mode=plan.mode)
    stop = asyncio.Event()
    limit = "until Ctrl-C" if plan.duration is None else f"for {plan.duration:g}s"
    console.print(
        escape(
            f"{plan.mode} run of {strategy.name} ({_params_text(strategy.params)}) "
            f"on the {plan.balance.value} balance of {where}, {limit}"
        ),
        soft_wrap=True,
    )
    with Dashboard(state, console=console) as dashboard:
        refresher = asyncio.create_task(_refresh(dashboard, client))

        def emit(line: str) -> None:
            _catch_up(state, client)
            dashboard.log(line)

        def stopping() -> None:
            dashboard.log("stopping: following the open trades to their end (Ctrl-C again to quit now)")

        try:
            with _sigint_stops(stop, stopping):
                result = await run_live(
                    client,
                    strategy,
                    limits=plan.limits,
                    balance=plan.balance.balance_type,
                    duration=plan.duration,
                    state=state,
                    emit=emit,
                    stop=stop,
                )
        finally:
            refresher.cancel()
            await asyncio.gather(refresher, return_exceptions=True)
        dashboard.refresh(force=True)
    return result


async def _session(
    strategy: Strategy, plan: _RunPlan, options: ConnectionOptions, console: Console
) -> LiveResult:
    if plan.mode == "paper":
        async with Simulator(seed=plan.seed, speed=plan.speed) as simulator:
            credentials = simulator.credentials
            async with AsyncClient(
                credentials.email,
                credentials.password,
                ws_url=simulator.ws_url,
                login_url=simulator.login_url,
                reconnect_delay=(0.05, 1.0),
            ) as client:
                where = f"the embedded simulator (seed {plan.seed}, clock ×{plan.speed:g})"
                return await _run_on(client, strategy, plan, console, where)
    async with AsyncClient(
        options.email,
        options.password,
        ws_url=options.ws_url,
        login_url=options.login_url,
        allow_real_money=plan.real,
    ) as client:
        return await _run_on(client, strategy, plan, console, client.server_name or "the server")


def _finish_run(result: LiveResult, console: Console, report_csv: Path | None) -> None:
    report = Report.from_state(result.state, result.start_balance or 0.0)
    report.print(console)
    console.print(escape(report.summary_line()), soft_wrap=True)
    if result.start_balance is not None and result.end_balance is not None:
        console.print(
            f"balance: {result.start_balance:,.2f} → {result.end_balance:,.2f} {escape(result.state.currency)}",
            soft_wrap=True,
        )
    if result.unsettled:
        stderr_console().print(
            f"warning: {result.unsettled} trade(s) still open at the end; see iqwire positions",
            soft_wrap=True,
        )
    if report_csv is not None:
        try:
            report.to_csv(report_csv)
        except OSError as exc:
            fail(f"cannot write {report_csv}: {exc}")
        console.print(f"trades written to {escape(str(report_csv))}", soft_wrap=True)


@app.command("run")
def run(
    strategy: StrategyArg = None,
    paper: Annotated[
        bool, typer.Option("--paper", help="Trade the demo balance of an embedded simulator (the default).")
    ] = False,
    live: Annotated[
        bool, typer.Option("--live", help="Trade on the server of the connection options.")
    ] = False,
    real: RealOpt = False,
    balance: Annotated[
        BalanceChoice | None,
        typer.Option(
            case_sensitive=False,
            help="With --live: the balance to trade (default: the config's, else demo).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOpt = None,
    duration: Annotated[
        float | None,
        typer.Option(
            min=0.0, help="Stop after this many (real) seconds; default: at Ctrl-C.", show_default=False
        ),
    ] = None,
    param: ParamOpt = None,
    speed: Annotated[
        float, typer.Option(min=0.001, help="With --paper: simulated seconds per real second.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(min=0, help="With --paper: the simulator's seed.")] = 0,
    report_csv: Annotated[
        Path | None, typer.Option("--report-csv", help="Write the closed trades as CSV.", show_default=False)
    ] = None,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Run a strategy until --duration or Ctrl-C, then print the report.

    --paper (the default) starts a simulator on the real clock (--speed) and trades
    its demo balance; --live connects with the connection options and trades the
    demo balance unless --balance says otherwise (real needs --balance real --real).
    On a terminal: the live dashboard. Otherwise: one plain line per event. The first
    Ctrl-C stops new trades and waits for the open ones; a second quits at once.
    """
    if paper and live:
        fail("choose one of --paper and --live", EXIT_USAGE)
    mode = "live" if live else "paper"
    loaded = _load(strategy, config, param)
    try:
        chosen = balance if balance is not None else BalanceChoice(loaded.config.balance.lower())
    except ValueError:
        fail(f"balance = {loaded.config.balance!r} in {config}: choose demo, tournament or real", EXIT_USAGE)
    if mode == "paper" and real:
        fail("--real applies to --live only: --paper trades the simulator's demo balance", EXIT_USAGE)
    if mode == "paper" and chosen is not BalanceChoice.DEMO:
        fail(f"--paper trades the simulator's demo balance, not {chosen.value}; use --live", EXIT_USAGE)
    plan = _RunPlan(mode, chosen, real, duration, speed, seed, loaded.config.risk)
    options = ConnectionOptions(False, ws_url, login_url, email, password)
    console = stdout_console()
    with cli_errors():
        check_real_money(chosen, real)
        try:
            result = asyncio.run(_session(loaded.cls(**loaded.params), plan, options, console))
        except (KeyboardInterrupt, asyncio.CancelledError):
            stderr_console().print("interrupted: open trades were not followed to their end", soft_wrap=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except (ValueError, LookupError) as exc:
            fail(str(exc), EXIT_ERROR)
    _finish_run(result, console, report_csv)


# -- iqwire backtest ----------------------------------------------------------------------------------


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


def _export(
    report: Report, csv_path: Path | None, parquet: Path | None, png: Path | None, console: Console
) -> None:
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
    loaded = _load(strategy, config, param)
    try:
        first = None if start is None else parse_time(start)
        last = None if end is None else parse_time(end, end=True)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    if first is not None and last is not None and first >= last:
        fail(f"--from {start} is not before --to {end}", EXIT_USAGE)
    if not db.is_file():
        fail(f"no candle store at {db}", EXIT_USAGE)
    try:
        names, payouts = strategy_actives(loaded.cls, payout)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    if sweep and (parquet is not None or png is not None):
        fail("--parquet and --png export one backtest's trades; with --sweep use --csv", EXIT_USAGE)
    strategy_obj = loaded.cls(**loaded.params)
    console = stdout_console()
    with CandleStore(db) as store:
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
            f"backtest of {loaded.cls.__name__} ({_params_text(strategy_obj.params)}) on {count} candles "
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
    _export(result.report, csv_path, parquet, png, console)


def _run_sweep_cli(
    loaded: _Loaded,
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
                f"[{done}/{total}] {_params_text(params)}: {summary['trades']} trades, P&L {summary['pnl']:+.2f}"
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


# -- iqwire demo --------------------------------------------------------------------------------------


def demo(
    duration: Annotated[float, typer.Option(min=0.0, help="Wall seconds of paper trading.")] = 60.0,
    speed: Annotated[float, typer.Option(min=0.001, help="Simulated seconds per real second.")] = 20.0,
    days: Annotated[float, typer.Option(min=0.0, help="Days of candles to download and backtest.")] = 2.0,
    seed: Annotated[int, typer.Option(min=0, help="The simulator's seed.")] = 42,
) -> None:
    """The whole tour on an embedded simulator: download, backtest, paper-trade, report."""
    from iqwire import demo as demo_module

    argv = ["--duration", repr(duration), "--speed", repr(speed), "--days", repr(days), "--seed", str(seed)]
    code = demo_module.main(argv)
    sys.stdout.flush()
    raise typer.Exit(code)
