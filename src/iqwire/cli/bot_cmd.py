"""``iqwire bot``: run a strategy on the simulator (paper) or an account (live).

Example::

    $ iqwire bot run examples/mean_reversion.py --paper --duration 60
    $ iqwire bot run my_strategies.rsi:MeanReversion --live --balance demo
    $ iqwire bot report --journal trades.sqlite --from 2026-02-10 --csv trades.csv

Every run journals its trades (``--journal FILE``; by default one file per account
and balance in the user's data directory, paper runs apart) and a live run resumes
the unsettled trades of its journal first (see ``docs/bot.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.markup import escape

from iqwire.bot.dashboard import Dashboard
from iqwire.bot.journal import Journal, default_journal_path
from iqwire.bot.journal_report import journal_report
from iqwire.bot.live import LiveResult, LiveSession
from iqwire.bot.live_result import describe_open_margin
from iqwire.bot.lockstep import LockStep
from iqwire.bot.margin import MarginLimits
from iqwire.bot.records import RunState
from iqwire.bot.report import Report
from iqwire.bot.risk import RiskLimits
from iqwire.bot.strategy import Strategy
from iqwire.cli.backtest_cmd import export_report, parse_time
from iqwire.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    BalanceChoice,
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
    strategy_failure,
)
from iqwire.cli.connect import Connected, connect
from iqwire.cli.strategy_opts import ConfigOpt, ParamOpt, StrategyArg, load_strategy_args, params_text
from iqwire.cli.trade_cmd import check_real_money
from iqwire.client import Client as AsyncClient
from iqwire.errors import IqwireError, JournalError

__all__ = ["app", "report", "run"]

JournalOpt = Annotated[
    Path | None,
    typer.Option(
        "--journal",
        help="The trade journal (SQLite); default: one per account and balance in the user's data directory.",
        show_default=False,
    ),
]

app = typer.Typer(
    name="bot",
    help="Trading bots: run a strategy on the simulator (paper) or an account (live).",
    no_args_is_help=True,
)


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
    limits: RiskLimits
    journal: Path | None = None
    margin: MarginLimits | None = None


def _journal_path(plan: _RunPlan, client: AsyncClient, user_id: int) -> Path:
    if plan.journal is not None:
        return plan.journal
    host = urlsplit(client.ws_url).hostname or "server"
    return default_journal_path(f"{host}-{user_id}-{plan.balance.value}", paper=plan.mode == "paper")


async def _run_on(strategy: Strategy, plan: _RunPlan, console: Console, connected: Connected) -> LiveResult:
    client = connected.client
    path = _journal_path(plan, client, await client.user_id())
    # An embedded simulator on a manual clock is stepped by the run: the same seed, the same run.
    lockstep = None if connected.stepped is None else LockStep(client, connected.stepped)
    with Journal.open(path) as journal:
        # A fresh embedded simulator knows no earlier trade: nothing to resume.
        return await _run_journaled(
            client,
            strategy,
            plan,
            console,
            connected.where,
            journal,
            recover=not connected.embedded,
            lockstep=lockstep,
        )


async def _run_journaled(
    client: AsyncClient,
    strategy: Strategy,
    plan: _RunPlan,
    console: Console,
    where: str,
    journal: Journal,
    *,
    recover: bool,
    lockstep: LockStep | None = None,
) -> LiveResult:
    state = RunState(mode=plan.mode)
    stop = asyncio.Event()
    unit = "s" if lockstep is None else " simulated seconds"
    limit = "until Ctrl-C" if plan.duration is None else f"for {plan.duration:g}{unit}"
    console.print(
        escape(
            f"{plan.mode} run of {strategy.name} ({params_text(strategy.params)}) "
            f"on the {plan.balance.value} balance of {where}, {limit}"
        ),
        soft_wrap=True,
    )
    console.print(escape(f"journal: {journal.path}"), soft_wrap=True)
    with Dashboard(state, console=console) as dashboard:
        refresher = asyncio.create_task(_refresh(dashboard, client))

        def emit(line: str) -> None:
            _catch_up(state, client)
            dashboard.log(line)

        def stopping() -> None:
            dashboard.log("stopping: following the open trades to their end (Ctrl-C again to quit now)")

        try:
            with _sigint_stops(stop, stopping):
                session = LiveSession(
                    client,
                    strategy,
                    limits=plan.limits,
                    balance=plan.balance.balance_type,
                    state=state,
                    emit=emit,
                    journal=journal,
                    # A fresh embedded simulator knows no earlier trade: nothing to resume.
                    recover=recover,
                    lockstep=lockstep,
                    margin=plan.margin,
                )
                result = await session.run(duration=plan.duration, stop=stop)
        finally:
            refresher.cancel()
            await asyncio.gather(refresher, return_exceptions=True)
        dashboard.refresh(force=True)
    return result


async def _session(
    strategy: Strategy, plan: _RunPlan, options: ConnectionOptions, console: Console
) -> LiveResult:
    async with connect(
        options, allow_real_money=plan.real, manual_clock=True, reconnect_delay=(0.05, 1.0)
    ) as connected:
        return await _run_on(strategy, plan, console, connected)


def _finish_run(result: LiveResult, console: Console, report_csv: Path | None) -> None:
    report = Report.from_state(result.state, result.start_balance or 0.0)
    report.print(console)
    console.print(escape(report.summary_line()), soft_wrap=True)
    # The balances traded on: the options balance, the marginal one, or both.
    shown = result.traded_options or not result.traded_margin
    if shown and result.start_balance is not None and result.end_balance is not None:
        console.print(
            f"balance: {result.start_balance:,.2f} → {result.end_balance:,.2f} {escape(result.state.currency)}",
            soft_wrap=True,
        )
    start, end = result.margin_start, result.margin_end
    if start is not None:
        after = "unknown (not read)" if end is None else f"{end.amount:,.2f}"
        console.print(
            f"marginal balance: {start.amount:,.2f} → {after} {escape(start.currency or '')}".rstrip(),
            soft_wrap=True,
        )
    open_options = result.unsettled - len(result.open_margin)
    if open_options:
        stderr_console().print(
            f"warning: {open_options} option trade(s) still open at the end; see iqwire positions",
            soft_wrap=True,
        )
    if result.open_margin:
        stderr_console().print(
            "warning: left open on the server (a run never closes margin positions): "
            f"{describe_open_margin(result.open_margin)}; close one with iqwire close POSITION_ID, "
            "cancel one with iqwire cancel ORDER_ID",
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
    sim: Annotated[
        bool,
        typer.Option(
            "--sim",
            "--paper",
            help=(
                "Paper trading (the default): the demo balance of the local simulator, the running "
                "'iqwire sim' or else an embedded one."
            ),
        ),
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
            min=0.0,
            help=(
                "Stop after this many seconds (simulated ones on an embedded simulator, which "
                "the run steps in lock-step; wall ones otherwise); default: at Ctrl-C."
            ),
            show_default=False,
        ),
    ] = None,
    param: ParamOpt = None,
    speed: Annotated[
        float,
        typer.Option(min=0.001, help="Embedded simulator with --now: simulated seconds per real second."),
    ] = 1.0,
    seed: Annotated[
        int, typer.Option(min=0, help="Embedded simulator: the seed of its prices (the same run each time).")
    ] = 0,
    now: Annotated[
        bool,
        typer.Option(
            "--now",
            help="Embedded simulator: a real clock (×--speed) from the wall-clock time, not lock-step.",
        ),
    ] = False,
    report_csv: Annotated[
        Path | None, typer.Option("--report-csv", help="Write the closed trades as CSV.", show_default=False)
    ] = None,
    journal: JournalOpt = None,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Run a strategy until --duration or Ctrl-C, then print the report.

    --sim (also --paper; the default) trades the demo balance of the local
    simulator: the running 'iqwire sim', else an embedded one (--seed, --speed,
    --now). --live connects with the connection options and trades the demo
    balance unless --balance says otherwise (real needs --balance real --real).
    On a terminal: the live dashboard. Otherwise: one plain line per event. The
    first Ctrl-C stops new trades and waits for the open ones; a second quits at once.
    Every trade is journaled (--journal); a run on a server or on a running 'iqwire sim'
    first resumes the journal's unsettled trades and rebuilds the risk guards from it,
    so a restart lifts no limit.
    """
    if sim and live:
        fail("choose one of --sim (--paper) and --live", EXIT_USAGE)
    mode = "live" if live else "paper"
    loaded = load_strategy_args(strategy, config, param)
    try:
        chosen = balance if balance is not None else BalanceChoice(loaded.config.balance.lower())
    except ValueError:
        fail(f"balance = {loaded.config.balance!r} in {config}: choose demo, tournament or real", EXIT_USAGE)
    if mode == "paper" and real:
        fail("--real applies to --live only: --sim trades the simulator's demo balance", EXIT_USAGE)
    if mode == "paper" and chosen is not BalanceChoice.DEMO:
        fail(f"--sim trades the simulator's demo balance, not {chosen.value}; use --live", EXIT_USAGE)
    plan = _RunPlan(mode, chosen, real, duration, loaded.config.risk, journal, loaded.config.margin)
    options = ConnectionOptions(mode == "paper", ws_url, login_url, email, password, seed, speed, now)
    console = stdout_console()
    with cli_errors():
        check_real_money(chosen, real)
        try:
            result = asyncio.run(_session(loaded.cls(**loaded.params), plan, options, console))
        except (KeyboardInterrupt, asyncio.CancelledError):
            stderr_console().print("interrupted: open trades were not followed to their end", soft_wrap=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except JournalError as exc:
            fail(str(exc), EXIT_USAGE)
        except IqwireError:
            raise
        except Exception as exc:
            strategy_failure(exc, loaded.file)
    _finish_run(result, console, report_csv)


@app.command("report")
def report(
    journal: Annotated[
        Path,
        typer.Option("--journal", help="The trade journal (SQLite) a bot run wrote.", show_default=False),
    ],
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
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Write the trades as CSV.", show_default=False)
    ] = None,
    parquet: Annotated[
        Path | None,
        typer.Option("--parquet", help="Write the trades as Parquet (needs pyarrow).", show_default=False),
    ] = None,
    png: Annotated[
        Path | None,
        typer.Option("--png", help="Draw the equity curve (needs matplotlib).", show_default=False),
    ] = None,
) -> None:
    """Print the report of every run in a journal (trades closed between --from and --to)."""
    try:
        first = None if start is None else parse_time(start)
        last = None if end is None else parse_time(end, end=True)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    if first is not None and last is not None and first >= last:
        fail(f"--from {start} is not before --to {end}", EXIT_USAGE)
    try:
        with Journal.open(journal, create=False) as opened:
            result = journal_report(opened, start=first, end=last)
            runs = len(opened.runs())
    except JournalError as exc:
        fail(str(exc), EXIT_USAGE)
    console = stdout_console()
    console.print(escape(f"{runs} run(s) in {journal}"), soft_wrap=True)
    result.print(console)
    console.print(escape(result.summary_line()), soft_wrap=True)
    export_report(result, csv_path, parquet, png, console)
