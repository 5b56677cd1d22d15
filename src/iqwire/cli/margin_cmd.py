"""``iqwire order``, ``close``, ``cancel`` and ``margin``: margin forex, CFD and crypto.

``order`` validates and places one order (sent once; a lost answer is reconciled),
waits for a market order's fill and prints the position; ``close`` and ``cancel``
act on a position or pending order by id; ``margin`` prints the marginal
balance's figures, and with ``--live`` follows them until Ctrl-C (exit 130).
``iqwire positions`` lists the margin positions with their live P&L below the
options (:func:`margin_table`).

Real money is locked as for options: ``--balance real`` needs ``--real``, checked
before anything is sent, and the client is unlocked only with ``--real``.

``order`` is journaled like ``iqwire trade`` (the default journal of the account and
balance; :func:`~iqwire.cli.options_cmd.cli_journal`): the intent (product
``marginal-<family>``, the marginal balance) before the request leaves, then the order
id and fill; ``close`` records the outcome and P&L of a position the journal holds,
so ``iqwire bot report`` and a restarted bot's recovery see CLI margin trades too.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from iqwire.bot.journal import Answer, Intent, Journal, TradeStatus
from iqwire.bot.margin import margin_outcome
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
    fail,
    stderr_console,
    stdout_console,
)
from iqwire.cli.connect import open_client
from iqwire.cli.options_cmd import cli_account, cli_journal, cli_journal_path
from iqwire.cli.trade_cmd import check_real_money
from iqwire.sync import Client, SyncMarginOrder, SyncMarginPosition, Trader
from iqwire.trading import MarginFigures
from iqwire.trading.margin_instruments import to_quantity

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
        count = to_quantity(quantity)  # InvalidOrder (exit 2) before connecting
        with open_client(options, allow_real_money=real) as client:
            trader = Trader(client)
            kind = balance.balance_type
            found = trader.margin_instrument(instrument)
            details = {"type": type.value, "price": price, "leverage": leverage}
            intent = Intent(
                found.instrument_type, found.active_id, side.value, float(count), None,
                trader.margin_balance(kind).balance_id, client.server_time(), details,
            )  # fmt: skip
            with cli_journal(client, kind, intent) as (journal, intent_id):
                placed = trader.place_order(
                    found.id, side.value, count, type=type.value, price=price, leverage=leverage,
                    take_profit=_level(tp), stop_loss=_level(sl), balance=kind,
                )  # fmt: skip
                at = f" at {placed.price}" if placed.price is not None else ""
                console.print(
                    escape(
                        f"order #{placed.id}: {placed.instrument.name} {placed.type} {placed.side} "
                        f"{placed.quantity} x{placed.leverage}{at} on {balance.name}"
                        + (" (reconciled after a lost answer)" if placed.reconciled else "")
                    ),
                    soft_wrap=True,
                )
                position = _filled(client, placed, journal, intent_id)
                if position is not None:
                    _show_position(position, console)
                else:
                    console.print(f"pending: cancel with iqwire cancel {placed.id}", soft_wrap=True)


#: How long ``iqwire order`` waits for a market order's fill (seconds).
FILL_TIMEOUT = 30.0


def _filled(
    client: Client, placed: SyncMarginOrder, journal: Journal, intent_id: int
) -> SyncMarginPosition | None:
    """Journal the accepted order (with its fill, for a market order); the position once filled."""
    position = None
    if placed.type == "market":
        try:
            position = placed.filled(timeout=FILL_TIMEOUT)
        except TimeoutError:
            answer = Answer("order", placed.id, client.server_time())
            journal.record_answer(intent_id, answer, at=client.server_time(), reconciled=placed.reconciled)
            fail(
                f"order #{placed.id} was placed but not filled within {FILL_TIMEOUT:g}s: see iqwire positions"
            )
    opened = position.opened_at if position is not None and position.opened_at is not None else None
    answer = Answer(
        "order",
        placed.id,
        opened if opened is not None else client.server_time(),
        open_price=position.open_price if position is not None else None,
    )
    journal.record_answer(intent_id, answer, at=client.server_time(), reconciled=placed.reconciled)
    return position


def _settle_journaled(
    client: Client, balance_id: int | None, order_id: int | None, settle: Callable[[Journal, int], object]
) -> None:
    """Settle an order's row in the default journal, when an ``order`` or a bot journaled it and it is open."""
    kind = next((b.type for b in client.get_balances() if b.id == balance_id), None)
    path = cli_journal_path(client, kind) if kind is not None and order_id is not None else None
    if path is None or order_id is None or not path.is_file():
        return
    with Journal.open(path) as journal:
        row = journal.find("order", order_id, account=cli_account(client))
        if row is not None and row.status in (TradeStatus.OPEN, TradeStatus.UNKNOWN):
            settle(journal, row.id)


def _journal_close(client: Client, closed: SyncMarginPosition) -> None:
    """Record a closed position's outcome and P&L in the journal that holds its order."""
    pnl = closed.pnl
    closed_at = closed.last.close_time_s or client.server_time()
    _settle_journaled(
        client,
        closed.balance_id,
        closed.order_id,
        lambda journal, row: journal.record_outcome(
            row, margin_outcome(pnl), pnl, close_price=closed.close_price, closed_at=closed_at
        ),
    )


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
        _journal_close(client, closed)
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
        pending = Trader(client).margin_order(order_id)
        pending.cancel()
        _settle_journaled(
            client,
            pending.balance_id,
            order_id,
            lambda journal, row: journal.record_state(
                row, TradeStatus.NOT_PLACED, at=client.server_time(), error="canceled: the order never filled"
            ),
        )
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
