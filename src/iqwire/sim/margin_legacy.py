"""The community Python client's margin dialect (iqoptionapi 6.8.9.1), on the same book.

That client names families ``forex``/``cfd``/``crypto``, instruments by name
(``EURUSD``, ``AMAZON``, ``BTCUSD``), keeps one reply slot per message name and
busy-waits on it, so every request here gets its own reply name with status 2000,
or an error frame of the same name. It places with ``place-order-temp`` 4.0 and
then polls ``get-order`` while the status is ``pending_new``: a refused order is
therefore accepted with an id and shows ``rejected`` with a ``reject_status``
there, as that client expects, instead of an error it could not read.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal, Protocol

from iqwire.models.margin import (
    AvailableLeveragesBody,
    CancelPendingOrderBody,
    ChangeTpslBody,
    GetOrderBody,
    GetOvernightFeeBody,
    GetPositionBody,
    LegacyGetPositionsBody,
    MarginClosePositionBody,
    MarginOrderPlaced,
    PlaceOrderTempBody,
)
from iqwire.sim.accounts import User
from iqwire.sim.errors import BAD_REQUEST, REJECTED, UNKNOWN_NAME, SimError
from iqwire.sim.margin_book import MarginBook
from iqwire.sim.margin_instruments import (
    MARGIN_TERMS,
    MarginQuote,
    MarginTerms,
    overnight_fee,
    resolve_instrument,
)
from iqwire.sim.margin_records import Level, MarginEvent, MarginOrder, OrderRequest
from iqwire.sim.margin_wire import legacy_order, position_model
from iqwire.sim.product import Handler, HandlerKey, Reply

__all__ = ["LegacyMargin", "MarginDesk", "family_of"]

#: The old client's level kinds: ``diff`` is profit in money, ``percent`` of the margin.
_LEVEL_KINDS = {
    "price": "price",
    "diff": "pnl",
    "percent": "percent",
    "pips": "pips",
    "delta": "delta",
    "pnl": "pnl",
}
_ORDER_TYPES: dict[str, Literal["market", "limit", "stop"]] = {
    "market": "market",
    "limit": "limit",
    "stop": "stop",
}


class MarginDesk(Protocol):
    """What the dialect needs of the margin product."""

    book: MarginBook

    def place(self, user: User, terms: MarginTerms, request: OrderRequest, now: float) -> MarginOrder:
        """Place an order and push what it changed."""

    def emit(self, events: Iterable[MarginEvent]) -> None:
        """Push what the book's events changed."""

    def quote(self, active_id: int, t: float) -> MarginQuote | None:
        """The bid/ask of an active now."""

    def terms(self, family: str, active_id: int) -> MarginTerms:
        """An active's terms in a family (4004 if none)."""


def family_of(instrument_type: str) -> str:
    """``forex`` from ``forex`` or ``marginal-forex``; a 4000 error for anything else."""
    family = instrument_type.removeprefix("marginal-")
    if family not in ("forex", "cfd", "crypto"):
        raise SimError(BAD_REQUEST, f"instrument_type must be forex, cfd or crypto, not {instrument_type!r}")
    return family


def _number(value: object, what: str) -> Decimal:
    try:
        return Decimal(str(value).strip())
    except ArithmeticError:
        raise SimError(BAD_REQUEST, f"{what} must be a number, not {value!r}") from None


def _level(kind: str | None, value: object) -> Level | None:
    if kind is None or value is None:
        return None
    if kind not in _LEVEL_KINDS:
        raise SimError(REJECTED, f"stop/take kind must be one of {sorted(_LEVEL_KINDS)}, not {kind!r}")
    return Level(_LEVEL_KINDS[kind], _number(value, f"{kind} value"))


