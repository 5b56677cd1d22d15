"""Recovery on restart: the journal re-synchronised with the server before anything is sent.

The rules (also in ``docs/bot.md``), for the unsettled trades of the same
account and balance (status ``intent``, ``open`` or ``unknown``):

* an answered trade (the server's id is known) still open on the server is
  tracked to its outcome; one that closed while the bot was down is recorded
  with its real outcome from the history; one the server does not know becomes
  ``unknown`` (and stays out of the guards);
* an intent without an answer is looked for among the open positions and the
  recent history (same balance, active, direction, amount, expiry size, opened
  within :data:`RECONCILE_WINDOW` s of the intent, and not already another
  journaled trade): exactly one → it was placed (``reconciled``), tracked or
  recorded closed; none → ``not_placed`` (``unknown`` when the intent is older than
  the :data:`LOOKBACK` of history read); several → ``unknown``. It is never re-sent.

Then :func:`rebuild_guard` replays every placed trade into the risk guard, so
the day's P&L, the losing streak and cool-down, and the open count survive.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from iqwire.bot.journal import UNSETTLED, Answer, Journal, JournalTrade, TradeStatus, is_margin
from iqwire.bot.records import OpenTrade
from iqwire.bot.risk import RiskGuard
from iqwire.models import Outcome, Position, timestamp_seconds
from iqwire.trading.trade import TradeResult

__all__ = [
    "LOOKBACK",
    "RECONCILE_WINDOW",
    "PositionSource",
    "Recovery",
    "Settled",
    "rebuild_guard",
    "recover",
]

log = logging.getLogger("iqwire.bot.recovery")

#: How far (seconds) after its intent a position may have opened to be that intent's trade.
RECONCILE_WINDOW = 10.0
#: History page size while looking back.
_PAGE = 100
#: How far back (seconds) recovery pages through the history; older answered trades are
#: looked up by id, and an older intent without an answer that matches nothing becomes ``unknown``.
LOOKBACK = 2 * 86_400.0
#: The instrument type of each product's positions (a product not listed matches any type).
PRODUCT_INSTRUMENTS = {
    "blitz": "blitz-option",
    "turbo": "turbo-option",
    "binary": "binary-option",
    "digital": "digital-option",
}


class PositionSource(Protocol):
    """What recovery needs of a client: server time, open positions and closed history."""

    def server_time(self) -> float:
        """Server time, unix seconds."""
        ...

    async def get_positions(self, user_balance_id: int | None = None) -> list[Position]:
        """Every open position of a balance."""
        ...

    async def get_history_positions(
        self,
        user_balance_id: int | None = None,
        *,
        limit: int = 30,
        offset: int = 0,
        external_id: int | None = None,
    ) -> list[Position]:
        """One page of closed positions, most recently closed first."""
        ...


@dataclass
class Settled:
    """How a restart settled the trades it does not follow (options' and margin's recovery share it)."""

    closed: list[JournalTrade] = field(default_factory=list)
    reconciled: int = 0
    not_placed: int = 0
    unknown: int = 0

    def _tail(self) -> str:
        return (
            f"{len(self.closed)} closed while down, "
            f"{self.reconciled} reconciled, {self.not_placed} not placed, {self.unknown} unknown"
        )


@dataclass
class Recovery(Settled):
    """What a restart found: trades to follow, and how the others were settled."""

    follow: list[OpenTrade] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line for the log."""
        return f"recovered: {len(self.follow)} open trade(s) followed, {self._tail()}"


def _ref(position: Position, kind: str | None) -> str | None:
    if kind == "option":
        option_id = position.option_id
        return None if option_id is None else str(option_id)
    if kind == "position":
        return str(position.id)
    return None  # an order id is not on a position: such trades wait for their product's reconciler


def _opened_s(position: Position) -> float | None:
    return None if position.open_time is None else timestamp_seconds(position.open_time)


