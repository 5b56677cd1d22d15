"""The live broker: a bot's trades through a :class:`~iqwire.trading.Trader`, each followed to its outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from iqwire.bot.records import OpenTrade, TradeRecord
from iqwire.errors import InvalidOrder, IqwireError, OutcomeUnknown
from iqwire.models import BalanceType
from iqwire.trading import Trade, Trader, TradeResult

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

    def payout(self, active_id: int, product: str = "blitz") -> float:
        # Digital payouts depend on the strike; the spot strike pays the blitz commission's payout.
        try:
            return 100 - self.trader.commission(active_id, "blitz" if product == "digital" else product)
        except KeyError:
            return 0.0

    def balance(self) -> float | None:
        if self.balance_id is None:
            return None
        balance = self.trader.portfolio.balances.get(self.balance_id)
        return None if balance is None else balance.amount

    async def place(
        self,
        active_id: int,
        direction: str,
        amount: float,
        expiration: int,
        product: str = "blitz",
        strike: str | float = "spot",
    ) -> OpenTrade:
        trader, balance = self.trader, self.balance_type
        if product == "turbo":
            trade = await trader.buy_turbo(active_id, direction, amount, expiration, balance=balance)
        elif product == "binary":
            expiry = next(
                (e for e in await trader.expiries(active_id, "binary") if e - self.now() >= expiration), None
            )
            if expiry is None:
                raise InvalidOrder(f"no binary expiry {expiration}s or more away is offered")
            trade = await trader.buy_binary(active_id, direction, amount, expires_at=expiry, balance=balance)
        elif product == "digital" and strike == "spot":
            trade = await trader.buy_digital(active_id, direction, amount, expiration, balance=balance)
        elif product == "digital":
            level = await self._nearest_strike(active_id, expiration, strike)
            trade = await trader.buy_digital(
                active_id, direction, amount, expiration, strike=level, balance=balance
            )
        elif product == "blitz":
            trade = await trader.buy_blitz(active_id, direction, amount, expiration, balance=balance)
        else:
            raise InvalidOrder(f"product must be blitz, turbo, binary or digital, not {product!r}")
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
            product=trade.product,
            strike=trade.strike,
        )

    async def _nearest_strike(self, active_id: int, period: int, price: str | float) -> float:
        """The offered strike nearest ``price`` (live strikes are a fixed grid around the spot)."""
        table = await self.trader.digital_strikes(active_id, period)
        fixed = [s.strike for s in table.strikes if s.strike is not None]
        if not fixed:
            raise InvalidOrder(f"active {active_id} offers no fixed digital strikes now")
        return min(fixed, key=lambda s: abs(s - float(price)))

    async def sell(self, trade: OpenTrade) -> TradeRecord:
        live = self.trades.get(trade.id)
        if live is None:
            raise InvalidOrder(f"trade {trade.id} is not one of this run's open trades")
        result = await live.sell()
        return self._record(live, result)

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
        self._on_closed(self._record(trade, result))

    @staticmethod
    def _record(trade: Trade, result: TradeResult) -> TradeRecord:
        return TradeRecord(
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
            product=trade.product,
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
