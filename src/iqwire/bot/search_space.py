"""What a parameter search explores and how it scores a run: ranges, objectives, the holdout split.

``"period=5..50,low=20..40"`` is two ranges; ``lo..hi`` of integers searches integers,
of decimals (or for a parameter whose default is a float) searches reals, a ``:log``
suffix searches on a log scale, and ``a|b|c`` chooses among values.

Example::

    space = parse_space(["period=5..50,low=20..40", "rate=1e-3..1e-1:log", "mode=fast|slow"])
    (train, test) = split_holdout(start, end, 0.2, step=60)   # the last 20 % is never searched on
    score = objective_value(summary, "sharpe")
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from iqwire.bot.strategy import Strategy
from iqwire.bot.sweep import parse_assignment, parse_value

__all__ = [
    "OBJECTIVES",
    "Choice",
    "Dimension",
    "FloatRange",
    "IntRange",
    "fit_space",
    "objective_value",
    "parse_holdout",
    "parse_space",
    "split_holdout",
]

#: What a search can maximise: keys of :meth:`~iqwire.bot.report.Report.as_dict`.
OBJECTIVES = ("sharpe", "pnl", "profit_factor")
#: The score of a statistic a run cannot define: no Sharpe without two trades (no edge
#: shown: 0), no profit factor without a profit or a loss (break-even: 1).
_NEUTRAL = {"sharpe": 0.0, "pnl": 0.0, "profit_factor": 1.0}


@dataclass(frozen=True)
class IntRange:
    """Integers from ``low`` to ``high`` inclusive."""

    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class FloatRange:
    """Reals from ``low`` to ``high``."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Choice:
    """One of a few values."""

    values: tuple[Any, ...]


Dimension = IntRange | FloatRange | Choice


def _dimension(key: str, raw: str) -> Dimension:
    text = raw.strip()
    if "|" in text:
        values = tuple(parse_value(part) for part in text.split("|"))
        if any(value == "" for value in values):
            raise ValueError(f"{key}={raw}: give choices like {key}=a|b|c")
        return Choice(values)
    log = text.endswith(":log")
    if log:
        text = text[: -len(":log")]
    low_text, sep, high_text = text.partition("..")
    if not sep:
        raise ValueError(f"{key}={raw}: give a range low..high (5..50, 0.1..0.9, 1e-3..1:log) or choices a|b")
    low, high = parse_value(low_text), parse_value(high_text)
    numbers = (int, float)
    if not (isinstance(low, numbers) and isinstance(high, numbers)) or isinstance(low, bool | str):
        raise ValueError(f"{key}={raw}: the bounds of a range are numbers")
    if isinstance(high, bool) or not low < high:
        raise ValueError(f"{key}={raw}: the low bound must be below the high bound")
    if log and low <= 0:
        raise ValueError(f"{key}={raw}: a log range needs a positive low bound")
    if isinstance(low, int) and isinstance(high, int):
        return IntRange(low, high, log)
    return FloatRange(float(low), float(high), log)


def parse_space(specs: Iterable[str]) -> dict[str, Dimension]:
    """``["period=5..50,low=20..40"]`` → ``{"period": IntRange(5, 50), "low": IntRange(20, 40)}``.

    Each spec holds one or more comma-separated ``name=range`` items.

    Raises:
        ValueError: a malformed item, empty bounds, or a parameter given twice.
    """
    space: dict[str, Dimension] = {}
    for spec in specs:
        for item in spec.split(","):
            if not item.strip():
                continue
            key, raw = parse_assignment(item)
            if key in space:
                raise ValueError(f"parameter {key!r} is given twice")
            space[key] = _dimension(key, raw)
    if not space:
        raise ValueError('give at least one range to search, like "period=5..50"')
    return space


def fit_space(strategy: type[Strategy], space: Mapping[str, Dimension]) -> dict[str, Dimension]:
    """Search reals where the strategy's default is a float (``low=20..40`` → 20.0 to 40.0).

    Raises:
        ValueError: a parameter the strategy does not have.
    """
    unknown = sorted(set(space) - set(strategy.params))
    if unknown:
        raise ValueError(
            f"{strategy.__name__} has no parameter(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(sorted(strategy.params)) or 'none'}"
        )
    fitted: dict[str, Dimension] = {}
    for key, dimension in space.items():
        if isinstance(dimension, IntRange) and isinstance(strategy.params[key], float):
            dimension = FloatRange(float(dimension.low), float(dimension.high), dimension.log)
        fitted[key] = dimension
    return fitted


def objective_value(summary: Mapping[str, Any], objective: str) -> float:
    """The score of a run's summary, higher is better (undefined statistics score neutral).

    >>> objective_value({"sharpe": None, "pnl": 0.0}, "sharpe")
    0.0

    Raises:
        ValueError: an unknown objective.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}: choose one of {', '.join(OBJECTIVES)}")
    value = summary.get(objective)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _NEUTRAL[objective]
    return float(value)


def parse_holdout(text: str) -> float:
    """``"20%"`` or ``"0.2"`` → 0.2 (the share of the period kept out of the search).

    Raises:
        ValueError: not a share in [0, 1).
    """
    value = text.strip()
    try:
        share = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise ValueError(f"holdout {text!r}: give a share like 20% or 0.2") from None
    if not 0 <= share < 1:
        raise ValueError(f"holdout {text!r}: the share must be at least 0 and below 100%")
    return share


def split_holdout(
    start: int, end: int, share: float, *, step: int = 1
) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """Cut ``[start, end)`` into an in-sample part and the last ``share`` of it, on a ``step`` grid.

    The two half-open parts meet at one instant and never overlap; the cut is rounded
    to a multiple of ``step`` from ``start`` (whole candles of that size on both sides).

    >>> split_holdout(0, 1000, 0.2, step=10)
    ((0, 800), (800, 1000))
    >>> split_holdout(0, 1000, 0.0)
    ((0, 1000), None)

    Raises:
        ValueError: an empty period, a share outside [0, 1), or no whole step on a side.
    """
    if end <= start:
        raise ValueError(f"the period [{start}, {end}) is empty")
    if not 0 <= share < 1:
        raise ValueError(f"the holdout share must be at least 0 and below 1, not {share}")
    if share == 0:
        return (start, end), None
    steps = (end - start) // step
    cut = start + round(steps * (1 - share)) * step
    if not start < cut < end:
        raise ValueError(
            f"a {share:.0%} holdout of [{start}, {end}) leaves no whole {step}s candle on one side"
        )
    return (start, cut), (cut, end)
