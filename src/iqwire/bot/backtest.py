"""Event-driven backtests over stored candles, settled by the simulator's rules.

The replay clock is the ``to`` of each candle: a strategy sees a candle only once
its period is over, and a trade opened at ``t`` opens at the last close at or
before ``t`` and settles at the last close at or before ``floor(t) + expiration``
(the simulator's "last tick" rule, at candle resolution). Win pays the active's
payout, loss loses the stake, an unchanged price refunds it.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from iqwire.bot.records import OpenTrade, RunState, TradeRecord
from iqwire.bot.report import Report
from iqwire.bot.risk import RiskGuard, RiskLimits
from iqwire.bot.runner import BotRunner
from iqwire.bot.strategy import Strategy
from iqwire.errors import InsufficientBalance, InvalidOrder, MarketClosed
from iqwire.models import Candle, Outcome

__all__ = ["BacktestBroker", "BacktestResult", "run_backtest"]

BLITZ_EXPIRATIONS = (5, 10, 15, 30, 60, 120, 300)


@dataclass
class _Open:
    trade: OpenTrade
    expires: int
    payout: float
    opened_at: float


class BacktestBroker:
    """A ledger that prices from the replayed candles only (no look-ahead)."""

    def __init__(
        self, payouts: dict[int, float], balance: float, *, expirations: Sequence[int] = BLITZ_EXPIRATIONS
    ) -> None:
        self.payouts = payouts
        self._balance = balance
        self.expirations = tuple(expirations)
        self.time = 0.0
        self._ends: dict[int, list[int]] = {}
        self._closes: dict[int, list[float]] = {}
        # (ends, closes) per active: the same lists as above, found with one lookup.
        self._books: dict[int, tuple[list[int], list[float]]] = {}
        self._open: list[_Open] = []
        #: The earliest expiry among the open trades (inf when none): ``due`` is a no-op before it.
        self.next_expiry = math.inf
        self._next_id = 1

    def now(self) -> float:
        return self.time

    def payout(self, active_id: int) -> float:
        return self.payouts.get(active_id, 0.0)

    def balance(self) -> float | None:
        return round(self._balance, 2)

    def observe(self, candle: Candle) -> None:
        """Learn a price the replay has reached (called before the strategy sees it)."""
        active_id = candle.active_id
        if active_id is None:
            return
        book = self._books.get(active_id)
        if book is None:
            book = self._books[active_id] = (
                self._ends.setdefault(active_id, []),
                self._closes.setdefault(active_id, []),
            )
        ends, closes = book
        end = candle.end
        # Several sizes end at the same instant: keep one price per instant, the finest
        # (and never go back in time).
        if ends and end <= ends[-1]:
            return
        ends.append(end)
        closes.append(candle.close)

    def price_at(self, active_id: int, t: float) -> float | None:
        """The last known close at or before ``t``."""
        ends = self._ends.get(active_id)
        if not ends:
            return None
        index = bisect.bisect_right(ends, t) - 1
        return None if index < 0 else self._closes[active_id][index]

    async def place(self, active_id: int, direction: str, amount: float, expiration: int) -> OpenTrade:
        if expiration not in self.expirations:
            raise InvalidOrder(f"expiration {expiration}s is not offered (offered: {self.expirations})")
        if direction not in ("call", "put"):
            raise InvalidOrder(f"direction must be 'call' or 'put', not {direction!r}")
        if amount > self._balance:
            raise InsufficientBalance(f"amount {amount:g} is more than the balance {self._balance:.2f}")
        price = self.price_at(active_id, self.time)
        if price is None:
            raise MarketClosed(f"no price for active {active_id} yet")
        self._balance -= amount
        trade = OpenTrade(
            id=self._next_id,
            active_id=active_id,
            direction=direction,
            amount=amount,
            expires_at=math.floor(self.time) + expiration,
            open_price=price,
        )
        self._next_id += 1
        expires = math.floor(self.time) + expiration
        self._open.append(_Open(trade, expires, self.payout(active_id), self.time))
        if expires < self.next_expiry:
            self.next_expiry = expires
        return trade

    def due(self, now: float) -> list[TradeRecord]:
        """Settle every trade that expired at or before ``now``, in expiry order."""
        if now < self.next_expiry:
            return []
        ready = sorted((o for o in self._open if o.expires <= now), key=lambda o: (o.expires, o.trade.id))
        records = []
        for item in ready:
            self._open.remove(item)
            records.append(self._settle(item))
        self.next_expiry = min((o.expires for o in self._open), default=math.inf)
        return records

    def _settle(self, item: _Open) -> TradeRecord:
        trade = item.trade
        close = self.price_at(trade.active_id, item.expires)
        if close is None:
            close = trade.open_price
        if close == trade.open_price:
            outcome, pnl = Outcome.EQUAL, 0.0
        elif (close > trade.open_price) == (trade.direction == "call"):
            outcome, pnl = Outcome.WIN, round(trade.amount * item.payout / 100, 2)
        else:
            outcome, pnl = Outcome.LOSS, -trade.amount
        self._balance += trade.amount + pnl
        return TradeRecord(
            id=trade.id,
            active_id=trade.active_id,
            direction=trade.direction,
            amount=trade.amount,
            payout=item.payout,
            opened_at=item.opened_at,
            expires_at=item.expires,
            open_price=trade.open_price,
            close_price=close,
            outcome=outcome,
            pnl=pnl,
        )

    @property
    def unsettled(self) -> int:
        """Trades still open when the data ran out."""
        return len(self._open)


@dataclass
class BacktestResult:
    """What a backtest produced."""

    report: Report
    state: RunState
    candles: int
    unsettled: int
    final_balance: float
    params: dict[str, object] = field(default_factory=dict)


async def run_backtest(
    strategy: Strategy,
    series: Sequence[Sequence[Candle]],
    *,
    payouts: dict[int, float],
    limits: RiskLimits | None = None,
    balance: float = 10_000.0,
    resolve: Callable[[str | int], int],
    names: dict[int, str] | None = None,
) -> BacktestResult:
    """Replay candle series (each ascending) through a strategy; return the report.

    Example::

        result = await run_backtest(MeanReversion(), [store.read(76, 60, start, end)],
                                    payouts={76: 88}, resolve=resolve_active_id)
        print(result.report.summary_line())
    """
    broker = BacktestBroker(payouts, balance)
    guard = RiskGuard(limits if limits is not None else RiskLimits())
    state = RunState(mode="backtest", balance=balance)
    if names:
        state.names.update(names)
    runner = BotRunner(strategy, broker, guard, state=state, resolve=resolve, emit=lambda _message: None)
    await runner.start()
    count = 0
    # Merge by close time; at equal times the finer size first (it is the price source).
    # One series is already in that order.
    candles: Iterable[Candle] = (
        series[0] if len(series) == 1 else heapq.merge(*series, key=lambda c: (c.end, c.size or 0))
    )
    observe = broker.observe
    runner_candle = runner.candle
    for candle in candles:
        now = broker.time = float(candle.end)
        observe(candle)
        if now >= broker.next_expiry:
            for record in broker.due(now):
                await runner.trade_closed(record)
        state.server_time = now
        await runner_candle(candle)
        count += 1
    for record in broker.due(broker.time):
        await runner.trade_closed(record)
    await runner.stop()
    final = broker.balance() or 0.0
    report = Report.from_state(state, balance)
    return BacktestResult(
        report=report,
        state=state,
        candles=count,
        unsettled=broker.unsettled,
        final_balance=final,
        params=dict(strategy.params),
    )
