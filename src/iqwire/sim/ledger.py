"""Every position and order of every product, and the events that become pushes.

The ledger is pure: products (``sim/blitz.py``, …) decide what to open and how to
close it, and record it here. Every change comes back as :class:`LedgerEvent`
values that the engine turns into pushes, so a balance change can never happen
without its ``balance-changed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from iqwire.models import Order, Position
from iqwire.models.trading import timestamp_seconds
from iqwire.sim.accounts import User
from iqwire.sim.errors import FORBIDDEN, REJECTED, SimError

__all__ = [
    "INSUFFICIENT_FUNDS",
    "BalanceUpdated",
    "Ledger",
    "LedgerEvent",
    "OrderUpdated",
    "PositionUpdated",
    "Record",
]

INSUFFICIENT_FUNDS = "Insufficient funds for this transaction."


@dataclass(frozen=True)
class BalanceUpdated:
    """A balance changed; push ``balance-changed`` to its user."""

    user: User
    balance_id: int


@dataclass(frozen=True)
class PositionUpdated:
    """A position opened, changed or closed; push ``position-changed`` to its user."""

    user: User
    position: Position


@dataclass(frozen=True)
class OrderUpdated:
    """An order changed; push ``order-changed`` to its user."""

    user: User
    order: Order


LedgerEvent = BalanceUpdated | PositionUpdated | OrderUpdated


@dataclass
class Record:
    """One position and the order that opened it; ``terms`` holds what the product needs later."""

    user: User
    position: Position
    order: Order
    product: str
    terms: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> int:
        """The ledger key: the option (or position) id as a number."""
        return self.position.option_id or 0


@dataclass
class Ledger:
    """Every position ever opened, open ones indexed for settlement.

    ``expiry_tolerance`` is how far (seconds) a client's ``expired`` may be from
    the server's own expiry.
    """

    expiry_tolerance: int = 2
    first_option_id: int = 13_607_084_149
    _records: dict[int, Record] = field(default_factory=dict)
    _open: dict[int, Record] = field(default_factory=dict)
    _orders: dict[int, tuple[User, Order]] = field(default_factory=dict)
    _next_id: int = 0

    def next_id(self) -> int:
        """A fresh id, shared by options, orders and positions (ids never collide)."""
        new = self.first_option_id + self._next_id
        self._next_id += 1
        return new

    # -- money ---------------------------------------------------------------------

    @staticmethod
    def debit(user: User, balance_id: int, amount: float) -> list[LedgerEvent]:
        """Take a stake from a balance.

        Raises:
            SimError: 4003 for another user's balance, 4008 for insufficient funds.
        """
        balance = user.balance(balance_id)
        if balance is None:
            raise SimError(FORBIDDEN, f"balance {balance_id} does not belong to this user")
        if amount > balance.amount + 1e-9:
            raise SimError(REJECTED, INSUFFICIENT_FUNDS)
        balance.amount = round(balance.amount - amount, 2)
        return [BalanceUpdated(user, balance_id)]

    @staticmethod
    def credit(user: User, balance_id: int, amount: float) -> list[LedgerEvent]:
        """Pay an amount into a balance (nothing, and no push, for zero)."""
        balance = user.balance(balance_id)
        if balance is None or not amount:
            return []
        balance.amount = round(balance.amount + amount, 2)
        return [BalanceUpdated(user, balance_id)]

    # -- records -------------------------------------------------------------------

    def add(self, record: Record) -> None:
        """Record a newly opened position (and its order)."""
        self._records[record.key] = record
        if record.position.status == "open":
            self._open[record.key] = record
        self.add_order(record.user, record.order)

    def add_order(self, user: User, order: Order) -> None:
        """Record an order, also one that opened no position (a rejected one)."""
        if isinstance(order.id, int):
            self._orders[order.id] = (user, order)

    def update(self, record: Record, position: Position) -> None:
        """Replace a record's position; a closed one leaves the open index."""
        record.position = position
        if position.status != "open":
            self._open.pop(record.key, None)

    def finish(
        self,
        record: Record,
        *,
        result: str,
        reason: str,
        paid: float,
        when: float,
        quote: float | None,
        expiration_value: float | None = None,
        raw_event: dict[str, Any] | None = None,
    ) -> list[LedgerEvent]:
        """Close a record once: the close fields, ``paid`` credited, the events to push.

        ``pnl`` (and ``pnl_net``, ``pnl_realized``, ``profit_amount``) is ``paid`` minus
        the amount invested; an already closed record gives no events.
        """
        if not self.close(record):
            return []
        position = record.position
        pnl = round(paid - (position.amount or 0.0), 2)
        closed = msgspec.structs.replace(
            position,
            status="closed",
            result=result,
            close_reason=reason,
            pnl=pnl,
            pnl_net=pnl,
            pnl_realized=pnl,
            close_profit=paid,
            profit_amount=pnl,
            close_time=int(when),
            close_quote=quote,
            expiration_value=expiration_value,
            version=(position.version or 1) + 1,
            raw_event=position.raw_event if raw_event is None else raw_event,
        )
        self.update(record, closed)
        return [
            *self.credit(record.user, position.user_balance_id or 0, paid),
            PositionUpdated(record.user, closed),
        ]

    def close(self, record: Record) -> bool:
        """Take a record out of the open index; ``False`` if it was not open (never close twice)."""
        return self._open.pop(record.key, None) is not None

    def open_records(self, product: str) -> list[Record]:
        """A product's open records, oldest first."""
        return [r for r in self._open.values() if r.product == product]

    def record(self, key: int) -> Record | None:
        """A record by option/position id (the caller checks ownership)."""
        return self._records.get(key)

    # -- queries -------------------------------------------------------------------

    def open_positions(self, user: User) -> list[Position]:
        """The user's open positions, oldest first."""
        return [r.position for r in self._records.values() if r.user is user and r.position.status == "open"]

    def closed_positions(self, user: User) -> list[Position]:
        """The user's closed positions, most recently closed first."""
        closed = [
            r.position for r in self._records.values() if r.user is user and r.position.status == "closed"
        ]
        # Margin positions carry ms, options seconds: order in seconds.
        closed.sort(key=lambda p: (timestamp_seconds(p.close_time or 0), p.option_id or 0), reverse=True)
        return closed

    def orders(self, user: User) -> list[Order]:
        """The user's orders."""
        return [order for owner, order in self._orders.values() if owner is user]

    def position(self, option_id: int) -> Position | None:
        """Any position by option id (the caller checks ownership)."""
        record = self._records.get(option_id)
        return None if record is None else record.position

    def all_positions(self) -> list[Position]:
        """Every position of every user (for tests and reports)."""
        return [r.position for r in self._records.values()]
