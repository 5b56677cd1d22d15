"""Trading payloads: the open-option request and reply, positions, orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from iqwire.models.base import Model
from iqwire.models.common import Outcome, seconds_to_datetime

__all__ = [
    "ActualCommission",
    "CommissionChangedError",
    "CommissionChangedResult",
    "HistoryPositions",
    "OpenOptionRequest",
    "Option",
    "OptionInsurance",
    "Order",
    "OrdersResponse",
    "Position",
    "PositionsResponse",
    "TradingGroupParams",
    "TradingLimits",
    "TradingVolume",
    "timestamp_seconds",
]


def timestamp_seconds(value: float) -> float:
    """Normalise a wire timestamp to seconds: the platform sends seconds or milliseconds.

    >>> timestamp_seconds(1770899394), timestamp_seconds(1770899394000)
    (1770899394, 1770899394.0)
    """
    return value / 1000 if value > 100_000_000_000 else value


class OpenOptionRequest(Model, kw_only=True, frozen=True):
    """The body of ``binary-options.open-option`` 2.0.

    The web client sends ``expired`` = server time + ``expiration_size`` and the
    current price as ``value``; the official SDK sends ``expired: 0`` and no
    ``value``/``refund_value``. Both are valid. The community client's 1.0 (turbo
    and binary) sends no ``profit_percent`` and no ``expiration_size``.
    """

    user_balance_id: int
    active_id: int
    option_type_id: int
    direction: str
    expired: int
    price: float
    profit_percent: float | None = None
    expiration_size: int | None = None
    value: int | None = None
    refund_value: float | None = None


class Option(Model, kw_only=True, frozen=True):
    """The ``option`` reply: the placed trade (``value`` is the open price, a float)."""

    id: int
    act: int
    direction: str
    price: float
    exp: int
    value: float
    user_id: int | None = None
    created: int | None = None
    time_rate: int | None = None
    type: str | None = None
    profit_income: float | None = None
    profit_return: float | None = None
    rollover_params: dict[str, Any] | None = None

    @property
    def opened_at(self) -> int | None:
        """Open time in unix seconds (``created``, or the SDK's ``time_rate``)."""
        return self.created if self.created is not None else self.time_rate

    @property
    def expires_at(self) -> datetime:
        """Expiry as a UTC datetime."""
        return seconds_to_datetime(self.exp)


class ActualCommission(Model, kw_only=True, frozen=True):
    """The active's commission now, in a 4117 error."""

    active_id: int
    commission: float
    option_type: int | None = None


class CommissionChangedResult(Model, kw_only=True, frozen=True):
    """``result`` of a 4117 error."""

    actual_commission: ActualCommission


class CommissionChangedError(Model, kw_only=True, frozen=True):
    """The ``msg`` of a 4117 reply to ``open-option``."""

    result: CommissionChangedResult
    message: str | None = None


class Position(Model, kw_only=True, frozen=True, omit_defaults=False):
    """A position, through its life: ``open`` with ``result: "opened"``, then ``closed``.

    The reference's web capture and the official SDK show different fields for
    the same event; this model is their superset. ``outcome`` normalises the
    wire's ``close_reason``/``result`` (``"loose"`` becomes :attr:`Outcome.LOSS`).
    Explicit nulls are kept on the wire, as the platform sends them.

    Example::

        if position.is_closed:
            print(position.outcome, position.pnl)
    """

    id: int | str
    status: str
    active_id: int | None = None
    external_id: int | None = None
    instrument_type: str | None = None
    instrument_id: str | None = None
    direction: str | None = None
    result: str | None = None
    investment: float | None = None
    invest: float | None = None
    pnl: float | None = None
    pnl_net: float | None = None
    pnl_realized: float | None = None
    close_profit: float | None = None
    profit_amount: float | None = None
    close_reason: str | None = None
    open_time: int | None = None
    close_time: int | None = None
    expiration_time: int | None = None
    expiration_size: int | None = None
    expiration_value: float | None = None
    open_quote: float | None = None
    close_quote: float | None = None
    expected_profit: float | None = None
    user_id: int | None = None
    user_balance_id: int | None = None
    source: str | None = None
    version: int | None = None
    raw_event: dict[str, Any] | None = None

    @property
    def is_closed(self) -> bool:
        """Whether the position has closed."""
        return self.status == "closed"

    @property
    def option_id(self) -> int | None:
        """The option id this position belongs to (``external_id``, else a numeric ``id``)."""
        if self.external_id is not None:
            return self.external_id
        return self.id if isinstance(self.id, int) else None

    @property
    def amount(self) -> float | None:
        """The amount invested (``investment``, or the SDK's ``invest``)."""
        return self.investment if self.investment is not None else self.invest

    @property
    def open_time_s(self) -> float | None:
        """When it opened, in unix seconds (the wire sends seconds or milliseconds)."""
        return None if self.open_time is None else timestamp_seconds(self.open_time)

    @property
    def close_time_s(self) -> float | None:
        """When it closed, in unix seconds (the wire sends seconds or milliseconds)."""
        return None if self.close_time is None else timestamp_seconds(self.close_time)

    @property
    def expiration_time_s(self) -> float | None:
        """When it expires, in unix seconds (the wire sends seconds or milliseconds)."""
        return None if self.expiration_time is None else timestamp_seconds(self.expiration_time)

    @property
    def outcome(self) -> Outcome | None:
        """How it closed; ``None`` while open; ``Outcome.UNKNOWN`` for unseen values."""
        if not self.is_closed:
            return None
        outcome = Outcome.from_wire(self.close_reason or self.result)
        if outcome is Outcome.UNKNOWN and self.close_reason == "expired":
            # Digital options close "expired"; how they ended is in ``result``, else in the P&L.
            outcome = Outcome.from_wire(self.result)
            if outcome is Outcome.UNKNOWN and self.pnl is not None:
                outcome = Outcome.WIN if self.pnl > 0 else Outcome.LOSS if self.pnl < 0 else Outcome.EQUAL
        return outcome


class PositionsResponse(Model, kw_only=True, frozen=True):
    """The ``positions`` reply of ``portfolio.get-positions`` (``limit``/``total`` for paging)."""

    positions: list[Position]
    limit: int | None = None
    total: int | None = None


class HistoryPositions(Model, kw_only=True, frozen=True):
    """The ``history-positions`` reply of ``portfolio.get-history-positions``."""

    positions: list[Position]
    limit: int | None = None
    total: int | None = None


class Order(Model, kw_only=True, frozen=True):
    """An order (``portfolio.get-orders`` entry, ``order-changed`` push)."""

    id: int | str | None = None
    instrument_type: str | None = None
    kind: str | None = None
    status: str | None = None
    position_id: int | str | None = None
    user_id: int | None = None
    user_balance_id: int | None = None
    active_id: int | None = None
    raw_event: dict[str, Any] | None = None

    @property
    def is_terminal(self) -> bool:
        """Whether the order reached ``filled``, ``canceled`` or ``rejected``."""
        return self.status in {"filled", "canceled", "rejected"}


class OrdersResponse(Model, kw_only=True, frozen=True):
    """The ``orders`` reply: the reference says ``orders``, the SDK reads ``items``."""

    orders: list[Order] | None = None
    items: list[Order] | None = None

    def all(self) -> list[Order]:
        """Every order, whichever key the server used."""
        return list(self.orders or []) + list(self.items or [])


class TradingLimits(Model, kw_only=True, frozen=True):
    """Limits of one instrument type for the user's trading group."""

    min_amount: float
    max_amount: float
    max_open_positions: int | None = None


class TradingGroupParams(Model, kw_only=True, frozen=True):
    """The reply of ``trading-settings.get-trading-group-params`` (shape not captured)."""

    user_group_id: int | None = None
    limits: dict[str, TradingLimits] = msgspec.field(default_factory=dict)


class TradingVolume(Model, kw_only=True, frozen=True):
    """The reply of ``user-activity.get-trading-volume`` (shape not captured)."""

    volume: float
    currency: str | None = None
    user_id: int | None = None
    period: str | None = None


class OptionInsurance(Model, kw_only=True, frozen=True):
    """The reply of ``cashback.get-option-insurance`` (shape not captured)."""

    enabled: bool
    percent: float | None = None
    max_amount: float | None = None
    currency: str | None = None
