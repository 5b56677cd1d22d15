"""Blocking trading: :class:`Trader`, the trades it places and its portfolio.

Generated from :class:`iqwire.trading.Trader` as the blocking client is from the
async one; a placed trade is a :class:`SyncTrade` whose :meth:`~SyncTrade.outcome`
blocks until it closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from iqwire.errors import NotConnected
from iqwire.models import Balance, Position
from iqwire.sync.client import Client
from iqwire.sync.facade import blocking, blocking_as, direct, direct_as, mirrored, streaming
from iqwire.sync.loop import EventLoopThread, refuse_inside_a_loop
from iqwire.sync.margin import SyncMarginOrder, SyncMarginPosition
from iqwire.trading import Portfolio, Trade, TradeResult
from iqwire.trading import Trader as AsyncTrader

__all__ = ["SyncPortfolio", "SyncTrade", "Trader"]

P = ParamSpec("P")
T = TypeVar("T")


class SyncTrade:
    """A placed trade; :meth:`outcome` blocks until it closes.

    It carries the :class:`~iqwire.trading.Trade`'s facts (``id``, ``product``,
    ``active_id``, ``direction``, ``amount``, ``balance_id``, ``balance_type``,
    ``open_price``, ``created``, ``expires``, ``expiration``, ``payout``,
    ``reconciled``, ``strike``, ``order_id``); :attr:`sell_profit` is live.

    Example::

        trade = trader.buy_blitz(76, "put", 5, expiration=60)
        print(trade.id, trade.open_price, trade.expires_at)
        print(trade.outcome().pnl)
    """

    def __init__(self, runner: EventLoopThread, trade: Trade) -> None:
        self._runner = runner
        self.trade = trade
        self.id = trade.id
        self.active_id = trade.active_id
        self.direction = trade.direction
        self.amount = trade.amount
        self.balance_id = trade.balance_id
        self.balance_type = trade.balance_type
        self.open_price = trade.open_price
        self.created = trade.created
        self.expires = trade.expires
        self.expiration = trade.expiration
        self.payout = trade.payout
        self.reconciled = trade.reconciled
        self.product = trade.product
        self.strike = trade.strike
        self.order_id = trade.order_id

    def __repr__(self) -> str:
        return repr(self.trade)

    @property
    def expires_at(self) -> datetime:
        """Expiry as a UTC datetime."""
        return self.trade.expires_at

    @property
    def result(self) -> TradeResult | None:
        """The result, once :meth:`outcome` has returned it."""
        return self.trade.result

    @property
    def sell_profit(self) -> float | None:
        """What selling (closing) it now would pay back, from ``positions-state``."""
        return self.trade.sell_profit

    def sell(self) -> TradeResult:
        """Sell (turbo, binary) or close (digital) now; see :meth:`iqwire.trading.Trade.sell`."""
        return self._runner.run(self.trade.sell)

    def close(self) -> TradeResult:
        """Close a digital position now (the same as :meth:`sell`)."""
        return self._runner.run(self.trade.close)

    def outcome(self, grace: float | None = None) -> TradeResult:
        """Block until the trade closes and return how it ended.

        Raises:
            OutcomeUnknown: nothing known ``grace`` seconds (server time) after expiry.
        """
        return self._runner.run(self.trade.outcome, grace)


async def _read(fn: Callable[[], T]) -> T:
    return fn()


class SyncPortfolio:
    """The trader's portfolio tracker, read on the client's loop thread.

    Example::

        trader.portfolio.start()
        print(trader.portfolio.open_positions, trader.portfolio.realised_pnl_today())
    """

    def __init__(self, runner: EventLoopThread, portfolio: Portfolio) -> None:
        self._runner = runner
        self._portfolio = portfolio

    @property
    def _target(self) -> Portfolio:
        return self._portfolio

    def _call(self, fn: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._runner.run(fn, *args, **kwargs)

    start = blocking(Portfolio.start)
    stop = blocking(Portfolio.stop)
    follow = blocking(Portfolio.follow)
    resync = blocking(Portfolio.resync)
    fetch_closed = blocking(Portfolio.fetch_closed)

    @property
    def open_positions(self) -> list[Position]:
        """Open positions, oldest first."""
        return self._runner.run(_read, lambda: self._portfolio.open_positions)

    @property
    def balances(self) -> dict[int, Balance]:
        """The balances as last pushed, by id (a copy)."""
        return self._runner.run(_read, lambda: dict(self._portfolio.balances))

    def realised_pnl_today(self, balance_id: int | None = None, *, now: float | None = None) -> float:
        """Realised P&L of positions closed today (UTC), for one balance or all."""
        return self._runner.run(_read, lambda: self._portfolio.realised_pnl_today(balance_id, now=now))

    def wait_closed(self, option_id: int, timeout: float | None = None) -> Position:
        """Block until the position closes (at once if it already did).

        Raises:
            TimeoutError: it did not close within ``timeout`` seconds.
        """

        async def wait() -> Position:
            return await asyncio.wait_for(self._portfolio.wait_closed(option_id), timeout)

        return self._runner.run(wait)


class Trader:
    """A blocking :class:`iqwire.trading.Trader` over a blocking :class:`~iqwire.sync.Client`.

    Example::

        with Client(email="demo@example.com", password="demo") as client:
            trader = Trader(client)
            trade = trader.buy_blitz("EURUSD-OTC", "call", 10, expiration=30)
            result = trade.outcome()          # blocks until the option closes
            print(result.outcome, result.pnl)
    """

    def __init__(
        self, client: Client, *, allow_real_money: bool | None = None, outcome_grace: float | None = None
    ) -> None:
        self._client = client
        self._runner = client._runner
        self._async = AsyncTrader(
            client.async_client, allow_real_money=allow_real_money, outcome_grace=outcome_grace
        )
        self.portfolio = SyncPortfolio(self._runner, self._async.portfolio)

    def __repr__(self) -> str:
        return repr(self._async)

    @property
    def _target(self) -> AsyncTrader:
        return self._async

    @property
    def async_trader(self) -> AsyncTrader:
        """The underlying asyncio trader; await its coroutines only on the client's loop thread."""
        return self._async

    def _call(self, fn: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._runner.closed:
            refuse_inside_a_loop()
            raise NotConnected("the client of this iqwire.sync.Trader is closed: create a new one")
        return self._runner.run(fn, *args, **kwargs)

    allow_real_money = mirrored(AsyncTrader.allow_real_money)
    commission = direct(AsyncTrader.commission)
    set_commission = direct(AsyncTrader.set_commission)
    close = blocking(AsyncTrader.close)
    refresh_payouts = blocking(AsyncTrader.refresh_payouts)
    adopt = direct_as(AsyncTrader.adopt, SyncTrade)
    buy_blitz = blocking_as(AsyncTrader.buy_blitz, SyncTrade)
    buy_turbo = blocking_as(AsyncTrader.buy_turbo, SyncTrade)
    buy_binary = blocking_as(AsyncTrader.buy_binary, SyncTrade)
    buy_digital = blocking_as(AsyncTrader.buy_digital, SyncTrade)
    expiries = blocking(AsyncTrader.expiries)
    digital_strikes = blocking(AsyncTrader.digital_strikes)
    sell = blocking(AsyncTrader.sell)

    # -- margin (forex, CFD, crypto) --
    place_order = blocking_as(AsyncTrader.place_order, SyncMarginOrder)
    margin_order = blocking_as(AsyncTrader.margin_order, SyncMarginOrder)
    margin_position = blocking_as(AsyncTrader.margin_position, SyncMarginPosition)
    instruments = blocking(AsyncTrader.instruments)
    margin_instrument = blocking(AsyncTrader.margin_instrument)
    calculate_margin = blocking(AsyncTrader.calculate_margin)
    margin_balance = blocking(AsyncTrader.margin_balance)
    margin_balance_changes = streaming(AsyncTrader.margin_balance_changes)
    margin_calls = streaming(AsyncTrader.margin_calls)

    margin_positions = direct_as(
        AsyncTrader.margin_positions, lambda runner, found: [SyncMarginPosition(runner, p) for p in found]
    )
