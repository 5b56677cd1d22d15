"""Margin trading for strategies: ``ctx.order`` and ``ctx.close`` through guards and the journal.

A strategy trades margin forex, CFD and crypto with ``await ctx.order(...)`` and
``await ctx.close(ticket)``; both go through a :class:`MarginDesk`, which asks the
:class:`MarginLimits` first (total exposure, the margin level, open positions),
journals the intent before sending and the answer after, and hands the order to a
:class:`MarginBroker`: the live :class:`TraderMarginBroker` (the
:class:`~iqwire.trading.Trader`, so the real-money lock and reconciliation apply)
or the backtest's ledger (:mod:`iqwire.bot.margin_backtest`).

Example::

    async def on_candle(self, ctx, candle):
        if not ctx.margin_positions:
            await ctx.order("EURUSD-OTC", "buy", 10_000, leverage=100,
                            take_profit=(20, "pips"), stop_loss=(10, "pips"))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

from iqwire.bot.journal import Answer, Intent, TradeStatus
from iqwire.bot.records import TradeRecord
from iqwire.bot.risk import RiskGuard
from iqwire.bot.runner import JournalLink
from iqwire.errors import IqwireError, TradeNotPlaced, TradeStateUnknown, UnknownAsset, UnknownBalance
from iqwire.models import BalanceType, Outcome, Position
from iqwire.trading import MarginOrder, MarginPosition, Trader
from iqwire.trading.margin_balance import marginal_balance
from iqwire.trading.margin_levels import LevelInput
from iqwire.trading.margin_positions import order_ids

__all__ = [
    "DescribesOrders",
    "MarginAccountView",
    "MarginBroker",
    "MarginDesk",
    "MarginLimits",
    "MarginTicket",
    "TraderMarginBroker",
    "margin_outcome",
]

log = logging.getLogger("iqwire.bot")


@dataclass(frozen=True)
class MarginLimits:
    """The margin guards: ``None`` switches one off.

    ``max_exposure``: the notional of the open positions plus the new order's, in
    the account currency; ``min_margin_level``: no new order while the margin
    level (%, equity / margin) is below it; ``max_open``: open positions at most.
    """

    max_exposure: float | None = None
    min_margin_level: float | None = None
    max_open: int | None = None

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> MarginLimits:
        """Build from a run configuration's ``[margin]`` table; unknown keys are an error.

        >>> MarginLimits.from_mapping({"max_open": 2})
        MarginLimits(max_exposure=None, min_margin_level=None, max_open=2)
        """
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown margin setting(s): {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class MarginTicket:
    """A margin order and the position it opens, as a strategy sees it.

    ``status``: ``pending`` (not filled yet), ``open``, ``closed``, or ``canceled``.
    """

    id: int
    active_id: int
    side: str
    quantity: float
    leverage: int
    type: str = "market"
    status: str = "pending"
    position_id: int | None = None
    open_price: float | None = None
    opened_at: float | None = None
    margin: float = 0.0
    pnl: float = 0.0
    swap: float = 0.0
    take_profit: float | None = None
    stop_loss: float | None = None
    close_price: float | None = None
    close_reason: str | None = None
    closed_at: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        """Filled and not closed yet."""
        return self.status == "open"

    def notional(self, price: float | None = None) -> float:
        """Quantity × price (the open price unless one is given)."""
        return self.quantity * (price if price is not None else self.open_price or 0.0)

    def to_record(self) -> TradeRecord:
        """The closed ticket as the report sees it (quantity as amount, no payout; its product as journaled)."""
        closed_at = self.closed_at if self.closed_at is not None else self.opened_at or 0.0
        return TradeRecord(
            id=self.id,
            active_id=self.active_id,
            direction=self.side,
            amount=float(self.quantity),
            payout=0.0,
            opened_at=self.opened_at if self.opened_at is not None else closed_at,
            expires_at=closed_at,
            open_price=self.open_price or 0.0,
            close_price=self.close_price,
            outcome=margin_outcome(self.pnl),
            pnl=self.pnl,
            product=str(self.details.get("product", "margin")),
        )


@dataclass(frozen=True)
class MarginAccountView:
    """The margin account now: ``margin_level`` in percent, ``None`` without positions."""

    cash: float
    equity: float
    margin: float
    margin_level: float | None
    exposure: float


class MarginBroker(Protocol):
    """Where margin orders go: the live trader, or the backtest's ledger."""

    def account(self) -> MarginAccountView:
        """The account's figures now."""
        ...

    def price(self, active_id: int) -> float | None:
        """The active's current price (mid), if known."""
        ...

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
        """Place an order; raise an :class:`~iqwire.errors.IqwireError` if it is refused."""
        ...

    async def close(self, ticket: MarginTicket) -> MarginTicket:
        """Close a ticket's position (or cancel its pending order)."""
        ...


