"""Turbo and binary options: expiries on the server's grid, a purchase deadline, early sale.

Both are ``binary-options.open-option`` 2.0 (``option_type_id`` 3 turbo, 1 binary),
with an absolute ``expired`` that must lie on the grid the initialization data
describes (wire-facts §3): for each size in ``option.expiration_times``, ``option.count``
multiples of it, starting at the first one still buyable (more than ``deadtime``
seconds away); binary adds its enabled ``option.special`` expiries. Purchase ends
``deadtime`` seconds before the expiry, sale ``buyback_deadtime`` seconds before.

Every check is made before anything is sent; the open is sent at most once
(:func:`~iqwire.trading.reconcile.send_once`) and a lost answer is reconciled
against the positions, exactly as for blitz; the sale likewise
(:func:`~iqwire.trading.exits.exit_once`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime

from iqwire import actives
from iqwire.errors import InvalidOrder, MarketClosed, PayoutChanged
from iqwire.models import (
    BINARY_OPTION_TYPE_ID,
    TURBO_OPTION_TYPE_ID,
    Balance,
    BalanceType,
    Direction,
    InitActive,
    OpenOptionRequest,
    Option,
    Position,
)
from iqwire.models.binary import SellOptionsBody
from iqwire.protocol import catalog
from iqwire.trading.desk import Desk
from iqwire.trading.exits import exit_checks, exit_once
from iqwire.trading.reconcile import LOST, find_placed, opened_near, read_positions, send_once
from iqwire.trading.trade import Trade, TradeResult

__all__ = ["BINARY", "TURBO", "FixedKind", "buy", "expiries", "grid", "sell", "turbo_expiry"]


@dataclass(frozen=True)
class FixedKind:
    """Turbo or binary: its initialization-data group, ``option_type_id`` and instrument type."""

    product: str
    option_type_id: int
    instrument_type: str


TURBO = FixedKind("turbo", TURBO_OPTION_TYPE_ID, "turbo-option")
BINARY = FixedKind("binary", BINARY_OPTION_TYPE_ID, "binary-option")
KINDS = {kind.product: kind for kind in (TURBO, BINARY)}


def grid(sizes: tuple[int, ...] | list[int], count: int, deadtime: int, now: float) -> list[int]:
    """The expiries on offer at ``now``: ``count`` multiples of each size from the first buyable one.

    >>> grid((60,), 3, 30, 1_770_899_100.0)
    [1770899160, 1770899220, 1770899280]
    >>> grid((60,), 2, 30, 1_770_899_131.0)       # 12:25:31: the 12:26 option is closed
    [1770899220, 1770899280]
    """
    out: set[int] = set()
    for size in sizes:
        first = (math.floor(now) // size + 1) * size
        while first - deadtime <= now:
            first += size
        out.update(first + k * size for k in range(max(count, 1)))
    return sorted(out)


def expiries(active: InitActive, kind: FixedKind, now: float) -> list[int]:
    """The expiries of an active that can be bought at ``now`` (binary's special ones included)."""
    option = active.option
    deadtime = active.deadtime or 0
    offered = grid(option.expiration_times, option.count or 1, deadtime, now)
    if kind is BINARY and option.special:
        for stamp, special in option.special.items():
            enabled = (
                special.get("enabled") if isinstance(special, dict) else getattr(special, "enabled", False)
            )
            if enabled and str(stamp).isdigit() and int(stamp) - deadtime > now:
                offered.append(int(stamp))
    return sorted(set(offered))


def turbo_expiry(active: InitActive, now: float, expiration: int) -> int:
    """The turbo expiry ``expiration`` seconds of grid away: 60 is the first buyable minute, 120 the next.

    Raises:
        InvalidOrder: ``expiration`` is not one of the offered durations.
    """
    step = min(active.option.expiration_times or [60])
    offered = grid(active.option.expiration_times, active.option.count or 1, active.deadtime or 0, now)
    durations = [step * (k + 1) for k in range(len(offered))]
    if expiration not in durations:
        raise InvalidOrder(
            f"expiration {expiration}s is not offered for turbo options of {actives.label(active)} "
            f"(offered: {', '.join(str(d) for d in durations)}; 60 is the nearest buyable minute)"
        )
    return offered[durations.index(expiration)]


def _when(expires_at: int | float | datetime) -> int:
    return int(expires_at.timestamp()) if isinstance(expires_at, datetime) else int(expires_at)


async def buy(
    desk: Desk,
    kind: FixedKind,
    active: str | int,
    direction: str | Direction,
    amount: float,
    *,
    expiration: int | None = None,
    expires_at: int | float | datetime | None = None,
    balance: BalanceType | int = BalanceType.DEMO,
) -> Trade:
    """Place a turbo or binary option (see :meth:`Trader.buy_turbo` / :meth:`Trader.buy_binary`)."""
    direction, target = await desk.open_checks(direction, amount, balance, f"open a {kind.product} option")
    spec = actives.resolve(active, await desk.actives(), groups=(kind.product,))
    client = desk.client
    now = client.server_time()
    if expires_at is not None:
        expiry = _when(expires_at)
    else:
        expiry = turbo_expiry(spec, now, expiration if expiration is not None else 60)
    deadtime = spec.deadtime or 0
    if now >= expiry - deadtime:
        raise InvalidOrder(
            f"purchase time is over: options expiring at {expiry} could be bought until "
            f"{expiry - deadtime} (deadtime {deadtime} s)"
        )
    offered = expiries(spec, kind, now)
    if expiry not in offered:
        shown = ", ".join(str(e) for e in offered[:8])
        raise InvalidOrder(
            f"{expiry} is not a {kind.product} expiry of {actives.label(spec)} now (offered: {shown})"
        )
    desk.check_stake(spec, amount, target)
    if not spec.is_open_at(now) or not spec.is_open_at(expiry):
        raise MarketClosed(f"{actives.label(spec)} is closed for {kind.product} options now")
    await desk.portfolio.start()
    await desk.portfolio.follow(kind.instrument_type)
    payout = desk.payouts.payout(spec.id, kind.product)
    body = OpenOptionRequest(
        user_balance_id=target.id,
        active_id=spec.id,
        option_type_id=kind.option_type_id,
        direction=direction.value,
        expired=expiry,
        price=amount,
        profit_percent=payout,
    )
    sent_at = client.server_time()
    try:
        option = await send_once(client, catalog.OPEN_OPTION, body)
    except PayoutChanged as exc:
        desk.payouts.set_commission(spec.id, exc.commission, kind.product)
        raise
    if option is LOST:
        return await _reconcile(desk, kind, body, target, sent_at=sent_at, payout=payout)
    return _trade(desk, kind, option, target, payout)


def _trade(desk: Desk, kind: FixedKind, option: Option, balance: Balance, payout: float) -> Trade:
    desk.portfolio.claim(option.id)
    created = option.opened_at if option.opened_at is not None else int(desk.client.server_time())
    return Trade(
        id=option.id,
        active_id=option.act,
        direction=option.direction,
        amount=option.price,
        balance_id=balance.id,
        balance_type=balance.type,
        open_price=option.value,
        created=created,
        expires=option.exp,
        expiration=option.exp - created,
        payout=payout,
        wait_outcome=desk.outcome,
        product=kind.product,
        instrument_type=kind.instrument_type,
        sell=functools.partial(sell, desk),
    )


def _matches(kind: FixedKind, position: Position, body: OpenOptionRequest, sent_at: float) -> bool:
    if position.instrument_type not in (None, kind.instrument_type):
        return False
    if position.active_id != body.active_id or position.direction != body.direction:
        return False
    if position.amount is None or abs(position.amount - body.price) > 1e-9:
        return False
    if position.user_balance_id is not None and position.user_balance_id != body.user_balance_id:
        return False
    expires = position.expiration_time_s
    if expires is not None and int(expires) != body.expired:
        return False
    return opened_near(position, sent_at)


async def _reconcile(
    desk: Desk, kind: FixedKind, body: OpenOptionRequest, balance: Balance, *, sent_at: float, payout: float
) -> Trade:
    what = f"open-option ({kind.product})"
    positions = await read_positions(
        desk.client, balance_id=body.user_balance_id, instrument_types=[kind.instrument_type], what=what
    )
    position = find_placed(positions, desk.portfolio, lambda p: _matches(kind, p, body, sent_at), what=what)
    assert position.option_id is not None
    created = int(position.open_time_s or sent_at)
    return Trade(
        id=position.option_id,
        active_id=body.active_id,
        direction=body.direction,
        amount=body.price,
        balance_id=balance.id,
        balance_type=balance.type,
        open_price=position.open_quote if position.open_quote is not None else 0.0,
        created=created,
        expires=body.expired,
        expiration=body.expired - created,
        payout=payout,
        wait_outcome=desk.outcome,
        reconciled=True,
        product=kind.product,
        instrument_type=kind.instrument_type,
        sell=functools.partial(sell, desk),
    )


async def sell(desk: Desk, trade: Trade) -> TradeResult:
    """Sell a turbo/binary option back before expiry (see :meth:`Trade.sell`).

    Raises:
        RealMoneyLocked, InvalidOrder: nothing was sent (closed already, too late, no buy-back).
        ServerError: the server refused the sale.
        TradeNotPlaced: the answer was lost and the option is still open.
    """
    await exit_checks(desk, trade, f"sell a {trade.product} option")
    spec = actives.resolve(trade.active_id, await desk.actives(), groups=(trade.product,))
    if spec.is_buyback is False:
        raise InvalidOrder(f"{actives.label(spec)} {trade.product} options cannot be sold back")
    deadline = trade.expires - (spec.buyback_deadtime or 0)
    if desk.client.server_time() >= deadline:
        raise InvalidOrder(
            f"sale time is over: option {trade.id} could be sold until {deadline} "
            f"(buyback deadtime {spec.buyback_deadtime or 0} s)"
        )
    body = SellOptionsBody(options_ids=[trade.id])
    return await exit_once(desk, trade, catalog.SELL_OPTIONS, body, "sell-options")
