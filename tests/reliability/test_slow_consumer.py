"""A consumer that stops reading for 60 s of simulated time: memory stays bounded, position and
balance events are all delivered, and the candle stream resumes with the newest data."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest

from iqwire.client import Client
from iqwire.models import BalanceChanged, Candle, Position
from iqwire.sim import Simulator
from iqwire.trading import Trader

MAXSIZE = 50
#: The client's own code: memory allocated here is what a stalled consumer costs the client.
CLIENT_CODE = [
    tracemalloc.Filter(True, f"*iqwire/{part}/*") for part in ("client", "protocol", "trading", "models")
]


def _client_memory() -> int:
    snapshot = tracemalloc.take_snapshot().filter_traces(CLIENT_CODE)
    return sum(stat.size for stat in snapshot.statistics("filename"))


STALL = 60  # simulated seconds without reading


async def test_a_stalled_consumer_costs_bounded_memory_and_loses_no_trading_event(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Client(
        ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url, stream_maxsize=MAXSIZE
    ) as client:
        trader = Trader(client)
        await client.get_initialization_data()
        async with (
            client.candles_multi(76, [1, 5]) as candles,
            client.positions_changed() as positions,
            client.balance_changes() as balances,
        ):
            await sim.advance(1)
            tracemalloc.start()
            try:
                before = _client_memory()
                trades = []
                for second in range(STALL):  # nobody reads any of the three streams meanwhile
                    if second % 6 == 0:
                        trades.append(await trader.buy_blitz(76, "call" if second % 12 else "put", 10, 5))
                    await sim.advance(1)
                    assert candles.pending <= MAXSIZE + 2  # coalesced: one slot per (active, size) at most
                current, peak = _client_memory(), tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            await sim.advance(6)  # the last trades close
            with capsys.disabled():
                print(
                    f"\nslow consumer, {STALL}s stalled: candle queue {candles.pending} (bound {MAXSIZE}), "
                    f"coalesced {candles.coalesced}, queued positions {positions.pending}, "
                    f"balances {balances.pending}; client memory +{(current - before) / 1024:.0f} KiB "
                    f"(process peak while stalled {peak / 1024:.0f} KiB, simulator included)"
                )
            assert candles.coalesced > 0
            assert current - before < 2 * 2**20

            # Every position and balance event is there, in order.
            events: list[Position] = [await positions.get() for _ in range(positions.pending)]
            opened = [p.option_id for p in events if not p.is_closed]
            closed = [p.option_id for p in events if p.is_closed]
            assert opened == closed == [t.id for t in trades]
            changes: list[BalanceChanged] = [await balances.get() for _ in range(balances.pending)]
            server_demo = sim.balances()[1]
            assert len(changes) >= len(trades)
            assert changes[-1].current_balance.amount == server_demo.amount

            # The candle stream resumes: what is queued ends with the newest candle of each size.
            queued: list[Candle] = [await candles.get() for _ in range(candles.pending)]
            newest = {c.size: c for c in queued}
            for size in (1, 5):
                truth = sim.engine.model.candle_at(76, size, sim.now())
                assert truth is not None
                assert newest[size].id == truth.id and newest[size].close == truth.close
            await sim.advance(1)
            fresh = await asyncio.wait_for(candles.get(), 5)
            assert fresh.id >= newest[fresh.size or 1].id
