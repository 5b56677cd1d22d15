"""Margin orders and positions across reconnects: nothing lost, re-synchronised from the server."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from margin_helpers import EURUSD_OTC, advance_until, quote_now, quotes_ahead

from iqwire.client import Client
from iqwire.sim import Simulator
from iqwire.trading import Trader

STEP = Decimal("0.0002")


async def test_a_fill_and_a_take_profit_while_disconnected_are_not_lost(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    ask = quote_now(sim).ask
    ahead = quotes_ahead(sim, EURUSD_OTC, 3600)
    low = next(q.ask for q in ahead if q.ask <= ask - STEP)
    order = await trader.place_order("EURUSD-OTC", "buy", 1_000, type="limit", price=low, leverage=100)
    waiter = asyncio.create_task(order.filled(30))

    await sim.drop_connections()
    await advance_until(sim, lambda: bool(sim.positions()) or waiter.done(), 3600, step=5)

    position = await asyncio.wait_for(waiter, 10)
    assert position.order_id == order.id and not position.is_closed
    reconnects = client.reconnects
    assert reconnects >= 1

    bid = quote_now(sim).bid
    high = next(q.bid for q in quotes_ahead(sim, EURUSD_OTC, 3600) if q.bid >= bid + STEP)
    await position.modify(take_profit=high)
    closing = asyncio.create_task(position.closed(30))
    await sim.drop_connections()
    await advance_until(sim, lambda: closing.done(), 3600, step=5)

    closed = await closing
    assert closed.close_reason == "take_profit" and client.reconnects > reconnects
    assert trader.margin_positions() == []
