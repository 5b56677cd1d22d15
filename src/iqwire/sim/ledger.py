"""Blitz options from purchase to settlement, and the positions they leave behind.

The ledger is pure: the caller passes the time and the prices. Every change comes
back as :class:`LedgerEvent` values that the engine turns into pushes, so a balance
change can never happen without its ``balance-changed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from iqwire.models import BLITZ_OPTION_TYPE_ID, OpenOptionRequest, Option, Order, Position
from iqwire.sim.accounts import User
from iqwire.sim.errors import FORBIDDEN, NOT_SUPPORTED, PAYOUT_CHANGED, REJECTED, SimError

__all__ = ["BalanceUpdated", "Ledger", "LedgerEvent", "OrderUpdated", "PositionUpdated", "Quote"]

INSUFFICIENT_FUNDS = "Insufficient funds for this transaction."


@dataclass(frozen=True)
class BalanceUpdated:
    """A balance changed; push ``balance-changed`` to its user."""

    user: User
    balance_id: int


@dataclass(frozen=True)
class PositionUpdated:
    """A position opened or closed; push ``position-changed`` to its user."""

    user: User
    position: Position


@dataclass(frozen=True)
class OrderUpdated:
    """An order changed; push ``order-changed`` to its user."""

    user: User
    order: Order


LedgerEvent = BalanceUpdated | PositionUpdated | OrderUpdated


@dataclass(frozen=True)
class Quote:
    """What the ledger needs to know about an active at a moment."""

    active_id: int
    ticker: str
    is_open: Callable[[float], bool]
    price_at: Callable[[float], float | None]
    commission: float
    expirations: tuple[int, ...]
    min_amount: float
    max_amount: float


@dataclass
class _Record:
    user: User
    position: Position
    order: Order
    payout: float


@dataclass
class Ledger:
    """Every option ever placed, open ones first to settle.

    ``expiry_tolerance`` is how far (seconds) a client's ``expired`` may be from
    ``floor(server time) + expiration_size``.
    """

    expiry_tolerance: int = 2
    first_option_id: int = 13_607_084_149
    _records: dict[int, _Record] = field(default_factory=dict)
    _open: dict[int, _Record] = field(default_factory=dict)
    _next_id: int = 0

    def open_option(
        self, user: User, body: OpenOptionRequest, quote: Quote, now: float
    ) -> tuple[Option, list[LedgerEvent]]:
        """Validate and place a blitz option at ``now``.

        Raises:
            SimError: with the status and message the platform would send.
        """
        if body.option_type_id != BLITZ_OPTION_TYPE_ID:
            raise SimError(
                NOT_SUPPORTED,
                f"option type {body.option_type_id} is not supported by the simulator (blitz is 12)",
            )
        balance = user.balance(body.user_balance_id)
        if balance is None:
            raise SimError(FORBIDDEN, f"balance {body.user_balance_id} does not belong to this user")
        if body.direction not in ("call", "put"):
            raise SimError(REJECTED, f"direction must be 'call' or 'put', not {body.direction!r}")
        size = body.expiration_size
        if size is None or size not in quote.expirations:
            allowed = ", ".join(str(e) for e in quote.expirations)
            raise SimError(
                REJECTED, f"expiration_size {size} is not offered for this active (offered: {allowed})"
            )
        created = int(now)
        expires = created + size
        if body.expired != 0 and abs(body.expired - expires) > self.expiry_tolerance:
            raise SimError(
                REJECTED, f"expired {body.expired} does not match server time + expiration_size ({expires})"
            )
        if not quote.is_open(now) or not quote.is_open(expires):
            raise SimError(REJECTED, "The active is closed for trading now.")
        if not quote.min_amount <= body.price <= quote.max_amount:
            raise SimError(REJECTED, f"amount must be between {quote.min_amount:g} and {quote.max_amount:g}")
        if body.price > balance.amount + 1e-9:
            raise SimError(REJECTED, INSUFFICIENT_FUNDS)
        payout = 100 - quote.commission
        if abs(body.profit_percent - payout) > 1e-9:
            raise SimError(
                PAYOUT_CHANGED,
                "The option has not been purchased because of the profit rate change.",
                {
                    "actual_commission": {
                        "active_id": quote.active_id,
                        "commission": quote.commission,
                        "option_type": BLITZ_OPTION_TYPE_ID,
                    }
                },
            )
        open_price = quote.price_at(now)
        if open_price is None:
            raise SimError(REJECTED, "The active is closed for trading now.")

        option_id = self.first_option_id + self._next_id
        self._next_id += 1
        balance.amount = round(balance.amount - body.price, 2)
        position = Position(
            id=option_id,
            external_id=option_id,
            status="open",
            result="opened",
            instrument_type="blitz-option",
            instrument_id=f"blitz_{quote.ticker.replace('-', '_')}",
            active_id=quote.active_id,
            direction=body.direction,
            investment=body.price,
            invest=body.price,
            open_time=created,
            expiration_time=expires,
            expiration_size=size,
            open_quote=open_price,
            expected_profit=round(body.price * payout / 100, 2),
            user_id=user.user_id,
            user_balance_id=balance.id,
            source="binary-options",
            version=1,
            raw_event={
                "binary_options_option_changed1": {
                    "order_ids": [option_id],
                    "direction": body.direction,
                    "expiration_time": expires,
                }
            },
        )
        order = Order(
            id=option_id,
            instrument_type="blitz-option",
            kind="regular",
            status="filled",
            position_id=option_id,
            user_id=user.user_id,
            user_balance_id=balance.id,
            active_id=quote.active_id,
        )
        record = _Record(user, position, order, payout)
        self._records[option_id] = record
        self._open[option_id] = record
        option = Option(
            id=option_id,
            act=quote.active_id,
            direction=body.direction,
            price=body.price,
            exp=expires,
            value=open_price,
            user_id=user.user_id,
            created=created,
            time_rate=created,
            type="blitz",
            profit_income=100 + payout,
            profit_return=0,
            rollover_params={"amount_multiplier": 2, "max_count": 1, "offset": 0, "deadtime": 7},
        )
        events: list[LedgerEvent] = [
            BalanceUpdated(user, balance.id),
            OrderUpdated(user, order),
            PositionUpdated(user, position),
        ]
        return option, events

    def next_expiry(self) -> int | None:
        """When the earliest open option expires, or ``None``."""
        if not self._open:
            return None
        return min(r.position.expiration_time or 0 for r in self._open.values())

    def settle_due(self, now: float, price_at: Callable[[int, float], float | None]) -> list[LedgerEvent]:
        """Close every open option whose expiry is at or before ``now``, oldest first."""
        due = sorted(
            (r for r in self._open.values() if (r.position.expiration_time or 0) <= now),
            key=lambda r: (r.position.expiration_time or 0, r.position.option_id or 0),
        )
        events: list[LedgerEvent] = []
        for record in due:
            events.extend(self._settle(record, price_at))
        return events

    def _settle(self, record: _Record, price_at: Callable[[int, float], float | None]) -> list[LedgerEvent]:
        position = record.position
        option_id = position.option_id or 0
        if self._open.pop(option_id, None) is None:  # never settle twice
            return []
        expires = position.expiration_time or 0
        close_price = price_at(position.active_id or 0, expires)
        open_price = position.open_quote or 0.0
        if close_price is None:
            close_price = open_price
        amount = position.investment or 0.0
        if close_price == open_price:
            result, pnl, close_profit = "equal", 0.0, amount
        elif (close_price > open_price) == (position.direction == "call"):
            pnl = round(amount * record.payout / 100, 2)
            result, close_profit = "win", round(amount + pnl, 2)
        else:
            result, pnl, close_profit = "loose", -amount, 0.0
        closed = msgspec.structs.replace(
            position,
            status="closed",
            result=result,
            close_reason=result,
            pnl=pnl,
            pnl_net=pnl,
            pnl_realized=pnl,
            close_profit=close_profit,
            profit_amount=pnl,
            close_time=expires,
            expiration_value=close_price,
            close_quote=close_price,
            version=(position.version or 1) + 1,
        )
        record.position = closed
        balance = record.user.balance(position.user_balance_id or 0)
        events: list[LedgerEvent] = [PositionUpdated(record.user, closed)]
        if balance is not None and close_profit:
            balance.amount = round(balance.amount + close_profit, 2)
            events.insert(0, BalanceUpdated(record.user, balance.id))
        return events

    # -- queries -------------------------------------------------------------------

    def open_positions(self, user: User) -> list[Position]:
        """The user's open positions, oldest first."""
        return [r.position for r in self._records.values() if r.user is user and r.position.status == "open"]

    def closed_positions(self, user: User) -> list[Position]:
        """The user's closed positions, most recently closed first."""
        closed = [
            r.position for r in self._records.values() if r.user is user and r.position.status == "closed"
        ]
        closed.sort(key=lambda p: (p.close_time or 0, p.option_id or 0), reverse=True)
        return closed

    def orders(self, user: User) -> list[Order]:
        """The user's orders."""
        return [r.order for r in self._records.values() if r.user is user]

    def position(self, option_id: int) -> Position | None:
        """Any position by option id (the caller checks ownership)."""
        record = self._records.get(option_id)
        return None if record is None else record.position

    def all_positions(self) -> list[Position]:
        """Every position of every user (for tests and reports)."""
        return [r.position for r in self._records.values()]
