"""Take-profit and stop-loss as the user writes them, and as the wire carries them.

A level is a bare number (a price), ``(value, kind)`` with ``kind`` one of
``price``, ``pips``, ``delta`` (price units) or ``pnl`` (money), or a mapping
``{"type": kind, "value": value}`` (what a position reports). On the wire it is
``{value, type}`` with the value as a decimal string (the SDK's order bodies), or
``take_profit_kind``/``take_profit_value`` (``change-tpsl``).

Example::

    parse_level(1.085, "take_profit")            # TpSl(value='1.085', type='price')
    parse_level((50, "pips"), "stop_loss")       # TpSl(value='50', type='pips')
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal, TypeAlias

from iqwire.errors import InvalidOrder
from iqwire.margin_math import to_decimal
from iqwire.models.margin import TpSl

__all__ = ["KEEP", "LEVEL_KINDS", "LevelInput", "level_fields", "parse_level"]

#: How a level may be written.
LEVEL_KINDS = ("price", "pips", "delta", "pnl")


class _Keep(enum.Enum):
    KEEP = "keep"


#: "Leave this level as it is" (the default of :meth:`MarginPosition.modify`).
KEEP: Literal[_Keep.KEEP] = _Keep.KEEP

#: A take-profit or stop-loss as the user may write it.
LevelInput: TypeAlias = (
    float | int | str | Decimal | tuple[Any, str] | Mapping[str, Any] | TpSl | Literal[_Keep.KEEP] | None
)


def parse_level(level: LevelInput, which: str) -> TpSl | None:
    """A level as the wire carries it (``None`` for none).

    Raises:
        InvalidOrder: an unknown kind, or a value that is not a positive number (nothing is sent).
    """
    if level is None or level is KEEP:
        return None
    value: Any
    if isinstance(level, TpSl):
        value, kind = level.value, level.type
    elif isinstance(level, tuple):
        value, kind = level
    elif isinstance(level, Mapping):
        value, kind = level.get("value"), str(level.get("type", "price"))
    else:
        value, kind = level, "price"
    if kind not in LEVEL_KINDS:
        raise InvalidOrder(f"{which} type must be one of {', '.join(LEVEL_KINDS)}, not {kind!r}")
    try:
        number = to_decimal(value)
    except ValueError:
        raise InvalidOrder(f"{which} must be a number, not {value!r}") from None
    if number <= 0:
        raise InvalidOrder(f"{which} must be positive, not {value!r}")
    return TpSl(value=str(number), type=kind)


def level_fields(take_profit: TpSl | None, stop_loss: TpSl | None) -> dict[str, Any]:
    """The ``change-tpsl`` fields of two levels (the wire's own spelling ``stop_lose``)."""
    return {
        "take_profit_kind": take_profit.type if take_profit is not None else None,
        "take_profit_value": take_profit.value if take_profit is not None else None,
        "stop_lose_kind": stop_loss.type if stop_loss is not None else None,
        "stop_lose_value": stop_loss.value if stop_loss is not None else None,
    }
