"""Placing blitz options: validate, price, send once, reconcile when the answer is lost.

This is the most careful path of the library. ``open-option`` is sent at most
once per attempt, and a new attempt is made only after the server refused the
previous one outright (4117, payout changed). When the connection drops (or the
answer times out) after sending, the trade may or may not exist: the client
reconnects and looks for it among the open positions and the recent history,
matching active, direction, amount, expiry and creation time.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING

from iqwire.errors import (
    ConnectionLost,
    InsufficientBalance,
    InvalidOrder,
    MarketClosed,
    OutcomeUnknown,
    PayoutChanged,
    RealMoneyLocked,
    RequestTimeout,
    TradeNotPlaced,
    TradeStateUnknown,
)
from iqwire.models import (
    BLITZ_OPTION_TYPE_ID,
    Balance,
    BalanceType,
    Direction,
    InitActive,
    OpenOptionRequest,
    Option,
    Position,
    price_to_value,
)
from iqwire.trading.trade import Trade, TradeResult

if TYPE_CHECKING:
    from iqwire.client.client import Client

__all__ = ["blitz_expiry", "buy_blitz", "resolve_active", "wait_outcome"]

log = logging.getLogger("iqwire.trading")

#: How far (seconds) a reconciled position's open time may be from the send time.
RECONCILE_WINDOW = 10.0
#: How long to wait for the connection to come back before reconciling.
RECONNECT_WAIT = 30.0
#: Connection states that will not come back by themselves.
_GONE = frozenset({"closed", "auth_failed", "disconnected"})


def blitz_expiry(server_time: float, expiration: int) -> int:
    """The ``expired`` of a blitz option: ``floor(server time) + expiration``.

    >>> blitz_expiry(1770899394.7, 30)
    1770899424
    """
    return math.floor(server_time) + expiration


def resolve_active(client: Client, active: str | int) -> InitActive:
    """Find an active of the blitz group by id, ticker or name (case-insensitive).

    Raises:
        InvalidOrder: no such active.
    """
    init = client.cached_initialization_data
    if init is None:
        raise InvalidOrder("initialization data not loaded")
    actives = init.blitz.all()
    if isinstance(active, int) or (isinstance(active, str) and active.isdigit()):
        wanted_id = int(active)
        for candidate in actives:
            if candidate.id == wanted_id:
                return candidate
        raise InvalidOrder(f"unknown active id {wanted_id}: it is not offered for blitz options")
    wanted = active.strip().upper()
    for candidate in actives:
        names = {candidate.name.upper(), candidate.name.upper().removeprefix("FRONT.")}
        if candidate.ticker:
            names.add(candidate.ticker.upper())
        if wanted in names:
            return candidate
    raise InvalidOrder(f"unknown active {active!r}: it is not offered for blitz options")


async def _balance(client: Client, balance: BalanceType | int) -> Balance:
    balances = await client.get_balances()
    for candidate in balances:
        if (isinstance(balance, BalanceType) and candidate.type == balance) or (
            not isinstance(balance, BalanceType) and candidate.id == balance
        ):
            return candidate
    raise InvalidOrder(f"no balance {balance!r} on this account")


async def _current_price(client: Client, active_id: int) -> float:
    latest = client.latest_price(active_id)
    if latest is not None:
        return latest
    candles = await client.get_candles(active_id, 1, count=1)
    if not candles:
        raise MarketClosed(f"active {active_id} has no recent price; it is probably closed")
    return candles[-1].close


async def buy_blitz(
    client: Client,
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
    """Place a blitz option and return the live :class:`Trade` (see ``Client.buy_blitz``)."""
    direction = Direction(direction.lower() if isinstance(direction, str) else direction)
    if not math.isfinite(amount) or amount <= 0:
        raise InvalidOrder(f"amount must be a positive number, not {amount!r}")
    target = await _balance(client, balance)
    if target.type == BalanceType.REAL and not client.allow_real_money:
        raise RealMoneyLocked(
            "refusing to trade on a REAL balance: create the client with allow_real_money=True to trade real money"
        )
    await client.get_initialization_data(refresh=client.cached_initialization_data is None)
    spec = resolve_active(client, active)
    if expiration not in spec.option.expiration_times:
        offered = ", ".join(str(e) for e in spec.option.expiration_times)
        raise InvalidOrder(
            f"expiration {expiration}s is not offered for {spec.ticker or spec.id} (offered: {offered})"
        )
    low = spec.minimal_bet if spec.minimal_bet is not None else 1.0
    high = spec.maximal_bet if spec.maximal_bet is not None else 20_000.0
    if not low <= amount <= high:
        raise InvalidOrder(f"amount {amount:g} is outside the limits {low:g} .. {high:g}")
    if amount > target.amount:
        raise InsufficientBalance(
            f"amount {amount:g} is more than the balance {target.amount:.2f} {target.currency or ''}"
        )
    attempts = 1 + (max_requotes if max_requotes is not None else (1 if requote else 0))
    await client.portfolio.start()
    for attempt in range(attempts):
        commission = client.commission(spec.id)
        payout = 100 - commission
        if min_payout is not None and payout < min_payout:
            raise PayoutChanged(spec.id, commission)
        now = client.server_time()
        if not spec.is_open_at(now) or not spec.is_open_at(now + expiration):
            raise MarketClosed(f"{spec.ticker or spec.id} is closed for trading now")
        price = await _current_price(client, spec.id)
        body = OpenOptionRequest(
            user_balance_id=target.id,
            active_id=spec.id,
            option_type_id=BLITZ_OPTION_TYPE_ID,
            direction=direction.value,
            expired=blitz_expiry(now, expiration),
            price=amount,
            profit_percent=payout,
            expiration_size=expiration,
            value=price_to_value(price),
            refund_value=0,
        )
        try:
            option = await _send_once(client, body)
        except PayoutChanged as exc:
            client.set_commission(spec.id, exc.commission)
            if attempt + 1 >= attempts:
                raise
            log.info("payout of %s changed to %.0f%%; re-quoting", spec.id, 100 - exc.commission)
            continue
        except (ConnectionLost, RequestTimeout) as exc:
            log.warning("open-option for %s: %s; reconciling", spec.id, exc)
            return await _reconcile(client, body, target, sent_at=now, payout=payout)
        return _trade(client, option, target, payout, expiration)
    raise AssertionError("unreachable: the loop returns or raises")


async def _send_once(client: Client, body: OpenOptionRequest) -> Option:
    option = await client.request("binary-options.open-option", "2.0", body)
    if not isinstance(option, Option):
        from iqwire.errors import ProtocolError

        raise ProtocolError("open-option reply is not an option")
    return option


def _trade(client: Client, option: Option, balance: Balance, payout: float, expiration: int) -> Trade:
    client.portfolio.claimed.add(option.id)
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
        wait_outcome=lambda trade, grace: wait_outcome(client, trade, grace),
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
    opened = position.open_time
    if opened is not None:
        opened_s = opened / 1000 if opened > 1e11 else opened
        if not sent_at - RECONCILE_WINDOW <= opened_s <= sent_at + RECONCILE_WINDOW:
            return False
    return True


async def _lookup_positions(client: Client, body: OpenOptionRequest) -> tuple[list[Position], list[Position]]:
    """Open positions and recent history, retried across further losses for up to RECONNECT_WAIT."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECONNECT_WAIT
    while True:
        try:
            await client.wait_connected(max(0.0, deadline - loop.time()))
            open_now = await client.get_positions(body.user_balance_id, instrument_types=["blitz-option"])
            recent = await client.get_history_positions(
                body.user_balance_id, instrument_types=["blitz-option"], limit=100
            )
            return open_now, recent
        except (ConnectionLost, RequestTimeout) as exc:
            if loop.time() >= deadline or client.state.value in _GONE:
                raise TradeStateUnknown(
                    f"the answer to open-option was lost and the positions could not be read ({exc}); "
                    "the trade may or may not exist: check the open positions",
                    [],
                ) from exc
            log.info("reconciliation lookup failed (%s); retrying", exc)
            await asyncio.sleep(0.05)


