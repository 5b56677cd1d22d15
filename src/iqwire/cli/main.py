"""The ``iqwire`` Typer application and its entry point (``iqwire = "iqwire.cli.main:main"``)."""

from __future__ import annotations

from typing import Annotated

import typer

from iqwire import __version__
from iqwire.cli import (
    account_cmd,
    backtest_cmd,
    bot_cmd,
    candles_cmd,
    demo_cmd,
    sim_cmd,
    store_cmd,
    stream_cmd,
    trade_cmd,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="iqwire",
    help=(
        "Tools for the IQ Option WebSocket API: a local simulator, account and market data.\n\n"
        "Networked commands take --sim (an embedded simulator) or --ws-url/--login-url with "
        "--email/--password (else $IQWIRE_EMAIL, $IQWIRE_PASSWORD, $IQWIRE_SSID, $IQWIRE_WS_URL, "
        "$IQWIRE_LOGIN_URL). Exit codes: 0 ok, 1 an error from the server or the network, "
        "2 a usage error (such as an unknown asset)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"iqwire {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Tools for the IQ Option WebSocket API."""


app.command("sim")(sim_cmd.sim)
app.command("login")(account_cmd.login)
app.command("balances")(account_cmd.balances)
app.add_typer(candles_cmd.app, name="candles")
store_cmd.register(app, candles_cmd.app)
app.command("stream")(stream_cmd.stream)
app.command("trade")(trade_cmd.trade)
app.command("positions")(trade_cmd.positions)
app.command("history")(trade_cmd.history)
app.add_typer(bot_cmd.app, name="bot")
app.command("backtest")(backtest_cmd.backtest)
app.command("demo")(demo_cmd.demo)


def main() -> None:
    """Run the command line (the ``iqwire`` console script)."""
    app()