def _matches(position: Position, trade: JournalTrade) -> bool:
    instrument = PRODUCT_INSTRUMENTS.get(trade.product)
    if instrument is not None and position.instrument_type not in (None, instrument):
        return False
    if position.active_id != trade.active_id or position.direction != trade.direction:
        return False
    if position.amount is None or abs(position.amount - trade.amount) > 1e-9:
        return False
    if (
        None not in (position.user_balance_id, trade.balance_id)
        and position.user_balance_id != trade.balance_id
    ):
        return False
    if (
        None not in (position.expiration_size, trade.expiration)
        and position.expiration_size != trade.expiration
    ):
        return False
    opened = _opened_s(position)
    # The server stamps whole seconds: a trade may open up to 1 s before the intent's fraction.
    return opened is None or trade.intent_at - 1.0 <= opened <= trade.intent_at + RECONCILE_WINDOW


async def _history_since(source: PositionSource, balance_id: int | None, since: float) -> list[Position]:
    found: list[Position] = []
    offset = 0
    while True:
        page = await source.get_history_positions(balance_id, limit=_PAGE, offset=offset)
        found.extend(page)
        offset += len(page)
        oldest = page[-1].close_time if page else None
        if len(page) < _PAGE or (oldest is not None and timestamp_seconds(oldest) < since):
            return found


def _open_trade(trade: JournalTrade) -> OpenTrade:
    server_id = trade.server_id
    assert server_id is not None
    return OpenTrade(
        id=server_id,
        active_id=trade.active_id,
        direction=trade.direction,
        amount=trade.amount,
        expires_at=trade.expires_at if trade.expires_at is not None else trade.intent_at,
        open_price=trade.open_price if trade.open_price is not None else 0.0,
        opened_at=trade.opened_at,
        payout=trade.payout,
        reconciled=True,
        intent_id=trade.id,
    )


class _Recoverer:
    def __init__(
        self, journal: Journal, source: PositionSource, positions: list[Position], since: float
    ) -> None:
        self.journal = journal
        self.source = source
        self.now = source.server_time()
        self.since = since
        self.result = Recovery()
        # Closed versions win over open ones: the history is newer than a stale open entry.
        self.positions: dict[tuple[str, str], Position] = {}
        for position in positions:
            for kind in ("option", "position"):
                ref = _ref(position, kind)
                if ref is not None:
                    current = self.positions.get((kind, ref))
                    if current is None or not current.is_closed:
                        self.positions[(kind, ref)] = position

    async def answered(self, trade: JournalTrade) -> None:
        assert trade.ref_kind is not None and trade.ref_id is not None
        position = self.positions.get((trade.ref_kind, trade.ref_id))
        if position is None and trade.ref_kind == "option" and trade.server_id is not None:
            # Older than the pages read: ask for it by id.
            found = await self.source.get_history_positions(trade.balance_id, external_id=trade.server_id)
            position = next((p for p in found if p.option_id == trade.server_id), None)
        if position is None:
            if trade.status is not TradeStatus.UNKNOWN:
                self.journal.record_state(
                    trade.id, TradeStatus.UNKNOWN, at=self.now, error="not found on the server at restart"
                )
            self.result.unknown += 1
            return
        self.settle(trade, position)

    def settle(self, trade: JournalTrade, position: Position) -> None:
        if not position.is_closed:
            refreshed = self.journal.trade(trade.id)
            self.result.follow.append(_open_trade(refreshed if refreshed is not None else trade))
            return
        outcome = TradeResult.from_position(position)
        closed_at = position.close_time or position.expiration_time or trade.expires_at or self.now
        self.journal.record_outcome(
            trade.id,
            outcome.outcome,
            outcome.pnl,
            close_price=outcome.close_price,
            closed_at=timestamp_seconds(closed_at),
        )
        refreshed = self.journal.trade(trade.id)
        self.result.closed.append(refreshed if refreshed is not None else trade)

    def unanswered(self, trade: JournalTrade, ref_kind: str) -> None:
        candidates = [
            position
            for (kind, ref), position in self.positions.items()
            if kind == ref_kind
            and _matches(position, trade)
            and self.journal.find(kind, ref, account=trade.account) is None
        ]
        if not candidates and trade.intent_at - RECONCILE_WINDOW < self.since:
            # Older than the history read: not finding it proves nothing.
            if trade.status is not TradeStatus.UNKNOWN:
                self.journal.record_state(
                    trade.id, TradeStatus.UNKNOWN, at=self.now, error="older than the history read at restart"
                )
            self.result.unknown += 1
            return
        if not candidates:
            self.journal.record_state(
                trade.id,
                TradeStatus.NOT_PLACED,
                at=self.now,
                error="no such position on the server at restart",
            )
            self.result.not_placed += 1
            return
        if len(candidates) > 1:
            refs = [_ref(p, ref_kind) for p in candidates]
            if trade.status is not TradeStatus.UNKNOWN:
                self.journal.record_state(
                    trade.id,
                    TradeStatus.UNKNOWN,
                    at=self.now,
                    error=f"{len(candidates)} positions match the intent",
                    data={"candidates": refs},
                )
            self.result.unknown += 1
            return
        position = candidates[0]
        ref = _ref(position, ref_kind)
        assert ref is not None
        opened = _opened_s(position)
        expires = position.expiration_time
        self.journal.record_answer(
            trade.id,
            Answer(
                ref_kind,
                int(ref) if ref.lstrip("-").isdigit() else ref,
                opened_at=opened if opened is not None else trade.intent_at,
                expires_at=None if expires is None else timestamp_seconds(expires),
                open_price=position.open_quote,
                payout=None,
            ),
            at=self.now,
            reconciled=True,
        )
        self.result.reconciled += 1
        refreshed = self.journal.trade(trade.id)
        assert refreshed is not None
        self.settle(refreshed, position)


