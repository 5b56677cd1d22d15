"""What a strategy sees and can do: :class:`Context`, and the :class:`Broker` behind it.

The context owns the run's candle windows, the active-name resolver and the log;
the runner holds a context and hands it a ``buy`` callable, so this module
imports neither the runner nor the strategy (no import circle).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, runtime_checkable

from iqwire.bot.indicators import CandleWindow
from iqwire.bot.records import OpenTrade, RunState, TradeRecord
from iqwire.errors import InvalidOrder
from iqwire.trading.margin_levels import LevelInput

__all__ = ["Broker", "BuyFunction", "Context", "ImmediateBroker", "MarginTrading"]

log = logging.getLogger("iqwire.bot")

#: ``buy(direction, amount, expiration, active, product, strike)``: the runner's guarded way to trade.
BuyFunction = Callable[
    [str, float, int, str | int | None, str, str | float], Coroutine[Any, Any, OpenTrade | None]
]
#: ``sell(trade)``: the runner's way to sell (close) an open option early.
SellFunction = Callable[[OpenTrade], Awaitable[TradeRecord | None]]


class Broker(Protocol):
    """Where trades go: the live client, or the backtest's ledger."""

    def now(self) -> float:
        """Server time (live) or replay time (backtest), unix seconds."""
        ...

    def payout(self, active_id: int, product: str = "blitz") -> float:
        """The active's current payout in percent (digital: the spot strike's)."""
        ...

    def balance(self) -> float | None:
        """The trading balance, if known."""
        ...

    async def place(
        self,
        active_id: int,
        direction: str,
        amount: float,
        expiration: int,
        product: str = "blitz",
        strike: str | float = "spot",
    ) -> OpenTrade:
        """Place an option; raise an :class:`~iqwire.errors.IqwireError` if it is refused."""
        ...

    async def sell(self, trade: OpenTrade) -> TradeRecord:
        """Sell (close) an open turbo, binary or digital option now; its closed record."""
        ...


@runtime_checkable
class ImmediateBroker(Broker, Protocol):
    """A broker that answers at once (the backtest's ledger): the runner places through
    ``place_nowait``, one coroutine less per trade than ``await place(...)``."""

    def place_nowait(
        self,
        active_id: int,
        direction: str,
        amount: float,
        expiration: int,
        product: str = "blitz",
        strike: str | float = "spot",
    ) -> OpenTrade:
        """:meth:`Broker.place`, answered without awaiting anything."""
        ...


class MarginTrading(Protocol):
    """What ``ctx.order``/``ctx.close`` go through (:class:`iqwire.bot.margin.MarginDesk`)."""

    @property
    def open_positions(self) -> list[Any]:
        """Margin tickets pending or open."""
        ...

    async def order(
        self,
        active: str | int,
        side: str,
        quantity: float,
        *,
        type: str = ...,
        price: float | None = ...,
        leverage: int | None = ...,
        take_profit: LevelInput = ...,
        stop_loss: LevelInput = ...,
    ) -> Any:
        """Place a margin order through the guards."""
        ...

    async def close(self, ticket: Any) -> Any:
        """Close a ticket's position."""
        ...


