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

import functools
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Literal, Self

from iqwire import actives
from iqwire.client.streams import Stream
from iqwire.errors import InvalidOrder
from iqwire.models import BalanceType, Direction, InitializationData, Position
from iqwire.models.margin import MarginalBalance, MarginCall
from iqwire.protocol import catalog
from iqwire.trading import blitz, digital, fixed_expiry, margin_orders
from iqwire.trading.client import TradingClient
from iqwire.trading.desk import Desk
from iqwire.trading.margin_balance import MarginFigures, marginal_balance, marginal_figures
from iqwire.trading.margin_instruments import Instrument, calculate_margin
from iqwire.trading.margin_levels import LevelInput
from iqwire.trading.margin_orders import MarginOrder
from iqwire.trading.margin_positions import MarginBook, MarginPosition, find_position
from iqwire.trading.payouts import Payouts
from iqwire.trading.portfolio import Portfolio
from iqwire.trading.sell_values import SellValues
from iqwire.trading.trade import Trade, TradeResult

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
        self.sell_values = SellValues(client, self.portfolio)
        self._digital_orders = digital.DigitalOrders(self.desk)
        #: Margin orders and positions (forex, CFD, crypto), followed once the first order is placed.
        self.margin = MarginBook(self.desk)

    def __repr__(self) -> str:
        return f"Trader(allow_real_money={self.allow_real_money}, open={len(self.portfolio.open)})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop following positions, orders and sale values (the client stays open)."""
        await self.sell_values.stop()
        await self._digital_orders.stop()
        await self.margin.stop()
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

    async def buy_turbo(
        self,
        active: str | int,
        direction: str | Direction,
        amount: float,
        expiration: int = 60,
        *,
        balance: BalanceType | int = BalanceType.DEMO,
    ) -> Trade:
        """Buy a turbo option expiring on the minute grid: sent once, sellable until the buy-back deadline.

        ``expiration`` counts grid minutes: 60 is the nearest minute that can still be
        bought (purchase ends ``deadtime``, 30 s, before it), 120 the one after, up to
        the active's ``option.count`` minutes.

        Example::

            trade = await trader.buy_turbo("EURUSD-OTC", "call", 10, expiration=60)
            result = await trade.outcome()              # or: await trade.sell()
            print(result.outcome, result.pnl)

        Raises:
            InvalidOrder (expiry off the grid or purchase time over, limits), InsufficientBalance,
                UnknownAsset, UnknownBalance, MarketClosed, RealMoneyLocked: nothing was sent.
            PayoutChanged: the payout moved (the cache now has the new one).
            TradeNotPlaced, TradeStateUnknown: the answer was lost (see :meth:`buy_blitz`).
        """
        trade = await fixed_expiry.buy(
            self.desk, fixed_expiry.TURBO, active, direction, amount, expiration=expiration, balance=balance
        )
        await self.sell_values.track(trade)
        return trade

    async def buy_binary(
        self,
        active: str | int,
        direction: str | Direction,
        amount: float,
        *,
        expires_at: int | float | datetime,
        balance: BalanceType | int = BalanceType.DEMO,
    ) -> Trade:
        """Buy a binary option expiring at ``expires_at``, one of :meth:`expiries` (``"binary"``).

        Example::

            expiry = (await trader.expiries("EURUSD-OTC", "binary"))[0]
            trade = await trader.buy_binary("EURUSD-OTC", "put", 10, expires_at=expiry)
            print((await trade.outcome()).pnl)

        Raises:
            as :meth:`buy_turbo`.
        """
        trade = await fixed_expiry.buy(
            self.desk, fixed_expiry.BINARY, active, direction, amount, expires_at=expires_at, balance=balance
        )
        await self.sell_values.track(trade)
        return trade

    async def expiries(self, active: str | int, product: Literal["turbo", "binary"] = "turbo") -> list[int]:
        """The turbo or binary expiries (unix seconds) that can be bought now, soonest first.

        Example::

            print(await trader.expiries("EURUSD-OTC", "binary"))
        """
        kind = fixed_expiry.KINDS[product]
        spec = actives.resolve(active, await self.desk.actives(), groups=(kind.product,))
        return fixed_expiry.expiries(spec, kind, self.client.server_time())

    async def buy_digital(
        self,
        active: str | int,
        direction: str | Direction,
        amount: float,
        period: int = 60,
        *,
        strike: Literal["spot"] | float = "spot",
        balance: BalanceType | int = BalanceType.DEMO,
    ) -> Trade:
        """Buy a digital option on the nearest ``period`` instrument, at the spot strike or a price.

        The trade's ``payout`` is the profit percent of the fill (the strike's ask);
        ``trade.close()`` (or ``sell()``) closes it early at the strike's bid.

        Example::

            table = await trader.digital_strikes("EURUSD-OTC", 60)
            highest = table.strikes[-1].strike          # strikes are sorted: spot first, then by price
            trade = await trader.buy_digital("EURUSD-OTC", "call", 10, 60, strike=highest)
            print(trade.payout, (await trade.outcome()).pnl)

        Raises:
            InvalidOrder (no such period or strike, purchase time over, limits), InsufficientBalance,
                UnknownAsset, UnknownBalance, MarketClosed, RealMoneyLocked: nothing was sent.
            OrderRejected: the server accepted the order, then rejected it (nothing placed).
            TradeNotPlaced, TradeStateUnknown: the answer was lost (see :meth:`buy_blitz`).
        """
        trade = await digital.buy(
            self.desk,
            self._digital_orders,
            active,
            direction,
            amount,
            period=period,
            strike=strike,
            balance=balance,
        )
        await self.sell_values.track(trade)
        return trade

    async def digital_strikes(self, active: str | int, period: int = 60) -> digital.DigitalStrikes:
        """The strikes of the nearest ``period`` instrument with their prices and payouts now.

        Example::

            table = await trader.digital_strikes("EURUSD-OTC", 60)
            for s in table.strikes:
                print(s.label, s.call_ask, s.call_payout, s.put_ask, s.put_payout)

        Raises:
            UnknownAsset, MarketClosed, InvalidOrder: no such active or period now.
            RequestTimeout: no price push arrived.
        """
        return await digital.strikes(self.desk, active, period)

    async def sell(self, trade: Trade | int) -> TradeResult:
        """Sell (turbo, binary) or close (digital) a trade or an open position by id, before expiry.

        Example::

            result = await trader.sell(4711)           # a position id, e.g. from ``iqwire positions``
            print(result.outcome, result.pnl)

        Raises:
            InvalidOrder: no such open position, or it cannot be sold now; nothing was sent.
            as :meth:`Trade.sell` otherwise.
        """
        if isinstance(trade, int):
            trade = await self._open_trade(trade)
        return await trade.sell()

    async def _open_trade(self, position_id: int) -> Trade:
        """A :class:`Trade` for an open position of this account, found by id."""
        await self.portfolio.start()
        types = ["turbo-option", "binary-option", digital.INSTRUMENT_TYPE, blitz.INSTRUMENT_TYPE]
        for instrument_type in types:
            await self.portfolio.follow(instrument_type)
        found: Position | None = next(
            (
                p
                for p in await self.client.get_positions(instrument_types=types)
                if p.option_id == position_id
            ),
            None,
        )
        if found is None:
            raise InvalidOrder(f"no open option or digital position {position_id} on this account")
        self.portfolio.apply(found)
        balance = await self.desk.balance(found.user_balance_id or 0)
        product = (found.instrument_type or "blitz-option").removesuffix("-option")
        created = int(found.open_time_s or 0)
        expires = int(found.expiration_time_s or 0)
        kind = fixed_expiry.KINDS.get(product)
        sell = None
        if kind is not None:
            sell = functools.partial(fixed_expiry.sell, self.desk)
        elif product == "digital":
            sell = functools.partial(digital.close, self.desk)
        trade = Trade(
            id=position_id,
            active_id=found.active_id or 0,
            direction=found.direction or "",
            amount=found.amount or 0.0,
            balance_id=balance.id,
            balance_type=balance.type,
            open_price=found.open_quote or 0.0,
            created=created,
            expires=expires,
            expiration=expires - created,
            payout=0.0,
            wait_outcome=self.desk.outcome,
            reconciled=True,
            product=product,
            instrument_type=found.instrument_type or "blitz-option",
            instrument_id=found.instrument_id,
            position_ref=found.id,
            sell=sell,
        )
        return trade

    # -- margin: forex, CFD, crypto (trading/margin_*.py) ----------------------------------------

    async def place_order(
        self,
        instrument: str | int,
        side: str,
        quantity: str | float | int | Decimal,
        *,
        type: str = "market",
        price: str | float | int | Decimal | None = None,
        leverage: int | None = None,
        take_profit: LevelInput = None,
        stop_loss: LevelInput = None,
        balance: BalanceType | int = BalanceType.DEMO,
        family: str | None = None,
    ) -> MarginOrder:
        """Place a margin order (forex, CFD or crypto): validated, sent once, reconciled if lost.

        Example::

            order = await trader.place_order("EURUSD-OTC", "buy", 1000, leverage=100,
                                             take_profit=(50, "pips"), stop_loss=(30, "pips"))
            position = await order.filled()
            print(position.open_price, position.margin, position.pnl)

        Args:
            instrument: name (``"EURUSD-OTC"``), instrument id or active id.
            side: ``"buy"`` or ``"sell"``.
            quantity: units (a forex lot is 100000); at least ``min_qty``, on ``qty_step``.
            type: ``"market"``, or ``"limit"``/``"stop"`` with ``price``.
            leverage: one the instrument offers (default: its default leverage).
            take_profit, stop_loss: a price, or ``(value, "pips" | "delta" | "pnl" | "price")``.
            balance: the marginal balance (by type or id). REAL needs ``allow_real_money=True``.
            family: ``forex``, ``cfd`` or ``crypto`` to search only there.

        Raises:
            InvalidOrder, InsufficientBalance, UnknownAsset, UnknownBalance, MarketClosed,
                RealMoneyLocked: nothing was sent.
            ServerError: the server refused the order.
            TradeNotPlaced: the answer was lost and reconciliation found no such order.
            TradeStateUnknown: the answer was lost and several orders could be it.
        """
        return await margin_orders.place_order(
            self.margin,
            instrument,
            side,
            quantity,
            type=type,
            price=price,
            leverage=leverage,
            take_profit=take_profit,
            stop_loss=stop_loss,
            balance=balance,
            family=family,
        )

    async def margin_instrument(self, instrument: str | int) -> Instrument:
        """The margin instrument named by its name, instrument id or active id (nothing is sent to trade).

        Example::

            found = await trader.margin_instrument("EURUSD-OTC")
            print(found.instrument_type, found.active_id, found.default_leverage)

        Raises:
            UnknownAsset: no forex, CFD or crypto instrument answers to it.
        """
        return await self.margin.instruments.find(instrument)

    async def instruments(self, family: str) -> list[Instrument]:
        """A margin family's instruments (``forex``, ``cfd``, ``crypto``): leverages, steps, hours.

        Example::

            for instrument in await trader.instruments("crypto"):
                print(instrument.name, instrument.leverages, instrument.qty_step)
        """
        return await self.margin.instruments.family(family)

    async def calculate_margin(
        self, instrument: str | int, quantity: str | float | int | Decimal, leverage: int | None = None
    ) -> Decimal:
        """The margin an order would lock now, at the current price (see :func:`calculate_margin`).

        Example::

            await trader.calculate_margin("EURUSD-OTC", 10_000, 100)   # Decimal('108.00')
        """
        found = await self.margin.instruments.find(instrument)
        price = await self.desk.price(found.active_id)
        return calculate_margin(quantity, price, leverage or found.default_leverage)

    async def margin_balance(self, balance: BalanceType | int = BalanceType.DEMO) -> MarginFigures:
        """The marginal balance's cash, equity, margin, available and margin level now.

        Example::

            figures = await trader.margin_balance()
            print(figures.equity, figures.margin_level)
        """
        target = await marginal_balance(self.desk, balance)
        return await marginal_figures(self.desk, target.id)

    def margin_balance_changes(self) -> Stream[MarginalBalance]:
        """Every change of the marginal balances' figures (``MarginFigures.from_wire`` reads one)."""
        return self.client.subscribe(catalog.MARGINAL_BALANCE_CHANGED, None, "marginal balances")

    def margin_calls(self) -> Stream[MarginCall]:
        """Margin calls: the margin level fell below the call level (stop-out comes next)."""
        return self.client.subscribe(catalog.MARGIN_CALL, None, "margin calls")

    def margin_positions(self) -> list[MarginPosition]:
        """The open margin positions the trader follows (after the first order, or ``margin.start()``)."""
        return self.margin.open_positions()

    async def margin_position(self, position_id: int) -> MarginPosition:
        """An open margin position by id, placed here or elsewhere (to close or modify it)."""
        return await find_position(self.margin, position_id)

    async def margin_order(self, order_id: int) -> MarginOrder:
        """A pending margin order by id, placed here or elsewhere (to cancel it)."""
        return await margin_orders.find_order(self.margin, order_id)
