"""Margin positions: follow them live, close them, change their take-profit and stop-loss.

The :class:`MarginBook` is the margin side of the trader: it follows the
``order-changed`` pushes of every margin family, lets the shared
:class:`~iqwire.trading.portfolio.Portfolio` follow the positions (so they are
re-synchronised after every reconnect, as the options are), asks
``positions-state`` for their live P&L, and wakes whoever waits for an order to
fill or a position to close. A :class:`MarginPosition` is one position as the
user holds it; its figures are read from the book, so they are always the newest.

Closing sends ``close-position`` once (:func:`~iqwire.trading.reconcile.send_once`);
a lost answer is settled by reading the position back: closed means done, still
open means the close was not executed (:class:`~iqwire.errors.TradeNotPlaced`),
never a second send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from iqwire.errors import InvalidOrder, IqwireError, TradeNotPlaced
from iqwire.margin_math import to_decimal
from iqwire.models import Order, Position
from iqwire.models.binary import PositionsState, PositionState, SubscribePositionsBody
from iqwire.models.margin import ChangeTpslBody, MarginalBalanceBody, MarginClosePositionBody
from iqwire.protocol import catalog
from iqwire.trading.margin_instruments import FAMILIES, Instruments
from iqwire.trading.margin_levels import KEEP, LevelInput, level_fields, parse_level
from iqwire.trading.reconcile import LOST, read_positions, send_once

if TYPE_CHECKING:
    from decimal import Decimal

    from iqwire.trading.desk import Desk

__all__ = [
    "MARGIN_TYPES",
    "MarginBook",
    "MarginPosition",
    "family_of",
    "find_position",
    "margin_detail",
    "order_ids",
]

log = logging.getLogger("iqwire.trading.margin")

#: The instrument types of margin positions and orders.
MARGIN_TYPES: tuple[str, ...] = tuple(catalog.margin_instrument_type(f) for f in FAMILIES)


def family_of(instrument_type: str | None) -> str | None:
    """``forex`` for ``marginal-forex``; ``None`` for another product."""
    for family in FAMILIES:
        if instrument_type == catalog.margin_instrument_type(family):
            return family
    return None


def margin_detail(event: Position | Order, kind: str = "position") -> dict[str, Any]:
    """The margin part of a position's (or order's) ``raw_event``: side, count, leverage, levels..."""
    raw = event.raw_event or {}
    family = family_of(event.instrument_type)
    detail = raw.get(f"marginal_{family}_{kind}_changed1") if family is not None else None
    return detail if isinstance(detail, dict) else {}


def order_ids(position: Position) -> list[int]:
    """The ids of the orders that opened a position (``raw_event.order_ids``)."""
    raw = position.raw_event or {}
    found = raw.get("order_ids") or margin_detail(position).get("order_ids") or []
    return [int(x) for x in found if isinstance(x, int | str) and str(x).isdigit()]


class MarginBook:
    """Margin orders and positions as the server has them, kept current by pushes.

    ``trader.margin`` is one; :meth:`start` runs before the first order.

    Example::

        await trader.margin.start()
        for position in trader.margin.open_positions():
            print(position.id, position.side, position.quantity, position.pnl)
    """

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.instruments = Instruments(desk.client)
        #: The newest event of every margin order seen, by order id.
        self.orders: dict[int, Order] = {}
        #: The newest live figures of every open margin position, by internal id.
        self.states: dict[str, PositionState] = {}
        self._by_order: dict[int, int] = {}
        self._claimed_orders: set[int] = set()
        self._event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._start_lock = asyncio.Lock()
        self._watched: set[str] = set()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Follow margin orders, positions and their live state. Idempotent.

        The portfolio follows the positions; the book follows the orders and the
        ``positions-state`` feed, and re-reads the orders after every reconnect.
        """
        async with self._start_lock:
            if self._started:
                return
            client = self.desk.client
            portfolio = self.desk.portfolio
            portfolio.listen(self._on_position)
            await portfolio.start()
            for instrument_type in MARGIN_TYPES:
                await portfolio.follow(instrument_type)
                await self._consume(client.orders_changed(instrument_type), self._on_order, instrument_type)
            await self._consume(
                client.subscribe(catalog.POSITIONS_STATE, None, "positions-state"), self._on_state, "state"
            )
            client.on_reconnect(self.resync)
            self._started = True
        for position in list(portfolio.open.values()):
            self._on_position(position)
        await self.resync()

    async def stop(self) -> None:
        """Stop following (the portfolio stops with the trader)."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._started = False

    async def _consume(self, stream: Any, handler: Callable[[Any], None], name: str) -> None:
        await stream.__aenter__()

        async def pump() -> None:
            try:
                async for item in stream:
                    handler(item)
            finally:
                await stream.aclose()

        self._tasks.append(asyncio.create_task(pump(), name=f"iqwire-margin-{name}"))

    async def resync(self) -> None:
        """Re-read the pending orders, and look up orders that finished while the connection was down."""
        client = self.desk.client
        try:
            balances = [b for b in await client.get_balances() if b.is_marginal]
            pending: dict[int, Order] = {}
            for balance in balances:
                # As the SDK does on every connect: the server pushes a marginal balance's
                # changes only after this (the simulator pushes them regardless).
                await client.call(
                    catalog.SUBSCRIBE_MARGINAL_BALANCE, MarginalBalanceBody(user_balance_id=balance.id)
                )
                for order in await client.get_orders(balance.id):
                    if order.id is not None and family_of(order.instrument_type) is not None:
                        pending[int(order.id)] = order
            for order_id, order in pending.items():
                self.orders[order_id] = order
            unsettled = [
                order_id
                for order_id, order in self.orders.items()
                if not order.is_terminal and order_id not in pending and order_id not in self._by_order
            ]
            if unsettled:
                history = await client.get_history_positions(instrument_types=list(MARGIN_TYPES), limit=100)
                for position in history:
                    self.desk.portfolio.apply(position)
                    self._on_position(position)
        except IqwireError as exc:
            log.warning("margin resync failed: %s", exc)
        self._notify()

    # -- pushes -----------------------------------------------------------------------------

    def _notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def changed(self, timeout: float) -> None:
        """Wait until anything changes (an order, a position, a live figure), at most ``timeout`` s."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)

    def _on_order(self, order: Order) -> None:
        if order.id is None or family_of(order.instrument_type) is None:
            return
        self.orders[int(order.id)] = order
        self._notify()

    def _on_position(self, position: Position) -> None:
        if family_of(position.instrument_type) is None or position.option_id is None:
            return
        for order_id in order_ids(position):
            self._by_order[order_id] = position.option_id
        if not position.is_closed and str(position.id) not in self._watched:
            self._watched.add(str(position.id))
            self._tasks.append(asyncio.ensure_future(self._watch(position.id)))
        self._notify()

    async def _watch(self, internal_id: int | str) -> None:
        """Ask ``positions-state`` for this position's live figures (best effort)."""
        with contextlib.suppress(IqwireError):
            body = SubscribePositionsBody(frequency="frequent", ids=[internal_id])
            await self.desk.client.call(catalog.SUBSCRIBE_POSITIONS, body)

    def _on_state(self, state: PositionsState) -> None:
        for item in state.positions:
            if family_of(item.instrument_type) is not None:
                self.states[str(item.id)] = item
        self._notify()

    # -- queries ------------------------------------------------------------------------------

    def position(self, position_id: int) -> Position | None:
        """The newest event of a margin position, by its (external) id."""
        portfolio = self.desk.portfolio
        return portfolio.open.get(position_id) or portfolio.closed.get(position_id)

    def position_of_order(self, order_id: int) -> Position | None:
        """The position an order opened, once known."""
        position_id = self._by_order.get(order_id)
        return None if position_id is None else self.position(position_id)

    def open_positions(self) -> list[MarginPosition]:
        """Every open margin position, oldest first."""
        return [
            MarginPosition(self, p)
            for p in self.desk.portfolio.open_positions
            if family_of(p.instrument_type) is not None
        ]

    def claim_order(self, order_id: int) -> None:
        """Record that an order call of this process owns this order."""
        self._claimed_orders.add(order_id)

    def is_claimed_order(self, order_id: int) -> bool:
        """Whether an order call of this process already owns this order."""
        return order_id in self._claimed_orders


