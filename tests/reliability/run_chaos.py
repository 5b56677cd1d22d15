#!/usr/bin/env python3
"""The chaos run: a bot trades every option product while the simulator breaks everything it can.

Usage (the full size is ``make chaos``; ``make test`` runs a small one in test_chaos.py)::

    python tests/reliability/run_chaos.py --trades 1000 --disconnects 200 --seed 1

It prints one line, ``chaos: trades=N disconnects=D lost=0 doubled=0 ledger_match=yes seed=S``,
then the details, and exits 1 when a guarantee failed.

How it works. The simulator runs on a manual clock; the client's server clock is slaved
to it (its ``monotonic`` is the simulated clock), so "seconds since the last timeSync"
and the expiry it computes are in simulated time however fast the run goes. Trades
go in small concurrent batches. While a batch is in flight the driver advances the
simulator a quarter second at a time; between batches it jumps 5–40 s ahead, so
1,000 trades span simulated hours. The calls mix the four option products (blitz,
turbo, binary, digital: ``PRODUCTS``). Every buy call uses its own stake (1.00, 1.01,
…), which maps each server position to exactly one call. Faults, all seeded:

* forced disconnects (the ``--disconnects`` count, each one closing a live
  connection): right after the server executed an ``open-option`` or
  ``place-digital-option`` whose answer it swallowed; right after it ignored one
  (never executed); at a random moment of a
  batch; while time jumps; and together with refused reconnects (HTTP 503);
* delayed (so reordered) frames, swallowed answers of executed requests (of
  ``open-option``, ``place-digital-option`` and of any RPC), ignored requests, malformed frames and
  ``timeSync`` silences longer than the client's heartbeat timeout.

Afterwards: no position on the server that its buy call did not learn of (lost), no
buy call with two positions (doubled), every outcome known, and the client's ledger
(balance, positions, realised P&L) equal to the simulator's to the cent.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
from dataclasses import dataclass, field

from iqwire.client import Client
from iqwire.client.backfill import CandleStream
from iqwire.client.clock import ServerClock
from iqwire.errors import IqwireError, TradeNotPlaced, TradeStateUnknown
from iqwire.models import BalanceType, Candle, Position
from iqwire.sim import ManualClock, Simulator
from iqwire.trading import Trade, Trader, TradeResult

#: A Thursday, 2026-02-12 12:25 UTC.
START = 1_770_899_100
#: The OTC actives (open around the clock).
ACTIVES = (76, 81, 85, 1938, 1940, 2276)
EXPIRATIONS = (5, 10, 15, 30, 60)
OPEN = "binary-options.open-option"
PLACE = "digital-options.place-digital-option"
#: The money requests whose answers the faults swallow or ignore.
MONEY = (OPEN, PLACE)
#: The option products the calls mix, and how often each is drawn.
PRODUCTS = ("blitz", "blitz", "turbo", "binary", "digital", "digital")
#: The client's heartbeat timeout, in simulated seconds (its clock follows the simulator's).
HEARTBEAT = 10.0
#: Ticks (a quarter of a simulated second each) a batch may take before the run is declared hung.
MAX_BATCH_TICKS = 4000


@dataclass
class Call:
    """One buy call and what became of it."""

    index: int
    amount: float
    active: int
    direction: str
    expiration: int
    product: str = "blitz"
    trade: Trade | None = None
    error: BaseException | None = None
    result: TradeResult | None = None
    outcome_error: BaseException | None = None


@dataclass
class ChaosResult:
    """The figures of one run."""

    seed: int
    trades: int
    disconnects: int = 0
    lost: int = 0
    doubled: int = 0
    phantom: int = 0
    ledger_match: bool = False
    placed: int = 0
    reconciled: int = 0
    not_placed: int = 0
    state_unknown: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    #: Trades placed, by product.
    products: dict[str, int] = field(default_factory=dict)
    outcomes_known: int = 0
    outcomes_unknown: int = 0
    reconnects: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    candles_seen: int = 0
    candle_holes: int = 0
    candles_backfilled: int = 0
    candles_coalesced: int = 0
    simulated_hours: float = 0.0
    seconds: float = 0.0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every guarantee held."""
        return (
            self.lost == 0
            and self.doubled == 0
            and self.phantom == 0
            and self.ledger_match
            and self.outcomes_unknown == 0
            and self.candle_holes == 0
        )

    def line(self) -> str:
        """The one-line summary ``make chaos`` prints."""
        return (
            f"chaos: trades={self.trades} disconnects={self.disconnects} lost={self.lost} "
            f"doubled={self.doubled} ledger_match={'yes' if self.ledger_match else 'no'} seed={self.seed}"
        )

    def details(self) -> str:
        """Everything else the run counted."""
        refused = ", ".join(f"{k}={v}" for k, v in sorted(self.refused.items())) or "none"
        faults = ", ".join(f"{k}={v}" for k, v in sorted(self.faults.items()))
        lines = [
            f"  placed={self.placed} (reconciled={self.reconciled}) not_placed={self.not_placed} "
            f"state_unknown={self.state_unknown} phantom={self.phantom}",
            f"  placed by product: {', '.join(f'{k}={v}' for k, v in sorted(self.products.items()))}",
            f"  refused before sending: {refused}",
            f"  outcomes known={self.outcomes_known} unknown={self.outcomes_unknown}; "
            f"client reconnects={self.reconnects}",
            f"  candles seen={self.candles_seen} back-filled={self.candles_backfilled} holes={self.candle_holes} "
            f"coalesced={self.candles_coalesced}",
            f"  faults injected: {faults}",
            f"  simulated {self.simulated_hours:.2f} h in {self.seconds:.1f} s",
        ]
        lines += [f"  MISMATCH {m}" for m in self.mismatches[:20]]
        return "\n".join(lines)


