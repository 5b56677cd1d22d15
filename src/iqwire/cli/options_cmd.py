"""``iqwire sell`` and ``iqwire strikes``, and what ``iqwire trade`` needs for every option product.

``trade --product turbo|binary|digital|blitz`` places through :func:`place`, journaled
through the bot journal's API (:func:`journaled`: the intent is written before the
request leaves, then the answer and the outcome), so ``iqwire bot report`` and a
restarted bot's recovery see CLI trades too. ``sell POSITION_ID`` sells a turbo or
binary option or closes a digital position before expiry; ``strikes`` shows the
digital strikes of an active with their prices and payouts, refreshed every second.
"""

from __future__ import annotations

import contextlib
import enum
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.live import Live
from rich.table import Table

from iqwire.bot.journal import Answer, Intent, Journal, TradeStatus, default_journal_path
from iqwire.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    ConnectionOptions,
    EmailOpt,
    LoginUrlOpt,
    PasswordOpt,
    RealOpt,
    SimOpt,
    SimSpeedOpt,
    WsUrlOpt,
    cli_errors,
    fail,
    resolve_active,
    stderr_console,
    stdout_console,
)
from iqwire.cli.connect import open_client
from iqwire.errors import IqwireError, TradeStateUnknown
from iqwire.models import BalanceType
from iqwire.sync import Client, SyncTrade, Trader
from iqwire.trading.digital import DigitalStrikes
from iqwire.trading.trade import TradeResult

__all__ = [
    "Product",
    "app",
    "cli_account",
    "cli_journal",
    "cli_journal_path",
    "journaled",
    "parse_strike",
    "place",
    "refuse_bad_expiration",
    "sell",
    "strikes",
]

app = typer.Typer()


class Product(enum.StrEnum):
    """The option products ``iqwire trade`` buys."""

    BLITZ = "blitz"
    TURBO = "turbo"
    BINARY = "binary"
    DIGITAL = "digital"


def parse_strike(text: str) -> str | float:
    """``spot`` or a positive price.

    Raises:
        typer.BadParameter: anything else (exit 2).
    """
    if text.strip().lower() == "spot":
        return "spot"
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither 'spot' nor a price") from None
    if not math.isfinite(value) or value <= 0:
        raise typer.BadParameter(f"the strike must be a positive price, not {text}")
    return value


def place(
    client: Client,
    trader: Trader,
    product: Product,
    active_id: int,
    direction: str,
    amount: float,
    expiration: int,
    *,
    strike: str | float = "spot",
    balance: BalanceType,
) -> SyncTrade:
    """Buy one option of ``product``: ``expiration`` is blitz seconds, turbo grid seconds (60 = the
    nearest minute), binary's least seconds to expiry, or the digital period."""
    if product is Product.TURBO:
        return trader.buy_turbo(active_id, direction, amount, expiration, balance=balance)
    if product is Product.BINARY:
        now = client.server_time()
        offered = trader.expiries(active_id, "binary")
        expiry = next((e for e in offered if e - now >= expiration), offered[-1] if offered else 0)
        return trader.buy_binary(active_id, direction, amount, expires_at=expiry, balance=balance)
    if product is Product.DIGITAL and strike == "spot":
        return trader.buy_digital(active_id, direction, amount, expiration, balance=balance)
    if product is Product.DIGITAL:
        return trader.buy_digital(
            active_id, direction, amount, expiration, strike=float(strike), balance=balance
        )
    return trader.buy_blitz(active_id, direction, amount, expiration, balance=balance)


def cli_journal_path(client: Client, balance: BalanceType) -> Path:
    """The default journal of the account and balance type (what ``iqwire bot run --live`` uses too)."""
    host = urlsplit(client.ws_url).hostname or "server"
    return default_journal_path(f"{host}-{client.user_id()}-{balance.name.lower()}")


def cli_account(client: Client) -> str:
    """The journal's account of a CLI session: the server and the user."""
    return f"{client.ws_url}|{client.user_id()}"


@contextlib.contextmanager
def cli_journal(client: Client, balance: BalanceType, intent: Intent) -> Iterator[tuple[Journal, int]]:
    """Journal one CLI trade or order: a run of mode ``cli`` and the intent, durable before it yields.

    Yields the journal and the intent id; the run ends when the block does. A refusal
    (an :class:`~iqwire.errors.IqwireError` raised in the block and not recorded) is
    written as rejected, or unknown when the trade's fate could not be established.
    """
    with Journal.open(cli_journal_path(client, balance)) as journal:
        run = journal.start_run(
            mode="cli", account=cli_account(client), at=intent.at, balance_id=intent.balance_id
        )
        intent_id = journal.record_intent(run, intent)
        try:
            yield journal, intent_id
        except IqwireError as error:
            row = journal.trade(intent_id)
            if row is not None and row.status is TradeStatus.INTENT:
                status = TradeStatus.UNKNOWN if isinstance(error, TradeStateUnknown) else TradeStatus.REJECTED
                journal.record_state(
                    intent_id, status, at=client.server_time(), error=f"{type(error).__name__}: {error}"
                )
            raise
        finally:
            journal.end_run(run, at=client.server_time())


