"""``iqwire stream``: live candles, as a live table on a terminal or one line per update."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from iqwire.cli.common import (
    ConnectionOptions,
    EmailOpt,
    LoginUrlOpt,
    PasswordOpt,
    ResolvedActive,
    SimOpt,
    WsUrlOpt,
    cli_errors,
    resolve_active,
    stderr_console,
    stdout_console,
)
from iqwire.cli.connect import open_client
from iqwire.models import Candle

__all__ = ["app", "candle_line", "stream"]

app = typer.Typer()

#: Rows the live table keeps (the newest candles).
LIVE_ROWS = 15


def candle_line(active: ResolvedActive, candle: Candle) -> str:
    """One plain line per candle update, for pipes and logs."""
    time = candle.datetime.isoformat().replace("+00:00", "Z")
    return (
        f"{time} {active.name}/{candle.size}s "
        f"open={active.price(candle.open)} high={active.price(candle.high)} "
        f"low={active.price(candle.low)} close={active.price(candle.close)}"
    )


def _limited(candles: Iterable[Candle], limit: int | None) -> Iterable[Candle]:
    for seen, candle in enumerate(candles, start=1):
        yield candle
        if limit is not None and seen >= limit:
            return


def _live_table(active: ResolvedActive, size: int, rows: dict[int, Candle]) -> Table:
    table = Table(title=f"{active.name} ({active.id}), {size}s candles: Ctrl-C to stop")
    table.add_column("time (UTC)")
    for name in ("open", "high", "low", "close"):
        table.add_column(name, justify="right")
    table.add_column("candle")
    newest = max(rows, default=None)
    for start, candle in sorted(rows.items()):
        table.add_row(
            candle.datetime.strftime("%H:%M:%S"),
            active.price(candle.open),
            active.price(candle.high),
            active.price(candle.low),
            active.price(candle.close),
            "forming" if start == newest and not candle.is_closed else "closed",
        )
    return table


def _show_live(console: Console, active: ResolvedActive, size: int, candles: Iterable[Candle]) -> None:
    rows: dict[int, Candle] = {}
    with Live(_live_table(active, size, rows), console=console, refresh_per_second=8) as live:
        for candle in candles:
            rows[candle.start] = candle
            while len(rows) > LIVE_ROWS:
                del rows[min(rows)]
            live.update(_live_table(active, size, rows))


def _print_lines(active: ResolvedActive, candles: Iterable[Candle]) -> None:
    for candle in candles:
        sys.stdout.write(candle_line(active, candle) + "\n")
        sys.stdout.flush()


@app.command("stream")
def stream(
    active: Annotated[str, typer.Argument(help="Asset name (EURUSD-OTC, case-insensitive) or id (76).")],
    size: Annotated[int, typer.Option(min=1, help="Candle size in seconds.")] = 1,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Stop after this many candle updates.", show_default=False),
    ] = None,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Stream live candles of an asset until Ctrl-C (or --limit updates).

    On a terminal: a live table of the newest candles. Otherwise: one plain line
    per candle update (a forming candle is updated several times).
    """
    options = ConnectionOptions(sim, ws_url, login_url, email, password)
    with cli_errors(), open_client(options) as client:
        resolved = resolve_active(active, client)
        console = stdout_console()
        try:
            with client.candles(resolved.id, size) as candles:
                updates = _limited(candles, limit)
                if console.is_terminal:
                    _show_live(console, resolved, size, updates)
                else:
                    _print_lines(resolved, updates)
        except KeyboardInterrupt:
            stderr_console().print("stopped", soft_wrap=True)
