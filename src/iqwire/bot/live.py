"""Live and paper runs: a :class:`LiveSession` feeds a strategy from a client's streams.

Every stream (candles of each active and size, mood, asset status, balance,
connection state) and every trade's close go into one :class:`Mailbox`; one
loop takes them out in arrival order and dispatches them by type, so callbacks
never interleave, a slow strategy sees candles coalesce instead of a growing
backlog, and no trade or balance event is ever dropped.

While that loop waits on an empty mailbox, a candle stream's task hands its
candles to the strategy itself (the same steps the loop would take, in the same
order, with no task switch per candle): a strategy that keeps up sees every
candle of a burst instead of the newest of each socket read. When the strategy
awaits something (``ctx.buy``, an ``async def`` callback) the loop finishes that
candle before anything else, and what arrives meanwhile queues and coalesces as
before.

With a :class:`~iqwire.bot.journal.Journal`, the session journals every trade
(intent before the request), re-synchronises the journal's unsettled trades
with the server before its first trade, adopts those still open, and rebuilds
the risk guards from the journal, so a restart never lifts a limit (the start
of a journaled run: :mod:`iqwire.bot.live_journal`). Margin positions do not
expire: a run never closes them; those open at its end are named in the result
(:mod:`iqwire.bot.live_result`) and in a last line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from iqwire import actives
from iqwire.bot.broker import TraderBroker
from iqwire.bot.journal import Journal
from iqwire.bot.live_journal import JournaledRun, marginal_balance, start_journaled_run
from iqwire.bot.live_result import LiveResult, describe_open_margin
from iqwire.bot.lockstep import LockStep
from iqwire.bot.mailbox import Mailbox
from iqwire.bot.margin import MarginDesk, MarginLimits, TraderMarginBroker
from iqwire.bot.margin_recovery import MarginRecovery
from iqwire.bot.records import RunState, TradeRecord
from iqwire.bot.recovery import Recovery
from iqwire.bot.report import Report
from iqwire.bot.risk import RiskGuard, RiskLimits
from iqwire.bot.runner import BotRunner, JournalLink
from iqwire.bot.strategy import Strategy
from iqwire.bot.warmup import warm_up, warmup_needs, warmup_progress
from iqwire.client import Client, ConnectionState
from iqwire.errors import IqwireError
from iqwire.models import (
    Balance,
    BalanceChanged,
    BalanceType,
    Candle,
    InitActive,
    InitializationData,
    InstrumentsList,
    TradersMood,
)
from iqwire.trading import Trader

__all__ = ["LiveResult", "LiveSession", "TraderBroker", "run_live"]

log = logging.getLogger("iqwire.bot.live")

#: How long the loop waits for a signal before it moves the clock on (seconds).
_IDLE = 0.5


@dataclass(eq=False)
class _Resume:
    """The rest of a candle a feed handed to the strategy: the loop awaits it before anything after."""

    pending: Awaitable[object]


@dataclass(eq=False)
class _Failed:
    """A callback a feed ran raised: the loop raises it, in order."""

    error: BaseException


class LiveSession:
    """One live or paper run of a strategy on a connected client.

    Example::

        async with iqwire.Client(...) as client:
            with Journal.open("trades.sqlite") as journal:
                session = LiveSession(client, MeanReversion(), journal=journal)
                result = await session.run(duration=60)
        print(result.report.summary_line())

    ``journal``: journal every trade and resume the unsettled ones of this
    account and balance (``recover=False`` skips the resume: a fresh embedded
    simulator knows none of them). ``warmup=False`` starts with empty windows.
    ``trader``: trade through this :class:`~iqwire.trading.Trader` (default: a new
    one over ``client``, with the client's real-money setting).
    ``lockstep``: the session moves an embedded simulator's clock itself, one step at a
    time once the bot has handled the last (see :mod:`iqwire.bot.lockstep`); ``duration``
    and ``settle_timeout`` are then simulated seconds, and a seed gives the same run.
    """

    def __init__(
        self,
        client: Client,
        strategy: Strategy,
        *,
        limits: RiskLimits | None = None,
        balance: BalanceType | int = BalanceType.DEMO,
        state: RunState | None = None,
        emit: Callable[[str], None] | None = None,
        settle_timeout: float = 60.0,
        journal: Journal | None = None,
        recover: bool = True,
        warmup: bool = True,
        mode: str | None = None,
        trader: Trader | None = None,
        lockstep: LockStep | None = None,
        margin: MarginLimits | None = None,
    ) -> None:
        self.client = client
        self.lockstep = lockstep
        self.strategy = strategy
        self.limits = limits or RiskLimits()
        self.balance = balance
        self.state = state if state is not None else RunState(mode=mode or "live")
        self.settle_timeout = settle_timeout
        self.journal = journal
        self.recover = recover
        self.warmup = warmup
        self.mailbox = Mailbox()
        # The session stops a trader it made; one passed in belongs to the caller.
        self._own_trader = trader is None
        self.trader = trader if trader is not None else Trader(client)
        self.broker = TraderBroker(self.trader, balance, self.mailbox.put)
        #: ``ctx.order``/``ctx.close`` through these margin guards (``None``: the run trades no margin).
        self.margin_limits = margin
        self._emit = emit
        self._feeds: list[asyncio.Task[None]] = []
        self._account_feeds: list[asyncio.Task[None]] = []
        self._actives: list[InitActive] = []
        self._last_status: dict[int, bool] = {}
        self._warm_needs: dict[tuple[int, int], int] = {}
        self._journaled: JournaledRun | None = None
        self.runner: BotRunner | None = None
        self.recovery: Recovery | None = None
        self.margin_recovery: MarginRecovery | None = None
        #: The run's margin desk (``None`` without margin limits), once the run has started.
        self.desk: MarginDesk | None = None
        self._margin_start: Balance | None = None
        self.start_balance: float | None = None
        # The direct lane (see the module's doc): open while the loop waits on an empty
        # mailbox and the run is not over (its stop event unset, its deadline ahead).
        self._lane_open = False
        self._lane_ended = False
        # A candle a feed started and the loop has not finished (it is in the mailbox),
        # and a callback that raised in a feed (the loop raises it).
        self._started: _Resume | None = None
        self._failure: _Failed | None = None
        #: Candles handed to the strategy by their feed (the rest went through the mailbox).
        self.direct = 0

    # -- the run ----------------------------------------------------------------------------

    async def run(self, *, duration: float | None = None, stop: asyncio.Event | None = None) -> LiveResult:
        """Run until ``duration`` or ``stop``; then follow the open trades to their end.

        ``duration`` is wall seconds, or simulated seconds in lock-step.
        """
        try:
            # Inside the try: a start that fails after the journal was claimed (recovery, the
            # margin desk) still gives the lock back and closes what it opened.
            runner = await self._prepare()
            await runner.start()
            await self._warm_up(runner)
            await self._loop(runner, duration, stop)
            await self._settle(runner)
            await runner.stop()
            margin_end = await self._margin_end()
        finally:
            await self._close_feeds()
            await self.broker.cancel()
            if self._own_trader:
                await self.trader.close()
            self._end_journal_run()
        # Margin positions do not expire: those still open at the end are left on the server.
        open_margin = self.desk.open_positions if self.desk is not None else []
        return LiveResult(
            report=Report.from_state(self.state, self.start_balance or 0.0),
            state=self.state,
            balance_id=self.broker.balance_id,
            start_balance=self.start_balance,
            end_balance=self.broker.balance(),
            unsettled=len(self.state.open_trades) + len(open_margin),
            recovery=self.recovery,
            open_margin=open_margin,
            margin_start=self._margin_start if self._traded_margin else None,
            margin_end=margin_end,
        )

    async def _prepare(self) -> BotRunner:
        client, state = self.client, self.state
        init = await client.get_initialization_data()
        self.trader.payouts.load(init)
        self._actives = [actives.resolve(active, init, groups=("blitz",)) for active in self.strategy.actives]
        if not self._actives:
            raise ValueError(f"{self.strategy.name} names no actives")
        for spec in self._actives:
            state.names[spec.id] = spec.ticker or spec.name
        await self.trader.portfolio.start()
        chosen = await self._balance()
        self.broker.balance_id = chosen.id
        self.broker.balance_kind = chosen.type
        state.balance = chosen.amount
        state.currency = chosen.currency or "USD"
        self.start_balance = chosen.amount
        guard = RiskGuard(self.limits)
        link = await self._journal_link(chosen, guard)
        runner = self.runner = BotRunner(
            self.strategy,
            self.broker,
            guard,
            state=state,
            resolve=lambda active: actives.resolve(active, init, groups=("blitz",)).id,
            emit=self._emit,
            journal=link,
            margin=await self._margin_desk(init, chosen, guard),
        )
        if self.recovery is not None:
            for trade in self.recovery.follow:
                runner.adopt(trade)
                self.broker.adopt(trade)
            if (
                self.recovery.follow
                or self.recovery.closed
                or self.recovery.not_placed
                or self.recovery.unknown
            ):
                runner.emit(self.recovery.summary)
        state.guard_state = guard.describe(client.server_time())
        self._open_feeds()
        return runner

    async def _margin_desk(
        self, init: InitializationData, chosen: Balance, guard: RiskGuard
    ) -> MarginDesk | None:
        """The margin desk of a run given margin limits: journaled, under the run's account guards,
        following the margin trades an earlier run left open."""
        if self.margin_limits is None:
            return None
        broker = TraderMarginBroker(self.trader, balance=chosen.type)
        desk = MarginDesk(
            broker,
            self.margin_limits,
            now=self.client.server_time,
            resolve=lambda active: actives.resolve(active, init).id,
            emit=self._emit,
            journal=None if self._journaled is None else self._journaled.margin,
            guard=guard,
            report=self.state.closed.append,  # the run's report counts margin closes too
        )
        broker.on_closed = desk.settled
        self.desk = desk
        self._margin_start = await marginal_balance(self.client, chosen)
        found = self.margin_recovery
        if found is not None:
            for follow in found.follow:
                desk.adopt(follow.ticket, follow.intent_id)
                await broker.adopt(follow.ticket, follow.position)
            if found:
                self._emit_line(found.summary)
        return desk

    @property
    def _traded_margin(self) -> bool:
        return self.desk is not None and bool(self.desk.tickets)

    async def _margin_end(self) -> Balance | None:
        """The marginal balance at the end of a run that traded margin, and a line for what stays open."""
        desk = self.desk
        if desk is None or self._margin_start is None or not self._traded_margin:
            return None
        if desk.open_positions:
            self._emit_line(f"left open on the server: {describe_open_margin(desk.open_positions)}")
        try:
            return await marginal_balance(self.client, self._margin_start)
        except IqwireError as exc:  # the run is over: its result matters more than this figure
            log.warning("could not read the marginal balance at the end: %s", exc)
            return None

    def _emit_line(self, line: str) -> None:
        log.info("%s", line)
        if self._emit is not None:
            self._emit(line)

    async def _balance(self) -> Balance:
        balance = self.balance
        for candidate in await self.client.get_balances():
            if candidate.type == balance if isinstance(balance, BalanceType) else candidate.id == balance:
                return candidate
        raise ValueError(f"the account has no balance {balance!r}")

    async def _journal_link(self, chosen: Balance, guard: RiskGuard) -> JournalLink | None:
        if self.journal is None:
            return None
        run = self._journaled = await start_journaled_run(
            self.journal,
            self.client,
            strategy=self.strategy,
            mode=self.state.mode,
            limits=self.limits,
            chosen=chosen,
            guard=guard,
            recover=self.recover,
        )
        self.recovery, self.margin_recovery = run.recovery, run.margin_recovery
        return run.options

    def _end_journal_run(self) -> None:
        if self.journal is None:
            return
        if self._journaled is not None:
            self._journaled.end(at=self.client.server_time(), end_balance=self.broker.balance())
        self.journal.release()

    # -- signals in -------------------------------------------------------------------------

    def _open_feeds(self) -> None:
        client, sizes = self.client, list(self.strategy.sizes)
        market: list[AsyncIterator[Any]] = [client.instruments()]
        for spec in self._actives:
            market.append(client.candles_multi(spec.id, sizes))
            market.append(client.traders_mood(spec.id))
        self._feeds = [asyncio.create_task(self._feed(stream)) for stream in market]
        # The account's feeds stay open while the run settles its trades.
        account: list[AsyncIterator[Any]] = [client.balance_changes(), client.connection_states()]
        self._account_feeds = [asyncio.create_task(self._feed(stream)) for stream in account]
        self.state.connection = client.state.value
        # The instruments push reports changes; start from what the init data says now.
        now = client.server_time()
        self._last_status = {spec.id: spec.is_open_at(now) for spec in self._actives}

    async def _feed(self, stream: AsyncIterator[Any]) -> None:
        mailbox = self.mailbox
        put = mailbox.put
        runner = self.runner
        assert runner is not None  # (the feeds open once the runner exists)
        candle_nowait, state = runner.candle_nowait, self.state
        async for item in stream:
            if self._lane_open and type(item) is Candle and not mailbox:
                # The loop waits for work and nothing is queued before this candle:
                # what it would do with it, done here (see the module's doc).
                self.direct += 1
                try:
                    pending = candle_nowait(item)
                    if pending is None:
                        if state.warmup_have < state.warmup_needed:  # state.warming_up
                            warmup_progress(runner.ctx, self._warm_needs, state)
                        continue
                except Exception as exc:  # the loop raises it, as if it had called the strategy
                    self._failure = failed = _Failed(exc)
                    put(failed)
                    return
                self._started = resume = _Resume(self._after_candle(runner, pending))
                put(resume)
            else:
                put(item)

    async def _close_feeds(self, *, account: bool = True) -> None:
        tasks = self._feeds + (self._account_feeds if account else [])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._feeds = []
        if account:
            self._account_feeds = []

    async def _warm_up(self, runner: BotRunner) -> None:
        if not self.warmup:
            return
        ids = [spec.id for spec in self._actives]
        self._warm_needs = warmup_needs(runner.ctx, ids, list(self.strategy.sizes), self.strategy.warmup)
        if not self._warm_needs:
            return
        warmup_progress(runner.ctx, self._warm_needs, self.state)
        runner.emit(f"warming up ({self.state.warmup_have}/{self.state.warmup_needed})")
        await warm_up(runner.ctx, self.client, self._warm_needs, self.state)
        if not self.state.warming_up:
            runner.emit(f"warmed up from history ({self.state.warmup_needed} candles)")

    async def _after_candle(self, runner: BotRunner, pending: Awaitable[object]) -> None:
        await pending
        if self.state.warming_up:
            warmup_progress(runner.ctx, self._warm_needs, self.state)

    async def _finish_started(self) -> None:
        """Finish the candle a feed started, if the loop has not (it is still in the mailbox)."""
        started = self._started
        if started is not None:
            self._started = None
            await started.pending

    async def _dispatch(self, runner: BotRunner, event: object) -> None:
        match event:
            case Candle():
                pending = runner.candle_nowait(event)
                if pending is not None:
                    await self._after_candle(runner, pending)
                elif self.state.warming_up:
                    warmup_progress(runner.ctx, self._warm_needs, self.state)
            case _Resume():
                if event is self._started:
                    await self._finish_started()
            case _Failed():
                self._failure = None
                raise event.error
            case TradeRecord():
                await runner.trade_closed(event)
            case BalanceChanged():
                if event.current_balance.id == self.broker.balance_id:
                    await runner.balance(event)
            case TradersMood():
                await runner.mood(event)
            case InstrumentsList():
                for status in event.items:
                    if self._last_status.get(status.active_id, status.tradable) != status.tradable:
                        self._last_status[status.active_id] = status.tradable
                        await runner.asset_status(status)
            case ConnectionState():
                self.state.connection = event.value

    async def _loop(self, runner: BotRunner, duration: float | None, stop: asyncio.Event | None) -> None:
        if self.lockstep is not None:
            await self._loop_stepped(runner, self.lockstep, duration, stop)
            return
        loop = asyncio.get_running_loop()
        deadline = None if duration is None else loop.time() + duration
        # The lane closes the moment the run is over, not at the loop's next turn.
        self._lane_ended = False
        watch = None if stop is None else asyncio.create_task(self._end_lane_on(stop))
        timer = None if deadline is None else loop.call_at(deadline, self._end_lane)
        try:
            await self._loop_realtime(runner, loop, deadline, stop)
        finally:
            self._end_lane()
            if watch is not None:
                watch.cancel()
            if timer is not None:
                timer.cancel()
        # The run is over: a candle a feed started (or a callback that failed there) is
        # finished (raised) even if the loop did not reach it in the mailbox.
        if self._failure is not None:
            raise self._failure.error
        await self._finish_started()

    def _end_lane(self) -> None:
        self._lane_ended = True
        self._lane_open = False

    async def _end_lane_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._end_lane()

    async def _loop_realtime(
        self,
        runner: BotRunner,
        loop: asyncio.AbstractEventLoop,
        deadline: float | None,
        stop: asyncio.Event | None,
    ) -> None:
        mailbox = self.mailbox
        while stop is None or not stop.is_set():
            timeout = _IDLE if deadline is None else min(_IDLE, deadline - loop.time())
            if timeout <= 0:
                return
            event = mailbox.get_nowait()
            if event is None:
                # The feeds may hand candles over while this waits.
                self._lane_open = not self._lane_ended
                try:
                    event = await asyncio.wait_for(mailbox.get(), timeout=timeout)
                except TimeoutError:
                    self._idle()
                    continue
                finally:
                    self._lane_open = False
            await self._dispatch(runner, event)

    async def _loop_stepped(
        self, runner: BotRunner, lockstep: LockStep, duration: float | None, stop: asyncio.Event | None
    ) -> None:
        end = None if duration is None else lockstep.now() + duration
        await lockstep.barrier()
        while True:
            await self._drain(runner, lockstep)
            self._idle()
            if (stop is not None and stop.is_set()) or (end is not None and lockstep.now() >= end):
                return
            await lockstep.advance()

    async def _drain(
        self, runner: BotRunner, lockstep: LockStep, kinds: tuple[type, ...] = (object,)
    ) -> None:
        """Dispatch what arrived until a round trip brings nothing more (orders answer inline)."""
        mailbox = self.mailbox
        while len(mailbox):
            while (event := mailbox.get_nowait()) is not None:
                if isinstance(event, kinds):
                    await self._dispatch(runner, event)
            await lockstep.barrier()

    def _idle(self) -> None:
        self.state.server_time = max(self.state.server_time, self.client.server_time())
        if self.journal is not None:
            self.journal.flush()

    async def _settle(self, runner: BotRunner) -> None:
        """Stop market signals; follow the open trades to their end (at most ``settle_timeout``).

        Trade closes, balance changes and the connection state are still dispatched.
        """
        await self._close_feeds(account=False)
        if self.lockstep is not None:
            await self._settle_stepped(runner, self.lockstep)
            return
        loop = asyncio.get_running_loop()
        end_wait = loop.time() + self.settle_timeout
        mailbox = self.mailbox
        while (self.broker.pending or len(mailbox)) and loop.time() < end_wait:
            try:
                event = await asyncio.wait_for(mailbox.get(), timeout=_IDLE)
            except TimeoutError:
                continue
            if isinstance(event, TradeRecord | BalanceChanged | ConnectionState):
                await self._dispatch(runner, event)
        await self._close_feeds()
        await self._last_events(runner)

    async def _settle_stepped(self, runner: BotRunner, lockstep: LockStep) -> None:
        settled = (TradeRecord, BalanceChanged, ConnectionState)
        end_wait = lockstep.now() + self.settle_timeout
        await lockstep.barrier()
        await self._drain(runner, lockstep, settled)
        while self.broker.pending and lockstep.now() < end_wait:
            await lockstep.advance()
            await self._drain(runner, lockstep, settled)
        await self._close_feeds()
        await self._last_events(runner)

    async def _last_events(self, runner: BotRunner) -> None:
        while (event := self.mailbox.get_nowait()) is not None:
            if isinstance(event, TradeRecord | BalanceChanged):
                await self._dispatch(runner, event)


async def run_live(
    client: Client,
    strategy: Strategy,
    *,
    limits: RiskLimits | None = None,
    balance: BalanceType | int = BalanceType.DEMO,
    duration: float | None = None,
    state: RunState | None = None,
    emit: Callable[[str], None] | None = None,
    settle_timeout: float = 60.0,
    stop: asyncio.Event | None = None,
    journal: Journal | None = None,
    recover: bool = True,
    warmup: bool = True,
    trader: Trader | None = None,
    lockstep: LockStep | None = None,
) -> LiveResult:
    """Run a strategy on a connected client until ``duration`` (wall seconds) or ``stop``.

    With ``lockstep`` the session moves an embedded simulator's clock itself and
    ``duration`` counts simulated seconds (the same run for the same seed).

    Open trades are followed to their outcome (up to ``settle_timeout`` s) before it
    returns. A shorthand for :class:`LiveSession` (see it for ``journal``/``recover``).

    Example::

        async with iqwire.Client(...) as client:
            result = await run_live(client, MeanReversion(), duration=60)
            print(result.report.summary_line())
    """
    session = LiveSession(
        client,
        strategy,
        limits=limits,
        balance=balance,
        state=state,
        emit=emit,
        settle_timeout=settle_timeout,
        journal=journal,
        recover=recover,
        warmup=warmup,
        trader=trader,
        lockstep=lockstep,
    )
    return await session.run(duration=duration, stop=stop)
