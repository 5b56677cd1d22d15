#!/usr/bin/env python3
"""The margin chaos run: margin orders placed, closed and canceled while the simulator breaks things.

Usage (the full size runs in ``make chaos``; ``make test`` runs a small one in test_chaos_margin.py)::

    python tests/reliability/run_chaos_margin.py --orders 500 --disconnects 100 --seed 1

It prints ``chaos-margin: orders=N disconnects=D lost=0 doubled=0 ledger_match=yes seed=S``,
then the details, and exits 1 when a guarantee failed.

How it works. As in ``run_chaos.py`` the simulator runs on a manual clock and the
client's server clock is slaved to it. Orders go in small concurrent batches on
EURUSD-OTC and BTCUSD (open around the clock); each call has its own quantity
(1000, 2000, … units of EURUSD-OTC; 0.001, 0.002, … BTC), which maps every server
order to exactly one call. Most are market orders, followed to their fill and
closed; some are limit orders far from the market, then canceled. Faults, all
seeded: a dropped connection right after the server executed a place-order, a
close-position or a cancel whose answer it swallowed; right after it ignored a
place-order (never executed); at a random moment; with refused reconnects; plus
delayed frames and swallowed answers without a disconnect (timeouts).

Afterwards: no server order that its call did not learn of (lost), no call with two
server orders (doubled), every position closed, and the ledger equal on both sides:
the simulator's cash movements sum to its cash, the billing balance shows it, the
trader's marginal balance shows it, and every closed position's P&L is the same in
the trader's book as on the server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal

from iqwire.client import Client
from iqwire.client.clock import ServerClock
from iqwire.errors import IqwireError, TradeNotPlaced, TradeStateUnknown
from iqwire.sim import ManualClock, Simulator
from iqwire.sim.margin import Margin
from iqwire.trading import MarginOrder, MarginPosition, Trader

#: A Thursday, 2026-02-12 12:25 UTC.
START = 1_770_899_100
#: (instrument, unit of quantity, leverage): always-open instruments.
INSTRUMENTS = (("EURUSD-OTC", Decimal(1000), 500), ("BTCUSD", Decimal("0.001"), 10))
HEARTBEAT = 10.0
MAX_TICKS = 4000
PLACE = "marginal-forex.place-market-order"
FAULTED = (
    PLACE,
    "marginal-crypto.place-market-order",
    "marginal-forex.close-position",
    "marginal-crypto.close-position",
    "marginal-forex.cancel-pending-order",
    "marginal-crypto.cancel-pending-order",
)


@dataclass
class Call:
    """One place-order call, and what became of its order and position."""

    index: int
    instrument: str
    quantity: Decimal
    leverage: int
    side: str
    pending: bool
    order: MarginOrder | None = None
    position: MarginPosition | None = None
    error: BaseException | None = None
    closes: int = 0


@dataclass
class MarginChaosResult:
    """The figures of one run."""

    seed: int
    orders: int
    disconnects: int = 0
    lost: int = 0
    doubled: int = 0
    phantom: int = 0
    ledger_match: bool = False
    placed: int = 0
    reconciled: int = 0
    not_placed: int = 0
    state_unknown: int = 0
    filled: int = 0
    canceled: int = 0
    close_retries: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0
    simulated_hours: float = 0.0
    seconds: float = 0.0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every guarantee held."""
        return self.lost == 0 and self.doubled == 0 and self.phantom == 0 and self.ledger_match

    def line(self) -> str:
        """The one-line summary ``make chaos`` prints."""
        return (
            f"chaos-margin: orders={self.orders} disconnects={self.disconnects} lost={self.lost} "
            f"doubled={self.doubled} ledger_match={'yes' if self.ledger_match else 'no'} seed={self.seed}"
        )

    def details(self) -> str:
        """Everything else the run counted."""
        refused = ", ".join(f"{k}={v}" for k, v in sorted(self.refused.items())) or "none"
        lines = [
            f"  placed={self.placed} (reconciled={self.reconciled}) not_placed={self.not_placed} "
            f"state_unknown={self.state_unknown} phantom={self.phantom}",
            f"  filled and closed={self.filled} (close retried after a lost answer: {self.close_retries}) "
            f"canceled={self.canceled}; refused: {refused}",
            f"  client reconnects={self.reconnects}; simulated {self.simulated_hours:.2f} h in {self.seconds:.1f} s",
        ]
        lines += [f"  MISMATCH {m}" for m in self.mismatches[:20]]
        return "\n".join(lines)