@contextlib.contextmanager
def journaled(client: Client, balance: BalanceType, intent: Intent) -> Iterator[Callable[..., None]]:
    """Journal one CLI trade: the intent now, then what ``record(trade=..., result=..., error=...)`` says.

    The journal is the default one of the account and balance (``iqwire bot report``
    reads it); a trade that raised is recorded as rejected (or unknown when its fate
    could not be established).
    """
    with cli_journal(client, balance, intent) as (journal, intent_id):

        def record(
            *,
            trade: SyncTrade | None = None,
            result: TradeResult | None = None,
            error: IqwireError | None = None,
        ) -> None:
            now = client.server_time()
            if error is not None:
                status = TradeStatus.UNKNOWN if isinstance(error, TradeStateUnknown) else TradeStatus.REJECTED
                journal.record_state(intent_id, status, at=now, error=f"{type(error).__name__}: {error}")
            elif trade is not None and result is None:
                answer = Answer(
                    "option", trade.id, trade.created, trade.expires, trade.open_price, trade.payout
                )
                journal.record_answer(intent_id, answer, at=now, reconciled=trade.reconciled)
            elif result is not None:
                closed_at = result.position.close_time_s or now
                journal.record_outcome(
                    intent_id, result.outcome, result.pnl, close_price=result.close_price, closed_at=closed_at
                )

        yield record


# -- iqwire sell ------------------------------------------------------------------------------------


@app.command("sell")
def sell(
    position_id: Annotated[int, typer.Argument(help="The position's id (as iqwire positions shows it).")],
    real: RealOpt = False,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Sell a turbo or binary option, or close a digital position, before it expires.

    A position on the REAL balance needs --real. Shows what it paid back and the P&L.
    """
    options = ConnectionOptions(sim, ws_url, login_url, email, password)
    console = stdout_console()
    with cli_errors(), open_client(options, allow_real_money=real) as client:
        result = Trader(client).sell(position_id)
        style = "green" if result.pnl > 0 else "red" if result.pnl < 0 else "yellow"
        console.print(
            f"[bold]{result.outcome.name}[/] #{position_id}: paid back {result.close_profit:,.2f}, "
            f"P&L [{style}]{result.pnl:+,.2f}[/]",
            soft_wrap=True,
        )


# -- iqwire strikes ---------------------------------------------------------------------------------


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def strikes_table(table: DigitalStrikes, name: str, now: float) -> Table:
    """The strikes of one instrument: call and put ask, bid and payout."""
    left = max(0.0, table.expiration - now)
    out = Table(
        title=f"{name} digital {table.period}s, expires in {left:.0f}s (buy until {table.deadtime}s before)"
    )
    out.add_column("strike")
    for heading in ("call ask", "call bid", "call payout", "put ask", "put bid", "put payout"):
        out.add_column(heading, justify="right")
    for row in table.strikes:
        out.add_row(
            "spot" if row.strike is None else row.label,
            _number(row.call_ask),
            _number(row.call_bid),
            _number(row.call_payout, 1) + "%" if row.call_payout is not None else "-",
            _number(row.put_ask),
            _number(row.put_bid),
            _number(row.put_payout, 1) + "%" if row.put_payout is not None else "-",
        )
    return out


@app.command("strikes")
def strikes(
    active: Annotated[str, typer.Argument(help="Asset name (EURUSD-OTC) or id (76).")],
    period: Annotated[
        int, typer.Option("--period", "-p", help="Digital period in seconds (60, 300, 900).")
    ] = 60,
    watch: Annotated[
        bool,
        typer.Option("--watch/--once", help="Refresh every second until Ctrl-C (the default on a terminal)."),
    ] = True,
    sim_speed: SimSpeedOpt = 1.0,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Show the digital strikes of an active with their prices and payouts, live.

    Prices are per 100 of payout: a call bought at ask 53.19 pays 100/53.19 of the
    stake if it wins (payout 88%). Off a terminal, or with --once, one table is printed.
    """
    options = ConnectionOptions(sim, ws_url, login_url, email, password, speed=sim_speed)
    console = stdout_console()
    with cli_errors(), open_client(options) as client:
        resolved = resolve_active(active, client)
        trader = Trader(client)
        first = trader.digital_strikes(resolved.id, period)
        if not (watch and console.is_terminal):
            console.print(strikes_table(first, resolved.name, client.server_time()))
            return
        try:
            with Live(strikes_table(first, resolved.name, client.server_time()), console=console) as live:
                while True:
                    time.sleep(1.0)
                    live.update(
                        strikes_table(
                            trader.digital_strikes(resolved.id, period), resolved.name, client.server_time()
                        )
                    )
        except KeyboardInterrupt:
            stderr_console().print("stopped", soft_wrap=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None


def refuse_bad_expiration(product: Product, expiration: int) -> None:
    """Usage errors the command line can see before connecting (exit 2)."""
    if product is Product.DIGITAL and expiration not in (60, 300, 900):
        fail(f"--expiration is the digital period: 60, 300 or 900 seconds, not {expiration}", EXIT_USAGE)
    if product is Product.TURBO and expiration % 60:
        fail(
            f"--expiration of a turbo option counts grid minutes: 60, 120 ... 300, not {expiration}",
            EXIT_USAGE,
        )
