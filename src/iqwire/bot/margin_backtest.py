"""Margin backtests: fills, take-profit, stop-loss, swap and stop-out at candle resolution.

The candles are mid prices; ``spread`` (price units, per active) makes the bid
``mid - spread/2`` and the ask ``mid + spread/2``. The rules, at candle resolution:

- **Market orders** placed while the strategy handles a candle fill at the
  **open of that active's next candle**, a buy at the ask, a sell at the bid.
- **Limit and stop orders** fill when the candle's high or low reaches their
  price (a buy on the ask, a sell on the bid), at their price, or at the open
  when the candle opened beyond it (a gap fills at the worse open for a stop, the
  better one for a limit).
- **Take-profit and stop-loss** trigger on the candle's high and low on the close
  side of the spread (a buy closes at the bid, a sell at the ask), from the candle
  after the fill. **Tie rule**: when one candle touches both, the **stop-loss**
  is taken (the candle does not say which came first; pessimistic).
- A strategy's ``ctx.close`` closes at the last close (the price it saw), on the
  close side of the spread.
- **Swap** at every 00:00 UTC crossed: each open position is charged
  :func:`iqwire.margin_math.swap_charge` at the last close.
- **Margin** = notional / leverage at the fill price (:func:`iqwire.margin_math.margin`);
  an order needing more than the free margin is refused. After every candle, a
  margin level under ``stop_out_level`` closes positions biggest loss first
  (:func:`iqwire.margin_math.stop_out`) at that candle's close.

The result has the equity after every candle, the largest drawdown (money and
percent of the peak) and the lowest margin level seen.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from iqwire import margin_math as mm
from iqwire.bot.backtest import BacktestBroker
from iqwire.bot.margin import MarginAccountView, MarginDesk, MarginLimits, MarginTicket
from iqwire.bot.records import RunState
from iqwire.bot.risk import RiskGuard, RiskLimits
from iqwire.bot.runner import BotRunner
from iqwire.bot.strategy import Strategy
from iqwire.errors import InsufficientBalance, InvalidOrder, MarketClosed
from iqwire.models import Candle
from iqwire.trading.margin_levels import LevelInput, parse_level

__all__ = ["MarginBacktestBroker", "MarginBacktestResult", "run_margin_backtest"]

#: Spread, pip size and swap (% of the notional per night, long and short) when none is given.
DEFAULT_SPREAD = 0.00002
DEFAULT_PIP = 0.0001
DEFAULT_SWAP = (0.008, 0.004)


def _d(value: float) -> Decimal:
    return Decimal(repr(value))


def _side(ticket: MarginTicket) -> mm.Side:
    return "buy" if ticket.side == "buy" else "sell"


def _day(t: float) -> int:
    return int(datetime.fromtimestamp(t, tz=UTC).timestamp() // 86_400)


@dataclass
class _Position:
    ticket: MarginTicket
    limit: float | None
    take_profit: tuple[str, Decimal] | None
    stop_loss: tuple[str, Decimal] | None
    filled_at_end: int | None = None


class MarginBacktestBroker:
    """A margin ledger priced only from the replayed candles (no look-ahead)."""

    def __init__(
        self,
        balance: float,
        *,
        resolve: Callable[[str | int], int],
        spread: float | dict[int, float] = DEFAULT_SPREAD,
        pip: float | dict[int, float] = DEFAULT_PIP,
        swap: tuple[float, float] | dict[int, tuple[float, float]] = DEFAULT_SWAP,
        leverage: int = 100,
        stop_out_level: float = 50.0,
    ) -> None:
        self.cash = _d(balance)
        self._resolve = resolve
        self._spread = spread
        self._pip = pip
        self._swap = swap
        self.leverage = leverage
        self.stop_out_level = _d(stop_out_level)
        self.time = 0.0
        self._marks: dict[int, float] = {}
        self._book: dict[int, _Position] = {}
        self._ids = itertools.count(1)
        self.closed: list[MarginTicket] = []
        self.swap_paid = Decimal(0)
        self.equity_curve: list[tuple[int, float]] = []
        self.peak = float(balance)
        self.max_drawdown = 0.0
        self.max_drawdown_pct = 0.0
        self.min_margin_level: float | None = None

    # -- prices ---------------------------------------------------------------------------

    def _of(self, table: float | dict[int, float], active_id: int, default: float) -> float:
        return table.get(active_id, default) if isinstance(table, dict) else table

    def half_spread(self, active_id: int) -> float:
        """Half the active's spread (price units)."""
        return self._of(self._spread, active_id, DEFAULT_SPREAD) / 2

    def price(self, active_id: int) -> float | None:
        """The last close seen (mid)."""
        return self._marks.get(active_id)

    def _close_side(self, ticket: MarginTicket, mid: float) -> float:
        half = self.half_spread(ticket.active_id)
        return mid - half if ticket.side == "buy" else mid + half

    # -- the account ----------------------------------------------------------------------

    def _pnl(self, ticket: MarginTicket) -> Decimal:
        mark = self._marks.get(ticket.active_id, ticket.open_price or 0.0)
        return mm.pnl(
            _side(ticket),
            _d(ticket.quantity),
            _d(ticket.open_price or 0.0),
            _d(self._close_side(ticket, mark)),
        )

    def _open(self) -> list[_Position]:
        return [p for p in self._book.values() if p.ticket.status == "open"]

    def account(self) -> MarginAccountView:
        """Cash, equity, margin, margin level and exposure now."""
        positions = self._open()
        pnls = [self._pnl(p.ticket) for p in positions]
        for position, pnl in zip(positions, pnls, strict=True):
            position.ticket.pnl = float(pnl)
        equity = mm.equity(self.cash, pnls)
        used = sum((_d(p.ticket.margin) for p in positions), Decimal(0))
        level = mm.margin_level(equity, used)
        exposure = sum(p.ticket.notional(self._marks.get(p.ticket.active_id)) for p in positions)
        return MarginAccountView(
            float(self.cash), float(equity), float(used), None if level is None else float(level), exposure
        )

    # -- orders ---------------------------------------------------------------------------

    async def order(
        self,
        active: str | int,
        side: str,
        quantity: float,
        *,
        type: str,
        price: float | None,
        leverage: int | None,
        take_profit: LevelInput,
        stop_loss: LevelInput,
    ) -> MarginTicket:
        """Queue an order: it fills from the active's next candle (see the module's rules)."""
        active_id = self._resolve(active)
        if side not in ("buy", "sell"):
            raise InvalidOrder(f"side must be 'buy' or 'sell', not {side!r}")
        if type not in ("market", "limit", "stop") or (type != "market") != (price is not None):
            raise InvalidOrder("a market order takes no price; a limit or stop order needs one")
        if quantity <= 0:
            raise InvalidOrder(f"quantity must be positive, not {quantity!r}")
        mark = self._marks.get(active_id)
        if mark is None:
            raise MarketClosed(f"no price for active {active_id} yet")
        lever = leverage or self.leverage
        at = price if price is not None else mark
        needed = mm.margin(_d(quantity), _d(at), lever)
        account = self.account()
        if needed > _d(account.equity) - _d(account.margin):
            raise InsufficientBalance(
                f"the order needs a margin of {needed:.2f}; {account.equity - account.margin:.2f} is free"
            )
        levels = (parse_level(take_profit, "take_profit"), parse_level(stop_loss, "stop_loss"))
        ticket = MarginTicket(
            id=next(self._ids), active_id=active_id, side=side, quantity=quantity, leverage=lever, type=type
        )
        self._book[ticket.id] = _Position(
            ticket,
            price,
            None if levels[0] is None else (levels[0].type, Decimal(str(levels[0].value))),
            None if levels[1] is None else (levels[1].type, Decimal(str(levels[1].value))),
        )
        return ticket

    async def close(self, ticket: MarginTicket) -> MarginTicket:
        """Close at the last close on the close side of the spread (cancel a pending order)."""
        position = self._book[ticket.id]
        if ticket.status == "pending":
            ticket.status = "canceled"
            del self._book[ticket.id]
            return ticket
        if ticket.status != "open":
            raise InvalidOrder(f"ticket {ticket.id} is {ticket.status}")
        self._settle(position, self._close_side(ticket, self._marks[ticket.active_id]), "default")
        return ticket

    # -- the replay -------------------------------------------------------------------------

    def step(self, candle: Candle) -> None:
        """Everything this candle does before the strategy sees it: swap, fills, levels, stop-out."""
        active_id = candle.active_id
        if active_id is None:
            return
        end = float(candle.end)
        if self.time and _day(end) > _day(self.time):
            self._charge_swap()
        self.time = max(self.time, end)
        for position in [p for p in self._book.values() if p.ticket.active_id == active_id]:
            if position.ticket.status == "pending":
                self._try_fill(position, candle)
            elif position.ticket.status == "open" and position.filled_at_end != candle.end:
                self._try_levels(position, candle)
        self._marks[active_id] = candle.close
        level = self.account().margin_level  # the lowest level is the one that triggered a stop-out
        if level is not None and (self.min_margin_level is None or level < self.min_margin_level):
            self.min_margin_level = level
        self._stop_out()
        self._record(candle.end)

    def _try_fill(self, position: _Position, candle: Candle) -> None:
        ticket = position.ticket
        half = self.half_spread(ticket.active_id)
        shift = half if ticket.side == "buy" else -half
        low, high, opened = candle.low + shift, candle.high + shift, candle.open + shift
        limit = position.limit
        if ticket.type == "market" or limit is None:
            fill = opened
        elif (ticket.side == "buy") == (ticket.type == "limit"):  # buy limit, sell stop: price falls to it
            if low > limit:
                return
            fill = min(limit, opened)
        else:  # buy stop, sell limit: price rises to it
            if high < limit:
                return
            fill = max(limit, opened)
        ticket.status, ticket.open_price, ticket.opened_at = "open", fill, float(candle.start)
        ticket.margin = float(mm.margin(_d(ticket.quantity), _d(fill), ticket.leverage))
        position.filled_at_end = candle.end
        pip = _d(self._of(self._pip, ticket.active_id, DEFAULT_PIP))
        side = _side(ticket)
        for level, spec in (("take_profit", position.take_profit), ("stop_loss", position.stop_loss)):
            if spec is not None:
                kind = spec[0] if spec[0] in ("price", "pips", "delta", "pnl") else "price"
                target = mm.target_price(kind, spec[1], level, side, _d(fill), _d(ticket.quantity), pip)  # type: ignore[arg-type]
                setattr(ticket, level, float(target))

    def _try_levels(self, position: _Position, candle: Candle) -> None:
        ticket = position.ticket
        buy = ticket.side == "buy"
        low, high, opened = (self._close_side(ticket, p) for p in (candle.low, candle.high, candle.open))
        worst, best = (low, high) if buy else (high, low)
        sl, tp = ticket.stop_loss, ticket.take_profit
        if sl is not None and (worst <= sl if buy else worst >= sl):  # the tie rule: the stop-loss first
            gapped = opened <= sl if buy else opened >= sl
            self._settle(position, opened if gapped else sl, "stop_loss", float(candle.end))
        elif tp is not None and (best >= tp if buy else best <= tp):
            gapped = opened >= tp if buy else opened <= tp
            self._settle(position, opened if gapped else tp, "take_profit", float(candle.end))

    def _settle(self, position: _Position, price: float, reason: str, at: float | None = None) -> None:
        ticket = position.ticket
        pnl = mm.pnl(_side(ticket), _d(ticket.quantity), _d(ticket.open_price or 0.0), _d(price)).quantize(
            Decimal("0.01")
        )
        self.cash += pnl
        ticket.status, ticket.pnl, ticket.close_price = "closed", float(pnl), price
        ticket.close_reason, ticket.closed_at = reason, at if at is not None else self.time
        self._book.pop(ticket.id, None)
        self.closed.append(ticket)

    def _charge_swap(self) -> None:
        for position in self._open():
            ticket = position.ticket
            fees = (
                self._swap.get(ticket.active_id, DEFAULT_SWAP) if isinstance(self._swap, dict) else self._swap
            )
            side = _side(ticket)
            mark = _d(self._marks.get(ticket.active_id, ticket.open_price or 0.0))
            charge = mm.swap_charge(side, _d(ticket.quantity), mark, _d(fees[0]), _d(fees[1])).quantize(
                Decimal("0.01")
            )
            self.cash += charge
            self.swap_paid += charge
            ticket.swap += float(charge)

    def _stop_out(self) -> None:
        positions = self._open()
        if not positions:
            return
        exposures = [mm.Exposure(p.ticket.id, _d(p.ticket.margin), self._pnl(p.ticket)) for p in positions]
        for key in mm.stop_out(self.cash, exposures, self.stop_out_level):
            position = self._book[key]
            mark = self._marks.get(position.ticket.active_id, position.ticket.open_price or 0.0)
            self._settle(position, self._close_side(position.ticket, mark), "stop_out")

    def _record(self, end: int) -> None:
        account = self.account()
        self.equity_curve.append((end, account.equity))
        self.peak = max(self.peak, account.equity)
        drawdown = self.peak - account.equity
        if drawdown > self.max_drawdown:
            self.max_drawdown = drawdown
            self.max_drawdown_pct = drawdown / self.peak * 100 if self.peak > 0 else 0.0

    @property
    def tickets(self) -> list[MarginTicket]:
        """Every ticket still pending or open."""
        return [p.ticket for p in self._book.values()]


