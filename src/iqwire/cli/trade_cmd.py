"""``iqwire trade``, ``iqwire positions``, ``iqwire history``: one option of any product, and the portfolio.

Real money is locked twice: ``--balance real`` is refused without ``--real`` before
anything is sent (``RealMoneyLocked``, exit 2), and the client is created with
``allow_real_money=True`` only when ``--real`` is given.

With ``--sim`` the embedded simulator runs on the real clock; the hidden option
``--sim-speed`` (or ``$IQWIRE_SIM_SPEED``) makes it faster: at 50, a 5-second option
settles in a tenth of a second (the tests use it).
"""

from __future__ import annotations

import contextlib
import enum
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from iqwire.bot.journal import Intent
from iqwire.cli import margin_view
from iqwire.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    SIM_SPEED_ENV,
    BalanceChoice,
    ConnectionOptions,
    EmailOpt,
    LoginUrlOpt,
    PasswordOpt,
    RealOpt,
    ResolvedActive,
    SimOpt,
    SimSpeedOpt,
    WsUrlOpt,
    cli_errors,
    fail,
    format_price,
    resolve_active,
    stderr_console,
    stdout_console,
)
from iqwire.cli.connect import open_client
from iqwire.cli.options_cmd import Product, journaled, parse_strike, place, refuse_bad_expiration
from iqwire.errors import ConnectionLost, IqwireError, RealMoneyLocked
from iqwire.models import Balance, Position
from iqwire.protocol import catalog
from iqwire.sim.actives import find_active
from iqwire.sync import Client, SyncTrade, Trader
from iqwire.trading import TradeResult

__all__ = [
    "SIM_SPEED_ENV",
    "RealOpt",
    "Side",
    "SimSpeedOpt",
    "app",
    "check_real_money",
    "history",
    "positions",
    "print_wide",
    "trade",
]

app = typer.Typer()


class Side(enum.StrEnum):
    """Which way the option bets."""

    CALL = "call"
    PUT = "put"


BalanceFilterOpt = Annotated[
    BalanceChoice | None,
    typer.Option(
        case_sensitive=False, help="Only this balance (default: every balance).", show_default=False
    ),
]


def check_real_money(balance: BalanceChoice, real: bool) -> None:
    """Refuse a REAL balance unless ``--real`` was given (before anything is sent).

    Raises:
        RealMoneyLocked: ``balance`` is real and ``real`` is false.
    """
    if balance is BalanceChoice.REAL and not real:
        raise RealMoneyLocked(
            "refusing to trade on the REAL balance without --real: "
            "add --real to confirm that real money may be used (nothing was sent)"
        )


# -- formatting -------------------------------------------------------------------------------------


