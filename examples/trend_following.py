"""Trend following on two timeframes: the 60-second trend, entered on 5-second pullbacks."""

from __future__ import annotations

from iqwire.bot import Context, Strategy
from iqwire.bot.indicators import EMA
from iqwire.models import Candle


class TrendFollowing(Strategy):
    """Trade with the 60 s EMA crossover when the 5 s close is back on the trend's side."""

    actives = ["EURUSD-OTC"]
    sizes = [5, 60]
    params = {"fast": 5, "slow": 20, "entry": 6, "amount": 10.0, "expiration": 60}

    async def on_start(self, ctx: Context) -> None:
        for active in self.actives:
            slow_window = ctx.window(active, 60)
            slow_window.add("fast", EMA(int(self.params["fast"])))
            slow_window.add("slow", EMA(int(self.params["slow"])))
            ctx.window(active, 5).add("entry", EMA(int(self.params["entry"])))

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        if candle.size != 5 or candle.active_id is None:
            return
        trend = ctx.window(candle.active_id, 60)
        fast, slow = trend["fast"].value, trend["slow"].value
        entry = ctx.window(candle.active_id, 5)["entry"].value
        if fast is None or slow is None or entry is None or ctx.open_positions:
            return
        amount, expiration = float(self.params["amount"]), int(self.params["expiration"])
        if fast > slow and candle.close > entry:
            await ctx.buy("call", amount, expiration)
        elif fast < slow and candle.close < entry:
            await ctx.buy("put", amount, expiration)