class Driver:
    """Moves simulated time and injects the faults."""

    def __init__(self, sim: Simulator, rng: random.Random, result: ChaosResult) -> None:
        self.sim = sim
        self.rng = rng
        self.result = result
        #: Disconnects waiting for the server to take an armed fault, by money request.
        self.after_drop = dict.fromkeys(MONEY, 0)
        self.after_ignore = dict.fromkeys(MONEY, 0)
        #: Disconnects to fire at a given tick of the current batch.
        self.at_tick: list[int] = []
        self.slow_ticks = 0
        self.pending_malformed = False

    async def disconnect(self) -> bool:
        """Close the live connection(s); counts only when one was open."""
        if self.sim.engine.hub.connections and await self.sim.drop_connections() > 0:
            self.result.disconnects += 1
            return True
        return False

    def arm(self, disconnects: int) -> None:
        """Choose this batch's faults."""
        rng, sim = self.rng, self.sim
        for _ in range(disconnects):
            kind = rng.choice(("lost_answer", "ignored", "random", "random", "refused"))
            if kind == "lost_answer":
                rpc = rng.choice(MONEY)
                sim.drop_responses(rpc)
                self.after_drop[rpc] += 1
            elif kind == "ignored":
                rpc = rng.choice(MONEY)
                sim.ignore_requests(rpc)
                self.after_ignore[rpc] += 1
            elif kind == "refused":
                sim.refuse_connections(rng.uniform(1, 5))
                self.at_tick.append(rng.randrange(0, 6))
            else:
                self.at_tick.append(rng.randrange(0, 10))
        if rng.random() < 0.3:
            sim.delay_frames(rng.randint(1, 10), rng.uniform(0.1, 2.0))
        if rng.random() < 0.2:
            self.pending_malformed = True
        if rng.random() < 0.08:
            sim.drop_responses(rng.choice(MONEY))  # executed, answer lost, connection stays: a timeout
        if rng.random() < 0.08:
            sim.ignore_requests(rng.choice(MONEY))  # never executed nor answered: a timeout
        if rng.random() < 0.08:
            sim.drop_responses()  # the next answer of any RPC
        if rng.random() < 0.05:
            sim.silence(HEARTBEAT * 2)  # longer than the client's heartbeat timeout
            self.slow_ticks = int(HEARTBEAT * 2 * 4) + 8

    async def tick(self, index: int) -> None:
        """One quarter of a simulated second, with the faults due now."""
        faults = self.sim.engine.faults
        # The server took an armed fault of a money request: drop the connection right after.
        for rpc in MONEY:
            if (
                self.after_drop[rpc]
                and faults.drop_responses.get(rpc, 0) < self.after_drop[rpc]
                and await self.disconnect()
            ):
                self.after_drop[rpc] -= 1
            if (
                self.after_ignore[rpc]
                and faults.ignore_requests.get(rpc, 0) < self.after_ignore[rpc]
                and await self.disconnect()
            ):
                self.after_ignore[rpc] -= 1
        due = [t for t in self.at_tick if t <= index]
        for t in due:
            if await self.disconnect():
                self.at_tick.remove(t)
        if self.pending_malformed:
            self.pending_malformed = False
            await self.sim.send_malformed()
        await self.sim.advance(0.25)
        if self.slow_ticks > 0:
            self.slow_ticks -= 1
            await asyncio.sleep(0.05)  # let the real-time watchdog look during the silence
        else:
            await asyncio.sleep(0.002)

    async def jump(self, seconds: float, disconnect: bool) -> None:
        """Move time on between batches (trades settle), maybe dropping the connection midway."""
        if disconnect:
            first = self.rng.uniform(0, seconds)
            await self.sim.advance(first)
            await self.disconnect()
            await self.sim.advance(seconds - first)
        else:
            await self.sim.advance(seconds)