class MarginPosition:
    """One margin position; its figures are the newest the book has.

    Example::

        position = await order.filled()
        print(position.open_price, position.margin, position.pnl)
        await position.modify(stop_loss=1.075)
        closed = await position.close()
        print(closed.close_reason, closed.pnl)
    """

    def __init__(self, book: MarginBook, position: Position) -> None:
        assert position.option_id is not None
        self._book = book
        self._first = position
        self.id: int = position.option_id
        detail = margin_detail(position)
        ids = order_ids(position)
        self.order_id: int | None = ids[0] if ids else None
        self.family: str = family_of(position.instrument_type) or ""
        self.instrument_id: str | None = position.instrument_id or detail.get("instrument_id")
        self.active_id: int | None = position.active_id
        self.side: str = str(detail.get("side") or position.direction or "")
        self.quantity: Decimal = to_decimal(detail.get("count", 0))
        self.leverage: int = int(detail.get("leverage") or 0)
        self.open_price: float = position.open_quote or 0.0
        self.balance_id: int | None = position.user_balance_id
        self.opened_at: float | None = position.open_time_s

    def __repr__(self) -> str:
        return (
            f"MarginPosition(id={self.id}, {self.instrument_id} {self.side} {self.quantity} "
            f"x{self.leverage} at {self.open_price}, status={self.status!r}, pnl={self.pnl})"
        )

    @property
    def last(self) -> Position:
        """The newest event of this position (push, positions or history reply)."""
        return self._book.position(self.id) or self._first

    @property
    def status(self) -> str:
        """``open`` or ``closed``."""
        return self.last.status

    @property
    def is_closed(self) -> bool:
        """Whether it has closed."""
        return self.last.is_closed

    def _state(self) -> PositionState | None:
        return None if self.is_closed else self._book.states.get(str(self.last.id))

    @property
    def pnl(self) -> float:
        """Profit or loss: live (``positions-state``) while open, realised once closed."""
        state = self._state()
        if state is not None and state.pnl is not None:
            return state.pnl
        return self.last.pnl or 0.0

    @property
    def margin(self) -> float:
        """The margin it locks (``notional / leverage`` at the fill price)."""
        state = self._state()
        if state is not None and state.margin is not None:
            return state.margin
        return self.last.amount or 0.0

    @property
    def current_price(self) -> float | None:
        """The price it would close at now (while open; the close price once closed)."""
        state = self._state()
        if state is not None and state.current_price is not None:
            return state.current_price
        return self.last.close_quote

    @property
    def swap(self) -> float:
        """Overnight fees charged so far (negative is a charge)."""
        return float(to_decimal(margin_detail(self.last).get("swap") or 0))

    @property
    def take_profit(self) -> dict[str, Any] | None:
        """The take-profit ``{type, value, price}`` as the server has it, or ``None``."""
        level = margin_detail(self.last).get("take_profit")
        return level if isinstance(level, dict) else None

    @property
    def stop_loss(self) -> dict[str, Any] | None:
        """The stop-loss ``{type, value, price}`` as the server has it, or ``None``."""
        level = margin_detail(self.last).get("stop_loss")
        return level if isinstance(level, dict) else None

    @property
    def close_reason(self) -> str | None:
        """Why it closed: ``default`` (closed by hand), ``take_profit``, ``stop_loss``, ``stop_out``."""
        return self.last.close_reason

    @property
    def close_price(self) -> float | None:
        """The price it closed at."""
        return self.last.close_quote if self.is_closed else None

    async def closed(self, timeout: float | None = None) -> MarginPosition:
        """Wait until the position closes (by hand, TP, SL or stop-out); returns itself.

        Raises:
            TimeoutError: it is still open after ``timeout`` seconds.
        """
        waiter = self._book.desk.portfolio.wait_closed(self.id)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        finally:
            waiter.cancel()
        return self

    async def close(self, timeout: float | None = 30.0) -> MarginPosition:
        """Close it at the market (sent once) and wait for the close; returns itself.

        Raises:
            RealMoneyLocked: a REAL balance without the opt-in; nothing was sent.
            InvalidOrder: it is closed already; nothing was sent.
            ServerError: the server refused.
            TradeNotPlaced: the answer was lost and the position is still open.
        """
        if self.is_closed:
            raise InvalidOrder(f"position {self.id} is closed already (nothing was sent)")
        client = self._book.desk.client
        await client.lock.check("close a margin position", self.balance_id)
        body = MarginClosePositionBody(position_id=self.id)
        if await send_once(client, catalog.margin_close_position(self.family), body) is LOST:
            await self._settle_lost("close-position")
        return await self.closed(timeout)

    async def _settle_lost(self, what: str) -> None:
        positions = await read_positions(
            self._book.desk.client,
            balance_id=self.balance_id,
            instrument_types=[catalog.margin_instrument_type(self.family)],
            what=what,
        )
        mine = [p for p in positions if p.option_id == self.id]
        for position in mine:
            self._book.desk.portfolio.apply(position)
        if not any(p.is_closed for p in mine):
            raise TradeNotPlaced(
                f"the connection dropped after sending {what} for position {self.id} and it is still "
                "open: the close was not executed (close it again if you still want to)"
            )

    async def modify(self, *, take_profit: LevelInput = KEEP, stop_loss: LevelInput = KEEP) -> None:
        """Change the take-profit and/or stop-loss (``None`` removes one; omitted keeps it).

        A bare number is a price; ``(value, "pips")`` (or ``"delta"``, ``"pnl"``,
        ``"price"``) says how it is written.

        Example::

            await position.modify(take_profit=(50, "pips"), stop_loss=1.0750)

        Raises:
            RealMoneyLocked: a REAL balance without the opt-in; nothing was sent.
            InvalidOrder: a level that cannot be sent, or the position is closed; nothing was sent.
            ServerError: the server refused.
        """
        if self.is_closed:
            raise InvalidOrder(f"position {self.id} is closed (nothing was sent)")
        tp = parse_level(self.take_profit if take_profit is KEEP else take_profit, "take_profit")
        sl = parse_level(self.stop_loss if stop_loss is KEEP else stop_loss, "stop_loss")
        client = self._book.desk.client
        await client.lock.check("modify a margin position", self.balance_id)
        body = ChangeTpslBody(position_id=self.id, **level_fields(tp, sl))
        await client.call(catalog.MARGIN_CHANGE_TPSL, body)


async def find_position(book: MarginBook, position_id: int) -> MarginPosition:
    """An open margin position of the account by id (opened here or elsewhere).

    Raises:
        InvalidOrder: no open margin position has this id.
    """
    await book.start()
    found = book.position(position_id)
    if found is None or found.is_closed:
        for position in await book.desk.client.get_positions(instrument_types=list(MARGIN_TYPES)):
            book.desk.portfolio.apply(position)
        found = book.position(position_id)
    if found is None or found.is_closed:
        raise InvalidOrder(f"no open margin position {position_id} on this account")
    return MarginPosition(book, found)