async def _reconcile(
    client: Client, body: OpenOptionRequest, balance: Balance, *, sent_at: float, payout: float
) -> Trade:
    open_now, recent = await _lookup_positions(client, body)
    seen: dict[int, Position] = {}
    for position in open_now + recent:
        option_id = position.option_id
        if (
            option_id is not None
            and option_id not in client.portfolio.claimed
            and _matches(position, body, sent_at)
        ):
            seen.setdefault(option_id, position)
    candidates = list(seen.values())
    if not candidates:
        raise TradeNotPlaced(
            "the connection dropped after sending open-option and no matching position exists: the trade was not placed"
        )
    if len(candidates) > 1:
        raise TradeStateUnknown(
            f"{len(candidates)} positions match the lost open-option; cannot tell which is this trade",
            candidates,
        )
    position = candidates[0]
    option_id = position.option_id
    assert option_id is not None
    client.portfolio.claimed.add(option_id)
    client.portfolio.apply(position)
    expires = position.expiration_time or (body.expired or 0)
    log.info("reconciled the lost open-option: it was placed as option %s", option_id)
    return Trade(
        id=option_id,
        active_id=body.active_id,
        direction=body.direction,
        amount=body.price,
        balance_id=balance.id,
        balance_type=balance.type,
        open_price=position.open_quote if position.open_quote is not None else 0.0,
        created=int(position.open_time or sent_at),
        expires=int(expires),
        expiration=body.expiration_size or 0,
        payout=payout,
        wait_outcome=lambda trade, grace: wait_outcome(client, trade, grace),
        reconciled=True,
    )


async def wait_outcome(client: Client, trade: Trade, grace: float | None) -> TradeResult:
    """Wait for a trade's close push; fall back to history; give up after expiry + grace."""
    grace = client.outcome_grace if grace is None else grace
    future = client.portfolio.wait_closed(trade.id)
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
                    found = await _from_history(client, trade)
                    if found is not None:
                        return TradeResult.from_position(found)
                continue
            return TradeResult.from_position(position)
        found = await _from_history(client, trade)
        if found is not None:
            return TradeResult.from_position(found)
    finally:
        if not future.done():
            future.cancel()
    raise OutcomeUnknown(
        f"trade {trade.id} expired at {trade.expires} but no close arrived within {grace:.0f}s; "
        "check portfolio.get-history-positions later",
        position=client.portfolio.open.get(trade.id),
    )


async def _from_history(client: Client, trade: Trade) -> Position | None:
    if trade.id in client.portfolio.closed:
        return client.portfolio.closed[trade.id]
    try:
        return await client.portfolio.fetch_closed(trade.id)
    except (ConnectionLost, RequestTimeout):
        return None
