"""The event core shared by live, paper and backtest runs.

Signals come in (candles, mood, asset status, balances, trade closes) one at a
time, in order; the runner holds the :class:`Context` (windows, resolver, log),
asks the risk guard before every buy, journals every trade when a journal is
given, and calls the strategy.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from iqwire.bot.context import Broker, Context, ImmediateBroker, MarginTrading
from iqwire.bot.indicators import CandleWindow
from iqwire.bot.journal import Answer, Intent, Journal, TradeStatus
from iqwire.bot.records import OpenTrade, RunState, TradeRecord
from iqwire.bot.risk import RiskGuard
from iqwire.bot.strategy import Strategy
from iqwire.errors import IqwireError, TradeNotPlaced, TradeStateUnknown
from iqwire.models import BalanceChanged, Candle, InstrumentStatus, TradersMood

__all__ = ["BotRunner", "JournalLink"]

log = logging.getLogger("iqwire.bot")

#: The base class's ``on_trade_closed`` (it does nothing: the runner skips awaiting it).
_BASE_ON_TRADE_CLOSED = Strategy.on_trade_closed


@dataclass(frozen=True)
class JournalLink:
    """Where the runner journals: the journal, the run's id and the balance traded."""

    journal: Journal
    run_id: int
    balance_id: int | None
    product: str = "blitz"
    ref_kind: str = "option"


