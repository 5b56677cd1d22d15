"""Digital options: strikes with live prices, orders placed once, early close.

A digital option is bought on an *instrument* (one expiry of one period of an
active, from ``digital-option-instruments.get-instruments`` 3.0) at one of its
strikes: the spot strike ``SPT`` (struck at the price of the fill) or a fixed
price. ``digital-options.place-digital-option`` 3.0 answers with an *order* id;
the order then fills (``order-changed`` ``filled`` and a ``position-changed``
whose ``raw_event`` names the order) or is rejected (``rejected``: insufficient
funds is accepted first and rejected after, wire-facts §5), raised here as
:class:`~iqwire.errors.OrderRejected`. The place request is sent at most once; a
lost answer is reconciled against the digital positions (same instrument, amount,
balance, time). Strike prices are per 100 of payout: buying at ``ask`` pays
``(100 - ask) / ask`` of the amount on a win (:mod:`iqwire.pricing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from iqwire import actives
from iqwire.errors import (
    ConnectionLost,
    InvalidOrder,
    MarketClosed,
    OrderRejected,
    RequestTimeout,
    TradeStateUnknown,
)
from iqwire.models import Balance, BalanceType, Direction, Order, Position
from iqwire.models.digital import (
    ClosePositionBody,
    DigitalClientPrices,
    DigitalInstrument,
    GetDigitalInstrumentsBody,
    PlaceDigitalOptionBody,
)
from iqwire.pricing import profit_percent
from iqwire.protocol import catalog
from iqwire.trading.desk import Desk
from iqwire.trading.exits import exit_checks, exit_once
from iqwire.trading.follow import Follower
from iqwire.trading.reconcile import LOST, RECONNECT_WAIT, find_placed, opened_near, read_positions, send_once
from iqwire.trading.trade import Trade, TradeResult

__all__ = [
    "INSTRUMENT_TYPE",
    "SPOT",
    "DigitalOrders",
    "DigitalStrikes",
    "StrikeQuote",
    "buy",
    "close",
    "instrument",
    "strikes",
]

log = logging.getLogger("iqwire.trading")

INSTRUMENT_TYPE = "digital-option"
#: The spot strike's wire name.
SPOT = "SPT"


@dataclass(frozen=True)
class StrikeQuote:
    """One strike of an instrument, priced now (per 100 of payout; ``None`` when not quoted).

    ``strike`` is the price (``None`` for the spot strike, struck at the fill price).
    """

    label: str
    strike: float | None
    call_symbol: str
    put_symbol: str
    call_ask: float | None = None
    call_bid: float | None = None
    put_ask: float | None = None
    put_bid: float | None = None

    @property
    def call_payout(self) -> float | None:
        """Profit in percent of the amount of a call bought now and won."""
        return profit_percent(self.call_ask) if self.call_ask else None

    @property
    def put_payout(self) -> float | None:
        """Profit in percent of the amount of a put bought now and won."""
        return profit_percent(self.put_ask) if self.put_ask else None


@dataclass(frozen=True)
class DigitalStrikes:
    """An instrument's strikes and prices: what :meth:`Trader.digital_strikes` returns."""

    active_id: int
    period: int
    expiration: int
    index: int
    deadtime: int
    strikes: list[StrikeQuote]
    #: When the prices were quoted (server time, unix seconds).
    quote_time: float = 0.0

    @property
    def spot(self) -> StrikeQuote:
        """The spot strike."""
        return next(s for s in self.strikes if s.strike is None)


def _strike_value(text: str) -> float | None:
    return None if text == SPOT else float(text)


