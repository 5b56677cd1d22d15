"""Recovery on restart for margin rows: matched by order id against the server's margin book.

Margin trades are journaled with the product ``marginal-<family>``, the marginal
balance, and ``ref_kind`` ``order`` (the order id; a position names the orders that
opened it in ``order_ids``). For the unsettled ones of the account and marginal
balance, recovery reads the open margin positions, the margin history back to the
oldest unsettled intent (at most :data:`~iqwire.bot.recovery.LOOKBACK`) and the
pending orders, then applies the option rules (``docs/bot.md``):

* an answered order whose position is still open, or that is still pending, is
  followed by this run (:attr:`MarginRecovery.follow`); one whose position closed
  while the bot was down is recorded with its real P&L and close; one the server
  does not know becomes ``unknown``;
* an intent without an answer is looked for among the positions and pending orders
  not already journaled: same marginal balance, instrument type, active, side,
  quantity and leverage (when the intent named one), opened (a market order) or
  created within :data:`~iqwire.bot.recovery.RECONCILE_WINDOW` s of the intent
  (from 1 s before it; a filled limit or stop order may open any time after).
  Exactly one → ``reconciled``, then as above; none → ``not_placed`` (``unknown``
  when older than the history read); several → ``unknown``. Never re-sent.

Example::

    found = await recover_margin(journal, client, account=account, balance_id=marginal.id)
    for follow in found.follow:
        desk.adopt(follow.ticket, follow.intent_id)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Protocol

from iqwire.bot.journal import UNSETTLED, Answer, Journal, JournalTrade, TradeStatus, is_margin
from iqwire.bot.margin import MarginTicket, margin_outcome
from iqwire.bot.recovery import LOOKBACK, RECONCILE_WINDOW, Settled
from iqwire.models import Order, Position
from iqwire.trading.margin_positions import MARGIN_TYPES, family_of, margin_detail, order_ids

__all__ = ["MarginFollow", "MarginRecovery", "MarginSource", "recover_margin"]

log = logging.getLogger("iqwire.bot.recovery")

_PAGE = 100


class MarginSource(Protocol):
    """What margin recovery needs of a client: server time, positions, history, pending orders."""

    def server_time(self) -> float:
        """Server time, unix seconds."""
        ...

    async def get_positions(
        self,
        user_balance_id: int | None = None,
        *,
        instrument_types: Sequence[str] = ...,
        page_size: int = ...,
    ) -> list[Position]:
        """Every open position of a balance and instrument types."""
        ...

    async def get_history_positions(
        self,
        user_balance_id: int | None = None,
        *,
        instrument_types: Sequence[str] | None = None,
        limit: int = 30,
        offset: int = 0,
        external_id: int | None = None,
        end: int | None = None,
    ) -> list[Position]:
        """One page of closed positions, most recently closed first."""
        ...

    async def get_orders(self, user_balance_id: int | None = None, *, kind: str = "deferred") -> list[Order]:
        """A balance's pending orders."""
        ...


@dataclass(frozen=True)
class MarginFollow:
    """A margin trade of an earlier run still pending or open: the ticket to follow and its position."""

    ticket: MarginTicket
    intent_id: int
    position: Position | None