async def _buy(trader: Trader, call: Call) -> None:
    demo = BalanceType.DEMO
    try:
        if call.product == "turbo":
            call.trade = await trader.buy_turbo(call.active, call.direction, call.amount, 60, balance=demo)
        elif call.product == "binary":
            # The nearest quarter hour (a sale of the option is not part of this run).
            expiry = (await trader.expiries(call.active, "binary"))[0]
            call.trade = await trader.buy_binary(
                call.active, call.direction, call.amount, expires_at=expiry, balance=demo
            )
        elif call.product == "digital":
            call.trade = await trader.buy_digital(
                call.active, call.direction, call.amount, call.expiration, balance=demo
            )
        else:
            call.trade = await trader.buy_blitz(
                call.active, call.direction, call.amount, call.expiration, balance=demo
            )
    except IqwireError as exc:
        call.error = exc


def _call(index: int, rng: random.Random) -> Call:
    """One buy call: a product, and an expiration that product offers."""
    product = rng.choice(PRODUCTS)
    expiration = rng.choice((60, 300)) if product == "digital" else rng.choice(EXPIRATIONS)
    return Call(
        index=index,
        amount=round(1.0 + index * 0.01, 2),
        active=rng.choice(ACTIVES),
        direction=rng.choice(("call", "put")),
        expiration=expiration,
        product=product,
    )


async def _outcome(call: Call) -> None:
    assert call.trade is not None
    try:
        call.result = await call.trade.outcome()
    except IqwireError as exc:
        call.outcome_error = exc


async def run_chaos(trades: int = 1000, disconnects: int = 200, seed: int = 1) -> ChaosResult:
    """Run the chaos scenario and check every guarantee; never raises on a failed guarantee."""
    began = time.monotonic()
    rng = random.Random(f"chaos:{seed}")
    result = ChaosResult(seed=seed, trades=trades)
    counter = _FaultCounter()
    sim_log = logging.getLogger("iqwire.sim")
    sim_log.addHandler(counter)
    try:
        await _run(trades, disconnects, seed, rng, result)
    finally:
        sim_log.removeHandler(counter)
    result.faults = counter.counts
    result.seconds = time.monotonic() - began
    return result


