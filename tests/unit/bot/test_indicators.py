"""Incremental indicators equal a direct numpy recomputation; the candle window commits exactly once."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from iqwire.bot.indicators import EMA, RSI, SMA, Bollinger, CandleWindow, Indicator
from iqwire.models.market import Candle

REL = 1e-9
NS = 1_000_000_000

# Prices of any magnitude, and tight random walks (forex-like: 1.0850 ± a few pips) where
# a naive sum of squares would lose the variance to cancellation.
WIDE = st.lists(st.floats(min_value=1e-3, max_value=1e6, allow_nan=False), min_size=1, max_size=120)


@st.composite
def walks(draw: st.DrawFn) -> list[float]:
    base = draw(st.floats(min_value=0.5, max_value=5000.0))
    tick = base * draw(st.sampled_from([1e-5, 1e-4, 1e-3]))  # stays positive: at most 75% of base
    steps = draw(st.lists(st.integers(-5, 5), min_size=1, max_size=150))
    return [float(v) for v in base + tick * np.cumsum(steps)]


SERIES = st.one_of(WIDE, walks())
PERIODS = st.integers(1, 30)


def close(a: float, b: float, rel: float = REL) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def feed(indicator: Indicator[Any], values: list[float]) -> list[Any]:
    return [indicator.update(v) for v in values]


# -- reference implementations over the full history ------------------------------------------------


def ref_sma(x: npt.NDArray[np.float64], p: int, t: int) -> float | None:
    return None if t < p - 1 else float(np.mean(x[t - p + 1 : t + 1]))


def ref_ema(x: npt.NDArray[np.float64], p: int, t: int) -> float | None:
    """Closed form: the seed decayed plus every later value with its weight."""
    if t < p - 1:
        return None
    a = 2.0 / (p + 1)
    seed = float(np.mean(x[:p]))
    j = np.arange(p, t + 1)
    return float((1 - a) ** (t - p + 1) * seed + np.sum(a * (1 - a) ** (t - j) * x[p : t + 1]))


def ref_rsi(x: npt.NDArray[np.float64], p: int, t: int) -> float | None:
    if t < p:
        return None
    changes = np.diff(x[: t + 1])
    gains, losses = np.where(changes > 0, changes, 0.0), np.where(changes < 0, -changes, 0.0)
    beta = 1 - 1 / p
    j = np.arange(p, t)  # indexes into changes after the seed
    w = (1 / p) * beta ** (t - 1 - j)
    g = beta ** (t - p) * np.mean(gains[:p]) + np.sum(w * gains[p:t])
    lo = beta ** (t - p) * np.mean(losses[:p]) + np.sum(w * losses[p:t])
    if lo == 0:
        return 50.0 if g == 0 else 100.0
    return float(100 * g / (g + lo))


def ref_bollinger(x: npt.NDArray[np.float64], p: int, t: int, k: float) -> tuple[float, float, float] | None:
    if t < p - 1:
        return None
    window = x[t - p + 1 : t + 1]
    mid, std = float(np.mean(window)), float(np.std(window))
    return mid, mid + k * std, mid - k * std


# -- property tests -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(SERIES, PERIODS)
@example([1.0, 524288.0, 0.001, 0.03125], 2)  # a large value left the window
def test_sma_matches_numpy(values: list[float], period: int) -> None:
    x = np.array(values)
    for t, got in enumerate(feed(SMA(period), values)):
        want = ref_sma(x, period, t)
        assert (got is None) == (want is None)
        # A running sum's error scales with the largest value that passed through it, which
        # may have left the window: (1, 524288, 0.001, 0.03125) with period 2 is off 1.5e-9
        # relative at the end, 2e-11 of the scale it carried.
        scale = float(np.abs(x[: t + 1]).max())
        assert got is None or want is None or math.isclose(got, want, rel_tol=REL, abs_tol=REL * scale)


@settings(max_examples=150, deadline=None)
@given(SERIES, PERIODS)
def test_ema_matches_closed_form(values: list[float], period: int) -> None:
    x = np.array(values)
    for t, got in enumerate(feed(EMA(period), values)):
        want = ref_ema(x, period, t)
        assert (got is None) == (want is None)
        assert got is None or want is None or close(got, want)


@settings(max_examples=150, deadline=None)
@given(SERIES, PERIODS)
def test_rsi_matches_wilder_closed_form(values: list[float], period: int) -> None:
    x = np.array(values)
    for t, got in enumerate(feed(RSI(period), values)):
        want = ref_rsi(x, period, t)
        assert (got is None) == (want is None)
        assert got is None or want is None or (0 <= got <= 100 and close(got, want))


@settings(max_examples=150, deadline=None)
@given(SERIES, PERIODS, st.sampled_from([0.0, 1.0, 2.0, 2.5]))
@example([1.0, 524288.0, 0.001, 0.03125], 2, 2.0)
def test_bollinger_matches_numpy(values: list[float], period: int, k: float) -> None:
    x = np.array(values)
    bands = Bollinger(period, k)
    for t, v in enumerate(values):
        got = bands.update(v)
        want = ref_bollinger(x, period, t, k)
        assert (got is None) == (want is None)
        if got is not None and want is not None:
            # The middle band is relative-exact; the outer bands and the width are compared
            # relative to the price scale, since ``middle - k * std`` may itself cancel to ~0.
            window = x[max(0, t - period + 1) : t + 1]
            scale = float(np.abs(x[: t + 1]).max())  # the running sums' scale (see the SMA test)
            assert math.isclose(got[0], want[0], rel_tol=REL, abs_tol=REL * scale), (got, want)
            for g, w in zip(got[1:], want[1:], strict=True):
                assert math.isclose(g, w, rel_tol=REL, abs_tol=REL * scale), (got, want)
            assert bands.std is not None
            assert math.isclose(bands.std, float(np.std(window)), rel_tol=REL, abs_tol=REL * scale)


@settings(max_examples=100, deadline=None)
@given(SERIES, PERIODS, st.lists(st.floats(min_value=1e-3, max_value=1e6), min_size=1, max_size=3))
def test_preview_equals_update_and_changes_nothing(
    values: list[float], period: int, forming: list[float]
) -> None:
    for indicator in (SMA(period), EMA(period), RSI(period), Bollinger(period)):
        for v in values:
            before = indicator.value
            for f in forming:  # several ticks of the forming candle
                indicator.preview(f)
            assert indicator.value == before
            assert indicator.preview(v) == indicator.update(v)


# -- hand-checked values and edges ----------------------------------------------------------------


def test_hand_checked_values() -> None:
    assert feed(SMA(3), [1, 2, 3, 4]) == [None, None, 2.0, 3.0]
    assert feed(EMA(3), [1, 2, 3, 6]) == [None, None, 2.0, 4.0]
    rsi = RSI(2)
    assert feed(rsi, [10, 11, 10]) == [None, None, 50.0]
    assert rsi.update(12) == pytest.approx(100 * 1.25 / 1.5)  # gain (0.5+2)/2, loss (0.5+0)/2
    assert feed(RSI(3), [5, 5, 5, 5]) == [None, None, None, 50.0]
    assert feed(RSI(2), [1, 2, 3]) == [None, None, 100.0]
    assert feed(RSI(2), [3, 2, 1]) == [None, None, 0.0]
    bands = Bollinger(2, k=2.0)
    assert feed(bands, [1.0, 3.0]) == [None, (2.0, 4.0, 0.0)]
    assert bands.std == 1.0


def test_ready_value_reset_and_bad_period() -> None:
    sma = SMA(2)
    assert not sma.ready and sma.value is None and sma.preview(5.0) is None
    sma.update(1.0)
    assert sma.preview(3.0) == 2.0 and not sma.ready
    sma.update(3.0)
    assert sma.ready and sma.value == 2.0 and sma.count == 2
    sma.reset()
    assert not sma.ready and sma.count == 0 and sma.update(4.0) is None
    for cls in (SMA, EMA, RSI, Bollinger):
        with pytest.raises(ValueError, match="period"):
            cls(0)
    assert "SMA(2" in repr(sma)


def test_long_run_does_not_drift() -> None:
    rng = np.random.default_rng(7)
    x = 1.085 + np.cumsum(rng.integers(-3, 4, 50_000)) * 1e-5
    sma, bands = SMA(20), Bollinger(20)
    for v in x:
        sma.update(float(v))
        bands.update(float(v))
    assert sma.value is not None and close(sma.value, float(np.mean(x[-20:])))
    assert bands.std is not None and math.isclose(bands.std, float(np.std(x[-20:])), rel_tol=1e-6)


# -- CandleWindow ---------------------------------------------------------------------------------


def candle(
    start: int, close_: float, *, at: int | None = None, size: int = 60, active_id: int = 76
) -> Candle:
    return Candle(
        id=start // size,
        start=start,
        end=start + size,
        open=close_,
        close=close_,
        low=close_,
        high=close_,
        size=size,
        active_id=active_id,
        at=at,
    )


def tick(start: int, close_: float, offset_s: float = 1.0) -> Candle:
    """A live push of the forming candle, ``offset_s`` into it."""
    return candle(start, close_, at=int((start + offset_s) * NS))


def test_window_commits_on_new_start() -> None:
    window = CandleWindow(60)
    sma = window.add("sma2", SMA(2))
    assert window.update(tick(0, 1.0)) is False
    assert window.update(tick(0, 1.5, 30)) is False
    assert window.forming is not None and window.forming.close == 1.5 and len(window) == 0
    assert window.update(tick(60, 2.0)) is True
    assert len(window) == 1 and window.last is not None and window.last.close == 1.5
    assert window.forming is not None and window.forming.start == 60
    assert window["sma2"] is sma and sma.value is None
    assert window.preview("sma2") == pytest.approx(1.75)  # includes the forming price
    assert window.update(tick(120, 3.0)) is True
    assert sma.value == pytest.approx(1.75)
    assert window.closes().tolist() == [1.5, 2.0]
    assert window.closes(include_forming=True).tolist() == [1.5, 2.0, 3.0]
    assert window.closes(2, include_forming=True).tolist() == [2.0, 3.0]
    assert window.closes(1).tolist() == [2.0]
    assert window.closes(10).tolist() == [1.5, 2.0]
    assert window.closes(0).tolist() == [] and window.closes(0, include_forming=True).tolist() == []


def test_window_commits_on_final_tick_and_ignores_the_rest() -> None:
    window = CandleWindow(60)
    assert window.update(tick(0, 1.0)) is False
    assert window.update(candle(0, 1.1, at=60 * NS)) is True  # at >= end: closed now
    assert window.forming is None and len(window) == 1
    assert window.update(candle(0, 1.2, at=60 * NS + 5)) is False  # late duplicate
    assert window.update(tick(60, 2.0)) is False  # just starts forming
    assert window.last is not None and window.last.close == 1.1 and len(window) == 1
    assert window.forming is not None and window.forming.start == 60


def test_window_history_candles_without_at_close_at_once() -> None:
    window = CandleWindow(60, maxlen=3)
    window.update(candle(0, 9.0))
    rsi = RSI(2)
    for i, c in enumerate([1.0, 2.0, 3.0, 4.0], start=1):
        assert window.update(candle(i * 60, c)) is True
    assert len(window) == 3 and window.closes().tolist() == [2.0, 3.0, 4.0]
    assert [c.close for c in window] == [2.0, 3.0, 4.0] == [c.close for c in window.candles]
    late = window.add("rsi", rsi)  # fed the closes already in the window
    assert late is rsi and rsi.value == 100.0 and window.preview("rsi") == 100.0
    with pytest.raises(ValueError, match="already"):
        window.add("rsi", RSI(2))


def test_window_ignores_foreign_and_old_candles() -> None:
    window = CandleWindow(60)
    window.update(tick(120, 1.0))
    assert window.active_id == 76
    assert window.update(candle(180, 2.0, size=5)) is False
    assert window.update(candle(180, 2.0, active_id=1)) is False
    assert window.update(tick(60, 0.5)) is False  # older than the forming candle
    assert window.forming is not None and window.forming.start == 120
    assert window.update(candle(180, 2.0)) is True  # commits 120 and the closed 180
    assert [c.start for c in window] == [120, 180]
    assert window.update(candle(120, 7.0)) is False
    assert "CandleWindow(size=60, closed=2" in repr(window)
    with pytest.raises(ValueError, match="maxlen"):
        CandleWindow(60, maxlen=0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(min_value=0.5, max_value=2.0), min_size=1, max_size=4), min_size=1, max_size=40
    ),
    st.booleans(),
)
def test_window_live_stream_matches_final_closes(ticks: list[list[float]], final_tick: bool) -> None:
    """Several pushes per candle: every candle is committed once, with its last price."""
    window = CandleWindow(60, maxlen=1000)
    sma, ema, rsi = window.add("sma", SMA(3)), window.add("ema", EMA(3)), window.add("rsi", RSI(3))
    closed_events = 0
    for i, prices in enumerate(ticks):
        for j, price in enumerate(prices):
            closed_events += window.update(tick(i * 60, price, offset_s=1 + j))
        if final_tick:
            closed_events += window.update(candle(i * 60, prices[-1], at=(i + 1) * 60 * NS))
    finals = [prices[-1] for prices in ticks]
    committed = finals if final_tick else finals[:-1]
    assert window.closes().tolist() == committed
    assert closed_events == len(committed)
    x = np.array(committed)
    t = len(committed) - 1
    for indicator, ref in ((sma, ref_sma), (ema, ref_ema), (rsi, ref_rsi)):
        want = ref(x, 3, t) if t >= 0 else None
        got = indicator.value
        assert (got is None) == (want is None)
        assert got is None or want is None or close(got, want)


class Log(Indicator[float]):
    """Writes down every close it is fed (which indicator, in what order)."""

    def __init__(self, name: str, seen: list[tuple[str, float]]) -> None:
        super().__init__(1)
        self.name, self.seen = name, seen

    def _next(self, value: float, *, commit: bool) -> float | None:
        if commit:
            self.seen.append((self.name, value))
        return value

    def _reset(self) -> None:
        pass


@given(added_at=st.lists(st.integers(0, 12), max_size=4), forming_every=st.integers(2, 5))
def test_window_feeds_every_indicator_each_close_in_order(added_at: list[int], forming_every: int) -> None:
    """None, one (handed the close directly) or several indicators, added before or mid-stream.

    Candles close on their final push (``update``'s own commit) or, every few, when the
    next candle starts while they were forming (``_commit``).
    """
    window = CandleWindow(60)
    seen: list[tuple[str, float]] = []
    expected: list[tuple[str, float]] = []
    names: list[str] = []
    committed: list[float] = []
    forming: float | None = None

    def commits(price: float) -> None:
        committed.append(price)
        expected.extend((name, price) for name in names)

    for i in range(12):
        for n, at in enumerate(added_at):
            if at == i:
                names.append(f"log{n}")
                window.add(names[-1], Log(names[-1], seen))
                expected.extend((names[-1], c) for c in committed)  # the window's closes, when added
        price = 1.0 + i / 100
        if forming is not None:
            commits(forming)  # this candle's first push commits the forming one
            forming = None
        if i % forming_every == 0:
            window.update(tick(i * 60, price))  # stays forming until the next candle starts
            forming = price
        else:
            window.update(candle(i * 60, price, at=(i + 1) * 60 * NS))
            commits(price)
    assert seen == expected and window.closes().tolist() == committed
