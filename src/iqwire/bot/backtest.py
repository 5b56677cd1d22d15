"""Event-driven backtests over stored candles, settled by the simulator's rules.

The replay clock is the ``to`` of each candle: a strategy sees a candle only once
its period is over, and a trade opened at ``t`` opens at the last close at or
before ``t`` and settles at the last close at or before ``floor(t) + expiration``
(the simulator's "last tick" rule, at candle resolution). Win pays the active's
payout, loss loses the stake, an unchanged price refunds it. Turbo, binary and
digital options follow their own expiry rules and prices, and can be sold early
(:mod:`iqwire.bot.option_terms`: the simulator's formulas).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from iqwire.bot import option_terms
from iqwire.bot.indicators import CandleWindow
from iqwire.bot.option_terms import BLITZ_EXPIRATIONS, OptionTerms
from iqwire.bot.records import OpenTrade, RunState, TradeRecord
from iqwire.bot.report import Report
from iqwire.bot.risk import RiskGuard, RiskLimits
from iqwire.bot.runner import BotRunner
from iqwire.bot.strategy import Strategy
from iqwire.errors import InsufficientBalance, InvalidOrder, MarketClosed
from iqwire.models import Candle, Outcome

__all__ = ["BLITZ_EXPIRATIONS", "BacktestBroker", "BacktestResult", "run_backtest"]


@dataclass(slots=True)
class _Open:
    trade: OpenTrade
    expires: int
    payout: float
    opened_at: float
    terms: OptionTerms


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

    def payout(self, active_id: int, product: str = "blitz") -> float:
        return self.payouts.get(active_id, 0.0)  # the spot digital strike pays the same

    def balance(self) -> float | None:
        return round(self._balance, 2)

    def observe(self, candle: Candle) -> None:
        """Learn a price the replay has reached (called before the strategy sees it)."""
        active_id = candle.active_id
        if active_id is None:
            return
        ends, closes = self.book(active_id)
        end = candle.end
        # Several sizes end at the same instant: keep one price per instant, the finest
        # (and never go back in time).
        if ends and end <= ends[-1]:
            return
        ends.append(end)
        closes.append(candle.close)

    def book(self, active_id: int) -> tuple[list[int], list[float]]:
        """The (ends, closes) an active's prices are kept in (what ``observe`` appends to)."""
        book = self._books.get(active_id)
        if book is None:
            book = self._books[active_id] = (
                self._ends.setdefault(active_id, []),
                self._closes.setdefault(active_id, []),
            )
        return book

    def price_at(self, active_id: int, t: float) -> float | None:
        """The last known close at or before ``t``."""
        ends = self._ends.get(active_id)
        if not ends:
            return None
        if t >= ends[-1]:  # the newest price: what every trade opens at, and most settle at
            return self._closes[active_id][-1]
        index = bisect.bisect_right(ends, t) - 1
        return None if index < 0 else self._closes[active_id][index]

    def volatility(self, active_id: int) -> float:
        """σ per √s estimated from the prices the replay has reached (no look-ahead)."""
        ends, closes = self._ends.get(active_id, []), self._closes.get(active_id, [])
        return option_terms.estimate_volatility(ends[-300:], closes[-300:])

    async def place(
        self,
        active_id: int,
        direction: str,
        amount: float,
        expiration: int,
        product: str = "blitz",
        strike: str | float = "spot",
    ) -> OpenTrade:
        return self.place_nowait(active_id, direction, amount, expiration, product, strike)

    def place_nowait(
        self,
        active_id: int,
        direction: str,
        amount: float,
        expiration: int,
        product: str = "blitz",
        strike: str | float = "spot",
    ) -> OpenTrade:
        """:meth:`place` without a coroutine: the ledger answers at once (the runner calls this one)."""
        if product == "blitz" and expiration not in self.expirations:
            raise InvalidOrder(f"expiration {expiration}s is not offered (offered: {self.expirations})")
        if direction not in ("call", "put"):
            raise InvalidOrder(f"direction must be 'call' or 'put', not {direction!r}")
        if amount > self._balance:
            raise InsufficientBalance(f"amount {amount:g} is more than the balance {self._balance:.2f}")
        price = self.price_at(active_id, self.time)
        if price is None:
            raise MarketClosed(f"no price for active {active_id} yet")
        terms = option_terms.open_terms(
            product,
            direction,
            amount,
            price,
            self.time,
            expiration,
            commission=100 - self.payout(active_id),
            volatility=self.volatility(active_id) if product == "digital" else 0.0,
            strike=strike,
        )
        self._balance -= amount
        expires = terms.expires
        payout = terms.payout
        # round(payout, 2), but a whole float (an active's usual payout, 88.0) is its own
        # rounding: is_integer() costs a tenth of round()'s decimal conversion.
        if type(payout) is not float or not payout.is_integer():
            payout = round(payout, 2)
        # Positional: a dataclass's ``__init__`` called with ten keywords costs twice as
        # much (0.55 against 0.23 µs), once per trade. The order is OpenTrade's fields'.
        trade = OpenTrade(
            self._next_id,  # id
            active_id,
            direction,
            amount,
            expires,  # expires_at
            price,  # open_price
            self.time,  # opened_at
            payout,
            False,  # reconciled
            None,  # intent_id
            product,
            terms.strike if product == "digital" else None,
        )
        self._next_id += 1
        self._open.append(_Open(trade, expires, payout, self.time, terms))
        if expires < self.next_expiry:
            self.next_expiry = expires
        return trade

    def due(self, now: float) -> list[TradeRecord]:
        """Settle every trade that expired at or before ``now``, in expiry order."""
        if now < self.next_expiry:
            return []
        opened = self._open
        if len(opened) == 1:
            # One trade open (a strategy trading one at a time): it is the one due.
            item = opened.pop()
            self.next_expiry = math.inf
            return [self._settle(item)]
        ready = sorted((o for o in opened if o.expires <= now), key=lambda o: (o.expires, o.trade.id))
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
        outcome, pnl = option_terms.settle(item.terms, close)
        self._balance += trade.amount + pnl
        return self._record(item, close, outcome, pnl, item.expires)

    async def sell(self, trade: OpenTrade) -> TradeRecord:
        """Sell (close) an open option now at the model's price (turbo, binary: buy-back; digital: bid)."""
        item = next((o for o in self._open if o.trade.id == trade.id), None)
        if item is None:
            raise InvalidOrder(f"trade {trade.id} is not open")
        spot = self.price_at(trade.active_id, self.time)
        if spot is None:
            raise MarketClosed(f"no price for active {trade.active_id}")
        paid = option_terms.sale_value(item.terms, spot, self.time, self.volatility(trade.active_id))
        self._open.remove(item)
        self.next_expiry = min((o.expires for o in self._open), default=math.inf)
        self._balance += paid
        return self._record(item, spot, Outcome.SOLD, round(paid - trade.amount, 2), self.time)

    @staticmethod
    def _record(item: _Open, close: float, outcome: Outcome, pnl: float, closed_at: float) -> TradeRecord:
        trade = item.trade
        # Positional, in TradeRecord's field order (keywords cost 0.35 µs more per trade).
        return TradeRecord(
            trade.id,
            trade.active_id,
            trade.direction,
            trade.amount,
            item.payout,
            item.opened_at,
            closed_at,  # expires_at
            trade.open_price,
            close,  # close_price
            outcome,
            pnl,
            trade.product,
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

    def __repr__(self) -> str:
        # Short on purpose: asyncio.run() reprs its main task, result included, when it
        # restores the SIGINT handler (CPython 3.11); the generated repr wrote out every
        # trade record of the run state (3 ms and 224 kB for 2,400 trades).
        return (
            f"BacktestResult(candles={self.candles}, trades={self.report.trades}, "
            f"unsettled={self.unsettled}, final_balance={self.final_balance:.2f})"
        )


#: The replay's route before the first candle (no active id equals it, not even ``None``).
_NO_ROUTE = object()


async def _replay(runner: BotRunner, broker: BacktestBroker, candles: Iterable[Candle]) -> None:
    """Feed every candle through the broker's price book, the windows and the strategy.

    ``broker.observe``, ``runner.candle`` and, for a closed candle after the newest
    one with nothing forming (a stored series' every candle), the window's
    ``update`` are inlined: nothing here switches tasks (the broker never waits), a
    plain ``def on_candle`` costs no coroutine, and a candle of the previous one's
    (active, size) costs no call before the strategy's. Anything else (another
    route, a forming, late or duplicate candle) takes ``runner.take`` or
    ``CandleWindow.update`` itself.
    """
    strategy, state, ctx = runner.strategy, runner.state, runner.ctx
    take, closed_nowait = runner.take, runner.closed_nowait
    on_candle = strategy.on_candle
    # Stored candles are closed; a forming one (a live recording) reaches ``on_tick``,
    # when the strategy has one (the base class's does nothing).
    ticks = type(strategy).on_tick is not Strategy.on_tick
    route_active: object = _NO_ROUTE
    route_size: int | None = None
    window = CandleWindow(1)
    window_update = window.update
    prices_append, closes_append = deque[float]().append, deque[float]().append
    candles_append = deque[Candle]().append
    book_active: int | None = None
    ends: list[int] = []
    closes: list[float] = []
    last_end: float = -math.inf  # ends[-1] (only this loop appends to the book while it runs)

    async def settle(now: float) -> float:
        """Close every trade due at ``now``; the broker's next expiry after them."""
        for record in broker.due(now):
            pending = closed_nowait(record)
            if pending is not None:
                await pending
        return broker.next_expiry

    # broker.next_expiry, read again after anything that may have placed or settled a
    # trade: the broker's ``place`` and ``sell`` are coroutines, so they run only inside
    # one of this loop's ``await``s, and ``due`` is called by ``settle`` (one attribute
    # read per candle less; the value is never stale when it is tested).
    next_expiry = broker.next_expiry
    for candle in candles:
        end = candle.end
        # float(end), exactly: an int's true division by 1 is correctly rounded, as float() is
        # (and a float end stays itself). Half the cost of float(end) or end + 0.0 (no
        # int + float dispatch, no call).
        now = broker.time = end / 1
        if candle.active_id == route_active and candle.size == route_size:
            # runner.take's own path for the (active, size) of the previous candle. One price
            # per instant, the finest size's (the merge puts it first); the route's active is
            # the price book's (see where the route is set): no lookup.
            close = candle.close
            if end > last_end:
                ends.append(end)
                closes.append(close)
                last_end = end
            if now >= next_expiry:
                next_expiry = await settle(now)
            state.server_time = now
            prices_append(close)
            start = candle.start
            at = candle.at
            if (
                window._forming is None
                and start > window._last_start
                and (at is None or at >= end * 1_000_000_000)
            ):
                # CandleWindow.update's commit of a closed candle: it closes no forming
                # one and forms none, so on_tick is not due.
                candles_append(candle)
                window._last_start = start
                closes_append(close)
                feed = window._feed  # (read each time: ``add`` may change it)
                if feed is not None:
                    feed(close)
                pending = on_candle(ctx, candle)
                if pending is not None:
                    await pending
                    next_expiry = broker.next_expiry
                continue
            closed = window.last if window_update(candle) else None
        else:
            active_id = candle.active_id
            if active_id is not None:
                if active_id != book_active:
                    ends, closes = broker.book(active_id)
                    book_active = active_id
                    last_end = ends[-1] if ends else -math.inf
                if end > last_end:
                    ends.append(end)
                    closes.append(candle.close)
                    last_end = end
            if now >= next_expiry:
                next_expiry = await settle(now)
            state.server_time = now
            closed = take(candle)
            route = runner.route
            # The route the next candle may take inline: a window fed only its own active's
            # candles (else take() decides every time), of the active whose price book is
            # at hand (a candle without a size moves the book but not the route).
            if route is not None and route[2].active_id == route[0] == book_active:
                route_active, route_size, window, prices = route
                window_update, prices_append = window.update, prices.append
                candles_append, closes_append = window._candles.append, window._closes.append
            else:
                route_active = _NO_ROUTE
        if closed is not None:
            pending = on_candle(ctx, closed)
            if pending is not None:
                await pending
                next_expiry = broker.next_expiry
        if ticks and runner.forming(candle):
            tick = strategy.on_tick(ctx, candle)
            if tick is not None:
                await tick
                next_expiry = broker.next_expiry


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
    runner = BotRunner(
        strategy, broker, guard, state=state, resolve=resolve, emit=lambda _message: None, quiet=True
    )
    await runner.start()
    # Merge by close time; at equal times the finer size first (it is the price source).
    # One series is already in that order.
    candles: Iterable[Candle] = (
        series[0] if len(series) == 1 else heapq.merge(*series, key=lambda c: (c.end, c.size or 0))
    )
    await _replay(runner, broker, candles)
    for record in broker.due(broker.time):
        await runner.trade_closed(record)
    await runner.stop()
    final = broker.balance() or 0.0
    report = Report.from_state(state, balance)
    return BacktestResult(
        report=report,
        state=state,
        candles=sum(len(candles) for candles in series),
        unsettled=broker.unsettled,
        final_balance=final,
        params=dict(strategy.params),
    )
