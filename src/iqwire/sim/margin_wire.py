"""How the margin book looks on the wire: positions, orders, balances, live state.

Positions and orders use the shared :class:`~iqwire.models.Position` and
:class:`~iqwire.models.Order`; what only margin has (side, count, leverage,
margin, swap, TP/SL) rides in ``raw_event.marginal_<family>_position_changed1`` /
``_order_changed1``, where the official SDK reads ``order_ids`` and ``id``. The
community client keys positions by a flat ``raw_event.order_ids[0]``, so that is
there too. Times are milliseconds (what the SDK reads; no capture of a margin
position exists to say otherwise).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from iqwire.models import Order, Position
from iqwire.models.binary import PositionState
from iqwire.models.common import BalanceType
from iqwire.models.margin import MarginalBalance, MarginCall
from iqwire.sim.margin_instruments import MARGIN_CALL_LEVEL, STOP_OUT_LEVEL
from iqwire.sim.margin_records import CENT, Figures, Level, MarginAccount, MarginOrder, MarginPosition

__all__ = [
    "balance_model",
    "legacy_order",
    "margin_call_model",
    "order_model",
    "position_model",
    "position_state",
]


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _ms(t: float) -> int:
    return round(t * 1000)


def _level(level: Level | None, price: Decimal | None) -> dict[str, str] | None:
    if level is None:
        return None
    out = {"type": level.kind, "value": str(level.value)}
    if price is not None:
        out["price"] = str(price)
    return out


def balance_model(account: MarginAccount, figures: Figures, currency: str) -> MarginalBalance:
    """``marginal-balance``: every figure as a decimal string (``margin_level`` 0 without positions)."""
    level = figures.level if figures.level is not None else Decimal(0)
    return MarginalBalance(
        id=account.balance_id,
        type=int(BalanceType.DEMO),
        user_id=account.user.user_id,
        currency=currency,
        cash=_money(figures.cash),
        bonus="0.00",
        pnl=_money(figures.pnl),
        pnl_net=_money(figures.pnl + figures.swap),
        equity=_money(figures.equity),
        equity_usd=_money(figures.equity),
        swap=_money(figures.swap),
        dividends="0.00",
        margin=_money(figures.margin),
        available=_money(figures.available),
        margin_level=_money(level),
        stop_out_level=_money(STOP_OUT_LEVEL),
    )


def margin_call_model(account: MarginAccount, figures: Figures) -> MarginCall:
    """The ``margin-call`` push."""
    return MarginCall(
        user_id=account.user.user_id,
        user_balance_id=account.balance_id,
        margin_level=_money(figures.level or Decimal(0)),
        margin_call_level=_money(MARGIN_CALL_LEVEL),
        stop_out_level=_money(STOP_OUT_LEVEL),
        equity=_money(figures.equity),
        margin=_money(figures.margin),
    )


def _order_event(order: MarginOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "type": order.type,
        "side": order.side,
        "count": str(order.count),
        "leverage": order.leverage,
        "instrument_id": order.terms.instrument_id,
        "instrument_active_id": order.terms.active_id,
        "limit_price": str(order.price) if order.type == "limit" and order.price is not None else None,
        "stop_price": str(order.price) if order.type == "stop" and order.price is not None else None,
        "take_profit": _level(order.take_profit, None),
        "stop_loss": _level(order.stop_loss, None),
        "status": order.status,
        "reject_status": order.reject_reason,
        "created_at": _ms(order.created),
        "updated_at": _ms(order.updated),
    }


def order_model(order: MarginOrder) -> Order:
    """An ``order-changed`` push / ``portfolio.get-orders`` item (``position_id`` = the internal id)."""
    family = order.terms.family
    return Order(
        id=order.id,
        instrument_type=order.terms.instrument_type,
        kind=order.type,
        status=order.status,
        position_id=order.position.id if order.position is not None else None,
        user_id=order.account.user.user_id,
        user_balance_id=order.account.balance_id,
        active_id=order.terms.active_id,
        raw_event={f"marginal_{family}_order_changed1": _order_event(order)},
    )


def legacy_order(order: MarginOrder) -> dict[str, Any]:
    """The community client's ``order`` reply: flat, ``position_id`` the external (numeric) id."""
    return {
        **_order_event(order),
        "instrument_type": order.terms.family,
        "user_balance_id": order.account.balance_id,
        "position_id": order.position.external_id if order.position is not None else None,
    }


def position_model(position: MarginPosition) -> Position:
    """A ``position-changed`` push / ``get-positions`` item of a margin position."""
    order = position.order
    family = order.terms.family
    closed = position.status == "closed"
    pnl = float(position.pnl)
    detail = {
        "order_ids": [order.id],
        "side": order.side,
        "count": str(order.count),
        "leverage": order.leverage,
        "margin": str(position.margin.quantize(CENT)),
        "swap": str(position.swap),
        "open_price": str(position.open_price),
        "instrument_id": order.terms.instrument_id,
        "take_profit": _level(order.take_profit, position.tp_price),
        "stop_loss": _level(order.stop_loss, position.sl_price),
    }
    return Position(
        id=position.id,
        external_id=position.external_id,
        status=position.status,
        active_id=order.terms.active_id,
        instrument_type=order.terms.instrument_type,
        instrument_id=order.terms.instrument_id,
        direction=order.side,
        invest=float(position.margin.quantize(CENT)),
        pnl=pnl,
        pnl_net=float(position.pnl + position.swap),
        pnl_realized=pnl if closed else 0.0,
        close_profit=float((position.margin + position.pnl).quantize(CENT)) if closed else None,
        close_reason=position.close_reason,
        open_time=_ms(position.open_time),
        close_time=_ms(position.close_time) if position.close_time is not None else None,
        open_quote=float(position.open_price),
        close_quote=float(position.close_price) if position.close_price is not None else None,
        expected_profit=pnl,
        user_id=order.account.user.user_id,
        user_balance_id=order.account.balance_id,
        source="trading",
        version=position.version,
        raw_event={f"marginal_{family}_position_changed1": detail, "order_ids": [order.id]},
    )


def position_state(position: MarginPosition) -> PositionState:
    """One entry of ``positions-state``: the live figures of an open position."""
    pnl = float(position.pnl)
    return PositionState(
        id=position.id,
        instrument_type=position.order.terms.instrument_type,
        sell_profit=float(position.margin + position.pnl),
        margin=float(position.margin),
        current_price=float(position.current),
        quote_timestamp=_ms(position.quote_time),
        pnl=pnl,
        pnl_net=float(position.pnl + position.swap),
        open_price=float(position.open_price),
        expected_profit=pnl,
        currency_conversion=1.0,
    )
