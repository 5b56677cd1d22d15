"""The ``iqwire`` Typer application and its entry point (``iqwire = "iqwire.cli.main:main"``).

One registration style: every command module owns a ``typer.Typer`` named ``app``
and declares its commands on it with ``@app.command(...)``. A module whose ``app``
has a name is a command group (``iqwire candles …``, ``iqwire bot …``); one without
adds its commands at the root. This module only lists the modules.
"""

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
    margin_cmd,
    options_cmd,
    record_cmd,
    sim_cmd,
    stream_cmd,
    trade_cmd,
)
from iqwire.cli.common import EXIT_CODES_TEXT, set_debug

__all__ = ["COMMAND_MODULES", "app", "main"]

#: The command modules, in the order ``iqwire --help`` lists them.
COMMAND_MODULES = (
    sim_cmd,
    account_cmd,
    candles_cmd,
    stream_cmd,
    trade_cmd,
    options_cmd,
    margin_cmd,
    record_cmd,
    bot_cmd,
    backtest_cmd,
    demo_cmd,
)

app = typer.Typer(
    name="iqwire",
    help=(
        "Tools for the IQ Option WebSocket API: a local simulator, account and market data, "
        "trading and bots.\n\n"
        "Networked commands take --sim (the running 'iqwire sim', else an embedded simulator) "
        "or --ws-url/--login-url with --email/--password (else $IQWIRE_EMAIL, $IQWIRE_PASSWORD, "
        f"$IQWIRE_SSID, $IQWIRE_WS_URL, $IQWIRE_LOGIN_URL).\n\n{EXIT_CODES_TEXT}"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    # Plain help: flags without "<bool>" tags, and text wrapped to the terminal, not to boxes.
    rich_markup_mode=None,
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
    debug: Annotated[
        bool, typer.Option("--debug", help="Print the full traceback of an error, not one line.")
    ] = False,
) -> None:
    """Tools for the IQ Option WebSocket API."""
    set_debug(debug)


for _module in COMMAND_MODULES:
    app.add_typer(_module.app)


def main() -> None:
    """Run the command line (the ``iqwire`` console script)."""
    app()
