"""Enumerations, constants and price helpers shared by every payload model."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

__all__ = [
    "BLITZ_OPTION_TYPE_ID",
    "BINARY_OPTION_TYPE_ID",
    "PRICE_SCALE",
    "STATUS_OK",
    "STATUS_PAYOUT_CHANGED",
    "TURBO_OPTION_TYPE_ID",
    "BalanceType",
    "Direction",
    "Outcome",
    "ns_to_datetime",
    "price_to_value",
    "seconds_to_datetime",
    "value_to_price",
]

#: ``option_type_id`` of a blitz option (seconds-long expiries).
BLITZ_OPTION_TYPE_ID = 12
#: ``option_type_id`` of a turbo option.
TURBO_OPTION_TYPE_ID = 3
#: ``option_type_id`` of a binary option.
BINARY_OPTION_TYPE_ID = 1
#: ``status`` of a successful response.
STATUS_OK = 2000
#: ``status`` of an ``open-option`` refused because the payout moved.
STATUS_PAYOUT_CHANGED = 4117
#: Prices travel as integers: ``value = price * PRICE_SCALE``.
PRICE_SCALE = 1_000_000


class BalanceType(enum.IntEnum):
    """The kind of a balance (``type`` on the wire).

    Types the platform adds later decode to a pseudo-member named ``UNKNOWN_<n>``
    instead of failing the whole response.
    """

    #: Real money. Trading on it needs ``allow_real_money=True``.
    REAL = 1
    #: A tournament balance; trades like demo.
    TOURNAMENT = 2
    #: The practice balance (10,000 USD when reset).
    DEMO = 4

    @classmethod
    def _missing_(cls, value: object) -> BalanceType | None:
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            return member
        return None


class Direction(enum.StrEnum):
    """Which way an option bets: ``call`` (price ends higher) or ``put`` (lower)."""

    CALL = "call"
    PUT = "put"


class Outcome(enum.StrEnum):
    """How a closed position ended.

    The values are the user's words (``print(outcome)`` shows ``loss``); the
    wire spells a loss ``"loose"``, and :meth:`from_wire` (the only place that
    knows) turns it into ``LOSS``. Values never seen before become ``UNKNOWN``
    rather than an error.
    """

    WIN = "win"
    LOSS = "loss"
    EQUAL = "equal"
    SOLD = "sold"
    UNKNOWN = "unknown"

    @classmethod
    def from_wire(cls, value: str | None) -> Outcome:
        """Map a wire ``close_reason``/``result`` to an outcome.

        >>> Outcome.from_wire("loose")
        <Outcome.LOSS: 'loss'>
        """
        if value is None:
            return cls.UNKNOWN
        return _WIRE_OUTCOMES.get(value, cls.UNKNOWN)


_WIRE_OUTCOMES = {
    "win": Outcome.WIN,
    "loose": Outcome.LOSS,
    "lose": Outcome.LOSS,
    "loss": Outcome.LOSS,
    "equal": Outcome.EQUAL,
    "refund": Outcome.EQUAL,
    "sold": Outcome.SOLD,
    # Digital positions closed early by the user report "default".
    "default": Outcome.SOLD,
}


def price_to_value(price: float) -> int:
    """Encode a price as the wire's integer ``value``.

    >>> price_to_value(292.196775)
    292196775
    """
    return round(price * PRICE_SCALE)


def value_to_price(value: int) -> float:
    """Decode the wire's integer ``value`` into a price.

    >>> value_to_price(292196775)
    292.196775
    """
    return value / PRICE_SCALE


def seconds_to_datetime(seconds: float) -> datetime:
    """A UTC datetime from unix seconds."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def ns_to_datetime(ns: int) -> datetime:
    """A UTC datetime from unix nanoseconds (microsecond precision)."""
    return datetime.fromtimestamp(ns / 1_000_000_000, tz=UTC)