@dataclass
class MarginBacktestResult:
    """What a margin backtest produced: the equity, the drawdown, the margin level, every ticket."""

    start_balance: float
    final_equity: float
    cash: float
    swap: float
    max_drawdown: float
    max_drawdown_pct: float
    min_margin_level: float | None
    equity_curve: list[tuple[int, float]]
    closed: list[MarginTicket]
    still_open: list[MarginTicket]
    refusals: dict[str, int]
    candles: int
    params: dict[str, object] = field(default_factory=dict)

    def summary_line(self) -> str:
        """One line: equity, P&L, trades by close reason, drawdown, lowest margin level."""
        reasons: dict[str, int] = {}
        for ticket in self.closed:
            reasons[ticket.close_reason or "?"] = reasons.get(ticket.close_reason or "?", 0) + 1
        by_reason = ", ".join(f"{k}={v}" for k, v in sorted(reasons.items())) or "none"
        level = "-" if self.min_margin_level is None else f"{self.min_margin_level:,.0f}%"
        return (
            f"equity {self.final_equity:,.2f} (P&L {self.final_equity - self.start_balance:+,.2f}, swap "
            f"{self.swap:+,.2f}); closed {len(self.closed)} ({by_reason}), open {len(self.still_open)}; "
            f"max drawdown {self.max_drawdown:,.2f} ({self.max_drawdown_pct:.2f}%); lowest margin level {level}"
        )


