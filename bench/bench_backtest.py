"""Entry 7, backtest: candles/s through ``run_backtest`` of examples/mean_reversion.py vs a bare loop.

The candles: EURUSD-OTC 5-second candles from the simulator's ``PriceModel``
(seed 7; 5 days = 86,400 candles). Value: candles/s of
``iqwire.bot.backtest.run_backtest(MeanReversion(), [candles], ...)`` (broker,
risk guard, runner, context, windows, settlement). Baseline: candles/s of a bare
loop over the same candles doing the strategy's own arithmetic, the same
``RSI(14)`` update and threshold test on each close. Goal: ratio >= 0.35 (the
framework costs at most ~1.9x the strategy's own work; issue 16).

A second entry replays the same candles through the same strategy buying the four
option products in turn (blitz 30 s, turbo to the next grid minute, binary 300 s,
digital at the spot strike for 60 s), each settled by its own rules; its baseline
is the same bare loop. Goal: ratio >= 0.25.

Run: ``python bench/bench_backtest.py [--quick]``.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from _common import ROOT, START, entry, log, median, parser

from iqwire.bot import Context, Strategy
from iqwire.bot.backtest import run_backtest
from iqwire.bot.indicators import RSI
from iqwire.bot.loader import load_strategy
from iqwire.bot.risk import RiskLimits
from iqwire.models import Candle
from iqwire.sim.actives import find_active
from iqwire.sim.prices import PriceModel

ACTIVE, SIZE = 76, 5
NO_LIMITS = RiskLimits.unlimited()


def _resolve(active: str | int) -> int:
    spec = find_active(active)
    assert spec is not None, active
    return spec.id


#: (product, expiration) bought in turn by the mixed-products run.
PRODUCTS = (("blitz", 30), ("turbo", 60), ("binary", 300), ("digital", 60))


def mixed_products(base: type[Strategy]) -> type[Strategy]:
    """The example strategy, buying blitz, turbo, binary and digital options in turn."""

    class MixedProducts(base):  # type: ignore[valid-type,misc]
        bought = 0

        async def on_start(self, ctx: Context) -> None:
            await super().on_start(ctx)
            real_buy = ctx.buy

            async def buy(direction: str, amount: float, expiration: int, *args: Any) -> Any:
                product, expiration = PRODUCTS[self.bought % len(PRODUCTS)]
                self.bought += 1
                return await real_buy(direction, amount, expiration, *args, product=product)

            ctx.buy = buy  # type: ignore[method-assign]

    return MixedProducts


def backtest_rate(candles: list[Candle], mixed: bool = False) -> tuple[float, int]:
    strategy_class = load_strategy(str(ROOT / "examples" / "mean_reversion.py"))
    if mixed:
        strategy_class = mixed_products(strategy_class)
    gc.collect()
    started = time.perf_counter()
    result = asyncio.run(
        run_backtest(strategy_class(), [candles], payouts={ACTIVE: 88.0}, limits=NO_LIMITS, resolve=_resolve)
    )
    elapsed = time.perf_counter() - started
    assert result.candles == len(candles)
    return len(candles) / elapsed, result.report.trades


def bare_rate(candles: list[Candle]) -> tuple[float, int]:
    gc.collect()
    started = time.perf_counter()
    rsi = RSI(14)
    signals = 0
    for candle in candles:
        value = rsi.update(candle.close)
        if value is not None and (value < 30.0 or value > 70.0):
            signals += 1
    return len(candles) / (time.perf_counter() - started), signals


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    days = 0.05 if args.quick else 5
    repeats = args.repeats or (1 if args.quick else 5)
    candles = PriceModel(7).candles(ACTIVE, SIZE, int(START - days * 86_400), START)
    backtest: list[float] = []
    mixed: list[float] = []
    bare: list[float] = []
    trades = mixed_trades = signals = 0
    for _ in range(repeats):
        rate, trades = backtest_rate(candles)
        backtest.append(rate)
        rate, mixed_trades = backtest_rate(candles, mixed=True)
        mixed.append(rate)
        rate, signals = bare_rate(candles)
        bare.append(rate)
    log(
        f"backtest over {len(candles):,} candles: {median(backtest):,.0f}/s ({trades} trades); "
        f"bare RSI loop {median(bare):,.0f}/s ({signals} signals)"
    )
    entry(
        "backtest: run_backtest(mean_reversion) vs bare RSI loop",
        median(backtest),
        median(bare),
        "candles/s",
        None if args.quick else ">= 0.35",
    )
    log(f"backtest, 4 products mixed: {median(mixed):,.0f}/s ({mixed_trades} trades)")
    entry(
        "backtest: 4 products mixed vs bare RSI loop",
        median(mixed),
        median(bare),
        "candles/s",
        None if args.quick else ">= 0.25",
    )


if __name__ == "__main__":
    main()