class Driver:
    """Moves simulated time and injects the faults."""

    def __init__(self, sim: Simulator, rng: random.Random, result: MarginChaosResult) -> None:
        self.sim = sim
        self.rng = rng
        self.result = result
        self.armed: list[str] = []
        self.at_tick: list[int] = []

    async def disconnect(self) -> bool:
        """Close the live connection(s); counts only when one was open."""
        if self.sim.engine.hub.connections and await self.sim.drop_connections() > 0:
            self.result.disconnects += 1
            return True
        return False

    def arm(self, disconnects: int, rpcs: tuple[str, ...]) -> None:
        """Choose this phase's faults, for the RPCs it sends."""
        rng, sim = self.rng, self.sim
        for _ in range(disconnects):
            kind = rng.choice(("lost_answer", "lost_answer", "ignored", "random", "refused"))
            rpc = rng.choice(rpcs)
            if kind == "lost_answer":
                sim.drop_responses(rpc)
                self.armed.append(rpc)
            elif kind == "ignored" and "place" in rpc:
                sim.ignore_requests(rpc)
                self.armed.append(rpc)
            elif kind == "refused":
                sim.refuse_connections(rng.uniform(1, 5))
                self.at_tick.append(rng.randrange(0, 6))
            else:
                self.at_tick.append(rng.randrange(0, 10))
        if rng.random() < 0.3:
            sim.delay_frames(rng.randint(1, 10), rng.uniform(0.1, 2.0))
        if rng.random() < 0.05:
            sim.drop_responses(rng.choice(rpcs))  # executed, answer lost, connection stays: a timeout

    async def tick(self, index: int) -> None:
        """A quarter of a simulated second, with the faults due now."""
        faults = self.sim.engine.faults
        for rpc in list(self.armed):
            taken = faults.drop_responses.get(rpc, 0) + faults.ignore_requests.get(rpc, 0) < self.armed.count(
                rpc
            )
            if taken and await self.disconnect():
                self.armed.remove(rpc)
        for t in [t for t in self.at_tick if t <= index]:
            if await self.disconnect():
                self.at_tick.remove(t)
        await self.sim.advance(0.25)
        await asyncio.sleep(0.002)

    async def until_done(self, tasks: list[asyncio.Task[None]], seed: int) -> None:
        """Tick until every task of the phase is done."""
        tick = 0
        while not all(task.done() for task in tasks):
            await self.tick(tick)
            tick += 1
            if tick > MAX_TICKS:
                raise RuntimeError(f"a phase hung (seed={seed})")
        self.armed.clear()  # faults not taken this phase are disarmed below
        for rpc in FAULTED:
            self.sim.engine.faults.drop_responses.pop(rpc, None)
            self.sim.engine.faults.ignore_requests.pop(rpc, None)


async def _place(trader: Trader, call: Call) -> None:
    try:
        if call.pending:
            far = Decimal("0.5") if call.instrument == "EURUSD-OTC" else Decimal(1000)
            call.order = await trader.place_order(
                call.instrument, call.side, call.quantity, type="limit", price=far, leverage=call.leverage
            )
        else:
            call.order = await trader.place_order(
                call.instrument, call.side, call.quantity, leverage=call.leverage
            )
    except IqwireError as exc:
        call.error = exc


async def _finish(call: Call) -> None:
    """Close the position (or cancel the pending order); a close proved not executed is sent again."""
    assert call.order is not None
    try:
        if call.pending:
            while call.order.status == "new":
                call.closes += 1
                try:
                    await call.order.cancel()
                except TradeNotPlaced:
                    continue
                break
            return
        call.position = await call.order.filled(60)
        while not call.position.is_closed:
            call.closes += 1
            try:
                await call.position.close(60)
            except TradeNotPlaced:
                continue
    except IqwireError as exc:
        call.error = exc


async def run_chaos_margin(orders: int = 500, disconnects: int = 100, seed: int = 1) -> MarginChaosResult:
    """Run the margin chaos scenario and check every guarantee; never raises on a failed guarantee."""
    began = time.monotonic()
    result = MarginChaosResult(seed=seed, orders=orders)
    await _run(orders, disconnects, seed, random.Random(f"chaos-margin:{seed}"), result)
    result.seconds = time.monotonic() - began
    return result


