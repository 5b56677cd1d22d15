"""Search spaces, objectives and the holdout split."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iqwire.bot import Strategy
from iqwire.bot.search_space import (
    Choice,
    FloatRange,
    IntRange,
    fit_space,
    objective_value,
    parse_holdout,
    parse_space,
    split_holdout,
)


class _Params(Strategy):
    params: ClassVar[dict[str, Any]] = {"period": 14, "low": 30.0, "mode": "a"}


def test_parse_space() -> None:
    assert parse_space(["period=5..50,low=20..40.5", "rate=1e-3..1e-1:log", "mode=fast|slow|3"]) == {
        "period": IntRange(5, 50),
        "low": FloatRange(20.0, 40.5),
        "rate": FloatRange(0.001, 0.1, log=True),
        "mode": Choice(("fast", "slow", 3)),
    }
    assert parse_space(["period=5..50,"]) == {"period": IntRange(5, 50)}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("period=5", "give a range"),
        ("period=50..5", "low bound must be below"),
        ("period=5..5", "low bound must be below"),
        ("period=a..b", "bounds of a range are numbers"),
        ("rate=0..1:log", "positive low bound"),
        ("mode=a||b", "give choices"),
        ("period=5..9,period=1..3", "given twice"),
        ("5..9", "key=value"),
        ("", "at least one range"),
    ],
)
def test_parse_space_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_space([spec])


def test_fit_space_searches_reals_where_the_default_is_a_float() -> None:
    fitted = fit_space(_Params, parse_space(["period=5..50,low=20..40,mode=a|b"]))
    assert fitted == {"period": IntRange(5, 50), "low": FloatRange(20.0, 40.0), "mode": Choice(("a", "b"))}
    with pytest.raises(ValueError, match="no parameter"):
        fit_space(_Params, parse_space(["nope=1..2"]))


def test_objective_value() -> None:
    summary = {"sharpe": 0.5, "pnl": -3.0, "profit_factor": math.inf}
    assert objective_value(summary, "sharpe") == 0.5
    assert objective_value(summary, "pnl") == -3.0
    assert objective_value(summary, "profit_factor") == math.inf
    empty = {"sharpe": None, "pnl": 0.0, "profit_factor": None}
    assert [objective_value(empty, name) for name in ("sharpe", "pnl", "profit_factor")] == [0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="unknown objective"):
        objective_value(summary, "sortino")


def test_parse_holdout() -> None:
    assert parse_holdout("20%") == pytest.approx(0.2)
    assert parse_holdout(" 0.25 ") == 0.25
    assert parse_holdout("0") == 0.0
    for bad in ("100%", "-1%", "x", "1.5"):
        with pytest.raises(ValueError, match="holdout"):
            parse_holdout(bad)


def test_split_holdout_examples() -> None:
    assert split_holdout(1000, 2000, 0.2, step=10) == ((1000, 1800), (1800, 2000))
    assert split_holdout(0, 2 * 86_400, 0.2, step=5) == ((0, 138_240), (138_240, 172_800))
    assert split_holdout(0, 100, 0.0) == ((0, 100), None)
    with pytest.raises(ValueError, match="empty"):
        split_holdout(5, 5, 0.2)
    with pytest.raises(ValueError, match="no whole 60s candle"):
        split_holdout(0, 60, 0.2, step=60)


@given(
    start=st.integers(0, 2_000_000_000),
    steps=st.integers(2, 100_000),
    step=st.sampled_from([1, 5, 60, 300]),
    share=st.floats(0.01, 0.99),
)
def test_split_holdout_never_overlaps_and_keeps_the_share(
    start: int, steps: int, step: int, share: float
) -> None:
    end = start + steps * step
    try:
        (first, cut), held = split_holdout(start, end, share, step=step)
    except ValueError:
        assert round(steps * (1 - share)) in (0, steps)  # too short to cut on this grid
        return
    assert held is not None
    assert first == start and held == (cut, end)  # adjacent half-open parts: no overlap, no gap
    assert (cut - start) % step == 0
    assert abs((end - cut) / (end - start) - share) <= step / (end - start) / 2 + 1e-9
