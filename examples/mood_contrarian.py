"""Mood contrarian: bet against a lopsided crowd (traders' mood).

A backtest over stored candles has no mood, so it makes no trades there; run it
on the simulator (``--paper``) or live.
"""

from __future__ import annotations

from iqwire.bot import Context, Strategy
from iqwire.models import TradersMood


class MoodContrarian(Strategy):
    """When more than ``threshold`` of traders buy calls, buy a put (and the reverse)."""

    actives = ["EURUSD-OTC", "GBPUSD-OTC"]
    sizes = [60]
    params = {"threshold": 0.7, "amount": 10.0, "expiration": 60}

    async def on_mood(self, ctx: Context, mood: TradersMood) -> None:
        if any(t.active_id == mood.asset_id for t in ctx.open_positions):
            return
        threshold = float(self.params["threshold"])
        amount, expiration = float(self.params["amount"]), int(self.params["expiration"])
        if mood.call_share >= threshold:
            await ctx.buy("put", amount, expiration, active=mood.asset_id)
        elif mood.put_share >= threshold:
            await ctx.buy("call", amount, expiration, active=mood.asset_id)
