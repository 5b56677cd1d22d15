"""Chaos: trades under disconnects, lost and ignored answers, reordered frames, silence, refusals.

The full run (1,000 trades, 200 disconnects) is ``make chaos``; this is its small seeded
sibling, plus the simulator fault it needs ("ignore the request entirely").
"""

from __future__ import annotations

import asyncio

import pytest
from run_chaos_options import run_chaos_options

from iqwire.client import Client
from iqwire.client.clock import ServerClock
from iqwire.errors import RequestTimeout, TradeNotPlaced
from iqwire.sim import Simulator
from iqwire.trading import Trader

OPEN = "binary-options.open-option"


async def test_a_small_chaos_run_loses_nothing_and_the_ledgers_agree() -> None:
    # 200 trades: the trading issue's proof (no double placement, nothing lost, ledgers equal
    # under random faults) and the reliability issue's CI-sized chaos run in one.
    result = await run_chaos_options(trades=200, disconnects=20, seed=20260212)
    report = f"{result.line()}\n{result.details()}"
    print(result.line())
    assert result.trades == 200
    assert result.disconnects == 20, report
    assert result.lost == 0, report
    assert result.doubled == 0, report
    assert result.phantom == 0, report
    assert result.outcomes_unknown == 0, report
    assert result.outcomes_known == result.placed, report
    assert result.ledger_match, report
    assert result.candle_holes == 0, report
    assert result.candles_backfilled > 0, report
    assert result.reconciled > 0 and result.not_placed > 0, report  # both reconciliation paths ran
    assert set(result.products) == {"blitz", "turbo", "binary", "digital"}, report
    assert result.seconds < 60, report


async def test_an_ignored_request_is_neither_executed_nor_answered(sim: Simulator, client: Client) -> None:
    before = sim.balances()[1].amount
    sim.ignore_requests("get-user-settings")
    with pytest.raises(RequestTimeout):
        await client.request("get-user-settings", "2.0", {}, timeout=0.3)
    # Only the armed count is ignored; other RPCs and the next call are served.
    assert await client.get_user_settings()
    await client.get_initialization_data()
    sim.ignore_requests(OPEN)
    with pytest.raises(TradeNotPlaced):
        await asyncio.wait_for(_buy_with_timeout(client, Trader(client)), 10)
    assert sim.positions() == []
    assert sim.balances()[1].amount == before
    assert sim.engine.faults.ignore_requests[OPEN] == 0


async def _buy_with_timeout(client: Client, trader: Trader) -> object:
    client.request_timeout = 0.3
    try:
        return await trader.buy_blitz(76, "call", 10, expiration=5)
    finally:
        client.request_timeout = 5.0


async def test_an_ignored_open_option_then_a_disconnect_is_not_placed(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    await trader.portfolio.start()
    sim.ignore_requests(OPEN)
    buying = asyncio.create_task(trader.buy_blitz(76, "put", 12, expiration=5))
    for _ in range(1000):  # until the server has taken (and ignored) the open-option
        if not sim.engine.faults.ignore_requests[OPEN]:
            break
        await asyncio.sleep(0.005)
    await sim.drop_connections()
    with pytest.raises(TradeNotPlaced):
        await asyncio.wait_for(buying, 10)
    assert sim.positions() == []


async def test_random_ignore_request_faults_are_drawn_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    from iqwire.sim import ManualClock, SimConfig

    async with Simulator(
        seed=3, clock=ManualClock(1_770_899_100), config=SimConfig(faults="ignore_request=0.5")
    ) as s:
        await s.advance(2)
    assert any(r.getMessage().startswith("fault ignore_request") for r in caplog.records)


def test_a_reordered_time_sync_does_not_hold_server_time_still() -> None:
    local = [100.0]
    clock = ServerClock(monotonic=lambda: local[0])
    clock.sync(1_770_899_102_000)
    local[0] += 0.5
    clock.sync(1_770_899_100_000)  # a frame delayed 2 s arrives late
    local[0] += 0.5
    assert clock.now() == pytest.approx(1_770_899_103.0)  # not frozen at 1_770_899_102.5
    assert clock.seconds_since_sync() == pytest.approx(0.5)  # yet it counts as a heartbeat