@dataclass
class MarginRecovery(Settled):
    """What a restart found among the margin rows."""

    follow: list[MarginFollow] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line for the log."""
        return f"recovered margin: {len(self.follow)} position(s) or order(s) followed, {self._tail()}"

    def __bool__(self) -> bool:
        return bool(self.follow or self.closed or self.reconciled or self.not_placed or self.unknown)


def _count(value: object) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _same_order(detail: dict[str, object], trade: JournalTrade) -> bool:
    """Side, quantity and (when the intent named one) leverage of a position's or order's margin detail."""
    if detail.get("side") != trade.direction or _count(detail.get("count")) != _count(trade.amount):
        return False
    leverage = trade.details.get("leverage")
    return leverage is None or str(detail.get("leverage")) == str(leverage)


def _near(at: float | None, trade: JournalTrade, *, open_ended: bool) -> bool:
    if at is None:
        return True
    # The server stamps whole seconds (or ms): up to 1 s before the intent's fraction.
    return at >= trade.intent_at - 1.0 and (open_ended or at <= trade.intent_at + RECONCILE_WINDOW)


def _position_matches(position: Position, trade: JournalTrade) -> bool:
    if position.instrument_type != trade.product or trade.active_id not in (0, position.active_id):
        return False
    if (
        None not in (position.user_balance_id, trade.balance_id)
        and position.user_balance_id != trade.balance_id
    ):
        return False
    market = trade.details.get("type", "market") == "market"
    return _same_order(margin_detail(position), trade) and _near(
        position.open_time_s, trade, open_ended=not market
    )


def _order_matches(order: Order, trade: JournalTrade) -> bool:
    if order.instrument_type != trade.product or trade.active_id not in (0, order.active_id, None):
        return False
    if None not in (order.user_balance_id, trade.balance_id) and order.user_balance_id != trade.balance_id:
        return False
    detail = margin_detail(order, "order")
    created = detail.get("created_at")
    at = created / 1000 if isinstance(created, int | float) else None
    return _same_order(detail, trade) and _near(at, trade, open_ended=False)


def _ticket(trade: JournalTrade, order_id: int, position: Position | None) -> MarginTicket:
    detail = margin_detail(position) if position is not None else {}
    leverage = detail.get("leverage") or trade.details.get("leverage") or 0
    return MarginTicket(
        id=order_id,
        active_id=position.active_id if position is not None and position.active_id else trade.active_id,
        side=trade.direction,
        quantity=trade.amount,
        leverage=int(str(leverage)),
        type=str(trade.details.get("type") or "market"),
        status="pending" if position is None else "open",
        details={"recovered": True, "product": trade.product},
    )


class _MarginRecoverer:
    def __init__(
        self,
        journal: Journal,
        now: float,
        since: float,
        positions: list[Position],
        orders: list[Order],
    ) -> None:
        self.journal = journal
        self.now = now
        self.since = since
        self.result = MarginRecovery()
        # By the order that opened it; a closed version wins over an open one (the history is newer).
        self.by_order: dict[int, Position] = {}
        for position in positions:
            for order_id in order_ids(position)[:1]:
                current = self.by_order.get(order_id)
                if current is None or not current.is_closed:
                    self.by_order[order_id] = position
        self.pending: dict[int, Order] = {
            int(o.id): o for o in orders if o.id is not None and family_of(o.instrument_type) is not None
        }

    def _mark(self, trade: JournalTrade, status: TradeStatus, error: str, **data: object) -> None:
        if trade.status is not status:
            self.journal.record_state(trade.id, status, at=self.now, error=error, data=data or None)
        if status is TradeStatus.NOT_PLACED:
            self.result.not_placed += 1
        else:
            self.result.unknown += 1

    def _order_of(self, trade: JournalTrade) -> int | None:
        """The order id of an answered trade (an ``order`` ref, or the order of a ``position`` ref)."""
        ref = trade.server_id
        if ref is None or trade.ref_kind == "order":
            return ref
        found = next((o for o, p in self.by_order.items() if p.option_id == ref), None)
        return found

    def answered(self, trade: JournalTrade) -> None:
        order_id = self._order_of(trade)
        if order_id is not None and order_id in self.by_order:
            self.settle(trade, order_id, self.by_order[order_id])
        elif order_id is not None and order_id in self.pending:
            self.result.follow.append(MarginFollow(_ticket(trade, order_id, None), trade.id, None))
        else:
            self._mark(trade, TradeStatus.UNKNOWN, "not found on the server at restart")

    def settle(self, trade: JournalTrade, order_id: int, position: Position) -> None:
        if not position.is_closed:
            self.result.follow.append(MarginFollow(_ticket(trade, order_id, position), trade.id, position))
            return
        pnl = position.pnl or 0.0
        closed_at = position.close_time_s or self.now
        self.journal.record_outcome(
            trade.id, margin_outcome(pnl), pnl, close_price=position.close_quote, closed_at=closed_at
        )
        refreshed = self.journal.trade(trade.id)
        self.result.closed.append(refreshed if refreshed is not None else trade)

    def unanswered(self, trade: JournalTrade) -> None:
        def free(order_id: int) -> bool:
            return self.journal.find("order", order_id, account=trade.account) is None

        positions = {o: p for o, p in self.by_order.items() if _position_matches(p, trade) and free(o)}
        orders = {o: order for o, order in self.pending.items() if _order_matches(order, trade) and free(o)}
        candidates = sorted(set(positions) | set(orders))
        if not candidates and trade.intent_at - RECONCILE_WINDOW < self.since:
            self._mark(trade, TradeStatus.UNKNOWN, "older than the history read at restart")
        elif not candidates:
            self._mark(
                trade, TradeStatus.NOT_PLACED, "no such margin order or position on the server at restart"
            )
        elif len(candidates) > 1:
            self._mark(
                trade,
                TradeStatus.UNKNOWN,
                f"{len(candidates)} orders match the intent",
                candidates=candidates,
            )
        else:
            (order_id,) = candidates
            position = positions.get(order_id)
            opened = position.open_time_s if position is not None else None
            answer = Answer(
                "order",
                order_id,
                opened_at=opened if opened is not None else trade.intent_at,
                open_price=position.open_quote if position is not None else None,
            )
            self.journal.record_answer(trade.id, answer, at=self.now, reconciled=True)
            self.result.reconciled += 1
            refreshed = self.journal.trade(trade.id) or trade
            if position is not None:
                self.settle(refreshed, order_id, position)
            else:
                self.result.follow.append(MarginFollow(_ticket(refreshed, order_id, None), trade.id, None))


async def _history_since(source: MarginSource, balance_id: int | None, since: float) -> list[Position]:
    found: list[Position] = []
    offset = 0
    while True:
        page = await source.get_history_positions(
            balance_id, instrument_types=list(MARGIN_TYPES), limit=_PAGE, offset=offset
        )
        found.extend(page)
        offset += len(page)
        oldest = page[-1].close_time_s if page else None
        if len(page) < _PAGE or (oldest is not None and oldest < since):
            return found


async def recover_margin(
    journal: Journal, source: MarginSource, *, account: str, balance_id: int | None
) -> MarginRecovery:
    """Settle the journal's unsettled margin trades of ``account``/``balance_id`` (the marginal balance).

    Call it after connecting and before the first new order (see the module's rules).
    """
    pending = [
        t
        for t in journal.trades(account=account, balance_id=balance_id, statuses=UNSETTLED)
        if is_margin(t.product)
    ]
    if not pending:
        return MarginRecovery()
    now = source.server_time()
    open_now = await source.get_positions(balance_id, instrument_types=list(MARGIN_TYPES))
    since = max(min(t.intent_at for t in pending) - RECONCILE_WINDOW, now - LOOKBACK)
    history = await _history_since(source, balance_id, since)
    orders = await source.get_orders(balance_id)
    recoverer = _MarginRecoverer(journal, now, since, open_now + history, orders)
    for trade in pending:
        if trade.ref_id is not None:
            recoverer.answered(trade)
        else:
            recoverer.unanswered(trade)
    log.info("%s", recoverer.result.summary)
    return recoverer.result