async def instrument(desk: Desk, active_id: int, period: int) -> DigitalInstrument:
    """The nearest instrument of ``period`` that can still be bought.

    Raises:
        MarketClosed: no digital instruments of this active now.
        InvalidOrder: none of this period (the message lists the periods offered).
    """
    body = GetDigitalInstrumentsBody(asset_id=active_id)
    offered = (await desk.client.call(catalog.GET_DIGITAL_INSTRUMENTS, body)).instruments
    if not offered:
        raise MarketClosed(f"active {active_id} offers no digital options now; it is probably closed")
    now = desk.client.server_time()
    buyable = [i for i in offered if i.period == period and now < i.expiration - i.deadtime]
    if not buyable:
        periods = ", ".join(str(p) for p in sorted({i.period for i in offered}))
        raise InvalidOrder(
            f"no {period} s digital option of active {active_id} can be bought now (periods: {periods})"
        )
    return min(buyable, key=lambda i: i.expiration)


def _quotes(found: DigitalInstrument, prices: DigitalClientPrices | None) -> list[StrikeQuote]:
    by_strike = {p.strike: p for p in prices.prices} if prices is not None else {}
    out: dict[str, StrikeQuote] = {}
    for entry in found.data:
        if entry.strike in out:
            continue
        sides = {d.direction: d.symbol for d in found.data if d.strike == entry.strike}
        price = by_strike.get(entry.strike)
        out[entry.strike] = StrikeQuote(
            label=entry.strike,
            strike=_strike_value(entry.strike),
            call_symbol=sides.get("call", ""),
            put_symbol=sides.get("put", ""),
            call_ask=price.call.ask if price else None,
            call_bid=price.call.bid if price else None,
            put_ask=price.put.ask if price else None,
            put_bid=price.put.bid if price else None,
        )
    return sorted(out.values(), key=lambda q: (q.strike is not None, q.strike or 0.0))


async def strikes(desk: Desk, active: str | int, period: int, *, timeout: float = 5.0) -> DigitalStrikes:
    """The strikes of the nearest ``period`` instrument with their current prices (one price push).

    Raises:
        UnknownAsset, MarketClosed, InvalidOrder: as :func:`instrument`.
        RequestTimeout: no price arrived within ``timeout`` seconds.
    """
    spec = actives.resolve(active, await desk.actives())
    found = await instrument(desk, spec.id, period)
    filters = {"asset_id": spec.id, "instrument_index": found.index, "instrument_type": INSTRUMENT_TYPE}
    async with desk.client.subscribe(
        catalog.DIGITAL_CLIENT_PRICES, filters, name=f"strikes {spec.id}"
    ) as feed:
        try:
            prices = await asyncio.wait_for(anext(aiter(feed)), timeout)
        except TimeoutError:
            raise RequestTimeout(
                f"no digital prices of active {spec.id} arrived within {timeout:g}s"
            ) from None
    quoted = prices.quote_time / 1000 if prices.quote_time > 100_000_000_000 else float(prices.quote_time)
    return DigitalStrikes(
        spec.id,
        found.period,
        found.expiration,
        found.index,
        found.deadtime,
        _quotes(found, prices),
        quote_time=quoted,
    )


class DigitalOrders:
    """Follows ``order-changed`` of digital options and tells each order's end (filled or rejected)."""

    def __init__(self, desk: Desk) -> None:
        self._ends: dict[int, Order] = {}
        self._waiters: dict[int, list[asyncio.Future[Order]]] = defaultdict(list)
        self._follower = Follower(
            lambda: desk.client.orders_changed(INSTRUMENT_TYPE), self.apply, "digital-orders"
        )

    async def start(self) -> None:
        """Subscribe (once) before the first order is sent, so no end is missed."""
        await self._follower.start()

    async def stop(self) -> None:
        """Stop following orders."""
        await self._follower.stop()

    def apply(self, order: Order) -> None:
        """Take an order event; a terminal one resolves its waiters."""
        if not order.is_terminal or order.id is None:
            return
        order_id = int(order.id)
        self._ends[order_id] = order
        for waiter in self._waiters.pop(order_id, []):
            if not waiter.done():
                waiter.set_result(order)

    def end(self, order_id: int) -> asyncio.Future[Order]:
        """A future resolved with the order's terminal event (at once if it came already)."""
        future: asyncio.Future[Order] = asyncio.get_running_loop().create_future()
        if order_id in self._ends:
            future.set_result(self._ends[order_id])
        else:
            self._waiters[order_id].append(future)
        return future


