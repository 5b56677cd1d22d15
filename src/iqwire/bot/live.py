"""Live and paper runs: the strategy fed from a client's streams, trading through it.

Every stream (candles of each active and size, mood, asset status, balance,
connection state) feeds one queue; one task hands the signals to the strategy
in arrival order, so callbacks never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from iqwire.bot.records import OpenTrade, RunState, TradeRecord
from iqwire.bot.report import Report
from iqwire.bot.risk import RiskGuard, RiskLimits
from iqwire.bot.runner import BotRunner
from iqwire.bot.strategy import Strategy
from iqwire.client import Client
from iqwire.errors import IqwireError, OutcomeUnknown
from iqwire.models import BalanceChanged, BalanceType, InstrumentsList
from iqwire.trading import Trade, resolve_active

__all__ = ["ClientBroker", "LiveResult", "run_live"]

log = logging.getLogger("iqwire.bot.live")


class ClientBroker:
    """Trades through an :class:`iqwire.Client` (real-money lock and reconciliation included)."""

    def __init__(
        self,
        client: Client,
        balance_type: BalanceType | int,
        on_closed: Callable[[TradeRecord], Awaitable[None]],
    ) -> None:
        self.client = client
        self.balance_type = balance_type
        self.balance_id: int | None = None
        self._on_closed = on_closed
        self._waiting: set[asyncio.Task[None]] = set()
        self.trades: dict[int, Trade] = {}

    def now(self) -> float:
        return self.client.server_time()

    def payout(self, active_id: int) -> float:
        try:
            return 100 - self.client.commission(active_id)
        except KeyError:
            return 0.0

    def balance(self) -> float | None:
        if self.balance_id is None:
            return None
        balance = self.client.portfolio.balances.get(self.balance_id)
        return None if balance is None else balance.amount

    async def place(self, active_id: int, direction: str, amount: float, expiration: int) -> OpenTrade:
        trade = await self.client.buy_blitz(
            active_id, direction, amount, expiration, balance=self.balance_type
        )
        self.trades[trade.id] = trade
        task = asyncio.create_task(self._follow(trade), name=f"iqwire-bot-trade-{trade.id}")
        self._waiting.add(task)
        task.add_done_callback(self._waiting.discard)
        return OpenTrade(
            id=trade.id,
            active_id=trade.active_id,
            direction=trade.direction,
            amount=trade.amount,
            expires_at=trade.expires,
            open_price=trade.open_price,
        )

    async def _follow(self, trade: Trade) -> None:
        try:
            result = await trade.outcome()
        except OutcomeUnknown as exc:
            log.error("trade %s: %s", trade.id, exc)
            return
        except IqwireError as exc:
            log.error("trade %s: outcome not known: %s", trade.id, exc)
            return
        await self._on_closed(
            TradeRecord(
                id=trade.id,
                active_id=trade.active_id,
                direction=trade.direction,
                amount=trade.amount,
                payout=trade.payout,
                opened_at=trade.created,
                expires_at=trade.expires,
                open_price=trade.open_price,
                close_price=result.close_price,
                outcome=result.outcome,
                pnl=result.pnl,
            )
        )

    @property
    def pending(self) -> int:
        """Trades still waiting for their outcome."""
        return len(self._waiting)

    async def drain(self, timeout: float) -> None:
        """Wait for every open trade's outcome (at most ``timeout`` seconds)."""
        if self._waiting:
            await asyncio.wait(set(self._waiting), timeout=timeout)

    async def cancel(self) -> None:
        """Stop following trades (the run is over)."""
        for task in list(self._waiting):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@dataclass