class LegacyMargin:
    """Handlers of the community client's margin requests."""

    def __init__(self, desk: MarginDesk) -> None:
        self.desk = desk
        # Orders refused at placement: the client reads them back with get-order.
        self._refused: dict[int, dict[str, Any]] = {}
        self._auto_margin_call: dict[int, bool] = {}

    def handlers(self) -> dict[HandlerKey, Handler]:
        """The dialect's RPC table."""
        return {
            "get-available-leverages": self._leverages,
            "place-order-temp": self._place,
            "get-order": self._get_order,
            "get-position": self._get_position,
            "get-positions": self._get_positions,
            "get-deferred-orders": self._deferred,
            "close-position": self._close,
            "cancel-order": self._cancel,
            "change-tpsl": self._change_tpsl,
            "change-auto-margin-call": self._auto_margin,
            "get-overnight-fee": self._fee,
        }

    def _leverages(self, user: User, body: AvailableLeveragesBody, now: float) -> Reply:
        family = family_of(body.instrument_type)
        wanted = {int(a) for a in body.actives if str(a).strip().isdigit()}
        items = [
            {
                "active_id": t.active_id,
                "name": t.name,
                "default": t.default_leverage,
                "leverages": list(t.leverages),
            }
            for t in MARGIN_TERMS
            if t.family == family and (not wanted or t.active_id in wanted)
        ]
        return "available-leverages", {"instrument_type": family, "leverages": items}

    def _place(self, user: User, body: PlaceOrderTempBody, now: float) -> Reply:
        family = family_of(body.instrument_type)
        kind = _ORDER_TYPES.get(body.type)
        raw_price = body.limit_price if kind == "limit" else body.stop_price
        try:
            terms = resolve_instrument(family, body.instrument_id)
            if terms is None:
                raise SimError(UNKNOWN_NAME, f"unknown {family} instrument {body.instrument_id!r}")
            if kind is None:
                raise SimError(REJECTED, f"type must be market, limit or stop, not {body.type!r}")
            leverage = _number(body.leverage, "leverage")
            request = OrderRequest(
                side=body.side,
                balance_id=body.user_balance_id,
                count=_number(body.amount, "amount"),
                leverage=int(leverage),
                type=kind,
                price=None if kind == "market" or raw_price is None else _number(raw_price, "price"),
                take_profit=_level(body.take_profit_kind, body.take_profit_value),
                stop_loss=_level(body.stop_lose_kind, body.stop_lose_value),
            )
            order = self.desk.place(user, terms, request, now)
        except SimError as exc:
            if exc.status not in (REJECTED, UNKNOWN_NAME):
                raise
            order_id = self.desk.book.next_order_id()
            self._refused[order_id] = {
                "id": order_id,
                "status": "rejected",
                "reject_status": exc.message,
                "instrument_type": family,
                "user_balance_id": body.user_balance_id,
                "position_id": None,
            }
            return "order-placed-temp", MarginOrderPlaced(id=order_id)
        self._auto_margin_call[order.id] = body.auto_margin_call
        return "order-placed-temp", MarginOrderPlaced(id=order.id)

    def _order(self, user: User, order_id: int) -> MarginOrder:
        order = self.desk.book.orders.get(order_id)
        if order is None or order.account.user is not user:
            raise SimError(UNKNOWN_NAME, f"order {order_id} not found")
        return order

    def _get_order(self, user: User, body: GetOrderBody, now: float) -> Reply:
        refused = self._refused.get(body.order_id)
        if refused is not None:
            return "order", refused
        return "order", legacy_order(self._order(user, body.order_id))

    def _get_position(self, user: User, body: GetPositionBody, now: float) -> Reply:
        return "position", position_model(self.desk.book.find_position(user, body.position_id))

    def _get_positions(self, user: User, body: LegacyGetPositionsBody, now: float) -> Reply:
        family = family_of(body.instrument_type)
        positions = [
            position_model(p)
            for p in self.desk.book.open_positions()
            if p.order.account.user is user
            and p.order.terms.family == family
            and (body.user_balance_id is None or p.order.account.balance_id == body.user_balance_id)
        ]
        return "positions", {"positions": positions, "total": len(positions)}

    def _deferred(self, user: User, body: LegacyGetPositionsBody, now: float) -> Reply:
        family = family_of(body.instrument_type)
        orders = [
            legacy_order(o)
            for o in self.desk.book.pending_orders()
            if o.account.user is user and o.terms.family == family
        ]
        return "deferred-orders", {"deferred_orders": orders, "total": len(orders)}

    def _close(self, user: User, body: MarginClosePositionBody, now: float) -> Reply:
        position = self.desk.book.find_position(user, body.position_id)
        self.desk.emit(
            self.desk.book.close(position, self.desk.quote(position.order.terms.active_id, now), now)
        )
        return "position-closed", position_model(position)

    def _cancel(self, user: User, body: CancelPendingOrderBody, now: float) -> Reply:
        self.desk.emit(self.desk.book.cancel(user, body.order_id, now))
        return "order-canceled", legacy_order(self._order(user, body.order_id))

    def _change_tpsl(self, user: User, body: ChangeTpslBody, now: float) -> Reply:
        take_profit = _level(body.take_profit_kind, body.take_profit_value)
        stop_loss = _level(body.stop_lose_kind, body.stop_lose_value)
        if body.position_id is not None:
            position = self.desk.book.find_position(user, body.position_id)
            self.desk.emit(self.desk.book.modify(position, take_profit, stop_loss, now))
            target: dict[str, Any] = {"position_id": position.external_id}
        elif body.order_id is not None:
            order = self._order(user, body.order_id)
            self.desk.emit(self.desk.book.modify(order, take_profit, stop_loss, now))
            target = {"order_id": order.id}
        else:
            raise SimError(BAD_REQUEST, "change-tpsl needs position_id or order_id")
        levels = {
            "take_profit_kind": body.take_profit_kind,
            "take_profit_value": body.take_profit_value,
            "stop_lose_kind": body.stop_lose_kind,
            "stop_lose_value": body.stop_lose_value,
        }
        return "tpsl-changed", {**target, **levels}

    def _auto_margin(self, user: User, body: Any, now: float) -> Reply:
        if not isinstance(body, dict) or not isinstance(body.get("auto_margin_call"), bool):
            raise SimError(
                BAD_REQUEST, "change-auto-margin-call needs position_id or order_id and auto_margin_call"
            )
        key = body.get("order_id", body.get("position_id"))
        if not isinstance(key, int):
            raise SimError(BAD_REQUEST, "change-auto-margin-call needs a numeric position_id or order_id")
        # Recorded and echoed only: the simulator never tops a position up from the balance.
        self._auto_margin_call[key] = body["auto_margin_call"]
        return "auto-margin-call-changed", {"id": key, "auto_margin_call": body["auto_margin_call"]}

    def _fee(self, user: User, body: GetOvernightFeeBody, now: float) -> Reply:
        family = family_of(body.instrument_type or "")
        return "overnight-fee", overnight_fee(
            self.desk.terms(family, body.active_id), body.user_group_id or 1
        )
