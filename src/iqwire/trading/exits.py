"""Early exit: sell a turbo/binary option or close a digital position before expiry, at most once.

The request (``binary-options.sell-options`` 3.0 or ``digital-options.close-position``
1.0) is sent by :func:`~iqwire.trading.reconcile.send_once`. When its answer is lost,
nothing is re-sent: the position is looked up once the connection is back — closed
(sold, or expired meanwhile) gives its result, still open proves the sale was not
executed (:class:`~iqwire.errors.TradeNotPlaced`). After a successful sale the
close arrives as a ``position-changed`` push, else from history.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from iqwire.errors import ConnectionLost, InvalidOrder, OutcomeUnknown, RequestTimeout, TradeNotPlaced
from iqwire.models import Position
from iqwire.protocol.catalog import RpcSpec
from iqwire.trading.desk import Desk
from iqwire.trading.reconcile import LOST, RECONNECT_WAIT, send_once
from iqwire.trading.trade import Trade, TradeResult

__all__ = ["exit_checks", "exit_once"]

log = logging.getLogger("iqwire.trading")


async def exit_checks(desk: Desk, trade: Trade, action: str) -> None:
    """What every sale or close checks first: the real-money lock, then that the trade is still open.

    Raises:
        RealMoneyLocked: a REAL balance without the opt-in. InvalidOrder: the trade has closed.
    """
    await desk.client.lock.check(action, trade.balance_id)
    if trade.result is not None or trade.id in desk.portfolio.closed:
        raise InvalidOrder(f"trade {trade.id} is already closed; there is nothing to sell")


async def exit_once(desk: Desk, trade: Trade, spec: RpcSpec[Any, Any], body: Any, what: str) -> TradeResult:
    """Send the sale/close once and return the trade's result (its close position).

    Raises:
        ServerError: the server refused the sale (nothing was sold).
        TradeNotPlaced: the answer was lost and the position is still open: not sold.
        OutcomeUnknown: the position's state could not be read in time.
    """
    await desk.portfolio.start()
    reply = await send_once(desk.client, spec, body)
    if reply is LOST:
        position = await _read_after_loss(desk, trade, what)
        if not position.is_closed:
            raise TradeNotPlaced(
                f"the connection dropped after sending {what} for {trade.id} and the position is "
                "still open: it was not sold"
            )
        log.info(
            "reconciled the lost %s of %s: the position closed (%s)", what, trade.id, position.close_reason
        )
        desk.portfolio.apply(position)
        return trade.settled(TradeResult.from_position(position))
    return trade.settled(TradeResult.from_position(await _closed(desk, trade)))


async def _closed(desk: Desk, trade: Trade) -> Position:
    """The closed position after an accepted sale: from the push, else from history."""
    client = desk.client
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECONNECT_WAIT
    future = desk.portfolio.wait_closed(trade.id)
    try:
        while True:
            try:
                return await asyncio.wait_for(asyncio.shield(future), timeout=1.0)
            except TimeoutError:
                if client.is_connected:
                    found = await desk.portfolio.fetch_closed(trade.id)
                    if found is not None:
                        return found
                if loop.time() >= deadline:
                    raise OutcomeUnknown(
                        f"trade {trade.id} was sold but its close did not arrive; check the history later",
                        position=desk.portfolio.open.get(trade.id),
                    ) from None
    finally:
        if not future.done():
            future.cancel()


async def _read_after_loss(desk: Desk, trade: Trade, what: str) -> Position:
    """The position as the server has it now, once the connection is back."""
    client = desk.client
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECONNECT_WAIT
    while True:
        try:
            await client.wait_connected(max(0.0, deadline - loop.time()))
            closed = await desk.portfolio.fetch_closed(trade.id)
            if closed is not None:
                return closed
            for position in await client.get_positions(instrument_types=[trade.instrument_type]):
                if position.option_id == trade.id:
                    return position
            if trade.id in desk.portfolio.closed:
                return desk.portfolio.closed[trade.id]
        except (ConnectionLost, RequestTimeout) as exc:
            log.info("lookup after a lost %s failed (%s); retrying", what, exc)
        if loop.time() >= deadline:
            raise OutcomeUnknown(
                f"the answer to {what} for {trade.id} was lost and the position could not be read; "
                "check the open positions",
                position=desk.portfolio.open.get(trade.id),
            )
        await asyncio.sleep(0.05)
