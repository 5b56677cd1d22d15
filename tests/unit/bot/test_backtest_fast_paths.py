"""The backtest's fast paths answer exactly like the slow ones they stand for.

``run_backtest``'s replay inlines the price book, the route and the window's
commit of an in-order closed candle; the broker finds the newest price without a
bisect and settles a lone open trade without sorting; expiries and the volatility
estimate are computed in one pass. Each is checked here against the plain
per-candle path (``broker.observe`` + ``runner.take``), or the formula it replaced,
on arbitrary input: late, duplicate and forming candles, several actives and sizes,
every product.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iqwire.bot import Context, RiskLimits, RunState, Strategy
from iqwire.bot.backtest import BacktestBroker, run_backtest
from iqwire.bot.indicators import RSI
from iqwire.bot.option_terms import (
    DEFAULT_VOLATILITY,
    _cents,
    estimate_volatility,
    expiry,
    open_terms,
    settle,
)
from iqwire.bot.records import TradeRecord
from iqwire.bot.report import Report
from iqwire.bot.risk import RiskGuard
from iqwire.bot.runner import BotRunner
from iqwire.errors import InsufficientBalance, InvalidOrder, MarketClosed
from iqwire.models import Candle, Outcome

T0 = 1_770_899_100
NS = 1_000_000_000
NO_LIMITS = RiskLimits.unlimited()
PAYOUTS = {76: 88.0, 81: 85.0}
#: (product, expiration) bought in turn.
ORDERS = (("blitz", 5), ("digital", 60), ("turbo", 60), ("blitz", 10), ("binary", 300))


def _resolve(active: str | int) -> int:
    return int(active)


def _candle(n: int, start: int, size: int, close: float, active: int = 76, at: int | None = None) -> Candle:
    end = start + size
    return Candle(
        id=n,
        start=start,
        end=end,
        open=close,
        close=close,
        low=close,
        high=close,
        active_id=active,
        size=size,
        at=at,
    )


class Recorder(Strategy):
    """Writes down what it sees on every signal, and buys every few candles."""

    actives = [76, 81]
    sizes = [5, 60]
    params: dict[str, Any] = {"every": 3}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.seen: list[tuple[Any, ...]] = []
        self.bought = 0

    async def on_start(self, ctx: Context) -> None:
        ctx.window(76, 5).add("rsi", RSI(3))

    def on_candle(self, ctx: Context, candle: Candle) -> Any:
        assert candle.active_id is not None and candle.size is not None
        window = ctx.window(candle.active_id, candle.size)
        rsi = window["rsi"].value if "rsi" in window else None
        self.seen.append(
            ("candle", candle.id, ctx.now, ctx.state.server_time, tuple(window.closes(4)), rsi, len(window))
        )
        if candle.id % self.params["every"] == 0:
            product, expiration = ORDERS[self.bought % len(ORDERS)]
            self.bought += 1
            return ctx.buy("call" if candle.id % 2 else "put", 1.0, expiration, product=product)
        return None

    async def on_trade_closed(self, ctx: Context, result: TradeRecord) -> None:
        self.seen.append(("closed", result.id, ctx.now))
        if result.id % 4 == 0:  # a trade placed while the replay settles others
            trade = await ctx.buy("put", 1.0, 5, result.active_id)
            self.seen.append(("bought on close", None if trade is None else trade.expires_at))


class TickRecorder(Recorder):
    """The same, with ``on_tick`` (forming candles reach it; every fifth buys)."""

    async def on_tick(self, ctx: Context, candle: Candle) -> None:
        self.seen.append(("tick", candle.id, ctx.now))
        if candle.id % 5 == 0:
            trade = await ctx.buy("call", 1.0, 5)
            self.seen.append(("bought on tick", None if trade is None else trade.expires_at))


async def _slow_backtest(strategy: Strategy, series: list[Candle]) -> tuple[RunState, float, int]:
    """The per-candle path the replay inlines: ``broker.observe``, ``runner.take``, the strategy."""
    broker = BacktestBroker(PAYOUTS, 10_000.0)
    state = RunState(mode="backtest", balance=10_000.0)
    runner = BotRunner(
        strategy, broker, RiskGuard(NO_LIMITS), state=state, resolve=_resolve, emit=lambda _: None
    )
    await runner.start()
    for candle in series:
        broker.observe(candle)
        now = broker.time = float(candle.end)
        for record in broker.due(now):
            await runner.trade_closed(record)
        state.server_time = now
        closed = runner.take(candle)
        if closed is not None:
            pending = strategy.on_candle(runner.ctx, closed)
            if pending is not None:
                await pending
        if type(strategy).on_tick is not Strategy.on_tick and runner.forming(candle):
            await strategy.on_tick(runner.ctx, candle)
    for record in broker.due(broker.time):
        await runner.trade_closed(record)
    await runner.stop()
    return state, broker.balance() or 0.0, broker.unsettled


@st.composite
def candle_series(draw: st.DrawFn) -> list[Candle]:
    """One replay order of candles: mostly in order, with late, duplicate and forming ones."""
    count = draw(st.integers(1, 60))
    out: list[Candle] = []
    index = 0
    for n in range(count):
        index += draw(st.sampled_from([0, 1, 1, 1, 2, -1]))  # repeats, gaps, a step back
        active = draw(st.sampled_from([76, 76, 76, 81]))
        size = draw(st.sampled_from([5, 5, 5, 60]))
        start = T0 + index * size
        end = start + size
        close = draw(st.sampled_from([1.0, 1.1, 1.2, 1.25, 0.9]))
        kind = draw(st.sampled_from(["closed", "closed", "closed", "forming", "no-at"]))
        at = None if kind == "no-at" else (start + 1 if kind == "forming" else end) * 1_000_000_000
        candle = _candle(n + 1, start, size, close, active, at)
        # Now and then one without a size or an active: it moves the price book but no
        # window (or neither), and the route the next candle may take inline must follow.
        gap = draw(st.sampled_from([None, None, None, None, None, None, "size", "active"]))
        if gap is not None:
            candle = msgspec.structs.replace(candle, **{"size" if gap == "size" else "active_id": None})
        out.append(candle)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series=candle_series(), ticks=st.booleans(), every=st.integers(1, 4))
def test_replay_answers_as_the_per_candle_path(series: list[Candle], ticks: bool, every: int) -> None:
    kind = TickRecorder if ticks else Recorder
    fast, slow = kind(every=every), kind(every=every)
    result = asyncio.run(run_backtest(fast, [series], payouts=PAYOUTS, limits=NO_LIMITS, resolve=_resolve))
    state, balance, unsettled = asyncio.run(_slow_backtest(slow, series))
    assert fast.seen == slow.seen
    assert result.state.closed == state.closed
    assert (result.final_balance, result.unsettled, result.candles) == (balance, unsettled, len(series))
    assert {k: list(v) for k, v in result.state.prices.items()} == {
        k: list(v) for k, v in state.prices.items()
    }
    assert result.state.guard_state == state.guard_state
    assert result.state.server_time == state.server_time


def test_replay_of_merged_series_matches_the_per_candle_path() -> None:
    fives = [_candle(i + 1, T0 + 5 * i, 5, 1.0 + (i % 7) / 100) for i in range(300)]
    minutes = [_candle(1000 + i, T0 + 60 * i, 60, 1.0 + (i % 3) / 50, 81) for i in range(25)]
    merged = sorted([*fives, *minutes], key=lambda c: (c.end, c.size or 0))
    fast, slow = Recorder(every=4), Recorder(every=4)
    result = asyncio.run(
        run_backtest(fast, [fives, minutes], payouts=PAYOUTS, limits=NO_LIMITS, resolve=_resolve)
    )
    state, balance, _ = asyncio.run(_slow_backtest(slow, merged))
    assert fast.seen == slow.seen and len(fast.seen) > 300
    assert result.state.closed == state.closed and result.final_balance == balance


class Chain(Strategy):
    """One trade on the first candle, then each next one placed when the last closes."""

    actives = [76]
    sizes = [5]

    def __init__(self) -> None:
        super().__init__()
        self.closed: list[tuple[int, float]] = []

    def on_candle(self, ctx: Context, candle: Candle) -> Any:
        return ctx.buy("call", 1.0, 10) if candle.id == 1 else None

    async def on_trade_closed(self, ctx: Context, result: TradeRecord) -> None:
        self.closed.append((result.id, ctx.now))
        await ctx.buy("put" if result.id % 2 else "call", 1.0, 5, 76)


def test_a_trade_placed_while_settling_settles_on_time() -> None:
    # The replay keeps the broker's next expiry at hand: a trade placed by on_trade_closed
    # (inside the replay's settling) must still settle at its own expiry.
    series = [_candle(i + 1, T0 + 5 * i, 5, 1.0 + (i % 3) / 100, at=(T0 + 5 * i + 5) * NS) for i in range(60)]
    fast, slow = Chain(), Chain()
    result = asyncio.run(run_backtest(fast, [series], payouts=PAYOUTS, limits=NO_LIMITS, resolve=_resolve))
    state, _, unsettled = asyncio.run(_slow_backtest(slow, series))
    assert fast.closed == slow.closed and len(fast.closed) > 20
    assert result.state.closed == state.closed and result.unsettled == unsettled


@given(end=st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False))
def test_replay_time_is_float_of_the_end(end: int | float) -> None:
    # The replay's clock is ``end / 1``: float(end) exactly (correctly rounded), a float kept.
    now = end / 1
    assert type(now) is float and now == float(end) and math.copysign(1, now) == math.copysign(1, float(end))


@given(
    ends=st.lists(st.integers(0, 50), max_size=30).map(sorted),
    t=st.floats(-5, 60, allow_nan=False),
)
def test_price_at_matches_bisect(ends: list[int], t: float) -> None:
    broker = BacktestBroker({76: 80.0}, 100.0)
    book_ends, book_closes = broker.book(76)
    book_ends.extend(ends)
    book_closes.extend(float(k) for k in range(len(ends)))
    index = bisect.bisect_right(ends, t) - 1
    assert broker.price_at(76, t) == (None if not ends or index < 0 else float(index))


@given(
    payout=st.integers(1, 100)
    | st.floats(1, 100)
    | st.sampled_from([88.0, 85.5, 87.125, 1.0, 100.0, 91.005, 80.015]),
    order=st.sampled_from([*(("blitz", e) for e in (5, 10, 30, 60, 300)), ("turbo", 60), ("binary", 300)])
    | st.just(("digital", 60)),
    now=st.floats(T0, T0 + 86_400),
)
def test_trade_terms_are_open_terms(payout: float, order: tuple[str, int], now: float) -> None:
    # place() skips round(payout, 2) for a whole float (its own rounding): the terms are
    # open_terms', and the payout has the value, type and sign round() gives, for whole,
    # fractional and int payouts.
    product, expiration = order
    broker = BacktestBroker({76: payout}, 1_000.0)
    ends, closes = broker.book(76)
    ends.extend(T0 - 400 + k for k in range(400))
    closes.extend(1.0 + (k % 5) / 1_000 for k in range(400))
    broker.time = now
    terms = open_terms(
        product,
        "call",
        10.0,
        closes[-1],
        now,
        expiration,
        commission=100 - payout,
        volatility=broker.volatility(76),
    )
    trade = asyncio.run(broker.place(76, "call", 10.0, expiration, product))
    assert broker._open[-1].terms == terms and trade.expires_at == terms.expires
    expected = round(terms.payout, 2)
    assert trade.payout is not None
    assert (repr(trade.payout), type(trade.payout)) == (repr(expected), type(expected))


def test_blitz_outside_the_platform_grid_is_refused_as_before() -> None:
    # A broker offering an expiration the platform does not still refuses it (open_terms does).
    broker = BacktestBroker({76: 88.0}, 1_000.0, expirations=(45,))
    broker.book(76)[0].append(T0)
    broker.book(76)[1].append(1.0)
    broker.time = float(T0)
    with pytest.raises(InvalidOrder, match="not offered"):
        asyncio.run(broker.place(76, "call", 10.0, 45))


def _grid_reference(sizes: tuple[int, ...], count: int, deadtime: int, now: float) -> list[int]:
    out: set[int] = set()
    for size in sizes:
        first = (math.floor(now) // size + 1) * size
        while first - deadtime <= now:
            first += size
        out.update(first + k * size for k in range(count))
    return sorted(out)


@given(
    now=st.floats(1_700_000_000, 1_800_000_000),
    expiration=st.sampled_from([0, 30, 60, 120, 180, 240, 300, 360, 900]),
)
def test_expiry_matches_the_grids(now: float, expiration: int) -> None:
    turbo = _grid_reference((60,), 5, 30, now)
    durations = [60 * (k + 1) for k in range(5)]
    if expiration in durations:
        assert expiry("turbo", now, expiration) == turbo[durations.index(expiration)]
    else:
        with pytest.raises(Exception, match="turbo expiration"):
            expiry("turbo", now, expiration)
    if expiration in (60, 300, 900):
        assert expiry("digital", now, expiration) == _grid_reference((expiration,), 1, 10, now)[0]


def _volatility_reference(times: list[float], prices: list[float], window: int = 300) -> float:
    times, prices = times[-window:], prices[-window:]
    squares = span = 0.0
    for k in range(1, len(prices)):
        step = times[k] - times[k - 1]
        if step > 0 and prices[k] > 0 and prices[k - 1] > 0:
            squares += math.log(prices[k] / prices[k - 1]) ** 2
            span += step
    if span <= 0 or squares <= 0:
        return DEFAULT_VOLATILITY
    return math.sqrt(squares / span)


@given(
    points=st.lists(
        st.tuples(st.integers(0, 3), st.floats(-1.0, 2.0, allow_nan=False, allow_infinity=False)),
        max_size=400,
    ),
    window=st.sampled_from([2, 5, 300]),
)
def test_volatility_matches_the_loop(points: list[tuple[int, float]], window: int) -> None:
    times: list[float] = []
    t = 0
    for step, _ in points:
        t += step
        times.append(t)
    prices = [p for _, p in points]
    assert estimate_volatility(times, prices, window) == _volatility_reference(times, prices, window)


def test_guard_state_is_described_when_read() -> None:
    """The lazy guard state reads what an eager describe after each event would have."""
    guard = RiskGuard(RiskLimits(cooldown_after_losses=1, cooldown_seconds=100))
    state = RunState()
    assert state.guard_state == {}
    guard.opened(10.0)
    state.guard_changed(guard, 10.0)
    assert state.guard_state == guard.describe(10.0) == {"open": "1/5", "today": "+0.00", "streak": "0"}
    from iqwire.models import Outcome

    guard.closed(Outcome.LOSS, -5.0, 20.0)
    state.guard_changed(guard, 20.0)
    assert state.guard_state == {"open": "0/5", "today": "-5.00", "streak": "1", "cooldown": "100s"}
    state.guard_state = {"open": "set"}  # an explicit value wins until the guard changes again
    assert state.guard_state == {"open": "set"}


class OneTrade(Strategy):
    actives = [76]
    sizes = [5]

    def on_candle(self, ctx: Context, candle: Candle) -> Any:
        return ctx.buy("call", 1.0, 5) if candle.id == 1 else None


def _candles(n: int) -> list[Candle]:
    return [_candle(i + 1, T0 + 5 * i, 5, 1.0 + i / 100) for i in range(n)]


async def test_quiet_backtest_logs_its_lines_when_info_is_on(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="iqwire.bot"):
        await run_backtest(OneTrade(), [_candles(4)], payouts=PAYOUTS, limits=NO_LIMITS, resolve=_resolve)
    lines = [r.getMessage() for r in caplog.records if r.name == "iqwire.bot"]
    assert lines == ["opened #1 76 call 1 for 5s at 1.0", "closed #1 76 call 1: WIN +0.88"]


async def test_quiet_runner_builds_no_line_when_nobody_reads(caplog: pytest.LogCaptureFixture) -> None:
    emitted: list[str] = []
    broker = BacktestBroker(PAYOUTS, 100.0)
    runner = BotRunner(
        OneTrade(), broker, RiskGuard(NO_LIMITS), resolve=_resolve, emit=emitted.append, quiet=True
    )
    with caplog.at_level(logging.WARNING, logger="iqwire.bot"):
        broker.observe(_candles(1)[0])
        broker.time = T0 + 5.0
        trade = await runner.buy("call", 1.0, 5, 76)
    assert trade is not None and emitted == []
    loud = BotRunner(OneTrade(), broker, RiskGuard(NO_LIMITS), resolve=_resolve, emit=emitted.append)
    await loud.buy("call", 1.0, 5, 76)
    assert emitted == ["opened #2 76 call 1 for 5s at 1.0"]


async def test_ctx_buy_is_the_runner_coroutine() -> None:
    broker = BacktestBroker(PAYOUTS, 100.0)
    broker.observe(_candles(1)[0])
    broker.time = T0 + 5.0
    runner = BotRunner(OneTrade(), broker, RiskGuard(NO_LIMITS), resolve=_resolve)
    trade = await asyncio.create_task(runner.ctx.buy("put", 2.0, 5, active=76))
    assert trade is not None and (trade.direction, trade.amount) == ("put", 2.0)
    assert runner.state.guard_state["open"] == "1/∞"


def test_report_drawdown_and_products() -> None:
    from iqwire.models import Outcome

    def record(n: int, pnl: float, outcome: Outcome, product: str) -> TradeRecord:
        return TradeRecord(n, 76, "call", 10.0, 80.0, 0.0, 1.0, 1.0, 1.0, outcome, pnl, product)

    report = Report(
        [
            record(1, 8.0, Outcome.WIN, "blitz"),
            record(2, -10.0, Outcome.LOSS, "digital"),
            record(3, -10.0, Outcome.LOSS, "blitz"),
            record(4, 0.0, Outcome.EQUAL, "blitz"),
            record(5, -3.5, Outcome.SOLD, "turbo"),
        ],
        100.0,
    )
    assert report.equity == [100.0, 108.0, 98.0, 88.0, 88.0, 84.5]
    assert report.max_drawdown == pytest.approx(23.5)
    assert report.max_drawdown_pct == pytest.approx(100 * 23.5 / 108)
    assert report.by_product["blitz"] == {
        "trades": 3,
        "wins": 1,
        "losses": 1,
        "equals": 1,
        "sold": 0,
        "pnl": -2.0,
    }
    assert report.by_product["turbo"]["sold"] == 1


class Ticks(Strategy):
    """Plain ``on_tick`` (a coroutine on every other one), ``async def on_candle``: the order of calls."""

    actives = [76]
    sizes = [5]

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        self.calls.append(f"candle {candle.id} start")
        await asyncio.sleep(0)
        self.calls.append(f"candle {candle.id} end")

    def on_tick(self, ctx: Context, candle: Candle) -> Any:
        self.calls.append(f"tick {candle.id}")
        return self._later(candle) if candle.id % 2 == 0 else None

    async def _later(self, candle: Candle) -> None:
        self.calls.append(f"tick {candle.id} awaited")


async def test_candle_nowait_leaves_what_the_strategy_awaits() -> None:
    runner = BotRunner(Ticks(), BacktestBroker(PAYOUTS, 100.0), RiskGuard(NO_LIMITS), resolve=_resolve)
    strategy = runner.strategy
    assert isinstance(strategy, Ticks)
    forming = _candle(1, T0, 5, 1.0, at=(T0 + 1) * NS)
    assert runner.candle_nowait(forming) is None  # a plain on_tick that returned None: nothing to await
    assert strategy.calls == ["tick 1"]
    # The next candle's first push closes candle 1: on_candle (awaited), then on_tick.
    await runner.candle(_candle(2, T0 + 5, 5, 1.1, at=(T0 + 6) * NS))
    assert strategy.calls == ["tick 1", "candle 1 start", "candle 1 end", "tick 2", "tick 2 awaited"]
    pending = runner.candle_nowait(_candle(2, T0 + 5, 5, 1.2, at=(T0 + 7) * NS))
    assert pending is not None and strategy.calls[-1] == "tick 2"
    await pending
    assert strategy.calls[-1] == "tick 2 awaited"


class Listener(OneTrade):
    """Listens to its closes (``on_trade_closed`` overridden)."""

    def __init__(self) -> None:
        super().__init__()
        self.closes: list[int] = []

    async def on_trade_closed(self, ctx: Context, result: TradeRecord) -> None:
        self.closes.append(result.id)


@pytest.mark.parametrize("listens", [False, True])
async def test_closed_nowait_records_first_and_leaves_the_strategy(listens: bool) -> None:
    broker = BacktestBroker(PAYOUTS, 100.0)
    broker.observe(_candles(1)[0])
    broker.time = T0 + 5.0
    strategy = Listener() if listens else OneTrade()
    runner = BotRunner(strategy, broker, RiskGuard(NO_LIMITS), resolve=_resolve)
    trade = await runner.ctx.buy("call", 2.0, 5, active=76)
    assert trade is not None
    (record,) = broker.due(T0 + 10.0)
    pending = runner.closed_nowait(record)
    # Recorded before anything is awaited: the state, the guard.
    assert runner.state.closed == [record] and runner.state.open_trades == {}
    assert runner.guard.open_count == 0 and runner.state.guard_state["open"] == "0/∞"
    if listens:
        assert isinstance(strategy, Listener) and pending is not None and strategy.closes == []
        await pending
        assert strategy.closes == [record.id]
    else:
        assert pending is None
    assert runner.closed_nowait(record) is None  # a second close of the same trade counts nothing
    assert runner.state.closed == [record]


# -- a win's P&L: round(x, 2), the last answer remembered ----------------------------------------


_any_float = st.floats(allow_nan=True, allow_infinity=True)
_stake_times_payout = st.floats(0.01, 10_000).flatmap(lambda a: st.sampled_from([a, a * 0.88, -a, 0.0, -0.0]))


@given(xs=st.lists(_stake_times_payout | _any_float | st.integers(-(10**6), 10**6), max_size=30))
def test_cents_is_round_to_two_places(xs: list[float]) -> None:
    for x in [*xs, *xs]:  # each one twice in a row: the second is answered from memory
        # numpy's float64 rounds to a float64: never answered from (nor kept in) the memory.
        for value in (x, np.float64(x)) if isinstance(x, float) else (x,):
            with np.errstate(all="ignore"):  # numpy warns when it rounds a float near its maximum
                got, want = _cents(value), round(value, 2)
            assert type(got) is type(want)
            if want != want:  # nan
                assert got != got
            else:
                assert got == want and math.copysign(1, got) == math.copysign(1, want)


def test_a_win_pays_the_rounded_stake_times_payout() -> None:
    terms = open_terms("blitz", "call", 10.0, 1.0, T0, 30, commission=12.0, volatility=0.0)
    for _ in range(3):
        assert settle(terms, 1.1) == (Outcome.WIN, 8.8)
    odd = open_terms("turbo", "put", 3.33, 1.0, T0, 60, commission=12.7, volatility=0.0)
    assert settle(odd, 0.9) == (Outcome.WIN, round(3.33 * 87.3 / 100, 2))
    assert settle(terms, 1.1) == (Outcome.WIN, 8.8)


# -- the runner places through the ledger's place_nowait: the same answers as place ------------


@given(
    orders=st.lists(
        st.tuples(st.sampled_from(ORDERS), st.sampled_from(["call", "put", "up"]), st.floats(0.5, 6_000)),
        max_size=8,
    ),
    priced=st.booleans(),
)
def test_place_nowait_answers_as_place(
    orders: list[tuple[tuple[str, int], str, float]], priced: bool
) -> None:
    def ledger() -> BacktestBroker:
        broker = BacktestBroker(PAYOUTS, 10_000.0)
        broker.time = T0 + 0.25
        if priced:
            broker.observe(_candle(1, T0 - 5, 5, 1.1))
        return broker

    def outcome(call: Any) -> Any:
        try:
            trade = call()
        except (InvalidOrder, InsufficientBalance, MarketClosed) as exc:
            return type(exc), str(exc)
        return trade

    awaited, direct = ledger(), ledger()
    for (product, expiration), direction, amount in orders:
        args = (76, direction, amount, expiration, product)
        a = outcome(lambda args=args: asyncio.run(awaited.place(*args)))
        b = outcome(lambda args=args: direct.place_nowait(*args))
        assert a == b
    assert (awaited.balance(), awaited.next_expiry, awaited.unsettled) == (
        direct.balance(),
        direct.next_expiry,
        direct.unsettled,
    )
    assert awaited.due(math.inf) == direct.due(math.inf)


class _NoAwait(BacktestBroker):
    async def place(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the runner awaited place() on a broker that answers at once")


class _AwaitOnly:
    """A broker without ``place_nowait``: the runner awaits its ``place``."""

    def __init__(self) -> None:
        self.ledger = BacktestBroker(PAYOUTS, 100.0)
        self.awaited = 0

    def now(self) -> float:
        return self.ledger.now()

    def payout(self, active_id: int, product: str = "blitz") -> float:
        return self.ledger.payout(active_id, product)

    def balance(self) -> float | None:
        return self.ledger.balance()

    async def place(self, *args: Any) -> Any:
        self.awaited += 1
        return self.ledger.place_nowait(*args)

    async def sell(self, trade: Any) -> Any:
        return await self.ledger.sell(trade)


async def test_the_runner_places_without_a_coroutine_only_where_the_broker_answers_at_once() -> None:
    for broker in (_NoAwait(PAYOUTS, 100.0), _AwaitOnly()):
        ledger = broker.ledger if isinstance(broker, _AwaitOnly) else broker
        ledger.observe(_candle(1, T0, 5, 1.2))
        ledger.time = T0 + 5.0
        runner = BotRunner(Recorder(), broker, RiskGuard(NO_LIMITS), resolve=_resolve, quiet=True)
        trade = await runner.buy("call", 10.0, 5, 76)
        assert trade is not None and trade.open_price == 1.2 and runner.state.open_trades == {trade.id: trade}
        assert await runner.buy("call", 1_000.0, 5, 76) is None  # refused by the ledger: counted
        assert runner.state.refusals == {"rejected:InsufficientBalance": 1}
        assert getattr(broker, "awaited", 2) == 2