async def recover(
    journal: Journal,
    source: PositionSource,
    *,
    account: str,
    balance_id: int | None,
    ref_kind: str = "option",
) -> Recovery:
    """Settle the journal's unsettled trades of ``account``/``balance_id`` against the server.

    Call it after connecting and before the first new trade. Example::

        recovery = await recover(journal, client, account="ws://127.0.0.1:8765|1", balance_id=balance.id)
        for trade in recovery.follow:
            ...  # track it to its outcome
    """
    # Margin rows are matched by order id on the marginal balance: iqwire.bot.margin_recovery.
    pending = [
        t
        for t in journal.trades(account=account, balance_id=balance_id, statuses=UNSETTLED)
        if not is_margin(t.product)
    ]
    if not pending:
        return Recovery()
    open_now = await source.get_positions(balance_id)
    since = max(min(t.intent_at for t in pending) - RECONCILE_WINDOW, source.server_time() - LOOKBACK)
    history = await _history_since(source, balance_id, since)
    recoverer = _Recoverer(journal, source, open_now + history, since)
    for trade in pending:
        if trade.ref_id is not None:
            await recoverer.answered(trade)
        else:
            recoverer.unanswered(trade, trade.ref_kind or ref_kind)
    log.info("%s", recoverer.result.summary)
    return recoverer.result


def rebuild_guard(guard: RiskGuard, trades: Sequence[JournalTrade], now: float) -> None:
    """Replay the placed trades (open and closed) of a journal into a fresh guard.

    Options take a slot while open and count in the day's P&L and streak when they
    close; margin trades (``marginal-*``) hold no option slot, and their closes count
    in the day's P&L and streak as the live guard saw them (:meth:`RiskGuard.realised`).
    """
    placed = [t for t in trades if t.status in (TradeStatus.OPEN, TradeStatus.CLOSED)]
    options = [t for t in placed if not is_margin(t.product)]
    opened = [t.opened_at if t.opened_at is not None else t.intent_at for t in options]

    def closes(rows: list[JournalTrade]) -> list[tuple[float, Outcome, float]]:
        return [
            (t.closed_at, t.outcome, t.pnl)
            for t in rows
            if t.status is TradeStatus.CLOSED
            and t.closed_at is not None
            and t.outcome is not None
            and t.pnl is not None
        ]

    margin = [t for t in placed if is_margin(t.product)]
    guard.replay(opened, closes(options), now, realised=closes(margin))