async def _run(trades: int, disconnects: int, seed: int, rng: random.Random, result: ChaosResult) -> None:
    async with Simulator(seed=seed, clock=ManualClock(START)) as sim:
        client = Client(
            email=sim.credentials.email,
            password=sim.credentials.password,
            ws_url=sim.ws_url,
            login_url=sim.login_url,
            request_timeout=1.0,
            heartbeat_timeout=HEARTBEAT,
            reconnect_delay=(0.01, 0.1),
            outcome_grace=7200.0,
            # Time runs ~60x fast here: a 3 s back-fill holds 12 minutes of pushes. Room for
            # them, so coalescing (the documented backpressure policy) does not blur the check.
            stream_maxsize=100_000,
        )
        client.clock = ServerClock(monotonic=sim.now)
        driver = Driver(sim, rng, result)
        calls: list[Call] = []
        outcomes: list[asyncio.Task[None]] = []
        seen: list[Candle] = []
        async with client:
            trader = Trader(client)
            await trader.portfolio.start()
            demo = await client.get_balance(BalanceType.DEMO)
            start_balance = sim.balances()[1].amount
            stream = client.candles(76, 1)
            await stream.__aenter__()

            async def watch_candles() -> None:
                async for candle in stream:
                    seen.append(candle)

            watcher = asyncio.create_task(watch_candles())
            batches: list[int] = []
            while sum(batches) < trades:
                batches.append(min(rng.randint(1, 4), trades - sum(batches)))
            index = 0
            for number, size in enumerate(batches):
                quota = round((number + 1) * disconnects / len(batches)) - round(
                    number * disconnects / len(batches)
                )
                in_jump = quota > 0 and rng.random() < 0.2
                driver.arm(quota - (1 if in_jump else 0))
                batch = [_call(index + k, rng) for k in range(size)]
                index += size
                calls += batch
                tasks = [asyncio.create_task(_buy(trader, call)) for call in batch]
                tick = 0
                while not all(task.done() for task in tasks):
                    await driver.tick(tick)
                    tick += 1
                    if tick > MAX_BATCH_TICKS:
                        raise RuntimeError(f"batch {number} hung (seed={seed})")
                for call in batch:
                    if call.trade is not None:
                        outcomes.append(asyncio.create_task(_outcome(call)))
                await driver.jump(rng.uniform(5, 40), in_jump)
            # Top up the disconnects that found no live connection to close.
            while result.disconnects < disconnects:
                await client.wait_connected(30)
                await driver.disconnect()
                await sim.advance(1)
            # Let every armed fault pass and every trade settle.
            await client.wait_connected(30)
            deadline = time.monotonic() + 120
            while not all(task.done() for task in outcomes):
                await sim.advance(1)
                await asyncio.sleep(0.005)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"outcomes hung (seed={seed})")
            await client.wait_connected(30)
            await sim.advance(2)
            await _quiesce(client, sim)
            _check(result, calls, trader, sim, demo.id, start_balance)
            result.reconnects = client.reconnects
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            assert isinstance(stream, CandleStream)
            result.candles_backfilled = stream.backfilled
            result.candles_coalesced = stream.coalesced
            result.candle_holes = _holes(seen) + len(stream.gaps)
            result.candles_seen = len(seen)
            await stream.aclose()
        result.simulated_hours = (sim.now() - START) / 3600


async def _quiesce(client: Client, sim: Simulator) -> None:
    """Wait until the client has read everything the server sent (a round trip through the socket)."""
    for _ in range(3):
        await sim.settle()
        await client.get_balances()


def _holes(candles: list[Candle]) -> int:
    """Missing ids in the closed 1-second candles the consumer saw."""
    ids = sorted({c.id for c in candles if c.is_closed})
    if not ids:
        return 0
    return (ids[-1] - ids[0] + 1) - len(ids)