async def _run(
    orders: int, disconnects: int, seed: int, rng: random.Random, result: MarginChaosResult
) -> None:
    async with Simulator(seed=seed, clock=ManualClock(START)) as sim:
        client = Client(
            email=sim.credentials.email,
            password=sim.credentials.password,
            ws_url=sim.ws_url,
            login_url=sim.login_url,
            request_timeout=1.0,
            heartbeat_timeout=HEARTBEAT,
            reconnect_delay=(0.01, 0.1),
        )
        client.clock = ServerClock(monotonic=sim.now)
        driver = Driver(sim, rng, result)
        calls: list[Call] = []
        async with client:
            trader = Trader(client)
            await trader.margin.start()
            batches: list[int] = []
            while sum(batches) < orders:
                batches.append(min(rng.randint(1, 4), orders - sum(batches)))
            for number, size in enumerate(batches):
                quota = round((number + 1) * disconnects / len(batches)) - round(
                    number * disconnects / len(batches)
                )
                batch = []
                for _ in range(size):
                    name, unit, leverage = rng.choice(INSTRUMENTS)
                    index = len(calls)
                    call = Call(
                        index,
                        name,
                        unit * (index + 1),
                        leverage,
                        rng.choice(("buy", "sell")),
                        rng.random() < 0.2,
                    )
                    calls.append(call)
                    batch.append(call)
                place_faults = quota - quota // 2
                driver.arm(place_faults, FAULTED[:2])
                await driver.until_done([asyncio.create_task(_place(trader, c)) for c in batch], seed)
                driver.arm(quota - place_faults, FAULTED[2:])
                placed = [c for c in batch if c.order is not None]
                await driver.until_done([asyncio.create_task(_finish(c)) for c in placed], seed)
                await sim.advance(rng.uniform(1, 20))
            while result.disconnects < disconnects:  # top up the disconnects that found no connection
                await client.wait_connected(30)
                await driver.disconnect()
                await sim.advance(1)
            await client.wait_connected(30)
            await sim.advance(2)
            for _ in range(3):
                await sim.settle()
                await client.get_balances()
            await trader.margin.resync()
            figures = await trader.margin_balance()
            _check(result, calls, trader, sim, figures.cash)
            result.reconnects = client.reconnects
            await trader.close()
        result.simulated_hours = (sim.now() - START) / 3600


def _check(
    result: MarginChaosResult, calls: list[Call], trader: Trader, sim: Simulator, our_cash: Decimal
) -> None:
    product = next(p for p in sim.engine.products if isinstance(p, Margin))
    by_key: dict[tuple[str, Decimal], list[int]] = {}
    for order in product.book.orders.values():
        by_key.setdefault((order.terms.name, order.count), []).append(order.id)
    for call in calls:
        found = by_key.pop((call.instrument, call.quantity), [])
        if len(found) > 1:
            result.doubled += 1
            result.mismatches.append(f"call {call.index}: {len(found)} server orders")
        if call.order is not None:
            result.placed += 1
            result.reconciled += call.order.reconciled
            result.close_retries += max(0, call.closes - 1)
            if call.order.id not in found:
                result.phantom += 1
                result.mismatches.append(f"call {call.index}: order {call.order.id} not on the server")
            if call.error is not None:
                result.mismatches.append(
                    f"call {call.index}: placed, then {type(call.error).__name__}: {call.error}"
                )
            elif call.pending:
                result.canceled += 1
            else:
                result.filled += 1
        elif isinstance(call.error, TradeStateUnknown):
            result.state_unknown += 1
        else:
            if isinstance(call.error, TradeNotPlaced):
                result.not_placed += 1
            else:
                kind = type(call.error).__name__
                result.refused[kind] = result.refused.get(kind, 0) + 1
            if found:
                result.lost += 1
                result.mismatches.append(
                    f"call {call.index}: {type(call.error).__name__} but placed on the server"
                )
    for key, stray in by_key.items():
        result.lost += len(stray)
        result.mismatches.append(f"{len(stray)} server order(s) of {key} match no call")
    ledger: list[str] = []
    for account in product.book.accounts.values():
        moved = sum((amount for _, amount in account.entries), Decimal(0))
        billing = account.user.balance(account.balance_id)
        if moved != account.cash or billing is None or Decimal(str(billing.amount)) != account.cash:
            ledger.append(f"server ledger: entries {moved}, cash {account.cash}, billing {billing}")
        if our_cash != account.cash:
            ledger.append(f"cash: ours {our_cash} != server {account.cash}")
    if product.book.open_positions() or product.book.pending_orders() or trader.margin_positions():
        ledger.append("positions or orders left open")
    for order in product.book.orders.values():
        position = order.position
        if position is None:
            continue
        ours = trader.margin.position(position.external_id)
        if (
            ours is None
            or not ours.is_closed
            or round(ours.pnl or 0.0, 2) != float(position.pnl.quantize(Decimal("0.01")))
        ):
            ledger.append(
                f"position {position.external_id}: ours {ours and ours.pnl} != server {position.pnl}"
            )
    result.mismatches += ledger
    result.ledger_match = not ledger


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--disconnects", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="log the client's and simulator's warnings")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.verbose:
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.CRITICAL)
    result = asyncio.run(run_chaos_margin(args.orders, args.disconnects, args.seed))
    print(result.line())
    print(result.details())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
