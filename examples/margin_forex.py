"""Margin forex with take-profit and stop-loss: a breakout of the 60-second range, one position at a time."""

from __future__ import annotations

from iqwire.bot import Context, Strategy
from iqwire.bot.indicators import EMA
from iqwire.models import Candle


class MarginBreakout(Strategy):
    """Buy (sell) EURUSD-OTC on margin when the close breaks the last ``lookback`` highs (lows) with the trend.

    Every order carries its exits: a take-profit and a stop-loss in pips, so the
    position closes by itself; the margin guards (``MarginLimits``) refuse new
    orders when the margin level is low.
    """

    actives = ["EURUSD-OTC"]
    sizes = [60]
    params = {"lookback": 10, "trend": 20, "quantity": 10_000, "leverage": 100, "tp_pips": 8, "sl_pips": 4}

    async def on_start(self, ctx: Context) -> None:
        ctx.window("EURUSD-OTC", 60).add("trend", EMA(int(self.params["trend"])))

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        window = ctx.window("EURUSD-OTC", 60)
        trend = window["trend"].value
        lookback = int(self.params["lookback"])
        closed = window.candles[-lookback - 1 : -1]  # the range before this candle
        if trend is None or len(closed) < lookback or ctx.margin_positions:
            return
        exits = {
            "take_profit": (self.params["tp_pips"], "pips"),
            "stop_loss": (self.params["sl_pips"], "pips"),
        }
        quantity, leverage = float(self.params["quantity"]), int(self.params["leverage"])
        if candle.close > max(c.high for c in closed) and candle.close > trend:
            await ctx.order("EURUSD-OTC", "buy", quantity, leverage=leverage, **exits)
        elif candle.close < min(c.low for c in closed) and candle.close < trend:
            await ctx.order("EURUSD-OTC", "sell", quantity, leverage=leverage, **exits)
