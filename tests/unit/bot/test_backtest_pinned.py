"""The backtest's whole output pinned: every trade of the example, for one product and four.

The replay and trade paths are tuned for speed (docs/performance.md); these runs
pin what they must keep producing, trade by trade, so a fast path that answers
differently from the slow one fails here (not only in the benchmark's trade count).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from iqwire.bot import Context, RiskLimits, Strategy
from iqwire.bot.backtest import BacktestResult, run_backtest
from iqwire.bot.loader import load_strategy
from iqwire.models import Candle
from iqwire.sim.actives import find_active
from iqwire.sim.prices import PriceModel

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
START = 1_770_899_100
NO_LIMITS = RiskLimits.unlimited()
#: (product, expiration) the mixed run buys in turn (as bench/bench_backtest.py does).
PRODUCTS = (("blitz", 30), ("turbo", 60), ("binary", 300), ("digital", 60))


def _resolve(active: str | int) -> int:
    spec = find_active(active)
    assert spec is not None
    return spec.id


def _candles() -> list[Candle]:
    return PriceModel(7).candles(76, 5, START - 86_400, START)


def _mixed(base: type[Strategy]) -> type[Strategy]:
    class Mixed(base):  # type: ignore[valid-type,misc]
        bought = 0

        async def on_start(self, ctx: Context) -> None:
            await super().on_start(ctx)
            real_buy = ctx.buy

            async def buy(direction: str, amount: float, expiration: int, *args: Any) -> Any:
                product, expiration = PRODUCTS[self.bought % len(PRODUCTS)]
                self.bought += 1
                return await real_buy(direction, amount, expiration, *args, product=product)

            ctx.buy = buy  # type: ignore[method-assign,assignment]

    return Mixed


def _digest(result: BacktestResult) -> str:
    rows = [
        (
            t.id,
            t.active_id,
            t.direction,
            t.amount,
            t.payout,
            t.opened_at,
            t.expires_at,
            t.open_price,
            t.close_price,
            t.outcome.name,
            t.pnl,
            t.product,
        )
        for t in result.state.closed
    ]
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


async def _run(strategy: Strategy, limits: RiskLimits = NO_LIMITS) -> BacktestResult:
    return await run_backtest(strategy, [_candles()], payouts={76: 88.0}, limits=limits, resolve=_resolve)


async def test_mean_reversion_trades_pinned() -> None:
    result = await _run(load_strategy(str(EXAMPLES / "mean_reversion.py"))())
    report = result.report
    assert (result.candles, report.trades, report.wins, report.losses, report.equals) == PINNED_ONE[:5]
    assert (round(result.final_balance, 2), result.unsettled, _digest(result)) == PINNED_ONE[5:]
    assert [t.id for t in result.state.closed] == sorted(t.id for t in result.state.closed)


async def test_mixed_products_trades_pinned() -> None:
    result = await _run(_mixed(load_strategy(str(EXAMPLES / "mean_reversion.py")))())
    report = result.report
    assert [report.trades, sorted({t.product for t in result.state.closed})] == [
        PINNED_MIXED[1],
        ["binary", "blitz", "digital", "turbo"],
    ]
    assert (result.candles, report.trades, report.wins, report.losses, report.equals) == PINNED_MIXED[:5]
    assert (round(result.final_balance, 2), result.unsettled, _digest(result)) == PINNED_MIXED[5:]


async def test_default_limits_pinned() -> None:
    """With the default guards, refusals are counted and the guards' last state is kept for the dashboard."""
    result = await _run(load_strategy(str(EXAMPLES / "mean_reversion.py"))(), RiskLimits())
    state = result.state
    assert (result.report.trades, round(result.final_balance, 2), _digest(result)) == PINNED_GUARDED[:3]
    assert dict(sorted(state.refusals.items())) == PINNED_GUARDED[3]
    assert state.guard_state == PINNED_GUARDED[4]


PINNED_ONE: tuple[Any, ...] = (17280, 487, 241, 245, 1, 9660.8, 1, "13c5e6f67e92b697")
PINNED_MIXED: tuple[Any, ...] = (17280, 224, 105, 118, 1, 9744.0, 0, "ebcdb54646fe755b")
PINNED_GUARDED: tuple[Any, ...] = (
    361,
    9652.4,
    "87feb868cd60dd99",
    {"cooldown": 459},
    {"open": "0/5", "today": "-291.20", "streak": "4", "cooldown": "295s"},
)
