"""The pricing model's properties: probabilities, call/put consistency, the spot payout, monotonic strikes."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iqwire.pricing import (
    buyback_price,
    digital_quote,
    half_spread,
    probability_in_the_money,
    profit_percent,
)

prices = st.floats(min_value=0.01, max_value=10_000, allow_nan=False, allow_infinity=False)
vols = st.floats(min_value=1e-7, max_value=1e-3)
seconds = st.floats(min_value=0, max_value=86_400)
commissions = st.floats(min_value=0, max_value=60)
directions = st.sampled_from(["call", "put"])


@given(prices, prices, vols, seconds, directions)
def test_probabilities_are_within_zero_and_one(
    spot: float, strike: float, vol: float, left: float, direction: str
) -> None:
    assert 0.0 <= probability_in_the_money(direction, spot, strike, vol, left) <= 1.0


@given(prices, prices, vols, seconds)
def test_call_and_put_add_up_to_one(spot: float, strike: float, vol: float, left: float) -> None:
    call = probability_in_the_money("call", spot, strike, vol, left)
    put = probability_in_the_money("put", spot, strike, vol, left)
    assert math.isclose(call + put, 1.0, abs_tol=1e-12)


@given(prices, vols, st.floats(min_value=1, max_value=86_400), commissions)
def test_the_spot_strike_pays_100_minus_commission(
    spot: float, vol: float, left: float, commission: float
) -> None:
    for direction in ("call", "put"):
        quote = digital_quote(direction, spot, spot, vol, left, commission)
        assert quote.probability == 0.5
        # Cut to cents downwards: never below the payout, at most a cent's worth above.
        assert 100 - commission - 1e-9 <= quote.payout <= profit_percent(quote.ask - 0.01)


@given(prices, st.lists(prices, min_size=2, max_size=6), vols, seconds, commissions)
def test_prices_are_monotonic_in_the_strike(
    spot: float, strikes: list[float], vol: float, left: float, commission: float
) -> None:
    ordered = sorted(strikes)
    calls = [digital_quote("call", spot, k, vol, left, commission) for k in ordered]
    puts = [digital_quote("put", spot, k, vol, left, commission) for k in ordered]
    # A higher strike: a call is less likely and cheaper, a put more likely and dearer.
    assert all(a.ask >= b.ask and a.bid >= b.bid for a, b in itertools.pairwise(calls))
    assert all(a.ask <= b.ask and a.bid <= b.bid for a, b in itertools.pairwise(puts))
    assert all(0 <= q.bid <= q.ask <= 100 for q in calls + puts)


@given(commissions)
def test_the_spread_is_what_makes_the_spot_payout(commission: float) -> None:
    ask = 50 + half_spread(commission)
    assert math.isclose(profit_percent(ask), 100 - commission)


def test_no_time_left_is_certain() -> None:
    assert probability_in_the_money("call", 1.1, 1.0, 2e-5, 0) == 1.0
    assert probability_in_the_money("put", 1.1, 1.0, 2e-5, 0) == 0.0
    assert probability_in_the_money("put", 1.0, 1.0, 2e-5, 0) == 0.5


def test_buyback_right_after_purchase_costs_the_commission() -> None:
    # At the open price P = 1/2: the sale pays back (100 + payout)% × bid, about 100 - commission.
    assert buyback_price("call", 100, 88, 1.08, 1.08, 2e-5, 60, 12) == pytest.approx(88, abs=0.02)
    # Far in the money near expiry: almost the whole payout.
    assert buyback_price("call", 100, 88, 1.0, 1.1, 2e-5, 5, 12) == pytest.approx(188 * 0.968, abs=0.005)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="direction"):
        probability_in_the_money("up", 1, 1, 1e-5, 1)
    with pytest.raises(ValueError, match="positive"):
        probability_in_the_money("call", 0, 1, 1e-5, 1)
    with pytest.raises(ValueError, match="commission"):
        half_spread(100)
