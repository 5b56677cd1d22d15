"""The :class:`Strategy` base class: what a trading idea overrides."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from iqwire.models import BalanceChanged, Candle, InstrumentStatus, TradersMood

if TYPE_CHECKING:
    from iqwire.bot.context import Context
    from iqwire.bot.records import TradeRecord

__all__ = ["Strategy"]


class Strategy:
    """Subclass it and override the callbacks you need; the same code runs live,
    on the simulator (paper) and in a backtest.

    ``actives`` are names or ids, ``sizes`` the candle timeframes (seconds) the
    strategy wants; ``params`` are defaults that a config file, CLI flags or a
    sweep override (read them as ``self.params["period"]``). Live and paper runs
    warm the windows from history before the first live candle: ``warmup``
    candles, or by default what the indicators added in ``on_start`` need.

    Example::

        class MeanReversion(iqwire.bot.Strategy):
            actives = ["EURUSD-OTC"]
            sizes = [60]
            params = {"period": 14}

            async def on_start(self, ctx):
                ctx.window("EURUSD-OTC", 60).add("rsi", RSI(self.params["period"]))

            async def on_candle(self, ctx, candle):
                rsi = ctx.window(candle.active_id, 60)["rsi"].value
                if rsi is not None and rsi < 30:
                    await ctx.buy("call", 10, expiration=60)

        # or, with no coroutine per candle (the runner awaits what it returns):
        #     def on_candle(self, ctx, candle):
        #         rsi = ctx.window(candle.active_id, 60)["rsi"].value
        #         if rsi is not None and rsi < 30:
        #             return ctx.buy("call", 10, expiration=60)
        #         return None
    """

    actives: ClassVar[Sequence[str | int]] = ()
    sizes: ClassVar[Sequence[int]] = (60,)
    params: ClassVar[dict[str, Any]] = {}
    #: Closed candles per active and size to load from history before a live or paper run
    #: trades; ``None``: as many as the indicators attached in ``on_start`` need.
    warmup: ClassVar[int | None] = None

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(type(self).params)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no parameter(s) {', '.join(sorted(unknown))}")
        self.params: dict[str, Any] = {**type(self).params, **params}  # type: ignore[misc]

    @property
    def name(self) -> str:
        """The strategy's class name."""
        return type(self).__name__

    async def on_start(self, ctx: Context) -> None:
        """Called once before the first signal: set up windows and indicators."""

    def on_candle(self, ctx: Context, candle: Candle) -> Awaitable[object] | None:
        """A candle closed (every timeframe in ``sizes``; ``candle.size`` tells which).

        Define it as ``async def`` and await what you need, or as a plain ``def``
        that returns ``None`` or the awaitable of the one call it wants made
        (``return ctx.buy(...)``): the runner awaits what it returns. A plain
        ``def`` costs no coroutine per candle, which is most of a backtest's
        candles (the ones that trade nothing).
        """
        return None

    def on_tick(self, ctx: Context, candle: Candle) -> Awaitable[object] | None:
        """The forming candle moved (live and paper only: a backtest has closed candles).

        As ``on_candle``: an ``async def``, or a plain ``def`` returning ``None`` or
        the awaitable of the one call it wants made. Forming candles arrive several
        times a second per subscription; a plain ``def`` costs no coroutine on each.
        """
        return None

    async def on_mood(self, ctx: Context, mood: TradersMood) -> None:
        """Traders' sentiment changed (``traders-mood-changed``)."""

    async def on_asset_status(self, ctx: Context, status: InstrumentStatus) -> None:
        """An active opened or closed (``instruments-list``)."""

    async def on_trade_closed(self, ctx: Context, result: TradeRecord) -> None:
        """One of this run's trades closed (``position-changed`` closed)."""

    async def on_balance(self, ctx: Context, balance: BalanceChanged) -> None:
        """The trading balance changed (``balance-changed``)."""

    async def on_stop(self, ctx: Context) -> None:
        """Called once at the end of the run."""
