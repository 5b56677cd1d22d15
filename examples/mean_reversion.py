"""Mean reversion with RSI: buy against stretched moves on 5-second candles.

Run it: ``iqwire bot run examples/mean_reversion.py --sim`` or
``iqwire backtest examples/mean_reversion.py --db candles.sqlite``.
"""

from __future__ import annotations

from iqwire.bot import Context, Strategy
from iqwire.bot.indicators import RSI
from iqwire.models import Candle


class MeanReversion(Strategy):
    """RSI below ``low`` → call, above ``high`` → put; one trade at a time per active."""

    actives = ["EURUSD-OTC"]
    sizes = [5]
    params = {"period": 14, "low": 30.0, "high": 70.0, "amount": 10.0, "expiration": 30}

    async def on_start(self, ctx: Context) -> None:
        for active in self.actives:
            ctx.window(active, 5).add("rsi", RSI(int(self.params["period"])))

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        assert candle.active_id is not None
        rsi = ctx.window(candle.active_id, 5)["rsi"].value
        if rsi is None or any(t.active_id == candle.active_id for t in ctx.open_positions):
            return
        if rsi < self.params["low"]:
            await ctx.buy("call", float(self.params["amount"]), int(self.params["expiration"]))
        elif rsi > self.params["high"]:
            await ctx.buy("put", float(self.params["amount"]), int(self.params["expiration"]))
