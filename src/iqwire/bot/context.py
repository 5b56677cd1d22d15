"""What a strategy sees and can do: :class:`Context`, and the :class:`Broker` behind it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from iqwire.bot.records import OpenTrade, RunState

if TYPE_CHECKING:
    from iqwire.bot.indicators import CandleWindow
    from iqwire.bot.runner import BotRunner

__all__ = ["Broker", "Context"]


class Broker(Protocol):
    """Where trades go: the live client, or the backtest's ledger."""

    def now(self) -> float:
        """Server time (live) or replay time (backtest), unix seconds."""
        ...

    def payout(self, active_id: int) -> float:
        """The active's current payout in percent."""
        ...

    def balance(self) -> float | None:
        """The trading balance, if known."""
        ...

    async def place(self, active_id: int, direction: str, amount: float, expiration: int) -> OpenTrade:
        """Place a blitz option; raise an :class:`~iqwire.errors.IqwireError` if it is refused."""
        ...


class Context:
    """The strategy's view of the run.

    Example::

        async def on_candle(self, ctx, candle):
            window = ctx.window(candle.active_id, candle.size)
            if ctx.payout(candle.active_id) >= 80 and len(ctx.open_positions) < 2:
                await ctx.buy("call", 10, expiration=60)
    """

    def __init__(self, runner: BotRunner) -> None:
        self._runner = runner
        # The last window asked for: strategies ask for the same one on every candle
        # (names resolve once and windows are never dropped, so it cannot go stale).
        self._last_window: tuple[str | int, int, CandleWindow] | None = None

    @property
    def now(self) -> float:
        """Server time (or replay time in a backtest), unix seconds."""
        return self._runner.broker.now()

    @property
    def state(self) -> RunState:
        """The run's live state (prices, open and closed trades, refusals)."""
        return self._runner.state

    def window(self, active: str | int, size: int) -> CandleWindow:
        """The rolling window of closed candles (and the forming one) of an active and size."""
        last = self._last_window
        if last is not None and last[1] == size and last[0] == active and type(last[0]) is type(active):
            return last[2]
        window = self._runner.window(self._runner.resolve(active), size)
        self._last_window = (active, size, window)
        return window

    def payout(self, active: str | int) -> float:
        """The active's current payout in percent (100 − commission)."""
        return self._runner.broker.payout(self._runner.resolve(active))

    @property
    def open_positions(self) -> list[OpenTrade]:
        """This run's trades still open."""
        return list(self._runner.state.open_trades.values())

    @property
    def balance(self) -> float | None:
        """The trading balance."""
        return self._runner.broker.balance()

    async def buy(
        self, direction: str, amount: float, expiration: int, active: str | int | None = None
    ) -> OpenTrade | None:
        """Buy a blitz option through the risk guards.

        ``active`` defaults to the active of the signal being handled. Returns the
        open trade, or ``None`` when a guard refused it or the server rejected it
        (the reason is logged and counted in the report).
        """
        return await self._runner.buy(direction, amount, expiration, active)

    def log(self, message: str) -> None:
        """A line in the run's log (and on the dashboard)."""
        self._runner.emit(message)