class LiveResult:
    """What a live or paper run produced."""

    report: Report
    state: RunState
    balance_id: int | None
    start_balance: float | None
    end_balance: float | None
    unsettled: int


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
) -> LiveResult:
    """Run a strategy on a connected client until ``duration`` (wall seconds) or ``stop``.

    Open trades are followed to their outcome (up to ``settle_timeout`` s) before it returns.

    Example::

        async with iqwire.Client(...) as client:
            result = await run_live(client, MeanReversion(), duration=60)
            print(result.report.summary_line())
    """
    state = state if state is not None else RunState(mode="live")
    await client.get_initialization_data()
    actives = [resolve_active(client, active) for active in strategy.actives]
    if not actives:
        raise ValueError(f"{strategy.name} names no actives")
    for spec in actives:
        state.names[spec.id] = spec.ticker or spec.name

    def resolve(active: str | int) -> int:
        return resolve_active(client, active).id

    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    runner: BotRunner

    async def on_closed(record: TradeRecord) -> None:
        await queue.put(("closed", record))

    broker = ClientBroker(client, balance, on_closed)
    runner = BotRunner(
        strategy, broker, RiskGuard(limits or RiskLimits()), state=state, resolve=resolve, emit=emit
    )
    await client.portfolio.start()
    balances = await client.get_balances()
    chosen = next(
        (b for b in balances if (b.type == balance if isinstance(balance, BalanceType) else b.id == balance)),
        None,
    )
    if chosen is None:
        raise ValueError(f"the account has no balance {balance!r}")
    broker.balance_id = chosen.id
    state.balance = chosen.amount
    state.currency = chosen.currency or "USD"
    start_balance = chosen.amount

    async def pump(kind: str, stream: AsyncIterator[Any]) -> None:
        async for item in stream:
            await queue.put((kind, item))

    feeds: list[asyncio.Task[None]] = []
    for spec in actives:
        feeds.append(asyncio.create_task(pump("candle", client.candles_multi(spec.id, list(strategy.sizes)))))
        feeds.append(asyncio.create_task(pump("mood", client.traders_mood(spec.id))))
    feeds.append(asyncio.create_task(pump("instruments", client.instruments())))
    feeds.append(asyncio.create_task(pump("balance", client.balance_changes())))
    feeds.append(asyncio.create_task(pump("connection", client.connection_states())))
    state.connection = client.state.value
    wanted = {spec.id for spec in actives}
    # The instruments push reports changes; start from what the init data says now.
    last_status: dict[int, bool] = {spec.id: spec.is_open_at(client.server_time()) for spec in actives}

    async def dispatch(kind: str, item: Any) -> None:
        if kind == "candle":
            await runner.candle(item)
        elif kind == "mood":
            await runner.mood(item)
        elif kind == "closed":
            await runner.trade_closed(item)
        elif kind == "balance":
            change: BalanceChanged = item
            if change.current_balance.id == broker.balance_id:
                await runner.balance(change)
        elif kind == "instruments":
            listing: InstrumentsList = item
            for status in listing.items:
                if status.active_id in wanted and last_status.get(status.active_id) != status.tradable:
                    last_status[status.active_id] = status.tradable
                    await runner.asset_status(status)
        elif kind == "connection":
            state.connection = item.value

    await runner.start()
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    try:
        while True:
            if stop is not None and stop.is_set():
                break
            timeout = None if deadline is None else deadline - loop.time()
            if timeout is not None and timeout <= 0:
                break
            try:
                kind, item = await asyncio.wait_for(queue.get(), timeout=min(timeout or 0.5, 0.5))
            except TimeoutError:
                state.server_time = client.server_time()
                continue
            await dispatch(kind, item)
        # Stop new signals; follow the open trades to the end.
        for task in feeds:
            task.cancel()
        await asyncio.gather(*feeds, return_exceptions=True)
        end_wait = loop.time() + settle_timeout
        while (broker.pending or not queue.empty()) and loop.time() < end_wait:
            try:
                kind, item = await asyncio.wait_for(queue.get(), timeout=0.5)
            except TimeoutError:
                continue
            if kind == "closed":
                await runner.trade_closed(item)
        while not queue.empty():
            kind, item = queue.get_nowait()
            if kind == "closed":
                await runner.trade_closed(item)
        await runner.stop()
    finally:
        for task in feeds:
            task.cancel()
        await asyncio.gather(*feeds, return_exceptions=True)
        await broker.cancel()
    end = broker.balance()
    report = Report.from_state(state, start_balance)
    return LiveResult(
        report=report,
        state=state,
        balance_id=broker.balance_id,
        start_balance=start_balance,
        end_balance=end,
        unsettled=len(state.open_trades),
    )
