"""``iqwire candles show``: historical candles as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from iqwire.cli.common import (
    EXIT_USAGE,
    ConnectionOptions,
    EmailOpt,
    LoginUrlOpt,
    PasswordOpt,
    SimOpt,
    WsUrlOpt,
    cli_errors,
    fail,
    open_client,
    resolve_active,
    stdout_console,
)
from iqwire.models import Candle

__all__ = ["CANDLE_FIELDS", "app", "candle_record", "show"]

app = typer.Typer(help="Historical candles.", no_args_is_help=True)

#: The columns of ``--json`` objects and ``--csv`` rows, in order.
CANDLE_FIELDS = ("id", "time", "start", "end", "open", "high", "low", "close", "volume")


def candle_record(candle: Candle) -> dict[str, Any]:
    """A candle as a flat dict with Python names and an ISO-8601 UTC ``time``."""
    return {
        "id": candle.id,
        "time": candle.datetime.isoformat().replace("+00:00", "Z"),
        "start": candle.start,
        "end": candle.end,
        "open": candle.open,
        "high": candle.high,
        "low": candle.low,
        "close": candle.close,
        "volume": candle.volume,
    }


def _table(title: str, candles: list[Candle]) -> Table:
    table = Table(title=title)
    table.add_column("time (UTC)")
    for name in ("open", "high", "low", "close", "volume"):
        table.add_column(name, justify="right")
    for candle in candles:
        table.add_row(
            candle.datetime.strftime("%Y-%m-%d %H:%M:%S"),
            str(candle.open),
            str(candle.high),
            str(candle.low),
            str(candle.close),
            "" if candle.volume is None else f"{candle.volume:g}",
        )
    return table


@app.command()
def show(
    active: Annotated[str, typer.Argument(help="Asset name (EURUSD-OTC, case-insensitive) or id (76).")],
    size: Annotated[int, typer.Option(min=1, help="Candle size in seconds.")] = 60,
    count: Annotated[int, typer.Option(min=1, help="How many candles, ending now.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array to stdout.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV with a header row to stdout.")] = False,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Show the last COUNT candles of SIZE seconds of an asset."""
    if as_json and as_csv:
        fail("choose one of --json and --csv", EXIT_USAGE)
    options = ConnectionOptions(sim, ws_url, login_url, email, password)
    with cli_errors(), open_client(options) as client:
        resolved = resolve_active(active, client)
        candles = client.get_candles(resolved.id, size, count=count)
    if as_json:
        json.dump([candle_record(c) for c in candles], sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=CANDLE_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(candle_record(c) for c in candles)
    else:
        title = f"{resolved.name} ({resolved.id}), {size}s candles"
        stdout_console().print(_table(title, candles))
