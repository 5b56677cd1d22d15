"""The simulator's clocks: manual time moves only forward, system time scales."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iqwire.sim.clock import Clock, ManualClock, SystemClock
from iqwire.sim.simulator import _MIN_STEP, _PAST_INSTANT, _until_next_step


def _read(clock: Clock) -> float:
    return clock.now()


def test_manual_clock_stands_still_until_told() -> None:
    clock = ManualClock(1_770_000_000)
    assert _read(clock) == 1_770_000_000.0
    assert clock.now() == 1_770_000_000.0


def test_manual_clock_advance_returns_the_new_time() -> None:
    clock = ManualClock(100.0)
    assert clock.advance(0.25) == 100.25
    assert clock.advance(0) == 100.25
    assert clock.now() == 100.25


def test_manual_clock_set_jumps_forward_only() -> None:
    clock = ManualClock(100.0)
    clock.set(160.5)
    assert clock.now() == 160.5
    clock.set(160.5)
    with pytest.raises(ValueError, match="back"):
        clock.set(160.0)
    assert clock.now() == 160.5


def test_manual_clock_refuses_negative_advance() -> None:
    clock = ManualClock(100.0)
    with pytest.raises(ValueError, match="negative"):
        clock.advance(-1)
    assert clock.now() == 100.0


def test_system_clock_scales_monotonic_time(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter([50.0, 52.0, 53.5])
    monkeypatch.setattr(time, "monotonic", lambda: next(ticks))
    clock = SystemClock(speed=60, start=1_000.0)
    assert _read(clock) == 1_000.0 + 2.0 * 60
    assert clock.now() == 1_000.0 + 3.5 * 60
    assert clock.speed == 60


def test_system_clock_starts_at_wall_time() -> None:
    before = time.time()
    clock = SystemClock()
    assert before <= clock.now() <= time.time() + 1


@pytest.mark.parametrize("speed", [0, -1.0])
def test_system_clock_needs_positive_speed(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        SystemClock(speed=speed)


@pytest.mark.parametrize(
    ("speed", "configured", "expected"),
    [(1.0, 2, 2), (0.5, 2, 2), (2.0, 2, 2), (50.0, 2, 25), (50.0, 40, 40), (7.0, 2, 4)],
)
def test_a_sped_up_clock_keeps_half_a_real_second_of_expiry_tolerance(
    speed: float, configured: int, expected: int
) -> None:
    from iqwire.sim.config import SimConfig
    from iqwire.sim.simulator import Simulator

    simulator = Simulator(clock=SystemClock(speed=speed), config=SimConfig(expiry_tolerance=configured))
    assert simulator.config.expiry_tolerance == expected


@given(
    now=st.floats(min_value=1_700_000_000, max_value=1_800_000_000, allow_nan=False),
    speed=st.sampled_from([0.5, 1.0, 2.0, 10.0]),
)
def test_a_real_clock_steps_just_past_the_next_push_instant(now: float, speed: float) -> None:
    push = 0.25
    delay = _until_next_step(now, push, speed)
    instant = now + (delay - _PAST_INSTANT) * speed
    assert instant > now
    assert instant - now <= push + 1e-5
    assert abs(instant / push - round(instant / push)) < 1e-4  # a push instant (to float precision)


def test_a_step_that_took_long_still_lands_on_the_next_instant() -> None:
    assert _until_next_step(1_770_000_000.0, 0.25, 1.0) == pytest.approx(0.25 + _PAST_INSTANT)
    assert _until_next_step(1_770_000_000.2, 0.25, 1.0) == pytest.approx(0.05 + _PAST_INSTANT)
    assert _until_next_step(1_770_000_000.2, 0.25, 2.0) == pytest.approx(0.025 + _PAST_INSTANT)


def test_a_clock_too_fast_for_every_instant_steps_every_ten_milliseconds() -> None:
    assert _until_next_step(1_770_000_000.2, 0.25, 50.0) == _MIN_STEP