@runtime_checkable
class DescribesOrders(Protocol):
    """A broker that can say, before sending, what the journal should call an order."""

    async def describe(self, active: str | int) -> tuple[str, int, int | None]:
        """``(product, active_id, balance_id)`` of an order on ``active``: ``("marginal-forex", 76, 4)``."""
        ...


def margin_outcome(pnl: float) -> Outcome:
    """A margin position's outcome by its P&L's sign (the journal's and the report's word).

    >>> margin_outcome(12.5).name, margin_outcome(-3).name, margin_outcome(0).name
    ('WIN', 'LOSS', 'EQUAL')
    """
    return Outcome.WIN if pnl > 0 else Outcome.LOSS if pnl < 0 else Outcome.EQUAL


class MarginDesk:
    """The guarded, journaled way a strategy trades on margin (behind ``ctx.order``/``ctx.close``).

    ``guard``: the run's :class:`~iqwire.bot.risk.RiskGuard`; its account-wide rules
    (daily loss limit, cool-down) refuse margin orders too, and every margin close
    counts in its day's P&L and losing streak (the margin positions hold no option slot).
    A ticket that closes by itself (take-profit, stop-loss, stop-out) is settled by the
    broker calling :meth:`settled`. ``report`` receives each close's
    :class:`~iqwire.bot.records.TradeRecord` (the live session adds them to the run's report).
    """

    def __init__(
        self,
        broker: MarginBroker,
        limits: MarginLimits | None = None,
        *,
        now: Callable[[], float],
        resolve: Callable[[str | int], int],
        emit: Callable[[str], None] | None = None,
        journal: JournalLink | None = None,
        guard: RiskGuard | None = None,
        report: Callable[[TradeRecord], None] | None = None,
    ) -> None:
        self.broker = broker
        self.guard = guard
        self._report = report
        self.limits = limits if limits is not None else MarginLimits()
        self._now = now
        self._resolve = resolve
        self._emit = emit or (lambda message: None)
        self.journal = journal
        self.tickets: dict[int, MarginTicket] = {}
        self.refusals: dict[str, int] = {}
        self._intents: dict[int, int] = {}
        self._settled: set[int] = set()

    @property
    def open_positions(self) -> list[MarginTicket]:
        """Tickets filled and not closed (pending ones are in :attr:`tickets`)."""
        return [t for t in self.tickets.values() if t.status in ("open", "pending")]

    def check(self, active_id: int, quantity: float, price: float | None) -> str | None:
        """Why a new order is refused, or ``None`` (the guards of :class:`MarginLimits`)."""
        limits = self.limits
        account = self.broker.account()
        level = account.margin_level
        if limits.min_margin_level is not None and level is not None and level < limits.min_margin_level:
            return f"margin_level: {level:.1f}% is below the minimum {limits.min_margin_level:g}%"
        if limits.max_open is not None and len(self.open_positions) >= limits.max_open:
            return f"max_open: {len(self.open_positions)} positions open (at most {limits.max_open})"
        if limits.max_exposure is not None:
            mark = price if price is not None else self.broker.price(active_id)
            added = quantity * (mark or 0.0)
            if account.exposure + added > limits.max_exposure:
                return (
                    f"max_exposure: {account.exposure + added:,.2f} would be above {limits.max_exposure:,.2f}"
                )
        return None

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
    ) -> MarginTicket | None:
        """Place a margin order through the guards; ``None`` when a guard or the server refused it."""
        try:
            active_id = self._resolve(active)
        except UnknownAsset:  # a margin-only instrument the options' names do not know: the broker finds it
            active_id = 0
        reason = self.check(active_id, quantity, price)
        link = self.journal
        now = self._now()
        if reason is None and self.guard is not None:
            reason = self.guard.check_account(now)
        if reason is not None:
            key = reason.split(":", 1)[0]
            self.refusals[key] = self.refusals.get(key, 0) + 1
            if link is not None:
                link.journal.record_guard_decision(
                    link.run_id, allowed=False, at=now, reason=reason, active_id=active_id, amount=quantity
                )
            self._emit(f"refused: {reason}")
            return None
        intent_id, product = None, None
        if link is not None:
            intent_id, product = await self._record_intent(
                link, active, active_id, side, quantity, type, price, leverage
            )
        try:
            ticket = await self.broker.order(
                active,
                side,
                quantity,
                type=type,
                price=price,
                leverage=leverage,
                take_profit=take_profit,
                stop_loss=stop_loss,
            )
        except IqwireError as exc:
            self._refused(exc, intent_id)
            return None
        self.tickets[ticket.id] = ticket
        if product is not None:
            ticket.details.setdefault("product", product)
        if link is not None and intent_id is not None:
            self._intents[ticket.id] = intent_id
            answer = Answer(
                "order", ticket.id, opened_at=ticket.opened_at or now, open_price=ticket.open_price
            )
            link.journal.record_answer(intent_id, answer, at=self._now())
        self._emit(f"order #{ticket.id}: {side} {quantity:g} of {active} ({type}) x{ticket.leverage}")
        self.settled(ticket)  # it may have closed already (a take-profit at the fill)
        return ticket

    async def _record_intent(
        self,
        link: JournalLink,
        active: str | int,
        active_id: int,
        side: str,
        quantity: float,
        type: str,
        price: float | None,
        leverage: int | None,
    ) -> tuple[int, str]:
        """Journal the order before it is sent (durable when this returns); its intent id and product.

        The broker names the product (``marginal-<family>``), the active and the marginal
        balance when it can; an instrument it does not know is left for the order to refuse.
        """
        product, balance_id = link.product, link.balance_id
        if isinstance(self.broker, DescribesOrders):
            try:
                product, active_id, balance_id = await self.broker.describe(active)
            except IqwireError as exc:
                log.debug("cannot describe %r before ordering: %s", active, exc)
        details = {"type": type, "price": price, "leverage": leverage}
        intent = Intent(product, active_id, side, quantity, None, balance_id, self._now(), details=details)
        return link.journal.record_intent(link.run_id, intent, guarded=True), product

    def _refused(self, exc: IqwireError, intent_id: int | None) -> None:
        if isinstance(exc, TradeStateUnknown):
            status = TradeStatus.UNKNOWN
        else:
            status = TradeStatus.NOT_PLACED if isinstance(exc, TradeNotPlaced) else TradeStatus.REJECTED
        link = self.journal
        if link is not None and intent_id is not None:
            link.journal.record_state(intent_id, status, at=self._now(), error=f"{type(exc).__name__}: {exc}")
        key = f"rejected:{type(exc).__name__}"
        self.refusals[key] = self.refusals.get(key, 0) + 1
        self._emit(f"rejected: {exc}")

    async def close(self, ticket: MarginTicket) -> MarginTicket | None:
        """Close a ticket's position (cancel it while pending); ``None`` if the server refused."""
        try:
            closed = await self.broker.close(ticket)
        except IqwireError as exc:
            self._emit(f"close of #{ticket.id} refused: {exc}")
            return None
        self.settled(closed)
        return closed

    def adopt(self, ticket: MarginTicket, intent_id: int | None) -> None:
        """Track a ticket an earlier run placed (recovery found it pending or open on the server)."""
        self.tickets[ticket.id] = ticket
        if intent_id is not None:
            self._intents[ticket.id] = intent_id

    def settled(self, ticket: MarginTicket) -> None:
        """Settle a ticket that ended (closed by the strategy, TP, SL or stop-out; or canceled), once.

        A close counts in the guard's day P&L and streak and is journaled with its
        outcome; a canceled order is journaled ``not_placed`` (it never opened a position).
        """
        if ticket.status not in ("closed", "canceled") or ticket.id in self._settled:
            return
        if ticket.id not in self.tickets:
            return  # still being placed: order() settles it once its answer is journaled
        self._settled.add(ticket.id)
        link = self.journal
        intent_id = self._intents.pop(ticket.id, None)
        now = self._now()
        if ticket.status == "canceled":
            if link is not None and intent_id is not None:
                link.journal.record_state(
                    intent_id, TradeStatus.NOT_PLACED, at=now, error="canceled: the order never filled"
                )
            return
        outcome = margin_outcome(ticket.pnl)
        closed_at = ticket.closed_at if ticket.closed_at is not None else now
        if self.guard is not None:
            self.guard.realised(outcome, ticket.pnl, closed_at)
        if link is not None and intent_id is not None:
            link.journal.record_outcome(
                intent_id, outcome, ticket.pnl, close_price=ticket.close_price, closed_at=closed_at
            )
        if self._report is not None:
            self._report(ticket.to_record())
        self._emit(f"closed margin #{ticket.id} ({ticket.close_reason or 'closed'}): P&L {ticket.pnl:+.2f}")


