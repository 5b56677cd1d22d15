"""Digital options with the trend: a strike beyond the spot, bought when the 60 s trend agrees.

A strike a little above the price (calls) or below it (puts) costs less than the
spot strike and pays more when it wins; it wins only if the trend carries the
price past it. The position is closed early (``ctx.sell``) when the trend flips.
"""

from __future__ import annotations

from iqwire.bot import Context, Strategy
from iqwire.bot.indicators import EMA
from iqwire.models import Candle


class DigitalTrend(Strategy):
    """Buy a digital call above (put below) the price when the 60 s EMAs agree with the 5 s close."""

    actives = ["EURUSD-OTC"]
    sizes = [5, 60]
    params = {"fast": 5, "slow": 20, "amount": 10.0, "period": 60, "offset": 0.00005}

    async def on_start(self, ctx: Context) -> None:
        for active in self.actives:
            trend = ctx.window(active, 60)
            trend.add("fast", EMA(int(self.params["fast"])))
            trend.add("slow", EMA(int(self.params["slow"])))

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        if candle.size != 5 or candle.active_id is None:
            return
        trend = ctx.window(candle.active_id, 60)
        fast, slow = trend["fast"].value, trend["slow"].value
        if fast is None or slow is None:
            return
        up = fast > slow
        for trade in ctx.open_positions:
            if trade.product == "digital" and (trade.direction == "call") != up:
                await ctx.sell(trade)  # the trend flipped: take what the position is worth now
        if ctx.open_positions:
            return
        offset = candle.close * float(self.params["offset"])
        amount, period = float(self.params["amount"]), int(self.params["period"])
        if up and candle.close > slow:
            await ctx.buy("call", amount, period, product="digital", strike=candle.close + offset)
        elif not up and candle.close < slow:
            await ctx.buy("put", amount, period, product="digital", strike=candle.close - offset)
