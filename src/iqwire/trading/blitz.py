"""Blitz options: validate, price, send once, reconcile when the answer is lost.

This is the most careful path of the library. ``open-option`` is sent at most
once per attempt (:func:`~iqwire.trading.reconcile.send_once`), and a new
attempt is made only after the server refused the previous one outright (4117,
payout changed). When the connection drops (or the answer times out) after
sending, the trade may or may not exist: the desk waits for the reconnect and
looks for it among the open positions and the recent history, matching active,
direction, amount, expiry and creation time. REAL balances are refused by the
client's real-money lock, which every money request passes.
"""

from __future__ import annotations

import logging
import math

from iqwire import actives
from iqwire.errors import InvalidOrder, MarketClosed, PayoutChanged
from iqwire.models import (
    BLITZ_OPTION_TYPE_ID,
    Balance,
    BalanceType,
    Direction,
    OpenOptionRequest,
    Option,
    Position,
    price_to_value,
)
from iqwire.protocol import catalog
from iqwire.trading.desk import Desk
from iqwire.trading.reconcile import LOST, find_placed, opened_near, read_positions, send_once
from iqwire.trading.trade import Trade

__all__ = ["INSTRUMENT_TYPE", "blitz_expiry", "buy"]

log = logging.getLogger("iqwire.trading")

#: The ``instrument_type`` of blitz positions.
INSTRUMENT_TYPE = "blitz-option"
#: The initialization-data group of blitz actives (and the payout cache's product key).
PRODUCT = "blitz"


def blitz_expiry(server_time: float, expiration: int) -> int:
    """The ``expired`` of a blitz option: ``floor(server time) + expiration``.

    >>> blitz_expiry(1770899394.7, 30)
    1770899424
    """
    return math.floor(server_time) + expiration


async def buy(
    desk: Desk,
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
    """Place a blitz option and return the live :class:`Trade` (see :meth:`Trader.buy_blitz`)."""
    direction, target = await desk.open_checks(direction, amount, balance, "open a blitz option")
    spec = actives.resolve(active, await desk.actives(), groups=(PRODUCT,))
    if expiration not in spec.option.expiration_times:
        offered = ", ".join(str(e) for e in spec.option.expiration_times)
        raise InvalidOrder(
            f"expiration {expiration}s is not offered for {spec.ticker or spec.id} (offered: {offered})"
        )
    desk.check_stake(spec, amount, target)
    attempts = 1 + (max_requotes if max_requotes is not None else (1 if requote else 0))
    await desk.portfolio.start()
    await desk.portfolio.follow(INSTRUMENT_TYPE)
    client = desk.client
    for attempt in range(attempts):
        commission = desk.payouts.commission(spec.id, PRODUCT)
        payout = 100 - commission
        if min_payout is not None and payout < min_payout:
            raise PayoutChanged(spec.id, commission)
        now = client.server_time()
        if not spec.is_open_at(now) or not spec.is_open_at(now + expiration):
            raise MarketClosed(f"{spec.ticker or spec.id} is closed for trading now")
        price = await desk.price(spec.id)
        now = client.server_time()
        body = OpenOptionRequest(
            user_balance_id=target.id,
            active_id=spec.id,
            option_type_id=BLITZ_OPTION_TYPE_ID,
            direction=direction.value,
            # 0, as the official SDK sends: the server stamps its own time + expiration_size
            # on receipt, so a request that waited (a reconnect, a slow link) is not refused
            # for a stale expiry. The expiry is read from the reply (Option.exp).
            expired=0,
            price=amount,
            profit_percent=payout,
            expiration_size=expiration,
            value=price_to_value(price),
            refund_value=0,
        )
        try:
            option = await send_once(client, catalog.OPEN_OPTION, body)
        except PayoutChanged as exc:
            desk.payouts.set_commission(spec.id, exc.commission, PRODUCT)
            if attempt + 1 >= attempts:
                raise
            log.info("payout of %s changed to %.0f%%; re-quoting", spec.id, 100 - exc.commission)
            continue
        if option is LOST:
            return await _reconcile(desk, body, target, sent_at=now, payout=payout)
        return _trade(desk, option, target, payout, expiration)
    raise AssertionError("unreachable: the loop returns or raises")


def _trade(desk: Desk, option: Option, balance: Balance, payout: float, expiration: int) -> Trade:
    desk.portfolio.claim(option.id)
    return Trade(
        id=option.id,
        active_id=option.act,
        direction=option.direction,
        amount=option.price,
        balance_id=balance.id,
        balance_type=balance.type,
        open_price=option.value,
        created=option.opened_at if option.opened_at is not None else option.exp - expiration,
        expires=option.exp,
        expiration=expiration,
        payout=payout,
        wait_outcome=desk.outcome,
    )


def _matches(position: Position, body: OpenOptionRequest, sent_at: float) -> bool:
    if position.active_id != body.active_id or position.direction != body.direction:
        return False
    if position.amount is None or abs(position.amount - body.price) > 1e-9:
        return False
    if position.user_balance_id is not None and position.user_balance_id != body.user_balance_id:
        return False
    size = body.expiration_size or 0
    if position.expiration_size is not None and position.expiration_size != size:
        return False
    return opened_near(position, sent_at)


async def _reconcile(
    desk: Desk, body: OpenOptionRequest, balance: Balance, *, sent_at: float, payout: float
) -> Trade:
    positions = await read_positions(
        desk.client, balance_id=body.user_balance_id, instrument_types=[INSTRUMENT_TYPE], what="open-option"
    )
    position = find_placed(
        positions, desk.portfolio, lambda p: _matches(p, body, sent_at), what="open-option"
    )
    assert position.option_id is not None
    expires = position.expiration_time_s or blitz_expiry(sent_at, body.expiration_size or 0)
    return Trade(
        id=position.option_id,
        active_id=body.active_id,
        direction=body.direction,
        amount=body.price,
        balance_id=balance.id,
        balance_type=balance.type,
        open_price=position.open_quote if position.open_quote is not None else 0.0,
        created=int(position.open_time_s or sent_at),
        expires=int(expires),
        expiration=body.expiration_size or 0,
        payout=payout,
        wait_outcome=desk.outcome,
        reconciled=True,
    )
