"""Margin accounts, orders and positions: what a broker does between two quotes.

The book is pure like the options ledger: the caller passes the time and the
quotes, and every change comes back as events that the product turns into
pushes. Money is :class:`~decimal.Decimal`; every cash movement (the opening
deposit, realised profit, swap, a demo reset) is appended to the account's
``entries``, so ``sum(entries) == cash`` always holds. The formulas are
:mod:`iqwire.margin_math`'s; ``docs/simulator.md`` works an example of each.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

from iqwire import margin_math as mm
from iqwire.sim.accounts import User
from iqwire.sim.actives import DAY
from iqwire.sim.errors import FORBIDDEN, REJECTED, UNKNOWN_NAME, SimError
from iqwire.sim.margin_instruments import (
    MARGIN_CALL_LEVEL,
    ROLLOVER_HOUR_UTC,
    STOP_OUT_LEVEL,
    MarginQuote,
    MarginTerms,
    leverage_allowed,
)
from iqwire.sim.margin_records import (
    LEVEL_KINDS,
    AccountChanged,
    Figures,
    Level,
    MarginAccount,
    MarginCalled,
    MarginEvent,
    MarginOrder,
    MarginPosition,
    OrderChanged,
    OrderRequest,
    PositionChanged,
    cents,
)

__all__ = ["MarginBook"]

Quotes = Callable[[int], MarginQuote | None]
_ZERO = Decimal(0)


def _side(text: str) -> mm.Side:
    if text not in ("buy", "sell"):
        raise SimError(REJECTED, f"side must be 'buy' or 'sell', not {text!r}")
    return "buy" if text == "buy" else "sell"


class MarginBook:
    """Every margin account, order and position of the simulator.

    ``ids`` issues order and position numbers (shared with the options, so ids never collide).
    """

    def __init__(self, ids: Callable[[], int]) -> None:
        self._ids = ids
        self.accounts: dict[int, MarginAccount] = {}
        self.orders: dict[int, MarginOrder] = {}
        self.positions: dict[int, MarginPosition] = {}
        self._pending: dict[int, MarginOrder] = {}
        self._open: dict[int, MarginPosition] = {}
        self._rollover_day: int | None = None

    def next_order_id(self) -> int:
        """An order id from the shared sequence (for orders refused before the book saw them)."""
        return self._ids()

    # -- accounts ----------------------------------------------------------------------

    def account(self, user: User, balance_id: int) -> MarginAccount:
        """The margin account of a balance.

        Raises:
            SimError: 4003 for another user's balance; 4008 "no deposits" for a balance
                the margin service holds nothing of (every non-marginal balance).
        """
        account = self.accounts.get(balance_id)
        if account is not None and account.user is user:
            return account
        balance = user.balance(balance_id)
        if balance is None:
            raise SimError(FORBIDDEN, f"balance {balance_id} does not belong to this user")
        if not balance.is_marginal:
            raise SimError(
                REJECTED,
                f"create order: user_id: {user.user_id} user_balance_id: {balance_id} user balance has no deposits",
            )
        opening = cents(Decimal(str(balance.amount)))
        account = MarginAccount(user, balance_id, _ZERO)
        account.book("deposit", opening)
        self.accounts[balance_id] = account
        return account

    def reset(self, account: MarginAccount, amount: Decimal) -> list[MarginEvent]:
        """A demo reset: every position closed at its last price, cash set to ``amount``."""
        events: list[MarginEvent] = []
        for position in [p for p in self._open.values() if p.order.account is account]:
            events += self._close(position, position.current, position.quote_time, "default")
        for order in [o for o in self._pending.values() if o.account is account]:
            events += self._finish(order, "canceled", order.updated)
        account.book("reset", amount - account.cash)
        account.margin_called = False
        return [*events, AccountChanged(account, cash_moved=True)]

    def figures(self, account: MarginAccount) -> Figures:
        """The account's figures from its positions' last prices."""
        mine = [p for p in self._open.values() if p.order.account is account]
        pnl = sum((p.pnl for p in mine), _ZERO)
        used = sum((p.margin for p in mine), _ZERO)
        equity = mm.equity(account.cash, (p.pnl for p in mine))
        return Figures(
            cash=account.cash,
            pnl=pnl,
            swap=sum((p.swap for p in mine), _ZERO),
            equity=equity,
            margin=used,
            available=equity - used,
            level=mm.margin_level(equity, used),
        )

    def open_positions(self, account: MarginAccount | None = None) -> list[MarginPosition]:
        """Open positions, oldest first (of one account, or all)."""
        return [p for p in self._open.values() if account is None or p.order.account is account]

    def pending_orders(self) -> list[MarginOrder]:
        """Orders waiting for their price."""
        return list(self._pending.values())

    # -- requests ------------------------------------------------------------------------

    def place(
        self, user: User, terms: MarginTerms, request: OrderRequest, quote: MarginQuote | None, now: float
    ) -> tuple[MarginOrder, list[MarginEvent]]:
        """Validate and place an order; a market order (or a pending one at the market) fills now.

        Raises:
            SimError: 4008 for a refused order (no deposits, closed market, quantity,
                leverage, insufficient margin); nothing is placed then.
        """
        account = self.account(user, request.balance_id)
        side = _side(request.side)
        self._check_quantity(terms, request.count)
        figures = self.figures(account)
        if not leverage_allowed(terms, request.leverage, figures.equity):
            offered = ", ".join(str(x) for x in terms.leverages)
            raise SimError(
                REJECTED, f"leverage {request.leverage} is not allowed for {terms.name} (offered: {offered})"
            )
        if quote is None:
            raise SimError(REJECTED, f"{terms.name} is closed for trading now")
        kind: str = request.type
        if kind != "market":
            if request.price is None or request.price <= 0:
                raise SimError(REJECTED, f"a {kind} order needs a positive price")
            kind = mm.pending_kind(side, request.price, quote.bid, quote.ask)
        price = request.price if kind != "market" else mm.fill_price(side, quote.bid, quote.ask)
        assert price is not None
        self._check_margin(figures, mm.margin(request.count, price, request.leverage))
        for level in (request.take_profit, request.stop_loss):
            if level is not None and level.kind not in LEVEL_KINDS:
                raise SimError(REJECTED, f"take-profit/stop-loss type must be one of {sorted(LEVEL_KINDS)}")
        order = MarginOrder(
            id=self._ids(),
            account=account,
            terms=terms,
            side=side,
            count=request.count,
            leverage=request.leverage,
            type=kind,
            price=request.price if kind != "market" else None,
            take_profit=request.take_profit,
            stop_loss=request.stop_loss,
            created=now,
            updated=now,
        )
        self.orders[order.id] = order
        if kind == "market":
            return order, self._fill(order, quote, now)
        self._pending[order.id] = order
        return order, [OrderChanged(order)]

    @staticmethod
    def _check_quantity(terms: MarginTerms, count: Decimal) -> None:
        if count < terms.min_qty or (count - terms.min_qty) % terms.qty_step != 0:
            raise SimError(
                REJECTED,
                f"count {count} is not allowed for {terms.name}: at least {terms.min_qty}, "
                f"in steps of {terms.qty_step}",
            )

    @staticmethod
    def _check_margin(figures: Figures, needed: Decimal) -> None:
        if needed > figures.available:
            raise SimError(
                REJECTED,
                f"create order: insufficient margin: the order needs {cents(needed)}, "
                f"{cents(max(figures.available, _ZERO))} is available",
            )

    def cancel(self, user: User, order_id: int, now: float) -> list[MarginEvent]:
        """Cancel a pending order.

        Raises:
            SimError: 4004 for an unknown order (or another user's), 4008 when it is no longer pending.
        """
        order = self.orders.get(order_id)
        if order is None or order.account.user is not user:
            raise SimError(UNKNOWN_NAME, f"order {order_id} not found")
        if order.id not in self._pending:
            raise SimError(
                REJECTED, f"order {order_id} is {order.status}, not pending: it cannot be canceled"
            )
        return self._finish(order, "canceled", now)

    def find_position(self, user: User, position_id: int | str) -> MarginPosition:
        """A position of the user by external id (number) or internal id (string).

        Raises:
            SimError: 4004 when there is none.
        """
        position = None
        if isinstance(position_id, int) or (isinstance(position_id, str) and position_id.isdigit()):
            position = self.positions.get(int(position_id))
        if position is None:
            position = next((p for p in self.positions.values() if p.id == position_id), None)
        if position is None or position.order.account.user is not user:
            raise SimError(UNKNOWN_NAME, f"position {position_id} not found")
        return position

    def close(self, position: MarginPosition, quote: MarginQuote | None, now: float) -> list[MarginEvent]:
        """Close an open position at the market (reason ``default``).

        Raises:
            SimError: 4008 when it is already closed or the market is closed.
        """
        if position.status != "open":
            raise SimError(REJECTED, f"position {position.external_id} is already closed")
        if quote is None:
            raise SimError(REJECTED, f"{position.order.terms.name} is closed for trading now")
        return self._close(position, mm.close_price(position.side, quote.bid, quote.ask), now, "default")

    def modify(
        self,
        target: MarginPosition | MarginOrder,
        take_profit: Level | None,
        stop_loss: Level | None,
        now: float,
    ) -> list[MarginEvent]:
        """Replace the take-profit and stop-loss of an open position or a pending order."""
        for level in (take_profit, stop_loss):
            if level is not None and level.kind not in LEVEL_KINDS:
                raise SimError(REJECTED, f"take-profit/stop-loss type must be one of {sorted(LEVEL_KINDS)}")
        order = target.order if isinstance(target, MarginPosition) else target
        if isinstance(target, MarginPosition) and target.status != "open":
            raise SimError(REJECTED, f"position {target.external_id} is closed")
        if isinstance(target, MarginOrder) and target.id not in self._pending:
            raise SimError(REJECTED, f"order {target.id} is {target.status}, not pending")
        order.take_profit, order.stop_loss, order.updated = take_profit, stop_loss, now
        events: list[MarginEvent] = [OrderChanged(order, modified=True)]
        if isinstance(target, MarginPosition):
            self._set_levels(target)
            target.version += 1
            events.append(PositionChanged(target))
        return events

    # -- time ----------------------------------------------------------------------------

    def step(self, now: float, quotes: Quotes) -> list[MarginEvent]:
        """Everything due at ``now``: swap at rollover, pending fills, TP/SL, stop-out, margin calls."""
        if not self._open and not self._pending:
            self._rollover_day = self._day(now)
            return []
        events: list[MarginEvent] = []
        day = self._day(now)
        if self._rollover_day is not None and day > self._rollover_day:
            events += self._charge_swap(now, quotes)
        self._rollover_day = day
        for order in list(self._pending.values()):
            quote = quotes(order.terms.active_id)
            if quote is not None and self._due(order, quote):
                events += self._fill(order, quote, now)
        touched: set[int] = set()
        for position in list(self._open.values()):
            quote = quotes(position.order.terms.active_id)
            if quote is None:
                continue
            position.current = mm.close_price(position.side, quote.bid, quote.ask)
            position.quote_time = now
            position.pnl = self._pnl(position, position.current)
            touched.add(position.order.account.balance_id)
            reason = self._level_hit(position)
            if reason is not None:
                events += self._close(position, position.current, now, reason)
        for balance_id in touched:
            events += self._risk(self.accounts[balance_id], now)
        return events

    @staticmethod
    def _day(now: float) -> int:
        return math.floor((now - ROLLOVER_HOUR_UTC * 3600) / DAY)

    def _charge_swap(self, now: float, quotes: Quotes) -> list[MarginEvent]:
        events: list[MarginEvent] = []
        for position in self._open.values():
            quote = quotes(position.order.terms.active_id)
            price = quote.mid if quote is not None else position.current
            terms = position.order.terms
            charge = cents(
                mm.swap_charge(position.side, position.order.count, price, terms.fee_long, terms.fee_short)
            )
            if charge == 0:
                continue
            position.swap += charge
            position.version += 1
            account = position.order.account
            account.book("swap", charge)
            events += [PositionChanged(position), AccountChanged(account, cash_moved=True)]
        return events

    @staticmethod
    def _due(order: MarginOrder, quote: MarginQuote) -> bool:
        side = _side(order.side)
        market = mm.fill_price(side, quote.bid, quote.ask)
        assert order.price is not None
        if order.type == "limit":
            return market <= order.price if side == "buy" else market >= order.price
        return market >= order.price if side == "buy" else market <= order.price

    def _fill(self, order: MarginOrder, quote: MarginQuote, now: float) -> list[MarginEvent]:
        side = _side(order.side)
        price = mm.fill_price(side, quote.bid, quote.ask)
        needed = mm.margin(order.count, price, order.leverage)
        if needed > self.figures(order.account).available:
            order.reject_reason = "insufficient margin at the fill price"
            return self._finish(order, "rejected", now)
        self._pending.pop(order.id, None)
        external_id = self._ids()
        position = MarginPosition(
            # The SDK subscribes positions-state by internal id: the external id, as a string.
            id=str(external_id),
            external_id=external_id,
            order=order,
            open_price=price,
            open_time=now,
            margin=needed,
            current=mm.close_price(side, quote.bid, quote.ask),
            quote_time=now,
        )
        position.pnl = self._pnl(position, position.current)
        self._set_levels(position)
        order.position, order.status, order.updated = position, "filled", now
        self.positions[position.external_id] = position
        self._open[position.external_id] = position
        return [
            OrderChanged(order),
            PositionChanged(position),
            AccountChanged(order.account, cash_moved=False),
        ]

    def _finish(self, order: MarginOrder, status: str, now: float) -> list[MarginEvent]:
        self._pending.pop(order.id, None)
        order.status, order.updated = status, now
        return [OrderChanged(order)]

    @staticmethod
    def _pnl(position: MarginPosition, price: Decimal) -> Decimal:
        return mm.pnl(position.side, position.order.count, position.open_price, price)

    def _set_levels(self, position: MarginPosition) -> None:
        order = position.order
        position.tp_price = self._level_price(position, order.take_profit, "take_profit")
        position.sl_price = self._level_price(position, order.stop_loss, "stop_loss")

    @staticmethod
    def _level_price(position: MarginPosition, level: Level | None, which: mm.Level) -> Decimal | None:
        if level is None:
            return None
        kind, value = level.kind, level.value
        if kind == "percent":  # the community client's "percent": of the margin, in money
            kind, value = "pnl", position.margin * value / 100
        terms = position.order.terms
        price = mm.target_price(
            kind,  # type: ignore[arg-type]  # checked against LEVEL_KINDS at placement
            value,
            which,
            position.side,
            position.open_price,
            position.order.count,
            terms.pip,
        )
        return price if price > 0 else None

    @staticmethod
    def _level_hit(position: MarginPosition) -> str | None:
        current = position.current
        if position.sl_price is not None and mm.is_triggered(
            "stop_loss", position.side, position.sl_price, current
        ):
            return "stop_loss"
        if position.tp_price is not None and mm.is_triggered(
            "take_profit", position.side, position.tp_price, current
        ):
            return "take_profit"
        return None

    def _close(self, position: MarginPosition, price: Decimal, now: float, reason: str) -> list[MarginEvent]:
        self._open.pop(position.external_id, None)
        position.pnl = cents(self._pnl(position, price))
        position.current = price
        position.status, position.close_reason = "closed", reason
        position.close_price, position.close_time = price, now
        position.version += 1
        account = position.order.account
        account.book("pnl", position.pnl)
        return [PositionChanged(position), AccountChanged(account, cash_moved=True)]

    def _risk(self, account: MarginAccount, now: float) -> list[MarginEvent]:
        events: list[MarginEvent] = []
        figures = self.figures(account)
        below_call = figures.level is not None and figures.level < MARGIN_CALL_LEVEL
        if below_call and not account.margin_called:
            events.append(MarginCalled(account, figures))
        account.margin_called = below_call
        if figures.level is not None and figures.level < STOP_OUT_LEVEL:
            exposures = [
                mm.Exposure(p.external_id, p.margin, p.pnl)
                for p in self._open.values()
                if p.order.account is account
            ]
            for key in mm.stop_out(account.cash, exposures, STOP_OUT_LEVEL):
                position = self._open[key]
                events += self._close(position, position.current, now, "stop_out")
            if account.cash < 0:  # negative balance protection: a demo account never owes
                account.book("negative balance protection", -account.cash)
            after = self.figures(account).level
            account.margin_called = after is not None and after < MARGIN_CALL_LEVEL
        return events