class _FaultCounter(logging.Handler):
    """Counts the simulator's ``fault <kind>: ...`` log lines by kind."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("fault "):
            kind = message[6:].split(":", 1)[0]
            self.counts[kind] = self.counts.get(kind, 0) + 1


def _check(
    result: ChaosResult,
    calls: list[Call],
    trader: Trader,
    sim: Simulator,
    demo_id: int,
    start_balance: float,
) -> None:
    server = [p for p in sim.positions() if p.user_balance_id == demo_id]
    by_amount: dict[float, list[Position]] = {}
    for position in server:
        by_amount.setdefault(round(position.amount or 0.0, 2), []).append(position)
    known_ids: set[int] = set()
    for call in calls:
        found = by_amount.pop(call.amount, [])
        if len(found) > 1:
            result.doubled += 1
            result.mismatches.append(f"call {call.index}: {len(found)} positions")
        if call.trade is not None:
            result.placed += 1
            result.products[call.product] = result.products.get(call.product, 0) + 1
            result.reconciled += call.trade.reconciled
            known_ids.add(call.trade.id)
            if not any(p.option_id == call.trade.id for p in found):
                result.phantom += 1
                result.mismatches.append(f"call {call.index}: trade {call.trade.id} not on the server")
        elif isinstance(call.error, TradeStateUnknown):
            result.state_unknown += 1
            candidates = {getattr(c, "option_id", None) for c in call.error.candidates}
            if found and not any(p.option_id in candidates for p in found):
                result.lost += 1
                result.mismatches.append(f"call {call.index}: state unknown, position not among candidates")
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
    for amount, stray in by_amount.items():
        result.lost += len(stray)
        result.mismatches.append(f"{len(stray)} server position(s) of {amount} match no call")
    # Outcomes.
    server_by_id = {p.option_id: p for p in server}
    for call in calls:
        if call.trade is None:
            continue
        if call.result is None:
            result.outcomes_unknown += 1
            result.mismatches.append(f"call {call.index}: outcome unknown ({call.outcome_error})")
            continue
        result.outcomes_known += 1
        truth = server_by_id.get(call.trade.id)
        if truth is None or round(call.result.pnl, 2) != round(truth.pnl or 0.0, 2):
            result.mismatches.append(f"call {call.index}: outcome pnl {call.result.pnl} != server {truth}")
    # The ledger: balance, positions, realised P&L.
    ledger: list[str] = []
    server_balance = round(sim.balances()[1].amount, 2)
    ours = trader.portfolio.balances.get(demo_id)
    if ours is None or round(ours.amount, 2) != server_balance:
        ledger.append(f"balance: ours {ours and ours.amount} != server {server_balance}")
    open_server = {p.option_id for p in server if not p.is_closed}
    if open_server or trader.portfolio.open:
        ledger.append(f"open positions: server {open_server} ours {set(trader.portfolio.open)}")
    for position in server:
        mine = trader.portfolio.closed.get(position.option_id or -1)
        if mine is None:
            ledger.append(f"position {position.option_id} missing from our portfolio")
        elif round(mine.pnl or 0.0, 2) != round(position.pnl or 0.0, 2):
            ledger.append(f"position {position.option_id}: pnl {mine.pnl} != server {position.pnl}")
    server_pnl = round(sum(p.pnl or 0.0 for p in server), 2)
    our_pnl = round(sum(c.result.pnl for c in calls if c.result is not None), 2)
    if server_pnl != our_pnl or round(start_balance + server_pnl, 2) != server_balance:
        ledger.append(
            f"P&L: ours {our_pnl}, server {server_pnl}, balance moved {server_balance - start_balance:.2f}"
        )
    portfolio_pnl = round(
        sum(p.pnl or 0.0 for p in trader.portfolio.closed.values() if p.user_balance_id == demo_id), 2
    )
    if portfolio_pnl != server_pnl:
        ledger.append(f"portfolio P&L {portfolio_pnl} != server {server_pnl}")
    result.mismatches += ledger
    result.ledger_match = not ledger


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trades", type=int, default=1000)
    parser.add_argument("--disconnects", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="log the client's and simulator's warnings")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.verbose:
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.CRITICAL)  # the fault counter still sees the warnings
    result = asyncio.run(run_chaos(args.trades, args.disconnects, args.seed))
    print(result.line())
    print(result.details())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
