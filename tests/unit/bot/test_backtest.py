"""Backtests: a hand-computed fixture, no look-ahead, and the examples."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from iqwire.bot import Context, RiskLimits, Strategy
from iqwire.bot.backtest import run_backtest
from iqwire.bot.loader import load_config, load_strategy
from iqwire.models import Candle, Outcome
from iqwire.sim.actives import find_active
from iqwire.sim.prices import PriceModel

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
T0 = 1_770_899_100
NO_LIMITS = RiskLimits.unlimited()


def _resolve(active: str | int) -> int:
    spec = find_active(active)
    assert spec is not None
    return spec.id


def _candle(i: int, close: float, size: int = 5) -> Candle:
    start = T0 + i * size
    return Candle(
        id=i + 1,
        start=start,
        end=start + size,
        open=close,
        close=close,
        low=close,
        high=close,
        active_id=76,
        size=size,
        at=(start + size) * 1_000_000_000,
    )


class Scripted(Strategy):
    """Buys what the script says at given candle indexes."""

    actives = [76]
    sizes = [5]
    params: dict[str, Any] = {"script": {}}

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        order = self.params["script"].get(candle.id - 1)
        if order is not None:
            direction, amount, expiration = order
            await ctx.buy(direction, amount, expiration)


async def test_hand_computed_fixture() -> None:
    closes = [1.0, 1.1, 1.2, 1.1, 1.1, 1.0, 0.9, 1.3]
    series = [_candle(i, c) for i, c in enumerate(closes)]
    # Trade 1 at candle 0's close (1.0): call, expires 10 s later at candle 2's close 1.2 → win.
    # Trade 2 at candle 3 (1.1): put, 5 s later at candle 4 (1.1) → equal (refund).
    # Trade 3 at candle 4 (1.1): call, 10 s later at candle 6 (0.9) → loss.
    script = {0: ("call", 10.0, 10), 3: ("put", 20.0, 5), 4: ("call", 5.0, 10)}
    result = await run_backtest(
        Scripted(script=script), [series], payouts={76: 80.0}, limits=NO_LIMITS, resolve=_resolve
    )
    outcomes = [(t.outcome, t.pnl) for t in result.state.closed]
    assert outcomes == [(Outcome.WIN, 8.0), (Outcome.EQUAL, 0.0), (Outcome.LOSS, -5.0)]
    assert result.report.pnl == pytest.approx(3.0)
    assert result.final_balance == pytest.approx(10_003.0)
    assert result.unsettled == 0
    first = result.state.closed[0]
    assert (first.open_price, first.close_price, first.expires_at) == (1.0, 1.2, T0 + 5 + 10)


class Spy(Strategy):
    """Checks, on every signal, that nothing from the future is visible."""

    actives = [76]
    sizes = [5, 60]
    params: dict[str, Any] = {}

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.violations: list[str] = []

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        self.seen += 1
        if candle.end > ctx.now:
            self.violations.append(f"candle {candle.id} ends {candle.end} after now {ctx.now}")
        for size in self.sizes:
            window = ctx.window(76, size)
            if window.last is not None and window.last.end > ctx.now:
                self.violations.append(f"window {size} holds a candle ending after now")
        if self.seen % 50 == 0:
            trade = await ctx.buy("call", 1, 5)
            if trade is not None and trade.open_price != candle.close:
                self.violations.append("a trade opened at a price other than the last close")


async def test_no_look_ahead() -> None:
    model = PriceModel(seed=3)
    fives = model.candles(76, 5, T0, T0 + 3600)
    minutes = model.candles(76, 60, T0, T0 + 3600)
    spy = Spy()
    result = await run_backtest(spy, [fives, minutes], payouts={76: 85.0}, limits=NO_LIMITS, resolve=_resolve)
    assert spy.violations == []
    assert spy.seen == len(fives) + len(minutes)
    assert result.report.trades > 0


@pytest.mark.parametrize(
    ("reference", "trades"),
    [
        ("mean_reversion.py", True),
        ("trend_following.py:TrendFollowing", True),
        ("mood_contrarian.py", False),
        ("digital_trend.py", True),
    ],
)
async def test_examples_backtest(reference: str, trades: bool) -> None:
    strategy_class = load_strategy(str(EXAMPLES / reference))
    model = PriceModel(seed=5)
    series = [model.candles(76, size, T0 - 6 * 3600, T0) for size in strategy_class.sizes]
    result = await run_backtest(
        strategy_class(), series, payouts={76: 88.0, 81: 85.0}, limits=NO_LIMITS, resolve=_resolve
    )
    assert (result.report.trades > 0) is trades
    report = result.report
    assert report.trades == report.wins + report.losses + report.equals + report.other
    still_open = sum(t.amount for t in result.state.open_trades.values())
    assert len(result.state.open_trades) == result.unsettled
    assert result.final_balance + still_open == pytest.approx(10_000 + result.report.pnl)


def test_loader_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no strategy file"):
        load_strategy("missing.py")
    with pytest.raises(ValueError, match="cannot import"):
        load_strategy("no_such_module_xyz:Thing")
    two = tmp_path / "two.py"
    two.write_text(
        "from iqwire.bot import Strategy\nclass A(Strategy): pass\nclass B(Strategy): pass\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="defines 2 strategies"):
        load_strategy(str(two))
    assert load_strategy(f"{two}:B").__name__ == "B"
    sys.modules.pop("iqwire_strategy_two", None)


def test_run_config(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        'strategy = "examples/mean_reversion.py"\nbalance = "tournament"\n'
        "[params]\nperiod = 7\n[risk]\nmax_stake = 25\n",
        encoding="utf-8",
    )
    loaded = load_config(config)
    assert loaded.params == {"period": 7}
    assert loaded.risk.max_stake == 25
    assert loaded.balance == "tournament"
    config.write_text("bogus = 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bogus"):
        load_config(config)


def test_unknown_parameter_is_refused() -> None:
    with pytest.raises(TypeError, match="no parameter"):
        Scripted(nope=1)
