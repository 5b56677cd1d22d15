"""The live broker: a bot's trades through a :class:`~iqwire.trading.Trader`, each followed to its outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from iqwire.bot.records import OpenTrade, TradeRecord
from iqwire.errors import IqwireError, OutcomeUnknown
from iqwire.models import BalanceType
from iqwire.trading import Trade, Trader

__all__ = ["TraderBroker"]

log = logging.getLogger("iqwire.bot.live")


class TraderBroker:
    """Trades through an :class:`iqwire.trading.Trader` (real-money lock and reconciliation included).

    Every placed (or adopted) trade is followed by a task that hands its
    :class:`TradeRecord` to ``on_closed`` — the live session's mailbox, so closes
    reach the runner in order with every other signal.
    """

    def __init__(
        self,
        trader: Trader,
        balance_type: BalanceType | int,
        on_closed: Callable[[TradeRecord], None],
    ) -> None:
        self.trader = trader
        self.client = trader.client
        self.balance_type = balance_type
        self.balance_id: int | None = None
        self.balance_kind = BalanceType.DEMO
        self._on_closed = on_closed
        self._waiting: set[asyncio.Task[None]] = set()
        self.trades: dict[int, Trade] = {}
        #: Trades whose outcome could not be learned (they stay unsettled in the journal).
        self.unknown: list[int] = []

    def now(self) -> float:
        return self.client.server_time()

    def payout(self, active_id: int) -> float:
        try:
            return 100 - self.trader.commission(active_id)
        except KeyError:
            return 0.0

    def balance(self) -> float | None:
        if self.balance_id is None:
            return None
        balance = self.trader.portfolio.balances.get(self.balance_id)
        return None if balance is None else balance.amount

    async def place(self, active_id: int, direction: str, amount: float, expiration: int) -> OpenTrade:
        trade = await self.trader.buy_blitz(
            active_id, direction, amount, expiration, balance=self.balance_type
        )
        self._follow(trade)
        return OpenTrade(
            id=trade.id,
            active_id=trade.active_id,
            direction=trade.direction,
            amount=trade.amount,
            expires_at=trade.expires,
            open_price=trade.open_price,
            opened_at=trade.created,
            payout=trade.payout,
            reconciled=trade.reconciled,
        )

    def adopt(self, open_trade: OpenTrade) -> None:
        """Follow a trade an earlier run placed (found open on the server at restart)."""
        expires = int(open_trade.expires_at)
        trade = self.trader.adopt(
            id=open_trade.id,
            active_id=open_trade.active_id,
            direction=open_trade.direction,
            amount=open_trade.amount,
            balance_id=self.balance_id or 0,
            balance_type=self.balance_kind,
            open_price=open_trade.open_price,
            created=int(open_trade.opened_at if open_trade.opened_at is not None else expires),
            expires=expires,
            payout=open_trade.payout or 0.0,
        )
        self._follow(trade)

    def _follow(self, trade: Trade) -> None:
        self.trades[trade.id] = trade
        task = asyncio.create_task(self._outcome(trade), name=f"iqwire-bot-trade-{trade.id}")
        self._waiting.add(task)
        task.add_done_callback(self._waiting.discard)

    async def _outcome(self, trade: Trade) -> None:
        try:
            result = await trade.outcome()
        except OutcomeUnknown as exc:
            log.error("trade %s: %s", trade.id, exc)
            self.unknown.append(trade.id)
            return
        except IqwireError as exc:
            log.error("trade %s: outcome not known: %s", trade.id, exc)
            self.unknown.append(trade.id)
            return
        self._on_closed(
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

    async def cancel(self) -> None:
        """Stop following trades (the run is over)."""
        for task in list(self._waiting):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