def _order_ids(position: Position) -> list[int]:
    raw = position.raw_event or {}
    inner = raw.get("digital_options_position_changed1")
    ids = (inner or {}).get("order_ids") if isinstance(inner, dict) else None
    ids = ids if ids is not None else raw.get("order_ids", [])
    return [int(i) for i in ids if isinstance(i, int | str) and str(i).isdigit()]


def _position_of(desk: Desk, order_id: int) -> Position | None:
    portfolio = desk.portfolio
    for position in [*portfolio.open.values(), *portfolio.closed.values()]:
        if order_id in _order_ids(position):
            return position
    return None


async def _filled(desk: Desk, orders: DigitalOrders, order_id: int, amount: float) -> Position:
    """Wait for an order's position; raise when it was rejected.

    The fill is learned from the ``position-changed`` push (its ``raw_event`` names the
    order); when pushes go missing (a reconnect), the open positions are read about
    once a second instead.

    Raises:
        OrderRejected: the order was rejected or canceled.
        TradeStateUnknown: neither a fill nor a rejection was learned in time.
    """
    client = desk.client
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECONNECT_WAIT
    next_lookup = loop.time() + 1.0
    end = orders.end(order_id)
    try:
        while True:
            found = _position_of(desk, order_id)
            if found is not None:
                return found
            if end.done() and end.result().status in ("rejected", "canceled"):
                raise OrderRejected(
                    f"the server accepted digital order {order_id} ({amount:g}) and then "
                    f"{end.result().status} it (insufficient funds, or the strike closed): nothing was placed",
                    order_id=order_id,
                )
            if end.done():
                await asyncio.sleep(0.2)  # filled, its position not seen yet
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(end), timeout=0.2)
            if loop.time() >= next_lookup and client.is_connected:
                next_lookup = loop.time() + 1.0
                with contextlib.suppress(ConnectionLost, RequestTimeout):
                    for position in await client.get_positions(instrument_types=[INSTRUMENT_TYPE]):
                        desk.portfolio.apply(position)
            if loop.time() >= deadline:
                raise TradeStateUnknown(
                    f"digital order {order_id} was accepted but neither its fill nor its rejection arrived; "
                    "check the open positions",
                    [],
                )
    finally:
        if not end.done():
            end.cancel()


async def buy(
    desk: Desk,
    orders: DigitalOrders,
    active: str | int,
    direction: str | Direction,
    amount: float,
    *,
    period: int = 60,
    strike: Literal["spot"] | float = "spot",
    balance: BalanceType | int = BalanceType.DEMO,
) -> Trade:
    """Place a digital option (see :meth:`Trader.buy_digital`)."""
    if strike != "spot" and (not isinstance(strike, int | float) or not math.isfinite(strike) or strike <= 0):
        raise InvalidOrder(f"strike must be 'spot' or a positive price, not {strike!r}")
    direction, target = await desk.open_checks(direction, amount, balance, "open a digital option")
    spec = actives.resolve(active, await desk.actives())
    client = desk.client
    if not spec.is_open_at(client.server_time()):
        raise MarketClosed(f"{actives.label(spec)} is closed for trading now")
    found = await instrument(desk, spec.id, period)
    symbol = _symbol(found, direction.value, strike)
    desk.check_stake(spec, amount, target)
    if client.server_time() >= found.expiration - found.deadtime:
        raise InvalidOrder(f"purchase time is over for {symbol} (deadtime {found.deadtime} s)")
    await desk.portfolio.start()
    await desk.portfolio.follow(INSTRUMENT_TYPE)
    await orders.start()
    body = PlaceDigitalOptionBody(
        user_balance_id=target.id,
        instrument_id=symbol,
        amount=f"{amount:g}",
        asset_id=spec.id,
        instrument_index=found.index,
    )
    sent_at = client.server_time()
    placed = await send_once(client, catalog.PLACE_DIGITAL_OPTION, body)
    if placed is LOST:
        what = "place-digital-option"
        positions = await read_positions(
            client, balance_id=target.id, instrument_types=[INSTRUMENT_TYPE], what=what
        )
        position = find_placed(
            positions, desk.portfolio, lambda p: _matches(p, body, amount, sent_at), what=what
        )
        return _trade(desk, position, target, found, strike, order_id=None, reconciled=True)
    position = await _filled(desk, orders, placed.id, amount)
    assert position.option_id is not None
    desk.portfolio.claim(position.option_id)
    return _trade(desk, position, target, found, strike, order_id=placed.id)


