"""The seeded price process and its candles: exact across sizes, deterministic, gap-aware."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iqwire.models.market import Candle
from iqwire.sim.actives import DEFAULT_ACTIVES, ActiveSpec, find_active, is_open, schedule
from iqwire.sim.prices import CANDLE_SIZES, PriceModel, UnknownActive
from iqwire.sim.ticks import TickProcess


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


SEED = 11
MODEL = PriceModel(seed=SEED)
START, END = _ts("2025-01-01 00:00"), _ts("2026-12-31 00:00")
ACTIVE_IDS = [spec.id for spec in DEFAULT_ACTIVES]
EURUSD, AMZN, OTC = 1, 31, 76
WEDNESDAY = _ts("2026-02-04 00:00")
SATURDAY = _ts("2026-02-07 00:00")

# Closures make the interesting cases: aim a share of the examples at session edges.
_EDGES = sorted(
    {edge for spec in DEFAULT_ACTIVES if not spec.is_otc for s in schedule(spec, START, END) for edge in s}
)
TIMES = st.one_of(
    st.integers(START, END),
    st.builds(lambda edge, delta: edge + delta, st.sampled_from(_EDGES), st.integers(-4000, 4000)),
)


def _aggregate(parts: Sequence[Candle]) -> tuple[object, ...]:
    """Open, close, low, high, min_at, max_at and volume of consecutive candles."""
    low = min(c.low for c in parts)
    high = max(c.high for c in parts)
    return (
        parts[0].open,
        parts[-1].close,
        low,
        high,
        next(c.min_at for c in parts if c.low == low),
        next(c.max_at for c in parts if c.high == high),
        sum(c.volume or 0 for c in parts),
    )


def _summary(candle: Candle) -> tuple[object, ...]:
    return (candle.open, candle.close, candle.low, candle.high, candle.min_at, candle.max_at, candle.volume)


def _candle(active_id: int, size: int, start: int) -> Candle | None:
    found = MODEL.candles(active_id, size, start, start + 1)
    assert len(found) <= 1
    return found[0] if found else None


@settings(max_examples=80, deadline=None)
@given(
    active_id=st.sampled_from(ACTIVE_IDS),
    size=st.sampled_from([s for s in CANDLE_SIZES if 1 < s <= 3600]),
    t=TIMES,
)
def test_a_candle_aggregates_its_seconds_exactly(active_id: int, size: int, t: int) -> None:
    spec = MODEL.spec(active_id)
    start = t // size * size
    big = _candle(active_id, size, start)
    seconds = MODEL.candles(active_id, 1, start, start + size)
    expected = [s for s in range(start, start + size) if is_open(spec, s) and s >= spec.listed_at]
    assert [c.start for c in seconds] == expected
    if big is None:
        assert seconds == []
        return
    assert _summary(big) == _aggregate(seconds)
    assert (big.id, big.start, big.end, big.size, big.active_id) == (
        (start - spec.listed_at) // size + 1,
        start,
        start + size,
        size,
        active_id,
    )
    assert big.at == big.end * 1_000_000_000
    assert big.phase == "T"
    for earlier, later in itertools.pairwise(seconds):
        assert later.open == earlier.close
    for candle in (big, *seconds):
        for price in (candle.open, candle.close, candle.low, candle.high, candle.ask, candle.bid):
            assert price is not None
            assert round(price, spec.precision) == price
        assert candle.low <= min(candle.open, candle.close) <= max(candle.open, candle.close) <= candle.high
        assert candle.ask is not None
        assert candle.bid is not None
        assert round(candle.ask - candle.bid, spec.precision) == spec.spread


@settings(max_examples=25, deadline=None)
@given(active_id=st.sampled_from(ACTIVE_IDS), t=TIMES, big=st.sampled_from([14400, 86400]))
def test_large_candles_aggregate_hourly_ones(active_id: int, t: int, big: int) -> None:
    start = t // big * big
    candle = _candle(active_id, big, start)
    hours = MODEL.candles(active_id, 3600, start, start + big)
    assert (candle is None) == (hours == [])
    if candle is not None:
        assert _summary(candle) == _aggregate(hours)


@settings(max_examples=60, deadline=None)
@given(
    active_id=st.sampled_from(ACTIVE_IDS),
    size=st.sampled_from([1, 5, 60, 300, 900]),
    t=TIMES,
    into=st.integers(1, 900),
)
def test_a_forming_candle_is_its_seconds_so_far(active_id: int, size: int, t: int, into: int) -> None:
    start = t // size * size
    now = start + min(into, size)
    forming = MODEL.candle_at(active_id, size, now)
    seconds = MODEL.candles(active_id, 1, start, now)
    assert MODEL.candle_at(active_id, size, start + 0.1) is None
    if not seconds:
        assert forming is None
        return
    assert forming is not None
    assert (forming.start, forming.end, forming.id) == (
        start,
        start + size,
        MODEL.id_of(active_id, size, start),
    )
    assert _summary(forming) == _aggregate(seconds)
    if now == start + size:
        assert forming == _candle(active_id, size, start)
        assert forming.is_closed
    else:
        assert forming.at == seconds[-1].end * 1_000_000_000
        assert not forming.is_closed


@settings(max_examples=60, deadline=None)
@given(active_id=st.sampled_from(ACTIVE_IDS), t=TIMES, sub=st.sampled_from([0.0, 0.1, 0.25, 0.6, 0.75, 0.99]))
def test_ticks_build_the_second(active_id: int, t: int, sub: float) -> None:
    second = _candle(active_id, 1, t)
    price = MODEL.tick(active_id, t + sub)
    if second is None:
        assert price is None
        return
    assert price is not None
    assert second.low <= price <= second.high
    if sub < 0.25:
        assert price == second.open
    partial = MODEL.candle_at(active_id, 1, t + sub)
    if sub >= 0.25:
        assert partial is not None
        assert partial.close == price
        assert partial.at == math.floor((t + sub) * 4) * 250_000_000
    elif sub > 0:
        assert partial is None  # no tick of this second yet
    else:
        assert partial is None or partial.end == t  # a whole second belongs to the candle it ends
    assert MODEL.candle_at(active_id, 1, t + 1) == second


def test_two_models_with_one_seed_agree_whatever_they_cached() -> None:
    day = _ts("2026-03-10 00:00")
    expected = MODEL.candles(OTC, 60, day, day + 86_400)
    other = PriceModel(seed=SEED, cache_days=2)
    for offset in (40, 3, -7):  # fill and churn the other model's cache first
        other.candles(OTC, 300, day + offset * 86_400, day + (offset + 1) * 86_400)
    assert other.candles(OTC, 60, day, day + 86_400) == expected
    assert other.tick(OTC, day + 100.5) == MODEL.tick(OTC, day + 100.5)


def test_first_candles_are_remembered_and_equal_a_fresh_models_after_the_cache_churned() -> None:
    churned = PriceModel(seed=SEED, cache_days=2)
    before = {(a, size): churned.first_candle(a, size) for a in (OTC, AMZN) for size in CANDLE_SIZES}
    day = _ts("2026-03-10 00:00")
    for offset in range(4):  # evict the listing days
        churned.candles(OTC, 300, day + offset * 86_400, day + (offset + 1) * 86_400)
    for (active_id, size), first in before.items():
        assert churned.first_candle(active_id, size) is first  # remembered, not rebuilt
        assert first == PriceModel(seed=SEED).first_candle(active_id, size)
    with pytest.raises(ValueError, match="candle size"):
        churned.first_candle(OTC, 7)  # a bad size is still refused


def test_different_seeds_give_different_prices() -> None:
    day = _ts("2026-03-10 00:00")
    mine = [c.close for c in MODEL.candles(OTC, 3600, day, day + 86_400)]
    theirs = [c.close for c in PriceModel(seed=SEED + 1).candles(OTC, 3600, day, day + 86_400)]
    assert len(mine) == len(theirs) == 24
    assert mine != theirs


def test_a_daily_closure_leaves_a_gap_in_ids() -> None:
    candles = MODEL.candles(EURUSD, 60, WEDNESDAY + 20 * 3600, WEDNESDAY + 23 * 3600)
    starts = [c.start for c in candles]
    closed_from, closed_to = WEDNESDAY + 21 * 3600, WEDNESDAY + 22 * 3600
    assert len(candles) == 120
    assert not any(closed_from <= s < closed_to for s in starts)
    steps = [b.id - a.id for a, b in itertools.pairwise(candles)]
    gap = starts.index(closed_to)
    assert steps[gap - 1] == 61  # 60 ids, one per missing minute, are skipped
    assert set(steps[: gap - 1] + steps[gap:]) == {1}
    for candle in candles:
        assert MODEL.id_of(EURUSD, 60, candle.start) == candle.id
        assert MODEL.from_of(EURUSD, 60, candle.id) == candle.start
        assert MODEL.candle_by_id(EURUSD, 60, candle.id) == candle
    assert MODEL.candle_by_id(EURUSD, 60, candles[gap - 1].id + 1) is None
    assert MODEL.candle_at(EURUSD, 60, closed_from + 30) is None
    assert MODEL.tick(EURUSD, closed_from + 30) is None


def test_the_market_reopens_at_its_last_close() -> None:
    friday_close = _ts("2026-02-06 21:00")
    sunday_open = _ts("2026-02-08 22:00")
    assert MODEL.candles(EURUSD, 60, friday_close, sunday_open) == []
    last = MODEL.candles(EURUSD, 1, friday_close - 1, friday_close)[0]
    first = MODEL.candles(EURUSD, 1, sunday_open, sunday_open + 1)[0]
    assert first.open == last.close
    assert MODEL.tick(EURUSD, sunday_open) == last.close
    assert MODEL.tick(EURUSD, friday_close - 0.5) is not None
    weekly = _candle(EURUSD, 86_400, _ts("2026-02-08 00:00"))
    assert weekly is not None
    assert weekly.open == last.close


def test_otc_trades_through_the_weekend() -> None:
    candles = MODEL.candles(OTC, 60, SATURDAY, SATURDAY + 2 * 86_400)
    assert [c.start for c in candles] == list(range(SATURDAY, SATURDAY + 2 * 86_400, 60))
    assert {b.id - a.id for a, b in itertools.pairwise(candles)} == {1}


def test_thirty_days_of_minutes() -> None:
    start = _ts("2026-01-01 00:00")
    candles = MODEL.candles(OTC, 60, start, start + 30 * 86_400)
    assert len(candles) == 43_200
    assert candles[0].start == start
    assert candles[-1].end == start + 30 * 86_400
    assert candles[-1].id - candles[0].id == 43_199
    closed_at = start + 30 * 86_400 - 30
    assert len(MODEL.candles(OTC, 60, start, start + 30 * 86_400, only_closed_at=closed_at)) == 43_199


def test_candles_range_rules() -> None:
    day = _ts("2026-03-10 00:00")
    candles = MODEL.candles(OTC, 60, day + 1, day + 301)
    assert [c.start for c in candles] == [day + 60, day + 120, day + 180, day + 240, day + 300]
    assert MODEL.candles(OTC, 60, day, day) == []
    assert MODEL.candles(OTC, 60, day, day + 600, only_closed_at=day + 59.9) == []
    assert len(MODEL.candles(OTC, 60, day, day + 600, only_closed_at=day + 60)) == 1


def test_history_starts_at_the_listing() -> None:
    spec = MODEL.spec(OTC)
    assert MODEL.candles(OTC, 60, spec.listed_at - 3600, spec.listed_at + 120)[0].start == spec.listed_at
    assert MODEL.tick(OTC, spec.listed_at - 1) is None
    assert MODEL.candle_at(OTC, 60, spec.listed_at) is None
    for size in CANDLE_SIZES:
        first = MODEL.first_candle(OTC, size)
        assert (first.id, first.start) == (1, spec.listed_at)
    assert MODEL.first_candle(OTC, 1).open == spec.base_price
    amzn = MODEL.first_candle(AMZN, 60)
    assert amzn.start == _ts("2025-01-01 13:30")
    assert amzn.id == 13 * 60 + 30 + 1
    assert MODEL.first_candle(EURUSD, 86_400).id == 1
    assert MODEL.candle_by_id(OTC, 60, 0) is None
    assert MODEL.id_of(OTC, 60, spec.listed_at - 60) == 0


def test_volume_is_zero_except_for_stocks() -> None:
    day = _ts("2026-02-09 00:00")
    assert {c.volume for c in MODEL.candles(OTC, 300, day, day + 3600)} == {0}
    stock = MODEL.candles(AMZN, 300, day, day + 86_400)
    assert len(stock) == 78  # 13:30 to 20:00
    assert all(isinstance(c.volume, int) and c.volume > 0 for c in stock)


def test_prices_stay_near_their_base_for_years() -> None:
    process = TickProcess(SEED, cache_days=2)  # the process under MODEL: same seed, same anchors
    for spec in DEFAULT_ACTIVES:
        first_day = spec.listed_at // 86_400
        # Midnight anchors are the long-range skeleton of the walk; check two years of them.
        prices = [
            process.anchor_price(spec, day) / 10**spec.precision for day in range(first_day, first_day + 731)
        ]
        assert 0.8 * spec.base_price < min(prices) <= max(prices) < 1.2 * spec.base_price


def test_wire_example_shape() -> None:
    candle = MODEL.candle_at(2276, 60, _ts("2026-02-12 12:25:19"))
    assert candle is not None
    wire = msgspec.json.decode(msgspec.json.encode(candle))
    assert set(wire) == {
        "id", "from", "to", "open", "close", "min", "max", "volume", "active_id",
        "size", "at", "min_at", "max_at", "ask", "bid", "phase",
    }  # fmt: skip
    assert wire["at"] == _ts("2026-02-12 12:25:19") * 1_000_000_000
    assert 0.2 < wire["close"] < 0.3
    assert wire["ask"] == pytest.approx(wire["close"] + 0.000005)


def test_errors_are_documented_ones() -> None:
    with pytest.raises(UnknownActive) as caught:
        MODEL.tick(424242, 0)
    assert isinstance(caught.value, KeyError)
    assert "424242" in str(caught.value)
    with pytest.raises(UnknownActive):
        MODEL.candles(424242, 60, 0, 60)
    with pytest.raises(ValueError, match="size"):
        MODEL.candles(OTC, 7, 0, 60)
    with pytest.raises(ValueError, match="size"):
        MODEL.candle_at(OTC, 61, 0)
    with pytest.raises(ValueError, match="after"):
        MODEL.candles(OTC, 60, 120, 60)
    with pytest.raises(ValueError, match="seed"):
        PriceModel(seed=-1)
    duplicate: ActiveSpec | None = find_active(OTC)
    assert duplicate is not None
    with pytest.raises(ValueError, match="unique"):
        PriceModel(actives=[duplicate, duplicate])