def _time(seconds: float | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if seconds is None or seconds <= 0:
        return "-"
    return datetime.fromtimestamp(seconds, tz=UTC).strftime(fmt)


def _money(value: float | None, currency: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}{' ' + currency if currency else ''}"


def _pnl_text(value: float | None) -> Text:
    if value is None:
        return Text("-")
    return Text(f"{value:+,.2f}", style="green" if value > 0 else "red" if value < 0 else "")


def print_wide(console: Console, table: Table) -> None:
    """Print a table whole: off a terminal nothing wraps lines, so never squeeze it to 80 columns."""
    if not console.is_terminal:
        needed = console.measure(table, options=console.options.update(max_width=1_000)).maximum
        if needed > console.width:
            console = Console(file=console.file, highlight=False, width=needed)
    console.print(table)


class _Names:
    """Active names and price precisions for tables: the server's data, then the built-in list."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._server: dict[int, tuple[str, int | None]] | None = None

    def _known(self, active_id: int) -> tuple[str, int | None] | None:
        if self._server is None:
            init = self._client.get_initialization_data(refresh=False)
            self._server = {}
            for group in (init.blitz, init.turbo, init.binary):
                for active in group.all():
                    label = active.ticker or active.name.removeprefix("front.")
                    self._server.setdefault(active.id, (label, active.precision))
        return self._server.get(active_id)

    def __call__(self, active_id: int | None) -> str:
        if active_id is None:
            return "-"
        known = self._known(active_id)
        if known is not None:
            return known[0]
        spec = find_active(active_id)  # an active the server does not list: the built-in name, if any
        return spec.name if spec is not None else str(active_id)

    def price(self, active_id: int | None, value: float | None) -> str:
        """A price of the active at its precision."""
        known = self._known(active_id) if active_id is not None else None
        return format_price(value, known[1] if known is not None else None)


def _balance_types(balances: list[Balance]) -> dict[int, str]:
    return {balance.id: balance.type.name for balance in balances}


def _balance_id(balances: list[Balance], choice: BalanceChoice | None) -> int | None:
    """The id of the chosen balance (``None`` for every balance); exits 1 when the account has none."""
    if choice is None:
        return None
    wanted = choice.balance_type
    for balance in balances:
        if balance.type == wanted:
            return balance.id
    fail(f"the account has no {wanted.name} balance")


# -- iqwire trade -----------------------------------------------------------------------------------


@dataclass
class _Countdown:
    """What the countdown shows: the trade and the last price seen."""

    trade: SyncTrade
    active: ResolvedActive
    currency: str
    price: float | None = None
    remaining: float = 0.0

    def standing(self) -> tuple[str, str]:
        """``(word, style)``: winning, losing or even, from the last price (digital: against the strike)."""
        level = self.trade.strike if self.trade.strike is not None else self.trade.open_price
        if self.price is None:
            return "waiting for a price", "dim"
        if self.price == level:
            return "even", "yellow"
        up = self.price > level
        if up == (self.trade.direction == "call"):
            return "winning", "green"
        return "losing", "red"

    def delta(self) -> str:
        """The price's distance from the open, to the prices' decimals."""
        if self.price is None:
            return ""
        return f"{self.price - self.trade.open_price:+.{self.active.precision or 6}f}"

    def line(self) -> str:
        word, _ = self.standing()
        delta = "" if self.price is None else f" ({self.delta()})"
        return f"{math.ceil(self.remaining):>4}s left  price {self.active.price(self.price)}{delta}  {word}"

    def render(self) -> Table:
        trade = self.trade
        word, style = self.standing()
        table = Table(
            title=f"#{trade.id} {self.active.name} {trade.direction} {_money(trade.amount, self.currency)}",
            show_header=False,
            title_justify="left",
            min_width=48,
        )
        table.add_column("field", style="bold")
        table.add_column("value", justify="right")
        table.add_row("open price", self.active.price(trade.open_price))
        if trade.strike is not None:
            table.add_row("strike", self.active.price(trade.strike))
        if trade.sell_profit is not None:
            table.add_row("sell now for", _money(trade.sell_profit, self.currency))
        table.add_row("current price", Text(self.active.price(self.price), style=style))
        table.add_row("change", Text(self.delta() or "-", style=style))
        table.add_row("standing", Text(word, style=style))
        table.add_row("expires", _time(trade.expires, "%H:%M:%S UTC"))
        table.add_row("time left", f"{max(0.0, self.remaining):.1f}s")
        return table


def _follow(client: Client, view: _Countdown, console: Console) -> None:
    """Show the countdown until expiry: a live table on a terminal, a line per second otherwise."""
    trade = view.trade
    last_line: int | None = None
    with contextlib.ExitStack() as stack:
        prices = stack.enter_context(client.candles(trade.active_id, 1))
        live: Live | None = None
        if console.is_terminal:
            live = stack.enter_context(
                Live(view.render(), console=console, refresh_per_second=8, transient=False)
            )
        while True:
            view.remaining = trade.expires - client.server_time()
            if view.remaining <= 0:
                break
            try:
                view.price = prices.get(timeout=0.2).close
            except TimeoutError:
                pass
            except ConnectionLost:  # prices paused (a reconnect): keep counting; outcome() recovers
                time.sleep(0.2)
            view.remaining = trade.expires - client.server_time()
            if live is not None:
                live.update(view.render())
                continue
            whole = math.ceil(view.remaining)
            if whole != last_line and whole > 0 and (whole <= 10 or whole % 10 == 0):
                last_line = whole
                console.print(escape(view.line()), soft_wrap=True)
        view.remaining = 0.0
        if live is not None:
            live.update(view.render())


@app.command("trade", context_settings={"ignore_unknown_options": True})  # "-5" is an amount, refused below
def trade(
    active: Annotated[str, typer.Argument(help="Asset name (EURUSD-OTC, case-insensitive) or id (76).")],
    direction: Annotated[
        Side, typer.Argument(case_sensitive=False, help="call: the price ends higher; put: lower.")
    ],
    amount: Annotated[float, typer.Argument(help="The stake, in the balance's currency (more than 0).")],
    expiration: Annotated[
        int | None,
        typer.Option(
            "--expiration",
            "-e",
            min=1,
            help=(
                "blitz: seconds to expiry (5, 10, 15, 30, 60, 120, 300; default 30); turbo: grid minutes "
                "in seconds (60 = the nearest buyable minute, default); binary: the least seconds to "
                "expiry (default 900); digital: the period (60, 300, 900; default 60)."
            ),
            show_default=False,
        ),
    ] = None,
    product: Annotated[
        Product, typer.Option("--product", case_sensitive=False, help="The option product.")
    ] = Product.BLITZ,
    strike: Annotated[
        str,
        typer.Option(help="Digital only: 'spot' or the strike price (see iqwire strikes)."),
    ] = "spot",
    balance: Annotated[
        BalanceChoice, typer.Option(case_sensitive=False, help="The balance to trade on.")
    ] = BalanceChoice.DEMO,
    real: RealOpt = False,
    sim_speed: SimSpeedOpt = 1.0,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Buy one option (blitz, turbo, binary or digital), count down to its expiry, then show the outcome.

    On a terminal: a live table with the current price. Otherwise: plain lines.
    The real balance needs both --balance real and --real. Ctrl-C stops watching
    (exit 130); the option stays open on the server until it expires.
    """
    if not amount > 0:
        fail(f"the amount must be more than 0, got {amount:g}", EXIT_USAGE)
    options = ConnectionOptions(sim, ws_url, login_url, email, password, speed=sim_speed)
    console = stdout_console()
    seconds = expiration if expiration is not None else _DEFAULT_EXPIRATION[product]
    level = parse_strike(strike)
    if level != "spot" and product is not Product.DIGITAL:
        fail("--strike is for digital options (--product digital)", EXIT_USAGE)
    refuse_bad_expiration(product, seconds)
    with cli_errors():
        check_real_money(balance, real)
        with open_client(options, allow_real_money=real) as client:
            resolved = resolve_active(active, client)
            trader = Trader(client)
            kind = balance.balance_type
            account = next((b for b in client.get_balances() if b.type == kind), None)
            details = {"strike": level} if product is Product.DIGITAL else None
            intent = Intent(
                product.value, resolved.id, direction.value, amount, seconds,
                account.id if account is not None else None, client.server_time(), details,
            )  # fmt: skip
            with journaled(client, kind, intent) as record:
                try:
                    placed = place(
                        client, trader, product, resolved.id, direction.value, amount, seconds,
                        strike=level, balance=kind,
                    )  # fmt: skip
                except IqwireError as exc:
                    record(error=exc)
                    raise
                record(trade=placed)
                result = _show_trade(client, placed, resolved, console)
                record(result=result)


#: ``--expiration`` when it is not given, by product.
_DEFAULT_EXPIRATION = {Product.BLITZ: 30, Product.TURBO: 60, Product.BINARY: 900, Product.DIGITAL: 60}


def _show_trade(client: Client, placed: SyncTrade, resolved: ResolvedActive, console: Console) -> TradeResult:
    balances = {b.id: b for b in client.get_balances()}
    account = balances.get(placed.balance_id)
    currency = (account.currency if account is not None else None) or ""
    console.print(
        escape(
            f"opened #{placed.id}: {resolved.name} {'' if placed.product == 'blitz' else placed.product + ' '}"
            f"{placed.direction} {_money(placed.amount, currency)} "
            f"on {placed.balance_type.name} at {resolved.price(placed.open_price)}, payout {placed.payout:g}%, "
            f"expires {_time(placed.expires, '%H:%M:%S UTC')} ({placed.expiration}s)"
        ),
        soft_wrap=True,
    )
    view = _Countdown(placed, resolved, currency)
    try:
        _follow(client, view, console)
        if not console.is_terminal:
            console.print("expired: waiting for the result", soft_wrap=True)
        result = placed.outcome()
    except KeyboardInterrupt:
        stderr_console().print(
            f"stopped watching: option #{placed.id} stays open until "
            f"{_time(placed.expires, '%H:%M:%S UTC')} (see iqwire positions / iqwire history)",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    after = next((b for b in client.get_balances() if b.id == placed.balance_id), None)
    style = "green" if result.pnl > 0 else "red" if result.pnl < 0 else "yellow"
    console.print(
        f"[bold {style}]{result.outcome.name}[/]: closed at {resolved.price(result.close_price)} "
        f"(opened {resolved.price(placed.open_price)}), P&L [{style}]{result.pnl:+,.2f}[/]"
        f"{' ' + escape(currency) if currency else ''}",
        soft_wrap=True,
    )
    if after is not None:
        console.print(
            f"balance {after.type.name}: {escape(_money(after.amount, after.currency or currency))}",
            soft_wrap=True,
        )
    return result


# -- iqwire positions / history ---------------------------------------------------------------------


def _positions_table(
    rows: list[Position], names: _Names, kinds: dict[int, str], now: float, values: dict[str, float]
) -> Table:
    table = Table(title="Open positions")
    table.add_column("id", justify="right")
    table.add_column("product")
    table.add_column("active")
    table.add_column("dir")
    table.add_column("amount", justify="right")
    table.add_column("open price", justify="right")
    table.add_column("opened (UTC)")
    table.add_column("expires in", justify="right")
    table.add_column("sell now", justify="right")
    table.add_column("balance")
    for position in rows:
        expires = position.expiration_time_s
        left = "-" if expires is None else f"{max(0.0, expires - now):.0f}s"
        table.add_row(
            str(position.option_id if position.option_id is not None else position.id),
            (position.instrument_type or "-").removesuffix("-option"),
            names(position.active_id),
            position.direction or "-",
            _money(position.amount),
            names.price(position.active_id, position.open_quote),
            _time(position.open_time_s),
            left,
            _money(values.get(str(position.id))),
            kinds.get(position.user_balance_id or -1, "-"),
        )
    return table


#: Products whose positions have a live sale value (``positions-state``).
_SELLABLE = ("turbo-option", "binary-option", "digital-option")


def _sale_values(client: Client, rows: list[Position], wait: float = 2.0) -> dict[str, float]:
    """What selling each sellable position now pays back, from one ``positions-state`` push (by internal id)."""
    ids: list[int | str] = [p.id for p in rows if p.instrument_type in _SELLABLE]
    if not ids:
        return {}
    values: dict[str, float] = {}
    with client.subscribe(catalog.POSITIONS_STATE, None, "positions-state") as feed:
        client.request("portfolio.subscribe-positions", "1.0", {"frequency": "frequent", "ids": ids})
        deadline = time.monotonic() + wait
        while len(values) < len(ids) and time.monotonic() < deadline:
            try:
                state = feed.get(timeout=max(0.05, deadline - time.monotonic()))
            except TimeoutError:
                break
            values.update({str(e.id): e.sell_profit for e in state.positions if e.sell_profit is not None})
    return values


def _history_table(rows: list[Position], names: _Names, kinds: dict[int, str]) -> Table:
    table = Table(title="Closed positions (most recent first)")
    table.add_column("closed (UTC)")
    table.add_column("id", justify="right")
    table.add_column("active")
    table.add_column("dir")
    table.add_column("amount", justify="right")
    table.add_column("open price", justify="right")
    table.add_column("close price", justify="right")
    table.add_column("outcome")
    table.add_column("P&L", justify="right")
    table.add_column("balance")
    for position in rows:
        outcome = position.outcome
        close = position.expiration_value if position.expiration_value is not None else position.close_quote
        table.add_row(
            _time(position.close_time_s or position.expiration_time_s),
            str(position.option_id if position.option_id is not None else position.id),
            names(position.active_id),
            position.direction or "-",
            _money(position.amount),
            names.price(position.active_id, position.open_quote),
            names.price(position.active_id, close),
            outcome.name if outcome is not None else "-",
            _pnl_text(position.pnl),
            kinds.get(position.user_balance_id or -1, "-"),
        )
    return table


@app.command("positions")
def positions(
    balance: BalanceFilterOpt = None,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Show the open positions of every product (what selling each now would pay back), then margin positions."""
    options = ConnectionOptions(sim, ws_url, login_url, email, password)
    with cli_errors(), open_client(options) as client:
        balances = client.get_balances()
        rows, margin_rows = margin_view.split_margin(client.get_positions(_balance_id(balances, balance)))
        values = _sale_values(client, rows)
        table = _positions_table(rows, _Names(client), _balance_types(balances), client.server_time(), values)
        console = stdout_console()
        print_wide(console, table)
        if margin_rows:
            print_wide(console, margin_view.margin_table(margin_rows))


@app.command("history")
def history(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many closed positions.")] = 30,
    balance: BalanceFilterOpt = None,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Show the most recent closed positions as a table, with their total P&L."""
    options = ConnectionOptions(sim, ws_url, login_url, email, password)
    with cli_errors(), open_client(options) as client:
        balances = client.get_balances()
        rows = client.get_history_positions(_balance_id(balances, balance), limit=limit)
        console = stdout_console()
        print_wide(console, _history_table(rows, _Names(client), _balance_types(balances)))
        total = math.fsum(p.pnl or 0.0 for p in rows)
        console.print(f"{len(rows)} positions, P&L {total:+,.2f}", soft_wrap=True)
