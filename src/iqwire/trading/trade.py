"""A placed trade you can await, and the result it settles to."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from iqwire.errors import InvalidOrder
from iqwire.models import BalanceType, Outcome, Position, seconds_to_datetime

__all__ = ["Trade", "TradeResult"]


@dataclass(frozen=True)
class TradeResult:
    """How a trade ended.

    ``pnl`` is the profit or loss (``-amount`` on a loss, ``0`` on a refund);
    ``close_profit`` is what came back to the balance.
    """

    outcome: Outcome
    pnl: float
    close_profit: float
    close_price: float | None
    position: Position

    @classmethod
    def from_position(cls, position: Position) -> TradeResult:
        """Build from a closed position."""
        amount = position.amount or 0.0
        pnl = position.pnl if position.pnl is not None else (position.profit_amount or 0.0)
        close_profit = position.close_profit if position.close_profit is not None else amount + pnl
        return cls(
            outcome=position.outcome or Outcome.UNKNOWN,
            pnl=float(pnl),
            close_profit=float(close_profit),
            close_price=position.expiration_value
            if position.expiration_value is not None
            else position.close_quote,
            position=position,
        )


class Trade:
    """An option the server accepted: blitz, turbo, binary or digital (``product``).

    ``id`` is the option id (turbo, binary, blitz) or the position's id (digital,
    whose order id is ``order_id``). ``sell_profit`` is what selling it now would pay
    back, kept current from ``positions-state`` (``None`` until the first push).

    Example::

        trade = await trader.buy_turbo("EURUSD-OTC", "call", 10, expiration=60)
        print(trade.id, trade.open_price, trade.expires_at, trade.sell_profit)
        result = await trade.outcome()          # or: await trade.sell()
        print(result.outcome, result.pnl)
    """

    def __init__(
        self,
        *,
        id: int,
        active_id: int,
        direction: str,
        amount: float,
        balance_id: int,
        balance_type: BalanceType,
        open_price: float,
        created: int,
        expires: int,
        expiration: int,
        payout: float,
        wait_outcome: Callable[[Trade, float | None], Awaitable[TradeResult]],
        reconciled: bool = False,
        product: str = "blitz",
        instrument_type: str = "blitz-option",
        instrument_id: str | None = None,
        strike: float | None = None,
        order_id: int | None = None,
        position_ref: int | str | None = None,
        deadtime: int = 0,
        sell: Callable[[Trade], Awaitable[TradeResult]] | None = None,
    ) -> None:
        self.id = id
        self.active_id = active_id
        self.direction = direction
        self.amount = amount
        self.balance_id = balance_id
        self.balance_type = balance_type
        self.open_price = open_price
        self.created = created
        self.expires = expires
        self.expiration = expiration
        self.payout = payout
        self.reconciled = reconciled
        self.product = product
        self.instrument_type = instrument_type
        self.instrument_id = instrument_id
        self.strike = strike
        self.order_id = order_id
        self.position_ref = position_ref
        self.deadtime = deadtime
        self.sell_profit: float | None = None
        self._sell = sell
        self._wait_outcome = wait_outcome
        self._result: TradeResult | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return (
            f"Trade(id={self.id}, product={self.product!r}, active_id={self.active_id}, direction={self.direction!r}, "
            f"amount={self.amount}, expires={self.expires})"
        )

    @property
    def expires_at(self) -> datetime:
        """Expiry as a UTC datetime."""
        return seconds_to_datetime(self.expires)

    @property
    def result(self) -> TradeResult | None:
        """The result, once :meth:`outcome` has returned it."""
        return self._result

    async def outcome(self, grace: float | None = None) -> TradeResult:
        """Wait for the position to close and return how it ended.

        Resolves from the ``position-changed`` push; if that was missed (for
        instance across a reconnect), from ``portfolio.get-history-positions``.

        Raises:
            OutcomeUnknown: nothing known ``grace`` seconds (server time) after expiry.
        """
        async with self._lock:
            if self._result is None:
                self._result = await self._wait_outcome(self, grace)
            return self._result

    def settled(self, result: TradeResult) -> TradeResult:
        """Record the result learned another way (a sale); :meth:`outcome` returns it from now on."""
        if self._result is None:
            self._result = result
        return self._result

    async def sell(self) -> TradeResult:
        """Sell the option back now (turbo, binary) or close the position (digital); sent at most once.

        Example::

            if trade.sell_profit is not None and trade.sell_profit > trade.amount:
                result = await trade.sell()
                print(result.outcome, result.pnl)        # Outcome.SOLD, the profit taken

        Raises:
            InvalidOrder: the product cannot be sold (blitz), the trade closed, or it is too late;
                nothing was sent.
            RealMoneyLocked: a REAL balance without the opt-in; nothing was sent.
            ServerError: the server refused the sale.
            TradeNotPlaced: the answer was lost and the position is still open: not sold.
        """
        if self._sell is None:
            raise InvalidOrder(f"{self.product} options cannot be sold before expiry")
        return await self._sell(self)

    async def close(self) -> TradeResult:
        """Close a digital position early (the wire's word; the same as :meth:`sell`)."""
        return await self.sell()
