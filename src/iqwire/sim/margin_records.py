"""What the margin book keeps and reports: accounts, orders, positions, figures, events.

Plain records (:mod:`iqwire.sim.margin_book` changes them); money is
:class:`~decimal.Decimal`, and what moves cash is rounded to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from iqwire import margin_math as mm
from iqwire.sim.accounts import User
from iqwire.sim.margin_instruments import MarginTerms

__all__ = [
    "CENT",
    "LEVEL_KINDS",
    "AccountChanged",
    "Figures",
    "Level",
    "MarginAccount",
    "MarginCalled",
    "MarginEvent",
    "MarginOrder",
    "MarginPosition",
    "OrderChanged",
    "OrderRequest",
    "PositionChanged",
    "cents",
]

CENT = Decimal("0.01")
_ZERO = Decimal(0)
#: Level kinds: the SDK's four, and the community client's ``percent`` (of the margin, in money).
LEVEL_KINDS = frozenset({"price", "pips", "delta", "pnl", "percent"})


def cents(value: Decimal) -> Decimal:
    """Money rounded to the cent, as it is booked."""
    return value.quantize(CENT)


@dataclass(frozen=True, slots=True)
class Level:
    """A take-profit or stop-loss as the client wrote it."""

    kind: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A place-order, whichever dialect sent it."""

    side: str
    balance_id: int
    count: Decimal
    leverage: int
    type: Literal["market", "limit", "stop"]
    price: Decimal | None = None
    take_profit: Level | None = None
    stop_loss: Level | None = None


@dataclass
class MarginAccount:
    """The margin service's account behind a marginal balance."""

    user: User
    balance_id: int
    cash: Decimal
    entries: list[tuple[str, Decimal]] = field(default_factory=list)
    margin_called: bool = False

    def book(self, kind: str, amount: Decimal) -> None:
        """Move cash and record the movement."""
        self.cash += amount
        self.entries.append((kind, amount))


@dataclass
class MarginPosition:
    """An open or closed margin position; prices in the quote currency."""

    id: str
    external_id: int
    order: MarginOrder
    open_price: Decimal
    open_time: float
    margin: Decimal
    current: Decimal
    quote_time: float
    tp_price: Decimal | None = None
    sl_price: Decimal | None = None
    swap: Decimal = _ZERO
    pnl: Decimal = _ZERO
    status: str = "open"
    close_reason: str | None = None
    close_price: Decimal | None = None
    close_time: float | None = None
    version: int = 1

    @property
    def side(self) -> mm.Side:
        """``buy`` or ``sell``."""
        return "buy" if self.order.side == "buy" else "sell"


@dataclass
class MarginOrder:
    """A market or pending order; ``type`` is what it became after the platform's conversion."""

    id: int
    account: MarginAccount
    terms: MarginTerms
    side: str
    count: Decimal
    leverage: int
    type: str
    price: Decimal | None
    take_profit: Level | None
    stop_loss: Level | None
    created: float
    status: str = "new"
    position: MarginPosition | None = None
    reject_reason: str | None = None
    updated: float = 0.0


@dataclass(frozen=True, slots=True)
class Figures:
    """An account's figures now: what ``marginal-balance`` reports."""

    cash: Decimal
    pnl: Decimal
    swap: Decimal
    equity: Decimal
    margin: Decimal
    available: Decimal
    level: Decimal | None


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """An order was placed, filled, canceled, rejected or modified."""

    order: MarginOrder
    modified: bool = False


@dataclass(frozen=True, slots=True)
class PositionChanged:
    """A position opened, changed (swap, TP/SL) or closed."""

    position: MarginPosition


@dataclass(frozen=True, slots=True)
class AccountChanged:
    """An account's cash or open positions changed (``cash`` also moves the billing balance)."""

    account: MarginAccount
    cash_moved: bool


@dataclass(frozen=True, slots=True)
class MarginCalled:
    """The margin level fell below the call level."""

    account: MarginAccount
    figures: Figures


MarginEvent = OrderChanged | PositionChanged | AccountChanged | MarginCalled
