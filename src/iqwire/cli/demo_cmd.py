"""``iqwire demo``: the whole tour on an embedded simulator (what ``make demo`` runs)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
from rich.logging import RichHandler

from iqwire.cli.common import EXIT_ERROR, stdout_console
from iqwire.demo import run_demo

__all__ = ["app", "demo"]

app = typer.Typer()


@app.command("demo")
def demo(
    duration: Annotated[
        float,
        typer.Option(
            min=0.0, help="Paper trading: duration × speed simulated seconds, stepped in lock-step."
        ),
    ] = 60.0,
    speed: Annotated[
        float,
        typer.Option(min=0.001, help="Simulated seconds per duration second (a real clock with --now)."),
    ] = 20.0,
    days: Annotated[float, typer.Option(min=0.0, help="Days of candles to download and backtest.")] = 2.0,
    seed: Annotated[int, typer.Option(min=0, help="The simulator's seed (the same numbers each run).")] = 42,
    now: Annotated[
        bool,
        typer.Option(
            "--now", help="A real clock ×speed from the wall-clock time, not lock-step (not repeatable)."
        ),
    ] = False,
) -> None:
    """Download, backtest, paper-trade and report on an embedded simulator.

    The last line is ``demo: N trades, P&L X, ledger matches simulator: yes``; the
    exit code is 1 when the ledger does not match.
    """
    console = stdout_console()
    logging.basicConfig(level=logging.WARNING, handlers=[RichHandler(console=console, show_path=False)])
    ok = asyncio.run(run_demo(duration=duration, speed=speed, days=days, seed=seed, now=now, console=console))
    if not ok:
        raise typer.Exit(EXIT_ERROR)
