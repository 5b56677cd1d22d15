"""``iqwire login`` and ``iqwire balances``: who am I, and how much is there."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from iqwire.cli.common import (
    ConnectionOptions,
    EmailOpt,
    LoginUrlOpt,
    PasswordOpt,
    SimOpt,
    WsUrlOpt,
    cli_errors,
    stdout_console,
)
from iqwire.cli.connect import open_client
from iqwire.models import Balance, Profile

__all__ = ["app", "balances", "login"]

app = typer.Typer()


def _profile_table(profile: Profile, server: str | None) -> Table:
    table = Table(title="Profile", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    name = " ".join(part for part in (profile.first_name, profile.last_name) if part)
    rows = [
        ("user id", str(profile.user_id)),
        ("name", name or "-"),
        ("e-mail", profile.email or "-"),
        ("currency", profile.currency or "-"),
        ("active balance", str(profile.balance_id) if profile.balance_id is not None else "-"),
        ("server", server or "-"),
    ]
    for field, value in rows:
        table.add_row(field, value)
    return table


def _balances_table(balances: list[Balance]) -> Table:
    table = Table(title="Balances")
    table.add_column("id", justify="right")
    table.add_column("type")
    table.add_column("amount", justify="right")
    table.add_column("currency")
    for balance in balances:
        table.add_row(str(balance.id), balance.type.name, f"{balance.amount:,.2f}", balance.currency or "")
    return table


@app.command("login")
def login(
    show_ssid: Annotated[
        bool, typer.Option("--show-ssid", help="Also print the session id (SSID). Keep it secret.")
    ] = False,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Log in and show the profile and the balances."""
    options = ConnectionOptions(sim, ws_url, login_url, email, password)
    with cli_errors(), open_client(options) as client:
        profile = client.get_profile()
        balances = client.get_balances()
        console = stdout_console()
        console.print(_profile_table(profile, client.server_name))
        console.print(_balances_table(balances))
        if show_ssid:
            # The session id is only shown on request; the client keeps it private.
            ssid = client.async_client.ssid
            console.print(f"SSID: {ssid}", soft_wrap=True)


@app.command("balances")
def balances(
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Show every balance of the account (real, demo, tournament)."""
    options = ConnectionOptions(sim, ws_url, login_url, email, password)
    with cli_errors(), open_client(options) as client:
        stdout_console().print(_balances_table(client.get_balances()))
