"""Mean reversion with RSI: buy against stretched moves on 5-second candles.

Run it: ``iqwire bot run examples/mean_reversion.py --sim`` or
``iqwire backtest examples/mean_reversion.py --db candles.sqlite``.
"""

from __future__ import annotations

from collections.abc import Awaitable

from iqwire.bot import Context, Strategy
from iqwire.bot.indicators import RSI
from iqwire.models import Candle


class MeanReversion(Strategy):
    """RSI below ``low`` → call, above ``high`` → put; one trade at a time per active."""

    actives = ["EURUSD-OTC"]
    sizes = [5]
    params = {"period": 14, "low": 30.0, "high": 70.0, "amount": 10.0, "expiration": 30}

    async def on_start(self, ctx: Context) -> None:
        # The RSI of each active, by id: on_candle reads it without a window lookup.
        self.rsi = {
            ctx.resolve(active): ctx.window(active, 5).add("rsi", RSI(int(self.params["period"])))
            for active in self.actives
        }

    # A plain ``def``: most candles trade nothing, and those cost no coroutine. When it
    # trades, it returns ``ctx.buy(...)`` and the runner awaits it.
    def on_candle(self, ctx: Context, candle: Candle) -> Awaitable[object] | None:
        assert candle.active_id is not None
        rsi = self.rsi[candle.active_id].value
        if rsi is None:
            return None
        params = self.params
        if rsi < params["low"]:
            direction = "call"
        elif rsi > params["high"]:
            direction = "put"
        else:
            return None
        if any(t.active_id == candle.active_id for t in ctx.open_positions):
            return None
        return ctx.buy(direction, float(params["amount"]), int(params["expiration"]))