class Context:
    """The strategy's view of the run: windows, prices, open trades, and the guarded ``buy``.

    Example::

        async def on_candle(self, ctx, candle):
            window = ctx.window(candle.active_id, candle.size)
            if ctx.payout(candle.active_id) >= 80 and len(ctx.open_positions) < 2:
                await ctx.buy("call", 10, expiration=60)
    """

    def __init__(
        self,
        broker: Broker,
        state: RunState,
        *,
        resolve: Callable[[str | int], int],
        buy: BuyFunction,
        sell: SellFunction | None = None,
        emit: Callable[[str], None] | None = None,
        window_size: int = 500,
        margin: MarginTrading | None = None,
    ) -> None:
        self.broker = broker
        #: Margin trading, when the run has a margin broker (``ctx.order`` / ``ctx.close``).
        self.margin = margin
        self._state = state
        self._resolve = resolve
        self._resolved: dict[str | int, int] = {}
        self._buy = buy
        self._sell = sell
        self._emit = emit
        self._window_size = window_size
        self._windows: dict[tuple[int, int], CandleWindow] = {}
        # The last window asked for: strategies ask for the same one on every candle
        # (names resolve once and windows are never dropped, so it cannot go stale).
        self._last_window: tuple[str | int, int, CandleWindow] | None = None

    @property
    def now(self) -> float:
        """Server time (or replay time in a backtest), unix seconds."""
        return self.broker.now()

    @property
    def state(self) -> RunState:
        """The run's live state (prices, open and closed trades, refusals)."""
        return self._state

    def resolve(self, active: str | int) -> int:
        """An active's id (names resolved once, then cached: strategies ask on every candle)."""
        found = self._resolved.get(active)
        if found is None:
            found = self._resolved[active] = self._resolve(active)
        return found

    def window(self, active: str | int, size: int) -> CandleWindow:
        """The rolling window of closed candles (and the forming one) of an active and size."""
        last = self._last_window
        if last is not None and last[1] == size and last[0] == active and type(last[0]) is type(active):
            return last[2]
        window = self.window_of(self.resolve(active), size)
        self._last_window = (active, size, window)
        return window

    def window_of(self, active_id: int, size: int) -> CandleWindow:
        """The window of an (active id, size), created on first use."""
        key = (active_id, size)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = CandleWindow(size, maxlen=self._window_size)
        return window

    @property
    def windows(self) -> dict[tuple[int, int], CandleWindow]:
        """Every window created so far, by (active id, size) (a copy)."""
        return dict(self._windows)

    def payout(self, active: str | int) -> float:
        """The active's current payout in percent (100 − commission)."""
        return self.broker.payout(self.resolve(active))

    @property
    def open_positions(self) -> list[OpenTrade]:
        """This run's trades still open (and those of an earlier run it resumed)."""
        return [*self._state.open_trades.values()]

    @property
    def balance(self) -> float | None:
        """The trading balance."""
        return self.broker.balance()

    def buy(
        self,
        direction: str,
        amount: float,
        expiration: int,
        active: str | int | None = None,
        *,
        product: str = "blitz",
        strike: str | float = "spot",
    ) -> Coroutine[Any, Any, OpenTrade | None]:
        """Buy an option through the risk guards: blitz (default), turbo, binary or digital.

        ``active`` defaults to the active of the signal being handled. ``expiration``
        is seconds for blitz; for turbo the grid minute (60 the nearest, 120 the next);
        for binary the least time to expiry; for digital the period (60, 300, 900).
        A digital option is bought at ``strike``: ``"spot"`` or a price (live: the
        nearest offered strike). Returns the open trade, or ``None`` when a guard
        refused it or the server rejected it (the reason is logged and counted).

        Example::

            await ctx.buy("call", 10, 60, product="digital", strike=window.last.close * 1.0002)

        It returns the runner's coroutine itself (await it, or hand it to
        ``asyncio.create_task``): no second coroutine per trade.
        """
        return self._buy(direction, amount, expiration, active, product, strike)

    async def sell(self, trade: OpenTrade) -> TradeRecord | None:
        """Sell a turbo or binary option (close a digital one) before expiry.

        Returns its closed record (outcome ``SOLD``), or ``None`` when the sale was
        refused (logged and counted).
        """
        if self._sell is None:
            raise ValueError("this run cannot sell")
        return await self._sell(trade)

    def log(self, message: str) -> None:
        """A line in the run's log (and on the dashboard)."""
        log.info("%s", message)
        if self._emit is not None:
            self._emit(message)
        else:
            self._state.messages.append(message)

    # -- margin (forex, CFD, crypto): iqwire.bot.margin -------------------------------------

    def _margin_desk(self) -> MarginTrading:
        if self.margin is None:
            raise InvalidOrder("this run trades no margin: give the runner a margin desk (iqwire.bot.margin)")
        return self.margin

    async def order(
        self,
        active: str | int,
        side: str,
        quantity: float,
        *,
        type: str = "market",
        price: float | None = None,
        leverage: int | None = None,
        take_profit: LevelInput = None,
        stop_loss: LevelInput = None,
    ) -> Any:
        """Place a margin order through the margin guards; the ticket, or ``None`` if refused.

        The options are those of :meth:`iqwire.trading.Trader.place_order`.

        Example::

            await ctx.order("EURUSD-OTC", "buy", 10_000, leverage=100, stop_loss=(10, "pips"))
        """
        return await self._margin_desk().order(
            active,
            side,
            quantity,
            type=type,
            price=price,
            leverage=leverage,
            take_profit=take_profit,
            stop_loss=stop_loss,
        )

    async def close(self, ticket: Any) -> Any:
        """Close a margin ticket's position (cancel it while pending); ``None`` if refused."""
        return await self._margin_desk().close(ticket)

    @property
    def margin_positions(self) -> list[Any]:
        """The run's margin tickets pending or open (empty without margin trading)."""
        return [] if self.margin is None else self.margin.open_positions