async def run_margin_backtest(
    strategy: Strategy,
    series: Sequence[Sequence[Candle]],
    *,
    resolve: Callable[[str | int], int],
    balance: float = 10_000.0,
    limits: MarginLimits | None = None,
    spread: float | dict[int, float] = DEFAULT_SPREAD,
    pip: float | dict[int, float] = DEFAULT_PIP,
    swap: tuple[float, float] | dict[int, tuple[float, float]] = DEFAULT_SWAP,
    leverage: int = 100,
    names: dict[int, str] | None = None,
) -> MarginBacktestResult:
    """Replay candle series (each ascending) through a strategy that trades with ``ctx.order``.

    Example::

        result = await run_margin_backtest(MarginBreakout(), [store.read(76, 60, start, end)],
                                           resolve=resolve_active_id, spread=0.00002)
        print(result.summary_line())
    """
    broker = MarginBacktestBroker(
        balance, resolve=resolve, spread=spread, pip=pip, swap=swap, leverage=leverage
    )
    state = RunState(mode="backtest", balance=balance)
    if names:
        state.names.update(names)
    desk = MarginDesk(broker, limits, now=lambda: broker.time, resolve=resolve)
    options = BacktestBroker({}, balance)
    runner = BotRunner(
        strategy,
        options,
        RiskGuard(RiskLimits()),
        state=state,
        resolve=resolve,
        emit=lambda _m: None,
        margin=desk,
    )
    await runner.start()
    candles: Iterable[Candle] = (
        series[0] if len(series) == 1 else heapq.merge(*series, key=lambda c: (c.end, c.size or 0))
    )
    count = 0
    for candle in candles:
        options.time = float(candle.end)
        options.observe(candle)
        broker.step(candle)
        state.server_time = float(candle.end)
        await runner.candle(candle)
        count += 1
    await runner.stop()
    account = broker.account()
    return MarginBacktestResult(
        start_balance=balance,
        final_equity=account.equity,
        cash=account.cash,
        swap=float(broker.swap_paid),
        max_drawdown=broker.max_drawdown,
        max_drawdown_pct=broker.max_drawdown_pct,
        min_margin_level=broker.min_margin_level,
        equity_curve=broker.equity_curve,
        closed=list(broker.closed),
        still_open=broker.tickets,
        refusals=dict(desk.refusals),
        candles=count,
        params=dict(strategy.params),
    )
