"""Margin orders: validate, send once, reconcile a lost answer, await the fill, cancel.

:func:`place_order` checks everything it can before sending (the balance is a
marginal one, the real-money lock, the instrument is known and open, the side is
allowed, the quantity is on the step, the leverage is offered and allowed at the
equity, the levels can be written, the margin is available) and raises a typed
error with nothing sent. It then sends ``marginal-<family>.place-<type>-order``
once. When the answer is lost, the order may or may not exist: it waits for the
connection and looks for it among the pending orders and the open and recent
positions of the family (same balance, instrument, side, quantity and leverage,
created around the send, not owned by another call of this process) and never
sends again.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from iqwire.errors import (
    ConnectionLost,
    InsufficientBalance,
    InvalidOrder,
    OrderNotFilled,
    RequestTimeout,
    TradeNotPlaced,
    TradeStateUnknown,
)
from iqwire.margin_math import to_decimal
from iqwire.models import BalanceType, Order
from iqwire.models.margin import CancelPendingOrderBody, PlaceMarginOrderBody, TpSl
from iqwire.protocol import catalog
from iqwire.trading.client import TradingClient
from iqwire.trading.margin_balance import marginal_balance, marginal_figures
from iqwire.trading.margin_instruments import FAMILIES, Instrument, calculate_margin, to_quantity
from iqwire.trading.margin_levels import LevelInput, parse_level
from iqwire.trading.margin_positions import MarginBook, MarginPosition, margin_detail, order_ids
from iqwire.trading.reconcile import LOST, RECONCILE_WINDOW, RECONNECT_WAIT, read_positions, send_once

if TYPE_CHECKING:
    from iqwire.models import Position

__all__ = ["ORDER_TYPES", "MarginOrder", "cancel_order", "find_order", "place_order"]

log = logging.getLogger("iqwire.trading.margin")

#: The order types: at the market now, or pending until the price reaches ``price``.
ORDER_TYPES = ("market", "limit", "stop")
_TERMINAL = frozenset({"filled", "canceled", "rejected"})


class MarginOrder:
    """A margin order the server accepted; await :meth:`filled` for its position.

    ``type`` is what was asked; the server may file a pending order under the
    other pending type when its price is on the other side of the market (the
    SDK's rule), and :attr:`status` follows the server.

    Example::

        order = await trader.place_order("EURUSD-OTC", "buy", 1000, leverage=100, take_profit=(50, "pips"))
        position = await order.filled()
        print(position.open_price, position.margin)
    """

    def __init__(
        self,
        book: MarginBook,
        *,
        id: int,
        instrument: Instrument,
        side: str,
        quantity: Decimal,
        leverage: int,
        type: str,
        price: Decimal | None,
        balance_id: int,
        take_profit: TpSl | None,
        stop_loss: TpSl | None,
        reconciled: bool = False,
    ) -> None:
        self._book = book
        self.id = id
        self.instrument = instrument
        self.side = side
        self.quantity = quantity
        self.leverage = leverage
        self.type = type
        self.price = price
        self.balance_id = balance_id
        self.take_profit = take_profit
        self.stop_loss = stop_loss
        self.reconciled = reconciled

    def __repr__(self) -> str:
        at = f" at {self.price}" if self.price is not None else ""
        return (
            f"MarginOrder(id={self.id}, {self.instrument.name} {self.type} {self.side} {self.quantity} "
            f"x{self.leverage}{at}, status={self.status!r})"
        )

    @property
    def status(self) -> str:
        """``new`` (pending), ``filled``, ``canceled`` or ``rejected``, as last pushed."""
        if self._book.position_of_order(self.id) is not None:
            return "filled"
        event = self._book.orders.get(self.id)
        return (event.status if event is not None else None) or "new"

    @property
    def position(self) -> MarginPosition | None:
        """The position it opened, once filled."""
        found = self._book.position_of_order(self.id)
        return None if found is None else MarginPosition(self._book, found)

    async def filled(self, timeout: float | None = None) -> MarginPosition:
        """Wait until the order fills and return its position.

        Raises:
            OrderNotFilled: the order was canceled or rejected.
            TimeoutError: still pending after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            position = self.position
            if position is not None:
                return position
            status = self.status
            if status in ("canceled", "rejected"):
                event = self._book.orders.get(self.id)
                reason = margin_detail(event, "order").get("reject_status") if event is not None else None
                raise OrderNotFilled(
                    f"order {self.id} was {status}" + (f": {reason}" if reason else ""), status=status
                )
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                raise TimeoutError(f"order {self.id} is still {status} after {timeout}s")
            await self._book.changed(1.0 if left is None else min(left, 1.0))

    async def cancel(self) -> None:
        """Cancel the pending order (sent once).

        Raises:
            InvalidOrder: the order is no longer pending; nothing was sent.
            RealMoneyLocked: a REAL balance without the opt-in; nothing was sent.
            ServerError: the server refused (it filled meanwhile, say).
            TradeNotPlaced: the answer was lost and the order is still pending.
        """
        await cancel_order(self._book, self)


async def place_order(
    book: MarginBook,
    instrument: str | int,
    side: str,
    quantity: str | float | int | Decimal,
    *,
    type: str = "market",
    price: str | float | int | Decimal | None = None,
    leverage: int | None = None,
    take_profit: LevelInput = None,
    stop_loss: LevelInput = None,
    balance: BalanceType | int = BalanceType.DEMO,
    family: str | None = None,
) -> MarginOrder:
    """Place a margin order (see :meth:`Trader.place_order`)."""
    side = side.lower() if isinstance(side, str) else side
    if side not in ("buy", "sell"):
        raise InvalidOrder(f"side must be 'buy' or 'sell', not {side!r}")
    if type not in ORDER_TYPES:
        raise InvalidOrder(f"order type must be one of {', '.join(ORDER_TYPES)}, not {type!r}")
    count = to_quantity(quantity)
    if type == "market" and price is not None:
        raise InvalidOrder("a market order takes no price (use type='limit' or 'stop')")
    limit = to_quantity(price, "price") if type != "market" and price is not None else None
    if type != "market" and limit is None:
        raise InvalidOrder(f"a {type} order needs a price")
    levels = parse_level(take_profit, "take_profit"), parse_level(stop_loss, "stop_loss")
    desk = book.desk
    client = desk.client
    target = await marginal_balance(desk, balance)
    await client.lock.check("place a margin order", target.id)  # before anything else is asked
    found = await book.instruments.find(instrument, families=(family,) if family else FAMILIES)
    found.check_open(client.server_time())
    if not (found.allow_long if side == "buy" else found.allow_short):
        raise InvalidOrder(f"{found.name} cannot be {'bought' if side == 'buy' else 'sold'} now")
    found.check_quantity(count)
    lever = leverage if leverage is not None else found.default_leverage
    figures = await marginal_figures(desk, target.id)
    found.check_leverage(lever, figures.equity)
    at = limit if limit is not None else to_decimal(await desk.price(found.active_id))
    needed = calculate_margin(count, at, lever)
    if needed > figures.available:
        raise InsufficientBalance(
            f"the order needs a margin of {needed} {target.currency or ''} and "
            f"{figures.available} is available (nothing was sent)"
        )
    await book.start()
    body = PlaceMarginOrderBody(
        side=side,
        user_balance_id=target.id,
        count=str(count),
        instrument_id=found.id,
        instrument_active_id=found.active_id,
        leverage=str(lever),
        limit_price=str(limit) if type == "limit" and limit is not None else None,
        stop_price=str(limit) if type == "stop" and limit is not None else None,
        take_profit=levels[0],
        stop_loss=levels[1],
    )
    sent_at = client.server_time()
    placed = await send_once(client, catalog.margin_place_order(found.family, type), body)
    reconciled = placed is LOST
    order_id = await _reconcile(book, found, body, sent_at) if placed is LOST else placed.id
    book.claim_order(order_id)
    return MarginOrder(
        book,
        id=order_id,
        instrument=found,
        side=side,
        quantity=count,
        leverage=lever,
        type=type,
        price=limit,
        balance_id=target.id,
        take_profit=levels[0],
        stop_loss=levels[1],
        reconciled=reconciled,
    )


def _same(detail: dict[str, object], body: PlaceMarginOrderBody) -> bool:
    try:
        count = to_decimal(str(detail.get("count")))
        leverage = int(str(detail.get("leverage")))
    except ValueError:
        return False
    return (
        detail.get("side") == body.side
        and detail.get("instrument_id") == body.instrument_id
        and count == to_decimal(body.count)
        and leverage == int(body.leverage)
    )


def _order_matches(order: Order, body: PlaceMarginOrderBody, sent_at: float) -> bool:
    detail = margin_detail(order, "order")
    created = detail.get("created_at")
    near = not isinstance(created, int | float) or abs(created / 1000 - sent_at) <= RECONCILE_WINDOW
    return order.user_balance_id in (None, body.user_balance_id) and near and _same(detail, body)


def _position_matches(position: Position, body: PlaceMarginOrderBody, sent_at: float) -> bool:
    opened = position.open_time_s
    # A pending order may fill long after it was sent: only "not before" bounds it.
    near = opened is None or opened >= sent_at - RECONCILE_WINDOW
    balance_ok = position.user_balance_id in (None, body.user_balance_id)
    return balance_ok and near and _same(margin_detail(position), body)


async def _pending_orders(client: TradingClient, balance_id: int, what: str) -> list[Order]:
    """A balance's pending orders, read once the connection is back (retrying across losses).

    Raises:
        TradeStateUnknown: they could not be read within :data:`RECONNECT_WAIT` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECONNECT_WAIT
    while True:
        try:
            await client.wait_connected(max(0.0, deadline - loop.time()))
            return await client.get_orders(balance_id)
        except (ConnectionLost, RequestTimeout) as exc:
            if loop.time() >= deadline:
                raise TradeStateUnknown(
                    f"the answer to {what} was lost and the orders could not be read ({exc}); "
                    "the order may or may not exist: check the pending orders and positions",
                    [],
                ) from exc
            await asyncio.sleep(0.05)


async def _reconcile(
    book: MarginBook, instrument: Instrument, body: PlaceMarginOrderBody, sent_at: float
) -> int:
    """The id of the order a lost place-order created, or proof that it created none."""
    client = book.desk.client
    what = f"place-order ({instrument.name} {body.side} {body.count})"
    positions = await read_positions(
        client, balance_id=body.user_balance_id, instrument_types=[instrument.instrument_type], what=what
    )
    candidates: dict[int, object] = {}
    for position in positions:
        for order_id in order_ids(position)[:1]:
            if not book.is_claimed_order(order_id) and _position_matches(position, body, sent_at):
                candidates.setdefault(order_id, position)
                book.desk.portfolio.apply(position)
    for order in await _pending_orders(client, body.user_balance_id, what):
        if (
            order.id is not None
            and not book.is_claimed_order(int(order.id))
            and _order_matches(order, body, sent_at)
        ):
            candidates.setdefault(int(order.id), order)
            book.orders[int(order.id)] = order
    if not candidates:
        raise TradeNotPlaced(
            f"the connection dropped after sending {what} and no matching order or position exists: "
            "the order was not placed"
        )
    if len(candidates) > 1:
        raise TradeStateUnknown(
            f"{len(candidates)} orders match the lost {what}; cannot tell which is this one",
            list(candidates.values()),
        )
    (order_id,) = candidates
    log.info("reconciled the lost %s: it was placed as order %s", what, order_id)
    return order_id


async def cancel_order(book: MarginBook, order: MarginOrder) -> None:
    """Cancel a pending order once; settle a lost answer by reading the orders back."""
    status = order.status
    if status in _TERMINAL:
        raise InvalidOrder(f"order {order.id} is {status}, not pending (nothing was sent)")
    client = book.desk.client
    await client.lock.check("cancel a margin order", order.balance_id)
    body = CancelPendingOrderBody(order_id=order.id)
    if await send_once(client, catalog.margin_cancel_order(order.instrument.family), body) is not LOST:
        return
    what = f"cancel-pending-order ({order.id})"
    pending = {int(o.id) for o in await _pending_orders(client, order.balance_id, what) if o.id is not None}
    if order.id in pending:
        raise TradeNotPlaced(
            f"the connection dropped after sending cancel-pending-order for order {order.id} and it is "
            "still pending: the cancel was not executed"
        )
    await book.resync()
    if order.position is not None:
        raise TradeNotPlaced(
            f"the answer to cancel-pending-order for order {order.id} was lost and the order had "
            "filled: the cancel was not executed (the position is open)"
        )


async def find_order(book: MarginBook, order_id: int) -> MarginOrder:
    """A pending order of the account's marginal balances, by id (placed here or elsewhere).

    Raises:
        InvalidOrder: no pending margin order has this id.
    """
    await book.start()
    client = book.desk.client
    for balance in await client.get_balances():
        if not balance.is_marginal:
            continue
        for order in await client.get_orders(balance.id):
            if order.id is None or int(order.id) != order_id:
                continue
            detail = margin_detail(order, "order")
            instrument = await book.instruments.find(str(detail.get("instrument_id") or order.active_id))
            kind = str(detail.get("type") or order.kind or "limit")
            raw_price = detail.get("limit_price") if kind == "limit" else detail.get("stop_price")
            book.orders[order_id] = order
            return MarginOrder(
                book,
                id=order_id,
                instrument=instrument,
                side=str(detail.get("side") or ""),
                quantity=to_decimal(str(detail.get("count") or 0)),
                leverage=int(str(detail.get("leverage") or 0)),
                type=kind,
                price=to_decimal(str(raw_price)) if raw_price is not None else None,
                balance_id=balance.id,
                take_profit=None,
                stop_loss=None,
            )
    raise InvalidOrder(f"no pending margin order {order_id} on this account")