def _ticket_of(order: MarginOrder) -> MarginTicket:
    return MarginTicket(
        id=order.id,
        active_id=order.instrument.active_id,
        side=order.side,
        quantity=float(order.quantity),
        leverage=order.leverage,
        type=order.type,
        details={"instrument": order.instrument.name},
    )


def _update(ticket: MarginTicket, position: MarginPosition) -> MarginTicket:
    ticket.position_id = position.id
    ticket.open_price = position.open_price
    ticket.opened_at = position.opened_at
    ticket.margin = position.margin
    ticket.pnl = position.pnl
    ticket.swap = position.swap
    ticket.status = "closed" if position.is_closed else "open"
    if position.is_closed:
        ticket.close_price = position.close_price
        ticket.close_reason = position.close_reason
        ticket.closed_at = position.last.close_time_s
    return ticket


class TraderMarginBroker:
    """Live margin orders through a :class:`~iqwire.trading.Trader` (lock and reconciliation included).

    Orders go to the marginal balance of ``balance`` (its type, or the type of the
    balance with that id). A market order's ticket is returned once filled (still
    ``pending`` if no fill came within ``fill_timeout``: it fills later by push);
    ``refresh()`` re-reads the account's figures and every ticket. ``on_closed`` is
    called once per ticket that closes, whoever closed it (the strategy, TP, SL, a
    stop-out): the live session points it at :meth:`MarginDesk.settled`.
    """

    def __init__(
        self, trader: Trader, *, fill_timeout: float = 30.0, balance: BalanceType | int = BalanceType.DEMO
    ) -> None:
        self.trader = trader
        self.fill_timeout = fill_timeout
        self.balance = balance
        self.on_closed: Callable[[MarginTicket], None] | None = None
        self._marginal_id: int | None = None
        self._orders: dict[int, MarginOrder] = {}
        self._tickets: dict[int, MarginTicket] = {}
        self._figures: MarginAccountView = MarginAccountView(0.0, 0.0, 0.0, None, 0.0)
        # Every position event updates its ticket at once: a TP, SL or stop-out shows without a poll.
        trader.portfolio.listen(self._on_position)

    def _on_position(self, position: Position) -> None:
        for order_id in order_ids(position):
            ticket = self._tickets.get(order_id)
            if ticket is not None:
                self._apply(ticket, MarginPosition(self.trader.margin, position))

    def _apply(self, ticket: MarginTicket, position: MarginPosition) -> None:
        was_closed = ticket.status == "closed"
        _update(ticket, position)
        if ticket.status == "closed" and not was_closed and self.on_closed is not None:
            self.on_closed(ticket)

    def account(self) -> MarginAccountView:
        return self._figures

    def price(self, active_id: int) -> float | None:
        latest = self.trader.client.latest_price(active_id)
        if latest is not None:
            return latest
        # No candle stream: the newest fill of the active is the best price known.
        fills = [t.open_price for t in self._tickets.values() if t.active_id == active_id and t.open_price]
        return fills[-1] if fills else None

    async def marginal_balance_id(self) -> int:
        """The id of the marginal balance the orders go to.

        Raises:
            UnknownBalance: the account has none of that type.
        """
        if self._marginal_id is None:  # balance ids do not change: asked once
            self._marginal_id = (await marginal_balance(self.trader.desk, await self._balance_type())).id
        return self._marginal_id

    async def _balance_type(self) -> BalanceType:
        if isinstance(self.balance, BalanceType):
            return self.balance
        for candidate in await self.trader.client.get_balances():
            if candidate.id == self.balance:
                return candidate.type
        raise UnknownBalance(f"no balance {self.balance} on this account")

    async def describe(self, active: str | int) -> tuple[str, int, int | None]:
        """``(product, active_id, balance_id)`` of an order on ``active``, for the journal (nothing sent)."""
        found = await self.trader.margin_instrument(active)
        return found.instrument_type, found.active_id, await self.marginal_balance_id()

    async def refresh(self) -> None:
        """Re-read the account's figures and every ticket's position."""
        figures = await self.trader.margin_balance(await self._balance_type())
        for order_id, ticket in self._tickets.items():
            order = self._orders.get(order_id)
            position = order.position if order is not None else self._position_of(order_id)
            if position is not None:
                self._apply(ticket, position)
        exposure = sum(t.notional() for t in self._tickets.values() if t.is_open)
        level = float(figures.margin_level) if figures.margin_level is not None else None
        self._figures = MarginAccountView(
            float(figures.cash), float(figures.equity), float(figures.margin), level, exposure
        )

    def _position_of(self, order_id: int) -> MarginPosition | None:
        found = self.trader.margin.position_of_order(order_id)
        return None if found is None else MarginPosition(self.trader.margin, found)

    async def adopt(self, ticket: MarginTicket, position: Position | None) -> None:
        """Follow a ticket an earlier run placed: its position's events update it from now on."""
        await self.trader.margin.start()
        self._tickets[ticket.id] = ticket
        if position is not None:
            self.trader.portfolio.apply(position)
            self._apply(ticket, MarginPosition(self.trader.margin, position))

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
        placed = await self.trader.place_order(
            active,
            side,
            quantity,
            type=type,
            price=price,
            leverage=leverage,
            take_profit=take_profit,
            stop_loss=stop_loss,
            balance=await self._balance_type(),
        )
        ticket = self._tickets[placed.id] = _ticket_of(placed)
        self._orders[placed.id] = placed
        if placed.type == "market":
            try:
                self._apply(ticket, await placed.filled(self.fill_timeout))
            except TimeoutError:
                log.warning(
                    "order %s not filled after %ss: its ticket stays pending", placed.id, self.fill_timeout
                )
        await self.refresh()
        return ticket

    async def close(self, ticket: MarginTicket) -> MarginTicket:
        order = self._orders.get(ticket.id)
        if ticket.status == "pending":
            await (order if order is not None else await self.trader.margin_order(ticket.id)).cancel()
            ticket.status = "canceled"
            return ticket
        position = order.position if order is not None else self._position_of(ticket.id)
        if position is None and ticket.position_id is not None:
            position = await self.trader.margin_position(ticket.position_id)
        if position is None:
            raise TradeNotPlaced(f"order {ticket.id} has no position to close")
        self._apply(ticket, await position.close())
        await self.refresh()
        return ticket
