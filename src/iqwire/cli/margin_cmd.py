"""``iqwire order``, ``close``, ``cancel`` and ``margin``: margin forex, CFD and crypto.

``order`` validates and places one order (sent once; a lost answer is reconciled),
waits for a market order's fill and prints the position; ``close`` and ``cancel``
act on a position or pending order by id; ``margin`` prints the marginal
balance's figures, and with ``--live`` follows them until Ctrl-C (exit 130).
``iqwire positions`` lists the margin positions with their live P&L below the
options (:func:`margin_table`).

Real money is locked as for options: ``--balance real`` needs ``--real``, checked
before anything is sent, and the client is unlocked only with ``--real``.
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from iqwire.cli.common import (
    EXIT_INTERRUPTED,
    BalanceChoice,
    ConnectionOptions,
    EmailOpt,
    LoginUrlOpt,
    PasswordOpt,
    RealOpt,
    SimOpt,
    SimSpeedOpt,
    WsUrlOpt,
    cli_errors,
    stderr_console,
    stdout_console,
)
from iqwire.cli.connect import open_client
from iqwire.cli.trade_cmd import check_real_money
from iqwire.sync import SyncMarginPosition, Trader
from iqwire.trading import MarginFigures

__all__ = ["OrderSide", "OrderType", "app", "cancel", "close", "margin", "order"]

app = typer.Typer()


class OrderSide(enum.StrEnum):
    """Which way the position goes."""

    BUY = "buy"
    SELL = "sell"


class OrderType(enum.StrEnum):
    """At the market now, or pending until the price reaches ``--price``."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


def _level(text: str | None) -> tuple[str, str] | None:
    """``1.09`` (a price) or ``50pips`` / ``0.002delta`` / ``25pnl`` → ``(value, kind)``."""
    if text is None:
        return None
    for kind in ("pips", "delta", "pnl", "price"):
        if text.endswith(kind):
            return text.removesuffix(kind), kind
    return text, "price"


_LEVEL_HELP = "a price (1.09), or a distance: 50pips, 0.002delta, 25pnl (money)"


def _show_position(position: SyncMarginPosition, console: Console) -> None:
    console.print(
        escape(
            f"position #{position.id}: {position.instrument_id} {position.side} {position.quantity} "
            f"x{position.leverage} at {position.open_price:.10g}, margin {position.margin:,.2f}, "
            f"P&L {position.pnl:+,.2f}"
        ),
        soft_wrap=True,
    )


@app.command("order")
def order(
    instrument: Annotated[
        str, typer.Argument(help="Instrument name (EURUSD-OTC, BTCUSD, AMZN) or active id.")
    ],
    side: Annotated[OrderSide, typer.Argument(case_sensitive=False, help="buy or sell.")],
    quantity: Annotated[str, typer.Argument(help="Units: a forex lot is 100000; shares; coins.")],
    leverage: Annotated[int | None, typer.Option(min=1, help="Leverage (default: the instrument's).")] = None,
    type: Annotated[OrderType, typer.Option("--type", case_sensitive=False, help="Order type.")] = (
        OrderType.MARKET
    ),
    price: Annotated[str | None, typer.Option(help="The limit or stop price.", show_default=False)] = None,
    tp: Annotated[str | None, typer.Option("--tp", help=f"Take-profit: {_LEVEL_HELP}.")] = None,
    sl: Annotated[str | None, typer.Option("--sl", help=f"Stop-loss: {_LEVEL_HELP}.")] = None,
    balance: Annotated[
        BalanceChoice, typer.Option(case_sensitive=False, help="The marginal balance to trade on.")
    ] = BalanceChoice.DEMO,
    real: RealOpt = False,
    sim_speed: SimSpeedOpt = 1.0,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Place one margin order; a market order is followed to its fill.

    Everything is checked before sending (quantity step, leverage, market hours,
    margin available); the order is sent once.
    """
    options = ConnectionOptions(sim, ws_url, login_url, email, password, speed=sim_speed)
    console = stdout_console()
    with cli_errors():
        check_real_money(balance, real)
        with open_client(options, allow_real_money=real) as client:
            trader = Trader(client)
            placed = trader.place_order(
                instrument,
                side.value,
                quantity,
                type=type.value,
                price=price,
                leverage=leverage,
                take_profit=_level(tp),
                stop_loss=_level(sl),
                balance=balance.balance_type,
            )
            at = f" at {placed.price}" if placed.price is not None else ""
            console.print(
                escape(
                    f"order #{placed.id}: {placed.instrument.name} {placed.type} {placed.side} "
                    f"{placed.quantity} x{placed.leverage}{at} on {balance.name}"
                    + (" (reconciled after a lost answer)" if placed.reconciled else "")
                ),
                soft_wrap=True,
            )
            if placed.type == "market":
                _show_position(placed.filled(timeout=30), console)
            else:
                console.print(f"pending: cancel with iqwire cancel {placed.id}", soft_wrap=True)


@app.command("close")
def close(
    position_id: Annotated[int, typer.Argument(help="The margin position's id (see iqwire positions).")],
    real: RealOpt = False,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Close a margin position at the market (sent once) and print its result."""
    options = ConnectionOptions(sim, ws_url, login_url, email, password)
    with cli_errors(), open_client(options, allow_real_money=real) as client:
        closed = Trader(client).margin_position(position_id).close()
        stdout_console().print(
            escape(
                f"closed #{closed.id} at {closed.close_price or 0:.10g} ({closed.close_reason}), "
                f"P&L {closed.pnl:+,.2f}"
            ),
            soft_wrap=True,
        )


@app.command("cancel")
def cancel(
    order_id: Annotated[int, typer.Argument(help="The pending margin order's id.")],
    real: RealOpt = False,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Cancel a pending margin order (sent once)."""
    options = ConnectionOptions(sim, ws_url, login_url, email, password)
    with cli_errors(), open_client(options, allow_real_money=real) as client:
        Trader(client).margin_order(order_id).cancel()
        stdout_console().print(f"canceled order #{order_id}", soft_wrap=True)


def _figures_line(figures: MarginFigures) -> str:
    level = "-" if figures.margin_level is None else f"{figures.margin_level:,.2f}%"
    return (
        f"balance {figures.balance_id}: cash {figures.cash:,.2f} {figures.currency}, "
        f"equity {figures.equity:,.2f}, margin {figures.margin:,.2f}, available {figures.available:,.2f}, "
        f"margin level {level} (stop-out {figures.stop_out_level:,.2f}%), P&L {figures.pnl:+,.2f}, "
        f"swap {figures.swap:+,.2f}"
    )


@app.command("margin")
def margin(
    live: Annotated[bool, typer.Option("--live", help="Keep printing every change until Ctrl-C.")] = False,
    balance: Annotated[
        BalanceChoice, typer.Option(case_sensitive=False, help="The marginal balance.")
    ] = BalanceChoice.DEMO,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Show the marginal balance: cash, equity, margin, available, margin level."""
    options = ConnectionOptions(sim, ws_url, login_url, email, password)
    console = stdout_console()
    with cli_errors(), open_client(options) as client:
        trader = Trader(client)
        figures = trader.margin_balance(balance.balance_type)
        console.print(escape(_figures_line(figures)), soft_wrap=True)
        if not live:
            return
        try:
            with trader.margin_balance_changes() as changes:
                for change in changes:
                    if change.id == figures.balance_id:
                        console.print(escape(_figures_line(MarginFigures.from_wire(change))), soft_wrap=True)
        except KeyboardInterrupt:
            stderr_console().print("stopped", soft_wrap=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
