"""Entry 7, backtest: candles/s through ``run_backtest`` of examples/mean_reversion.py vs a bare loop.

The candles: EURUSD-OTC 5-second candles from the simulator's ``PriceModel``
(seed 7; 5 days = 86,400 candles). Value: candles/s of
``iqwire.bot.backtest.run_backtest(MeanReversion(), [candles], ...)`` (broker,
risk guard, runner, context, windows, settlement). Baseline: candles/s of a bare
loop over the same candles doing the strategy's own arithmetic, the same
``RSI(14)`` update and threshold test on each close. Goal: ratio >= 0.25 (the
framework costs at most 4x the strategy's own work).

Run: ``python bench/bench_backtest.py [--quick]``.
"""

from __future__ import annotations

import asyncio
import gc
import time

from _common import ROOT, START, entry, log, median, parser

from iqwire.bot.backtest import run_backtest
from iqwire.bot.indicators import RSI
from iqwire.bot.loader import load_strategy
from iqwire.bot.risk import RiskLimits
from iqwire.models import Candle
from iqwire.sim.actives import find_active
from iqwire.sim.prices import PriceModel

ACTIVE, SIZE = 76, 5
NO_LIMITS = RiskLimits(
    max_stake=None,
    max_open_trades=None,
    daily_loss_limit=None,
    max_trades_per_minute=None,
    cooldown_after_losses=None,
    min_payout=None,
)


def _resolve(active: str | int) -> int:
    spec = find_active(active)
    assert spec is not None, active
    return spec.id


def backtest_rate(candles: list[Candle]) -> tuple[float, int]:
    strategy_class = load_strategy(str(ROOT / "examples" / "mean_reversion.py"))
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
    bare: list[float] = []
    trades = signals = 0
    for _ in range(repeats):
        rate, trades = backtest_rate(candles)
        backtest.append(rate)
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
        None if args.quick else ">= 0.25",
    )


if __name__ == "__main__":
    main()