def _symbol(found: DigitalInstrument, direction: str, strike: Literal["spot"] | float) -> str:
    sides = [d for d in found.data if d.direction == direction]
    if strike == "spot":
        chosen = next((d for d in sides if d.strike == SPOT), None)
    else:
        chosen = next(
            (d for d in sides if d.strike != SPOT and math.isclose(float(d.strike), strike, rel_tol=1e-9)),
            None,
        )
    if chosen is None:
        offered = ", ".join(d.strike for d in sides)
        raise InvalidOrder(f"strike {strike!r} is not offered for this expiry (strikes: {offered})")
    return chosen.symbol


def _matches(position: Position, body: PlaceDigitalOptionBody, amount: float, sent_at: float) -> bool:
    if position.instrument_id is not None and position.instrument_id != body.instrument_id:
        return False
    if position.amount is None or abs(position.amount - amount) > 1e-9:
        return False
    if position.user_balance_id is not None and position.user_balance_id != body.user_balance_id:
        return False
    return opened_near(position, sent_at)


def _trade(
    desk: Desk,
    position: Position,
    balance: Balance,
    found: DigitalInstrument,
    strike: Literal["spot"] | float,
    *,
    order_id: int | None,
    reconciled: bool = False,
) -> Trade:
    assert position.option_id is not None
    amount = position.amount or 0.0
    expected = position.expected_profit
    raw = position.raw_event or {}
    strike_value = raw.get("instrument_strike_value")
    return Trade(
        id=position.option_id,
        active_id=position.active_id or found.asset_id,
        direction=position.direction or "",
        amount=amount,
        balance_id=balance.id,
        balance_type=balance.type,
        open_price=position.open_quote or 0.0,
        created=int(position.open_time_s or desk.client.server_time()),
        expires=int(position.expiration_time_s or found.expiration),
        expiration=found.period,
        payout=round(expected / amount * 100, 2) if expected is not None and amount else 0.0,
        wait_outcome=desk.outcome,
        reconciled=reconciled,
        product="digital",
        instrument_type=INSTRUMENT_TYPE,
        instrument_id=position.instrument_id,
        strike=strike_value / 1_000_000
        if isinstance(strike_value, int | float)
        else (None if strike == "spot" else strike),
        order_id=order_id,
        position_ref=position.id,
        deadtime=found.deadtime,
        sell=functools.partial(close, desk),
    )


async def close(desk: Desk, trade: Trade) -> TradeResult:
    """Close a digital position before expiry at its strike's bid (see :meth:`Trade.close`).

    Raises:
        RealMoneyLocked, InvalidOrder: nothing was sent (closed already, too late).
        ServerError: the server refused the close.
        TradeNotPlaced: the answer was lost and the position is still open.
    """
    await exit_checks(desk, trade, "close a digital option")
    deadline = trade.expires - trade.deadtime
    if trade.deadtime and desk.client.server_time() >= deadline:
        raise InvalidOrder(f"close time is over: position {trade.id} could be closed until {deadline}")
    ref = trade.position_ref if trade.position_ref is not None else trade.id
    body = ClosePositionBody(position_id=ref)
    return await exit_once(desk, trade, catalog.CLOSE_DIGITAL_POSITION, body, "close-position")
