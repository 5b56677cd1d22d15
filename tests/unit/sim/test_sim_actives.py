"""The simulator's actives: defaults, weekly closures and the init-data schedule."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iqwire.sim.actives import (
    DEFAULT_ACTIVES,
    FOREX_CLOSED_WINDOWS,
    LISTED_AT,
    WEEK,
    ActiveSpec,
    closure_start,
    find_active,
    is_open,
    next_open,
    schedule,
    week_offset,
)


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def _spec(name: str) -> ActiveSpec:
    spec = find_active(name)
    assert spec is not None
    return spec


EURUSD = _spec("EURUSD")
AMZN = _spec("AMZN")
OTC = _spec("EURUSD-OTC")
REGULAR = [spec for spec in DEFAULT_ACTIVES if not spec.is_otc]
START, END = _ts("2025-01-01 00:00"), _ts("2027-01-01 00:00")


def test_default_actives_carry_the_platform_ids() -> None:
    by_id = {spec.id: spec for spec in DEFAULT_ACTIVES}
    assert len(by_id) == len(DEFAULT_ACTIVES) >= 9
    expected = {
        76: ("EURUSD-OTC", True),
        1938: ("AAPL-OTC", True),
        2276: ("XRPUSD-OTC", True),
        81: ("GBPUSD-OTC", True),
        85: ("USDJPY-OTC", True),
        1: ("EURUSD", False),
        2: ("GBPUSD", False),
        31: ("AMZN", False),
    }
    for active_id, (name, otc) in expected.items():
        assert (by_id[active_id].name, by_id[active_id].is_otc) == (name, otc)
    assert by_id[2276].kind == "crypto"
    assert by_id[2276].base_price == pytest.approx(0.2467)
    assert by_id[1938].kind == by_id[31].kind == "stock"


def test_default_actives_are_sane() -> None:
    for spec in DEFAULT_ACTIVES:
        assert 8 <= spec.commission <= 20
        assert spec.payout == 100 - spec.commission
        assert spec.listed_at == LISTED_AT == 1_735_689_600
        assert spec.expirations == (5, 10, 15, 30, 60, 120, 300)
        assert (spec.min_amount, spec.max_amount) == (1, 20_000)
        assert spec.is_otc == (not spec.closed_windows) == spec.always_open


def test_forex_closes_an_hour_a_day_and_over_the_weekend() -> None:
    assert is_open(EURUSD, _ts("2026-02-04 20:59:59"))
    assert not is_open(EURUSD, _ts("2026-02-04 21:00"))
    assert not is_open(EURUSD, _ts("2026-02-04 21:59:59.5"))
    assert is_open(EURUSD, _ts("2026-02-04 22:00"))
    assert not is_open(EURUSD, _ts("2026-02-06 21:00"))
    assert not is_open(EURUSD, _ts("2026-02-07 12:00"))
    assert not is_open(EURUSD, _ts("2026-02-08 21:59:59"))
    assert is_open(EURUSD, _ts("2026-02-08 22:00"))
    assert is_open(EURUSD, _ts("2026-02-09 00:00"))


def test_us_stock_trades_only_weekday_afternoons() -> None:
    assert not is_open(AMZN, _ts("2026-02-09 13:29:59"))
    assert is_open(AMZN, _ts("2026-02-09 13:30"))
    assert is_open(AMZN, _ts("2026-02-09 19:59:59"))
    assert not is_open(AMZN, _ts("2026-02-09 20:00"))
    assert not is_open(AMZN, _ts("2026-02-07 15:00"))


def test_otc_is_always_open() -> None:
    for t in (_ts("2026-02-07 15:00"), _ts("2026-02-04 21:30"), 0):
        assert is_open(OTC, t)
    assert next_open(OTC, 123) == 123


def test_closure_start_and_next_open_bracket_a_closure() -> None:
    saturday = _ts("2026-02-07 12:00")
    assert closure_start(EURUSD, saturday) == _ts("2026-02-06 21:00")
    assert next_open(EURUSD, saturday) == _ts("2026-02-08 22:00")
    # AMZN's weekend closure runs over Monday 00:00, where the week wraps.
    monday = _ts("2026-02-09 10:00")
    assert closure_start(AMZN, monday) == _ts("2026-02-06 20:00")
    assert closure_start(AMZN, saturday) == _ts("2026-02-06 20:00")
    assert next_open(AMZN, saturday) == _ts("2026-02-09 13:30")
    assert next_open(AMZN, _ts("2026-02-08 23:00")) == _ts("2026-02-09 13:30")
    assert next_open(AMZN, monday) == _ts("2026-02-09 13:30")
    open_now = _ts("2026-02-09 14:00")
    assert next_open(AMZN, open_now) == open_now
    with pytest.raises(ValueError, match="open"):
        closure_start(AMZN, open_now)
    with pytest.raises(ValueError, match="open"):
        closure_start(OTC, open_now)


def test_schedule_lists_whole_sessions() -> None:
    monday = _ts("2026-02-09 00:00")
    assert schedule(AMZN, monday, monday + 86_400) == [[_ts("2026-02-09 13:30"), _ts("2026-02-09 20:00")]]
    week = schedule(EURUSD, _ts("2026-02-04 00:00"), _ts("2026-02-11 00:00"))
    assert week == [
        [_ts("2026-02-03 22:00"), _ts("2026-02-04 21:00")],
        [_ts("2026-02-04 22:00"), _ts("2026-02-05 21:00")],
        [_ts("2026-02-05 22:00"), _ts("2026-02-06 21:00")],
        [_ts("2026-02-08 22:00"), _ts("2026-02-09 21:00")],
        [_ts("2026-02-09 22:00"), _ts("2026-02-10 21:00")],
        [_ts("2026-02-10 22:00"), _ts("2026-02-11 21:00")],
    ]


def test_schedule_of_an_always_open_active_is_the_window() -> None:
    assert schedule(OTC, 10.5, 99.2) == [[10, 100]]
    assert schedule(OTC, 10, 10) == []
    with pytest.raises(ValueError, match="after"):
        schedule(EURUSD, 11, 10)


@settings(max_examples=100, deadline=None)
@given(spec=st.sampled_from(REGULAR), t=st.integers(START, END))
def test_schedule_agrees_with_is_open(spec: ActiveSpec, t: int) -> None:
    sessions = schedule(spec, t - 3 * 86_400, t + 3 * 86_400)
    assert is_open(spec, t) == any(start <= t < end for start, end in sessions)
    for (_, end), (start, _) in itertools.pairwise(sessions):
        assert end < start
    for start, end in sessions:
        assert is_open(spec, start)
        assert is_open(spec, end - 1)
        assert not is_open(spec, start - 1)
        assert not is_open(spec, end)
    if not is_open(spec, t):
        closed_at, opens_at = closure_start(spec, t), next_open(spec, t)
        assert closed_at <= t < opens_at
        assert is_open(spec, closed_at - 1)
        assert not is_open(spec, closed_at)
        assert is_open(spec, opens_at)
        assert not is_open(spec, opens_at - 1)


def test_find_active_by_exact_name_or_id() -> None:
    assert _spec("eurusd-otc").id == 76
    assert _spec("EURUSD").id == 1
    assert _spec("76").name == "EURUSD-OTC"
    found = find_active(2276)
    assert found is not None
    assert found.name == "XRPUSD-OTC"
    assert find_active("XRPUSD") is None
    assert find_active(999_999) is None
    assert find_active("") is None


def _make(**overrides: object) -> ActiveSpec:
    fields: dict[str, object] = {
        "id": 9001,
        "name": "TEST",
        "ticker": "TEST",
        "description": "test",
        "kind": "forex",
        "is_otc": False,
        "base_price": 1.0,
        "volatility": 2e-5,
        "precision": 6,
        "spread": 0.00002,
        "commission": 10,
    }
    fields.update(overrides)
    return ActiveSpec(**fields)  # type: ignore[arg-type]


def test_closed_windows_are_normalised() -> None:
    wrapping = (week_offset(4, 20), WEEK + week_offset(0, 13, 30))
    spec = _make(closed_windows=(wrapping, (week_offset(0, 13), week_offset(0, 14))))
    assert spec.closed_windows == ((0, week_offset(0, 14)), (week_offset(4, 20), WEEK))
    assert _make(closed_windows=FOREX_CLOSED_WINDOWS).closed_windows == EURUSD.closed_windows


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"is_otc": True, "closed_windows": FOREX_CLOSED_WINDOWS}, "OTC"),
        ({"closed_windows": ((0, WEEK),)}, "whole week"),
        ({"closed_windows": ((0, 1), (1, WEEK))}, "whole week"),
        ({"closed_windows": ((5, 5),)}, "closed window"),
        ({"kind": "bond"}, "kind"),
        ({"id": 0}, "id"),
        ({"base_price": 0}, "base_price"),
        ({"base_price": 1000.0, "precision": 6}, "base_price"),
        ({"volatility": 0}, "volatility"),
        ({"commission": 100}, "commission"),
        ({"expirations": ()}, "expirations"),
        ({"listed_at": -1}, "listed_at"),
    ],
)
def test_invalid_specs_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _make(**overrides)
