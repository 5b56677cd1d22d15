"""Shared steps of the option tests: pick a direction from the deterministic model, settle, find a refund."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from iqwire.models import Outcome
from iqwire.sim import ManualClock, Simulator
from iqwire.trading import Trade, TradeResult


def direction_for(sim: Simulator, active_id: int, opens: float, expires: float, want: Outcome) -> str:
    """The direction that gives ``want`` for an option open at ``opens`` and settled at ``expires``."""
    opened = sim.engine.model.tick(active_id, int(opens))
    closed = sim.engine.model.tick(active_id, int(expires))
    assert opened is not None and closed is not None and opened != closed
    up = closed > opened
    if want is Outcome.WIN:
        return "call" if up else "put"
    return "put" if up else "call"


async def settle(sim: Simulator, trade: Trade, extra: float = 2) -> TradeResult:
    """Advance the simulator past the trade's expiry and return its outcome."""
    waiter = asyncio.create_task(trade.outcome())
    await sim.advance(max(0.0, trade.expires - sim.now()) + extra)
    return await asyncio.wait_for(waiter, 10)


async def advance_until(
    sim: Simulator, task: asyncio.Task[object], step: float = 0.25, limit: int = 80
) -> None:
    """Move simulated time on in small steps until ``task`` is done (pushes need steps)."""
    for _ in range(limit):
        if task.done():
            return
        await sim.advance(step)
        await asyncio.sleep(0.01)


def refund_start(active_id: int, start: int, expiry_of: Callable[[int], int], span: int = 200_000) -> int:
    """A second from which an option bought then settles at an unchanged price (a refund)."""
    probe = Simulator(seed=7, clock=ManualClock(0)).engine.model
    for t in range(start, start + span):
        opened = probe.tick(active_id, t)
        if opened is not None and opened == probe.tick(active_id, expiry_of(t)):
            return t
    raise AssertionError("no refund found in the span searched")
