"""The bot runtime: strategies on every signal, risk guards, live / paper / backtest.

Example::

    from iqwire.bot import Strategy, Context
    from iqwire.bot.indicators import RSI

    class MeanReversion(Strategy):
        actives = ["EURUSD-OTC"]
        sizes = [5]

        async def on_start(self, ctx: Context) -> None:
            ctx.window("EURUSD-OTC", 5).add("rsi", RSI(14))

        async def on_candle(self, ctx: Context, candle) -> None:
            rsi = ctx.window(candle.active_id, 5)["rsi"].value
            if rsi is not None and rsi < 30:
                await ctx.buy("call", 10, expiration=30)
"""

from iqwire.bot.context import Broker, Context
from iqwire.bot.records import OpenTrade, RunState, TradeRecord
from iqwire.bot.risk import RiskGuard, RiskLimits
from iqwire.bot.strategy import Strategy

__all__ = ["Broker", "Context", "OpenTrade", "RiskGuard", "RiskLimits", "RunState", "Strategy", "TradeRecord"]