class BotRunner:
    """Feeds one strategy; the caller decides where signals come from.

    ``quiet``: nothing shows the run's lines but the ``iqwire.bot`` log (a
    backtest), so they are built only when that log takes INFO records.
    """

    def __init__(
        self,
        strategy: Strategy,
        broker: Broker,
        guard: RiskGuard,
        *,
        state: RunState | None = None,
        resolve: Callable[[str | int], int],
        emit: Callable[[str], None] | None = None,
        window_size: int = 500,
        journal: JournalLink | None = None,
        margin: MarginTrading | None = None,
        quiet: bool = False,
    ) -> None:
        self.strategy = strategy
        self.broker = broker
        self.guard = guard
        self.state = state if state is not None else RunState()
        self.journal = journal
        self.ctx = Context(
            broker,
            self.state,
            resolve=resolve,
            buy=self.buy,
            sell=self.sell,
            emit=emit,
            window_size=window_size,
            margin=margin,
        )
        # The last (active, size) a candle came for, its window and price series:
        # a run sees the same one candle after candle.
        self._route: tuple[int, int, CandleWindow, deque[float]] | None = None
        self._current_active: int | None = None
        # The journal row of each open trade, by server id.
        self._intents: dict[int, int] = {}
        self.errors = 0
        # Quiet (a backtest): the run's lines reach only the log, so each is formatted
        # only while the log shows INFO, not on every trade of the replay.
        self._quiet = quiet
        # A broker that answers at once (the backtest's) is asked without a coroutine.
        self._place_nowait = broker.place_nowait if isinstance(broker, ImmediateBroker) else None

    def resolve(self, active: str | int) -> int:
        """An active's id (see :meth:`Context.resolve`)."""
        return self.ctx.resolve(active)

    def emit(self, message: str) -> None:
        """Log a line and show it on the dashboard."""
        self.ctx.log(message)

    def window(self, active_id: int, size: int) -> CandleWindow:
        """The window of an (active, size), created on first use."""
        return self.ctx.window_of(active_id, size)

    # -- signals in ---------------------------------------------------------------------

    async def start(self) -> None:
        """Call the strategy's ``on_start``."""
        await self.strategy.on_start(self.ctx)

    async def stop(self) -> None:
        """Call the strategy's ``on_stop``."""
        await self.strategy.on_stop(self.ctx)

    async def candle(self, candle: Candle) -> None:
        """A candle pushed or replayed: update the window, then ``on_candle``/``on_tick``."""
        pending = self.candle_nowait(candle)
        if pending is not None:
            await pending

    def candle_nowait(self, candle: Candle) -> Awaitable[object] | None:
        """:meth:`candle` up to the strategy's first wait: ``None`` when it is done with the candle.

        Otherwise the rest to await (what ``on_candle`` returned — an ``async def
        on_candle``'s coroutine, or ``ctx.buy(...)`` — then ``on_tick``) before the
        next signal. A plain ``def on_candle``/``on_tick`` that returns ``None``
        costs no coroutine: the live session hands most candles over this way,
        without a task switch.
        """
        now = self.broker.now()
        state = self.state
        if now > state.server_time:
            state.server_time = now
        closed = self.take(candle)
        if closed is not None:
            pending = self.strategy.on_candle(self.ctx, closed)
            if pending is not None:
                return self._then_tick(pending, candle)
        return self.strategy.on_tick(self.ctx, candle) if self.forming(candle) else None

    async def _then_tick(self, pending: Awaitable[object], candle: Candle) -> None:
        await pending
        if self.forming(candle):
            tick = self.strategy.on_tick(self.ctx, candle)
            if tick is not None:
                await tick

    def take(self, candle: Candle) -> Candle | None:
        """Record a candle (its price, its window) without calling the strategy.

        Returns the candle that closed, if one did: what ``on_candle`` is called with.
        The backtest's replay calls this and the strategy itself (no coroutine per
        candle when the strategy's ``on_candle`` is a plain ``def``).
        """
        active_id = candle.active_id
        size = candle.size
        if active_id is None or size is None:
            return None
        route = self._route
        if route is None or route[0] != active_id or route[1] != size:
            state = self.state
            state.record_price(active_id, candle.close)
            route = self._route = (
                active_id,
                size,
                self.ctx.window_of(active_id, size),
                state.prices[active_id],
            )
        else:
            route[3].append(candle.close)  # state.record_price, its series already known
        window = route[2]
        self._current_active = active_id
        return window.last if window.update(candle) else None

    @property
    def route(self) -> tuple[int, int, CandleWindow, deque[float]] | None:
        """Where the last taken candle went: ``(active_id, size, window, price series)``.

        The backtest's replay feeds the next candle of the same (active, size)
        there itself (the price appended, then ``window.update``), as ``take`` would.
        """
        return self._route

    def forming(self, candle: Candle) -> bool:
        """Whether ``candle``, just taken, is its window's forming candle (``on_tick`` is due)."""
        route = self._route
        return route is not None and route[2].forming is candle

    async def mood(self, mood: TradersMood) -> None:
        """Traders' sentiment changed."""
        self._current_active = mood.asset_id
        await self.strategy.on_mood(self.ctx, mood)

    async def asset_status(self, status: InstrumentStatus) -> None:
        """An active opened or closed."""
        self.emit(
            f"{self.state.names.get(status.active_id, status.active_id)} is {'open' if status.tradable else 'closed'}"
        )
        await self.strategy.on_asset_status(self.ctx, status)

    async def balance(self, change: BalanceChanged) -> None:
        """The trading balance changed."""
        self.state.balance = change.current_balance.amount
        await self.strategy.on_balance(self.ctx, change)

    def adopt(self, trade: OpenTrade) -> None:
        """Track a trade an earlier run placed (the guard already counts it: see ``RiskGuard.replay``)."""
        self.state.open_trades[trade.id] = trade
        if trade.intent_id is not None:
            self._intents[trade.id] = trade.intent_id

    async def trade_closed(self, record: TradeRecord) -> None:
        """One of the run's trades closed (or one an earlier run placed and this run adopted)."""
        pending = self.closed_nowait(record)
        if pending is not None:
            await pending

    def closed_nowait(self, record: TradeRecord) -> Awaitable[object] | None:
        """:meth:`trade_closed` up to the strategy's ``on_trade_closed``: what is left to await, or ``None``.

        Everything is recorded before it returns (the journal, the run state, the
        guard, the line); what is left is the strategy's own ``on_trade_closed``
        when it overrides the base class's. The backtest's replay settles trades
        this way: no coroutine per trade closed when the strategy does not listen.

        Example::

            pending = runner.closed_nowait(record)
            if pending is not None:
                await pending  # the strategy's on_trade_closed
        """
        state = self.state
        if state.open_trades.pop(record.id, None) is None and any(t.id == record.id for t in state.closed):
            return None  # already recorded: never count a trade twice
        link = self.journal
        intent_id = self._intents.pop(record.id, None)
        if link is not None and intent_id is not None:
            link.journal.record_outcome(
                intent_id,
                record.outcome,
                record.pnl,
                close_price=record.close_price,
                closed_at=record.expires_at,
            )
        state.closed.append(record)
        now = self.broker.now()
        if now > state.server_time:
            state.server_time = now
        guard = self.guard
        guard.closed(record.outcome, record.pnl, now)
        state.guard_changed(guard, now)
        if not self._quiet or log.isEnabledFor(logging.INFO):  # someone reads the line
            name = state.names.get(record.active_id, record.active_id)
            self.emit(
                f"closed #{record.id} {name} {record.direction} {record.amount:g}: "
                f"{record.outcome.name} {record.pnl:+.2f}"
            )
        on_trade_closed = self.strategy.on_trade_closed
        if getattr(on_trade_closed, "__func__", None) is not _BASE_ON_TRADE_CLOSED:
            return on_trade_closed(self.ctx, record)  # (the base class's does nothing)
        return None

    # -- the one way to trade --------------------------------------------------------------

    async def buy(
        self,
        direction: str,
        amount: float,
        expiration: int,
        active: str | int | None,
        product: str = "blitz",
        strike: str | float = "spot",
    ) -> OpenTrade | None:
        """Place a trade of any option product through the guard (see :meth:`Context.buy`)."""
        active_id = self.resolve(active) if active is not None else self._current_active
        if active_id is None:
            raise ValueError("ctx.buy() needs active= outside a signal handler")
        broker, guard, state = self.broker, self.guard, self.state
        now = broker.now()
        payout = broker.payout(active_id, product)
        reason = guard.check(amount=amount, payout=payout, now=now)
        link = self.journal
        if reason is not None:
            state.guard_changed(guard, now)
            key = reason.split(":", 1)[0]
            state.refusals[key] = state.refusals.get(key, 0) + 1
            if link is not None:
                link.journal.record_guard_decision(
                    link.run_id, allowed=False, at=now, reason=reason, active_id=active_id, amount=amount
                )
            if not self._quiet or log.isEnabledFor(logging.INFO):  # someone reads the line
                self.emit(f"refused: {reason}")
            return None
        guard.opened(now)
        state.guard_changed(guard, now)  # (placing it changes the guard no more)
        intent_id = None
        if link is not None:
            # Durable before the request leaves: a crash after this line is reconciled, never re-sent.
            details = {"strike": strike} if product == "digital" else None
            intent = Intent(product, active_id, direction, amount, expiration, link.balance_id, now, details)
            intent_id = link.journal.record_intent(link.run_id, intent, guarded=True)
        place_nowait = self._place_nowait
        try:
            if place_nowait is not None:
                trade = place_nowait(active_id, direction, amount, expiration, product, strike)
            else:
                trade = await broker.place(active_id, direction, amount, expiration, product, strike)
        except IqwireError as exc:
            self._not_placed(exc, intent_id)
            return None
        if link is not None and intent_id is not None:
            link.journal.record_answer(
                intent_id,
                Answer(
                    link.ref_kind,
                    trade.id,
                    opened_at=trade.opened_at if trade.opened_at is not None else now,
                    expires_at=trade.expires_at,
                    open_price=trade.open_price,
                    payout=trade.payout if trade.payout is not None else payout,
                ),
                at=broker.now(),
                reconciled=trade.reconciled,
            )
        state.open_trades[trade.id] = trade
        if intent_id is not None:
            self._intents[trade.id] = intent_id
        if not self._quiet or log.isEnabledFor(logging.INFO):  # someone reads the line
            name = state.names.get(active_id, active_id)
            what = "" if product == "blitz" else f"{product} "
            self.emit(
                f"opened #{trade.id} {name} {what}{direction} {amount:g} for {expiration}s at {trade.open_price}"
            )
        return trade

    async def sell(self, trade: OpenTrade) -> TradeRecord | None:
        """Sell (close) an open option early (see :meth:`Context.sell`); the close is recorded at once."""
        try:
            record = await self.broker.sell(trade)
        except IqwireError as exc:
            key = f"sell_refused:{type(exc).__name__}"
            self.state.refusals[key] = self.state.refusals.get(key, 0) + 1
            self.emit(f"sale of #{trade.id} refused: {exc}")
            return None
        await self.trade_closed(record)
        return record

    def _not_placed(self, exc: IqwireError, intent_id: int | None) -> None:
        link = self.journal
        if isinstance(exc, TradeStateUnknown):
            # It may exist: keep counting it as open; recovery settles it on the next start.
            status = TradeStatus.UNKNOWN
        else:
            self.guard.failed()
            status = TradeStatus.NOT_PLACED if isinstance(exc, TradeNotPlaced) else TradeStatus.REJECTED
        if link is not None and intent_id is not None:
            link.journal.record_state(
                intent_id, status, at=self.broker.now(), error=f"{type(exc).__name__}: {exc}"
            )
        self.errors += 1
        key = f"rejected:{type(exc).__name__}"
        self.state.refusals[key] = self.state.refusals.get(key, 0) + 1
        self.emit(f"rejected: {exc}")
