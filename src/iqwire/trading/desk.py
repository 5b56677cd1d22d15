"""The desk: what every product module works with, and the steps they share.

A product module (``trading/blitz.py`` today; turbo, binary, digital and margin
next) is a few functions taking a :class:`Desk`: the client (as a
:class:`~iqwire.trading.client.TradingClient`), the :class:`Portfolio` and the
:class:`Payouts`, plus the shared steps — find the balance, load the actives and
their payouts, read the current price, await a trade's outcome. The
:class:`~iqwire.trading.trader.Trader` owns one desk and exposes each product.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from iqwire.errors import (
    ConnectionLost,
    InsufficientBalance,
    InvalidOrder,
    MarketClosed,
    OutcomeUnknown,
    RequestTimeout,
    UnknownBalance,
)
from iqwire.models import Balance, BalanceType, Direction, InitActive, InitializationData, Position
from iqwire.trading.client import TradingClient
from iqwire.trading.payouts import Payouts
from iqwire.trading.portfolio import Portfolio
from iqwire.trading.trade import Trade, TradeResult

__all__ = ["Desk"]


@dataclass(frozen=True)
class Desk:
    """The client, the portfolio and the payout cache a product module trades with.

    ``outcome_grace``: seconds after expiry a trade waits for its close before
    asking history (``None``: the client's ``outcome_grace``).

    Example::

        desk = Desk(client, Portfolio(client), Payouts())
        balance = await desk.balance(BalanceType.DEMO)
    """

    client: TradingClient
    portfolio: Portfolio
    payouts: Payouts
    outcome_grace: float | None = None

    async def balance(self, which: BalanceType | int) -> Balance:
        """The balance of a type, or with an id, as the server has it now.

        Raises:
            UnknownBalance: the account has no such balance.
        """
        for candidate in await self.client.get_balances():
            if (isinstance(which, BalanceType) and candidate.type == which) or (
                not isinstance(which, BalanceType) and candidate.id == which
            ):
                return candidate
        raise UnknownBalance(f"no balance {which!r} on this account")

    async def open_checks(
        self, direction: str | Direction, amount: float, balance: BalanceType | int, action: str
    ) -> tuple[Direction, Balance]:
        """What every purchase checks first: the direction, the amount, the balance, the real-money lock.

        Raises:
            ValueError: not call/put. InvalidOrder: not a positive amount.
            UnknownBalance, RealMoneyLocked: nothing was sent.
        """
        side = Direction(direction.lower() if isinstance(direction, str) else direction)
        if not math.isfinite(amount) or amount <= 0:
            raise InvalidOrder(f"amount must be a positive number, not {amount!r}")
        target = await self.balance(balance)
        await self.client.lock.check(action, target.id)  # before anything else is asked
        return side, target

    @staticmethod
    def check_stake(spec: InitActive, amount: float, balance: Balance) -> None:
        """The amount within the active's limits and the balance.

        Raises:
            InvalidOrder: outside ``minimal_bet``..``maximal_bet``. InsufficientBalance: above the balance.
        """
        low = spec.minimal_bet if spec.minimal_bet is not None else 1.0
        high = spec.maximal_bet if spec.maximal_bet is not None else 20_000.0
        if not low <= amount <= high:
            raise InvalidOrder(f"amount {amount:g} is outside the limits {low:g} .. {high:g}")
        if amount > balance.amount:
            raise InsufficientBalance(
                f"amount {amount:g} is more than the balance {balance.amount:.2f} {balance.currency or ''}"
            )

    async def actives(self) -> InitializationData:
        """The initialization data (fetched once, then cached), its payouts loaded."""
        client = self.client
        init = await client.get_initialization_data(refresh=client.cached_initialization_data is None)
        self.payouts.load(init)
        return init

    async def price(self, active_id: int) -> float:
        """The current price: the newest pushed candle, else the last one-second candle.

        Raises:
            MarketClosed: the active has no recent price.
        """
        latest = self.client.latest_price(active_id)
        if latest is not None:
            return latest
        candles = await self.client.get_candles(active_id, 1, count=1)
        if not candles:
            raise MarketClosed(f"active {active_id} has no recent price; it is probably closed")
        return candles[-1].close

    async def outcome(self, trade: Trade, grace: float | None) -> TradeResult:
        """Wait for a trade's close push; fall back to history; give up after expiry + grace.

        Raises:
            OutcomeUnknown: nothing known ``grace`` seconds (server time) after expiry.
        """
        client = self.client
        if grace is None:
            grace = self.outcome_grace if self.outcome_grace is not None else client.outcome_grace
        future = self.portfolio.wait_closed(trade.id)
        next_lookup = trade.expires + 1.0
        try:
            while True:
                remaining = trade.expires + grace - client.server_time()
                if remaining <= 0:
                    break
                try:
                    position = await asyncio.wait_for(asyncio.shield(future), timeout=min(remaining, 1.0))
                except TimeoutError:
                    if client.server_time() > next_lookup and client.is_connected:
                        # Past expiry without a push: the close may have been missed.
                        next_lookup = client.server_time() + 5.0
                        found = await self._from_history(trade)
                        if found is not None:
                            return TradeResult.from_position(found)
                    continue
                return TradeResult.from_position(position)
            found = await self._from_history(trade)
            if found is not None:
                return TradeResult.from_position(found)
        finally:
            if not future.done():
                future.cancel()
        raise OutcomeUnknown(
            f"trade {trade.id} expired at {trade.expires} but no close arrived within {grace:.0f}s; "
            "check portfolio.get-history-positions later",
            position=self.portfolio.open.get(trade.id),
        )

    async def _from_history(self, trade: Trade) -> Position | None:
        if trade.id in self.portfolio.closed:
            return self.portfolio.closed[trade.id]
        try:
            return await self.portfolio.fetch_closed(trade.id)
        except (ConnectionLost, RequestTimeout):
            return None
