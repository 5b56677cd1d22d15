"""What the margin trading tests share: the simulator's margin book, its future quotes, its ledger.

The price model is a pure function of time, so a test that needs the market at a
level reads the quotes ahead first and then moves the manual clock until it is there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

from iqwire.sim import Simulator
from iqwire.sim.margin import Margin
from iqwire.sim.margin_instruments import MarginQuote, quote_of

EURUSD_OTC = 76


def margin_product(sim: Simulator) -> Margin:
    """The simulator's margin product (its book and accounts)."""
    return next(p for p in sim.engine.products if isinstance(p, Margin))


def quotes_ahead(sim: Simulator, active_id: int, seconds: int) -> list[MarginQuote]:
    """The quotes of the next ``seconds`` whole seconds."""
    spec = sim.engine.state.model.spec(active_id)
    start = int(sim.now())
    out = []
    for t in range(start + 1, start + seconds + 1):
        quote = quote_of(spec, sim.engine.state.price_at(active_id, t), t)
        assert quote is not None
        out.append(quote)
    return out


def quote_now(sim: Simulator, active_id: int = EURUSD_OTC) -> MarginQuote:
    """The quote the simulator fills at now."""
    quote = margin_product(sim).quote(active_id, sim.now())
    assert quote is not None
    return quote


def ledger_cash(sim: Simulator, balance_id: int) -> Decimal:
    """The margin account's cash, after checking that the ledger sums to it and billing agrees."""
    account = margin_product(sim).book.accounts[balance_id]
    assert sum((amount for _, amount in account.entries), Decimal(0)) == account.cash
    balance = account.user.balance(balance_id)
    assert balance is not None and Decimal(str(balance.amount)) == account.cash
    return account.cash


async def advance_until(sim: Simulator, done: Callable[[], bool], limit: float, step: float = 1.0) -> None:
    """Move the clock ``step`` seconds at a time until ``done()`` (at most ``limit`` seconds)."""
    waited = 0.0
    while not done():
        assert waited < limit, "the market never got there"
        await sim.advance(step)
        await asyncio.sleep(0.01)
        waited += step
