"""Margin trading arithmetic: margin, profit and loss, equity, swap, margin call, stop-out.

Pure functions over :class:`~decimal.Decimal` money, with no state and no I/O, so
the simulator, the trader's pre-trade checks and a backtest all compute the same
numbers. Quantities are in units of the instrument (a forex ``count`` of 100000 is
one lot of the base currency; a CFD or crypto ``count`` is shares or coins), prices
in the quote currency, and ``rate`` converts the quote currency to the account
currency (1 when they agree). Worked examples of every formula are in
``docs/simulator.md``.

Example::

    from decimal import Decimal as D
    margin(D(100_000), D("1.08"), 100)                      # Decimal('1080')
    pnl("buy", D(100_000), D("1.08000"), D("1.08100"))      # Decimal('100.000')
    margin_level(D(1100), D(1080))                          # about 101.85 (%)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

__all__ = [
    "Exposure",
    "Level",
    "Side",
    "TpSlKind",
    "close_price",
    "equity",
    "fill_price",
    "is_triggered",
    "leverage_for_equity",
    "margin",
    "margin_level",
    "notional",
    "pending_kind",
    "pnl",
    "stop_out",
    "swap_charge",
    "target_price",
    "to_decimal",
]

Side = Literal["buy", "sell"]
#: How a take-profit or stop-loss is written: an absolute ``price``, a distance in
#: ``pips`` or in price units (``delta``), or a profit/loss in money (``pnl``).
TpSlKind = Literal["price", "pips", "delta", "pnl"]
#: What a level closes: a take-profit on the profitable side, a stop-loss on the losing one.
Level = Literal["take_profit", "stop_loss"]

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)


def to_decimal(value: str | float | int | Decimal) -> Decimal:
    """A wire number (often a decimal string) as a Decimal; floats go through ``repr``.

    Raises:
        ValueError: not a finite number.

    Example::

        to_decimal("1000"), to_decimal(1.08)   # Decimal('1000'), Decimal('1.08')
    """
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        raise ValueError(f"not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def _sign(side: Side) -> int:
    return 1 if side == "buy" else -1


def notional(count: Decimal, price: Decimal, rate: Decimal = Decimal(1)) -> Decimal:
    """What the position is worth, in the account currency: ``count × price × rate``."""
    return count * price * rate


def margin(count: Decimal, price: Decimal, leverage: int, rate: Decimal = Decimal(1)) -> Decimal:
    """The collateral a position locks: ``notional / leverage``.

    Raises:
        ValueError: ``leverage`` below 1.

    Example::

        margin(Decimal(100_000), Decimal("1.08"), 100)   # 1080 (USD account, EUR/USD)
    """
    if leverage < 1:
        raise ValueError(f"leverage must be at least 1, got {leverage}")
    return notional(count, price, rate) / leverage


def fill_price(side: Side, bid: Decimal, ask: Decimal) -> Decimal:
    """Where a position opens: a buy pays the ask, a sell receives the bid."""
    return ask if side == "buy" else bid


def close_price(side: Side, bid: Decimal, ask: Decimal) -> Decimal:
    """Where a position closes: a buy sells at the bid, a sell buys back at the ask."""
    return bid if side == "buy" else ask


def pnl(
    side: Side, count: Decimal, open_price: Decimal, current: Decimal, rate: Decimal = Decimal(1)
) -> Decimal:
    """Unrealised profit of a position valued at ``current`` (its close price now).

    ``(current - open) × count × rate``, negated for a sell.

    Example::

        pnl("sell", Decimal(2), Decimal(100), Decimal(103))   # -6
    """
    return _sign(side) * (current - open_price) * count * rate


def equity(cash: Decimal, pnls: Iterable[Decimal]) -> Decimal:
    """What the account is worth now: ``cash + Σ pnl`` (swap is already in ``cash``)."""
    return cash + sum(pnls, _ZERO)


def margin_level(equity_value: Decimal, used_margin: Decimal) -> Decimal | None:
    """``equity / margin × 100`` in percent, or ``None`` without open positions."""
    if used_margin <= 0:
        return None
    return equity_value / used_margin * _HUNDRED


def swap_charge(
    side: Side,
    count: Decimal,
    price: Decimal,
    fee_long: Decimal,
    fee_short: Decimal,
    rate: Decimal = Decimal(1),
) -> Decimal:
    """The overnight fee taken at the daily rollover: ``-notional × fee% / 100``.

    ``fee_long``/``fee_short`` are percent of the notional per night, positive
    meaning a charge; a negative fee is a credit.

    Example::

        swap_charge("buy", Decimal(100_000), Decimal("1.08"), Decimal("0.01"), Decimal("0.005"))  # -10.8
    """
    fee = fee_long if side == "buy" else fee_short
    return -notional(count, price, rate) * fee / _HUNDRED


def leverage_for_equity(default: int, steps: Sequence[tuple[Decimal, int]], equity_usd: Decimal) -> int:
    """The leverage a dynamic profile allows at an equity (the highest step not above it).

    ``steps`` are ``(equity threshold, leverage)`` in increasing thresholds.

    Example::

        leverage_for_equity(500, [(D(0), 500), (D(10_000), 200)], D(25_000))   # 200
    """
    leverage = default
    for threshold, step_leverage in steps:
        if equity_usd < threshold:
            break
        leverage = step_leverage
    return leverage


def target_price(
    kind: TpSlKind,
    value: Decimal,
    level: Level,
    side: Side,
    open_price: Decimal,
    count: Decimal,
    pip: Decimal,
    rate: Decimal = Decimal(1),
) -> Decimal:
    """The price at which a take-profit or stop-loss closes the position.

    ``pips``, ``delta`` and ``pnl`` are distances from ``open_price``, taken by
    absolute value and laid on the profitable side for a take-profit and on the
    losing side for a stop-loss; ``price`` is used as given.

    Raises:
        ValueError: ``count`` or ``rate`` is not positive for a ``pnl`` level.

    Example::

        target_price("pips", Decimal(50), "take_profit", "buy", Decimal("1.08"), Decimal(1000), Decimal("0.0001"))
        # 1.0850
    """
    if kind == "price":
        return value
    if kind == "pips":
        distance = abs(value) * pip
    elif kind == "delta":
        distance = abs(value)
    else:
        if count <= 0 or rate <= 0:
            raise ValueError("a pnl level needs a positive count and rate")
        distance = abs(value) / (count * rate)
    towards_profit = 1 if level == "take_profit" else -1
    return open_price + _sign(side) * towards_profit * distance


def is_triggered(level: Level, side: Side, level_price: Decimal, current: Decimal) -> bool:
    """Whether a level is hit by the position's close price ``current``.

    A buy's take-profit is hit when the bid rises to it, its stop-loss when the bid
    falls to it; a sell's levels mirror that on the ask.
    """
    above = current >= level_price
    below = current <= level_price
    if level == "take_profit":
        return above if side == "buy" else below
    return below if side == "buy" else above


def pending_kind(
    side: Side, price: Decimal, bid: Decimal, ask: Decimal
) -> Literal["limit", "stop", "market"]:
    """What a pending order at ``price`` really is, given the market now.

    A buy below the ask waits for the price to fall (limit), above it for the
    price to rise (stop); a sell mirrors that on the bid. At the market it fills now.
    """
    market = fill_price(side, bid, ask)
    if price == market:
        return "market"
    better = price < market if side == "buy" else price > market
    return "limit" if better else "stop"


@dataclass(frozen=True, slots=True)
class Exposure:
    """What stop-out needs to know of one open position: its key, margin and pnl now."""

    key: int
    margin: Decimal
    pnl: Decimal


def stop_out(cash: Decimal, positions: Sequence[Exposure], stop_out_level: Decimal) -> list[int]:
    """The positions to close, in order, so the margin level is back at or above the stop-out level.

    While the margin level is below ``stop_out_level`` the position with the biggest
    loss (lowest pnl; ties by key) is closed: its pnl moves into cash, so equity is
    unchanged and the margin falls, raising the level when equity is positive. With
    equity at or below zero every position is closed.

    Example::

        stop_out(D(100), [Exposure(1, D(50), D(-80)), Exposure(2, D(50), D(10))], D(50))   # [1]
    """
    remaining = sorted(positions, key=lambda p: (p.pnl, p.key))
    equity_value = equity(cash, (p.pnl for p in positions))
    used = sum((p.margin for p in positions), _ZERO)
    closed: list[int] = []
    while remaining:
        level = margin_level(equity_value, used)
        if level is None or level >= stop_out_level:
            break
        worst = remaining.pop(0)
        closed.append(worst.key)
        used -= worst.margin
    return closed
