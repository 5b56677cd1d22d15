"""The trader: one object above the client that places trades of every product.

:class:`Trader` owns the payout cache, the :class:`Portfolio` and the desk the
product modules share; each product is a module of :mod:`iqwire.trading`
(``blitz.py`` today) whose functions the trader exposes as methods. The
real-money opt-in is the client's lock (:class:`~iqwire.client.lock.RealMoneyLock`):
every open, sell, close and cancel of every product passes it.

Adding a product: write ``trading/<product>.py`` with functions taking a
:class:`~iqwire.trading.desk.Desk` (send with
:func:`~iqwire.trading.reconcile.send_once`, reconcile with
:func:`~iqwire.trading.reconcile.read_positions` and
:func:`~iqwire.trading.reconcile.find_placed`), mark its RPCs' ``money`` in the
catalog, and add a one-line method here.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from iqwire.models import BalanceType, Direction, InitializationData
from iqwire.trading import blitz
from iqwire.trading.client import TradingClient
from iqwire.trading.desk import Desk
from iqwire.trading.payouts import Payouts
from iqwire.trading.portfolio import Portfolio
from iqwire.trading.trade import Trade

__all__ = ["Trader"]


class Trader:
    """Places trades over a client; one per client.

    ``allow_real_money``: ``True`` opts the client's connection in to REAL
    balances, ``False`` locks it, ``None`` (default) keeps the client's own setting
    (``Client(allow_real_money=...)``). ``outcome_grace`` overrides the client's.

    Example::

        async with iqwire.Client(...) as client:
            trader = Trader(client)
            trade = await trader.buy_blitz("EURUSD-OTC", "call", 10, expiration=30)
            result = await trade.outcome()
            print(result.outcome, result.pnl, trader.portfolio.realised_pnl_today())
    """

    def __init__(
        self,
        client: TradingClient,
        *,
        allow_real_money: bool | None = None,
        outcome_grace: float | None = None,
    ) -> None:
        self.client = client
        if allow_real_money is not None:
            client.lock.allowed = allow_real_money
        self.payouts = Payouts()
        self.portfolio = Portfolio(client)
        self.desk = Desk(client, self.portfolio, self.payouts, outcome_grace)

    def __repr__(self) -> str:
        return f"Trader(allow_real_money={self.allow_real_money}, open={len(self.portfolio.open)})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop following positions (the client stays open)."""
        await self.portfolio.stop()

    @property
    def allow_real_money(self) -> bool:
        """Whether trades may use a REAL balance (the client's lock)."""
        return self.client.lock.allowed

    # -- payouts ------------------------------------------------------------------------------

    async def refresh_payouts(self) -> InitializationData:
        """Fetch the initialization data again and reload every payout from it."""
        init = await self.client.get_initialization_data()
        self.payouts.load(init)
        return init

    def commission(self, active_id: int, product: str = "blitz") -> float:
        """An active's commission as last known (initialization data, or a 4117 reply).

        Raises:
            KeyError: the active is unknown (trade once, or call :meth:`refresh_payouts`).
        """
        return self.payouts.commission(active_id, product)

    def set_commission(self, active_id: int, commission: float, product: str = "blitz") -> None:
        """Record an active's new commission (the trader does this on every 4117)."""
        self.payouts.set_commission(active_id, commission, product)

    # -- trades -------------------------------------------------------------------------------

    def adopt(
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
        payout: float,
        expiration: int = 0,
    ) -> Trade:
        """A :class:`Trade` for a position placed elsewhere (an earlier run), followed like one placed here.

        The position is claimed (no reconciliation will take it for another trade)
        and :meth:`Trade.outcome` resolves as for any trade of this trader.

        Example::

            trade = trader.adopt(id=4711, active_id=76, direction="call", amount=10,
                                 balance_id=demo.id, balance_type=BalanceType.DEMO,
                                 open_price=1.08, created=t0, expires=t0 + 60, payout=88)
        """
        self.portfolio.claim(id)
        return Trade(
            id=id,
            active_id=active_id,
            direction=direction,
            amount=amount,
            balance_id=balance_id,
            balance_type=balance_type,
            open_price=open_price,
            created=created,
            expires=expires,
            expiration=expiration,
            payout=payout,
            wait_outcome=self.desk.outcome,
            reconciled=True,
        )

    # -- products -----------------------------------------------------------------------------

    async def buy_blitz(
        self,
        active: str | int,
        direction: str | Direction,
        amount: float,
        expiration: int,
        *,
        balance: BalanceType | int = BalanceType.DEMO,
        requote: bool = False,
        max_requotes: int | None = None,
        min_payout: float | None = None,
    ) -> Trade:
        """Buy a blitz option: sent once, priced from server time and the current payout.

        Example::

            trade = await trader.buy_blitz("EURUSD-OTC", "call", 10, expiration=30)
            result = await trade.outcome()
            print(result.outcome, result.pnl)

        Args:
            active: id, ticker or name (``76``, ``"EURUSD-OTC"``).
            direction: ``"call"`` or ``"put"``.
            amount: the stake, in the balance's currency.
            expiration: seconds; one of the active's blitz expiries.
            balance: a :class:`BalanceType` or a balance id. REAL needs ``allow_real_money=True``.
            requote: retry once with the new payout after a 4117 (``max_requotes`` for more).
            min_payout: never trade (nor re-quote) below this payout percent.

        Raises:
            InvalidOrder, InsufficientBalance, UnknownAsset, UnknownBalance, MarketClosed,
                RealMoneyLocked: nothing was sent.
            PayoutChanged: the payout moved (and no re-quote was allowed or possible).
            TradeNotPlaced: the answer was lost and reconciliation found no such trade.
            TradeStateUnknown: the answer was lost and several positions could be it.
        """
        return await blitz.buy(
            self.desk,
            active,
            direction,
            amount,
            expiration,
            balance=balance,
            requote=requote,
            max_requotes=max_requotes,
            min_payout=min_payout,
        )
