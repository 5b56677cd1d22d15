"""What blitz, turbo and binary options share: a stake, a payout fixed at purchase,
an expiry, and settlement by the last price at or before the expiry.

The products (``sim/blitz.py``, ``sim/binary_options.py``) check their own rules
(expiry grid, deadtime) and then call :func:`open_option`; the engine calls their
``step``, which calls :func:`settle` for every record that fell due.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from iqwire.models import OpenOptionRequest, Option, Order, Position
from iqwire.sim.accounts import User
from iqwire.sim.errors import FORBIDDEN, PAYOUT_CHANGED, REJECTED, SimError
from iqwire.sim.ledger import INSUFFICIENT_FUNDS, Ledger, LedgerEvent, OrderUpdated, PositionUpdated, Record

__all__ = [
    "Listing",
    "OptionTerms",
    "check_market",
    "check_order",
    "check_payout",
    "open_option",
    "outcome",
    "settle",
    "settle_due",
]


@dataclass(frozen=True)
class Listing:
    """What an option product needs to know about an active at a moment."""

    active_id: int
    ticker: str
    is_open: Callable[[float], bool]
    price_at: Callable[[float], float | None]
    commission: float
    min_amount: float
    max_amount: float


@dataclass(frozen=True)
class OptionTerms:
    """One option's terms, decided by its product: type names, times, payout."""

    instrument_type: str
    option_type: str
    option_type_id: int
    created: int
    expires: int
    expiration_size: int | None
    payout: float


def check_order(user: User, body: OpenOptionRequest) -> None:
    """The balance is the caller's and the direction is call or put (4003, 4008)."""
    if user.balance(body.user_balance_id) is None:
        raise SimError(FORBIDDEN, f"balance {body.user_balance_id} does not belong to this user")
    if body.direction not in ("call", "put"):
        raise SimError(REJECTED, f"direction must be 'call' or 'put', not {body.direction!r}")


def check_market(user: User, body: OpenOptionRequest, listing: Listing, expires: int, now: float) -> None:
    """The market is open now and at expiry, the amount within limits and funded (all 4008)."""
    if not listing.is_open(now) or not listing.is_open(expires):
        raise SimError(REJECTED, "The active is closed for trading now.")
    if not listing.min_amount <= body.price <= listing.max_amount:
        raise SimError(REJECTED, f"amount must be between {listing.min_amount:g} and {listing.max_amount:g}")
    balance = user.balance(body.user_balance_id)
    if balance is None or body.price > balance.amount + 1e-9:
        raise SimError(REJECTED, INSUFFICIENT_FUNDS)


def check_payout(body: OpenOptionRequest, listing: Listing, option_type_id: int) -> float:
    """The payout (``100 - commission``); 4117 when the client's differs (1.0 sends none)."""
    payout = 100 - listing.commission
    if body.profit_percent is not None and abs(body.profit_percent - payout) > 1e-9:
        raise SimError(
            PAYOUT_CHANGED,
            "The option has not been purchased because of the profit rate change.",
            {
                "actual_commission": {
                    "active_id": listing.active_id,
                    "commission": listing.commission,
                    "option_type": option_type_id,
                }
            },
        )
    return payout


def open_option(
    ledger: Ledger,
    user: User,
    body: OpenOptionRequest,
    listing: Listing,
    terms: OptionTerms,
    now: float,
    product: str,
) -> tuple[Option, list[LedgerEvent]]:
    """Debit the stake, record the position and its order, and build the ``option`` reply.

    The open price is the last tick at or before ``now``.
    """
    open_price = listing.price_at(now)
    if open_price is None:
        raise SimError(REJECTED, "The active is closed for trading now.")
    option_id = ledger.next_id()
    events = ledger.debit(user, body.user_balance_id, body.price)
    position = Position(
        id=option_id,
        external_id=option_id,
        status="open",
        result="opened",
        instrument_type=terms.instrument_type,
        instrument_id=f"{terms.option_type}_{listing.ticker.replace('-', '_')}",
        active_id=listing.active_id,
        direction=body.direction,
        investment=body.price,
        invest=body.price,
        open_time=terms.created,
        expiration_time=terms.expires,
        expiration_size=terms.expiration_size,
        open_quote=open_price,
        expected_profit=round(body.price * terms.payout / 100, 2),
        user_id=user.user_id,
        user_balance_id=body.user_balance_id,
        source="binary-options",
        version=1,
        raw_event={
            "binary_options_option_changed1": {
                "order_ids": [option_id],
                "direction": body.direction,
                "expiration_time": terms.expires,
            }
        },
    )
    order = Order(
        id=option_id,
        instrument_type=terms.instrument_type,
        kind="regular",
        status="filled",
        position_id=option_id,
        user_id=user.user_id,
        user_balance_id=body.user_balance_id,
        active_id=listing.active_id,
    )
    ledger.add(Record(user, position, order, product, {"payout": terms.payout}))
    option = Option(
        id=option_id,
        act=listing.active_id,
        direction=body.direction,
        price=body.price,
        exp=terms.expires,
        value=open_price,
        user_id=user.user_id,
        created=terms.created,
        time_rate=terms.created,
        type=terms.option_type,
        profit_income=100 + terms.payout,
        profit_return=0,
        rollover_params={"amount_multiplier": 2, "max_count": 1, "offset": 0, "deadtime": 7},
    )
    return option, [*events, OrderUpdated(user, order), PositionUpdated(user, position)]


def outcome(open_price: float, close_price: float, direction: str | None) -> str:
    """``win`` if the price moved the chosen way, ``loose`` (sic) the other, ``equal`` unchanged."""
    if close_price == open_price:
        return "equal"
    return "win" if (close_price > open_price) == (direction == "call") else "loose"


def settle(
    ledger: Ledger, record: Record, price_at: Callable[[int, float], float | None]
) -> list[LedgerEvent]:
    """Close one option at its expiry by the last-price rule, once; pay the balance."""
    position = record.position
    expires = position.expiration_time or 0
    open_price = position.open_quote or 0.0
    close_price = price_at(position.active_id or 0, expires)
    if close_price is None:
        close_price = open_price
    amount = position.investment or 0.0
    result = outcome(open_price, close_price, position.direction)
    if result == "equal":
        paid = amount
    elif result == "win":
        paid = round(amount + round(amount * record.terms["payout"] / 100, 2), 2)
    else:
        paid = 0.0
    return ledger.finish(
        record,
        result=result,
        reason=result,
        paid=paid,
        when=expires,
        quote=close_price,
        expiration_value=close_price,
    )


def settle_due(
    ledger: Ledger, product: str, now: float, price_at: Callable[[int, float], float | None]
) -> list[LedgerEvent]:
    """Settle every open option of a product whose expiry is at or before ``now``, oldest first."""
    due = sorted(
        (r for r in ledger.open_records(product) if (r.position.expiration_time or 0) <= now),
        key=lambda r: (r.position.expiration_time or 0, r.key),
    )
    events: list[LedgerEvent] = []
    for record in due:
        events.extend(settle(ledger, record, price_at))
    return events
