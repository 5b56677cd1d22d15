"""The chaos runner shared by every product: a bot trades while the simulator breaks everything it can.

A product plugs in (:class:`Product`): how it places a batch of money requests (and
follows them to their end), what its ledger is, and how each server record is matched
back to exactly one call. The runner owns the rest, the same for every product:

* the simulator on a manual clock, and a client whose server clock is slaved to it
  (its ``monotonic`` is the simulated clock), so "seconds since the last timeSync" and
  every expiry are in simulated time however fast the run goes;
* the batches (1–4 calls each) and the share of the ``disconnects`` each one arms;
* the :class:`Driver`: a quarter of a simulated second per tick while calls are in
  flight, with the seeded faults due at that tick — a dropped connection right after
  the server took an armed fault of a money request (its answer swallowed, or the
  request ignored), at a random tick of a batch, while time jumps, with refused
  reconnects; delayed (so reordered) frames, malformed frames, timeSync silences;
* topping up the disconnects that found no connection, a round trip so the client
  has read everything, the count of the simulator's faults, the one-line verdict.

Each product then proves the same guarantees: each money request executed at most
once (no ``doubled``), every executed one known to its call (no ``lost``, no
``phantom``: a lost answer is reconciled against the server, never re-sent), and the
ledgers equal on both sides.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from iqwire.client import Client
from iqwire.client.clock import ServerClock
from iqwire.errors import TradeNotPlaced
from iqwire.sim import ManualClock, Simulator
from iqwire.trading import Trader

#: A Thursday, 2026-02-12 12:25 UTC.
START = 1_770_899_100
#: The client's heartbeat timeout, in simulated seconds (its clock follows the simulator's).
HEARTBEAT = 10.0
#: Ticks (a quarter of a simulated second each) a phase may take before the run is declared hung.
MAX_TICKS = 4000
#: The two faults after which a disconnect is armed: the answer swallowed, the request ignored.
DROP, IGNORE = "drop_responses", "ignore_requests"


@dataclass
class ChaosResult:
    """The figures of one run that every product counts; products add their own."""

    #: The one-line verdict's label (``chaos``, ``chaos-margin``); it also seeds the run's draws.
    label: ClassVar[str] = "chaos"
    #: What a call is, in the verdict (``trades``, ``orders``).
    noun: ClassVar[str] = "calls"

    seed: int
    calls: int
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
    reconnects: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    simulated_hours: float = 0.0
    seconds: float = 0.0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every guarantee held."""
        return self.lost == 0 and self.doubled == 0 and self.phantom == 0 and self.ledger_match

    def line(self) -> str:
        """The one-line summary ``make chaos`` prints, e.g. ``chaos: trades=N disconnects=D ...``."""
        return (
            f"{self.label}: {self.noun}={self.calls} disconnects={self.disconnects} lost={self.lost} "
            f"doubled={self.doubled} ledger_match={'yes' if self.ledger_match else 'no'} seed={self.seed}"
        )

    def product_lines(self) -> list[str]:
        """The product's own lines of :meth:`details`."""
        return []

    def details(self) -> str:
        """Everything else the run counted."""
        refused = ", ".join(f"{k}={v}" for k, v in sorted(self.refused.items())) or "none"
        faults = ", ".join(f"{k}={v}" for k, v in sorted(self.faults.items())) or "none"
        lines = [
            f"  placed={self.placed} (reconciled={self.reconciled}) not_placed={self.not_placed} "
            f"state_unknown={self.state_unknown} phantom={self.phantom}",
            *self.product_lines(),
            f"  refused before sending: {refused}; client reconnects={self.reconnects}",
            f"  faults injected: {faults}",
            f"  simulated {self.simulated_hours:.2f} h in {self.seconds:.1f} s",
        ]
        lines += [f"  MISMATCH {m}" for m in self.mismatches[:20]]
        return "\n".join(lines)

    def count_unplaced(self, error: BaseException | None, found: list[Any], index: int) -> None:
        """A call that learned of no server record: not placed (proved) or refused — and then
        any server record of it is a lost one."""
        if isinstance(error, TradeNotPlaced):
            self.not_placed += 1
        else:
            kind = type(error).__name__
            self.refused[kind] = self.refused.get(kind, 0) + 1
        if found:
            self.lost += 1
            self.mismatches.append(f"call {index}: {type(error).__name__} but placed on the server")

    def count_matches(self, index: int, found: list[Any], what: str) -> None:
        """The server records matched to one call: more than one is a doubled request."""
        if len(found) > 1:
            self.doubled += 1
            self.mismatches.append(f"call {index}: {len(found)} {what}")

    def count_strays(self, strays: dict[Any, list[Any]], what: str) -> None:
        """Server records no call matches: lost."""
        for key, stray in strays.items():
            self.lost += len(stray)
            self.mismatches.append(f"{len(stray)} server {what} of {key} match no call")


class Driver:
    """Moves simulated time and injects the faults."""

    def __init__(self, sim: Simulator, rng: random.Random, result: ChaosResult, seed: int) -> None:
        self.sim = sim
        self.rng = rng
        self.result = result
        self.seed = seed
        #: Disconnects waiting for the server to take an armed fault, by (fault, money request).
        self.armed: dict[tuple[str, str], int] = {}
        #: Disconnects to fire at a given tick of the current phase.
        self.at_tick: list[int] = []
        self.slow_ticks = 0
        self.pending_malformed = False

    async def disconnect(self) -> bool:
        """Close the live connection(s); counts only when one was open."""
        if self.sim.engine.hub.connections and await self.sim.drop_connections() > 0:
            self.result.disconnects += 1
            return True
        return False

    def disconnect_after(self, fault: str, rpc: str) -> None:
        """Arm ``fault`` (:data:`DROP` or :data:`IGNORE`) for ``rpc``; disconnect once the server took it."""
        if fault == DROP:
            self.sim.drop_responses(rpc)
        else:
            self.sim.ignore_requests(rpc)
        self.armed[fault, rpc] = self.armed.get((fault, rpc), 0) + 1

    def disconnect_at(self, tick: int) -> None:
        """Disconnect at ``tick`` of the current phase (or the first tick after with a connection)."""
        self.at_tick.append(tick)

    def refuse_then_disconnect(self) -> None:
        """Refuse reconnects for 1–5 s, and disconnect within the phase's first ticks."""
        self.sim.refuse_connections(self.rng.uniform(1, 5))
        self.at_tick.append(self.rng.randrange(0, 6))

    def maybe_delay_frames(self) -> None:
        """Three times in ten: the next 1–10 frames are delayed 0.1–2 s (so reordered)."""
        if self.rng.random() < 0.3:
            self.sim.delay_frames(self.rng.randint(1, 10), self.rng.uniform(0.1, 2.0))

    def silence(self) -> None:
        """No timeSync for twice the client's heartbeat timeout: the client must call it dead."""
        self.sim.silence(HEARTBEAT * 2)
        self.slow_ticks = int(HEARTBEAT * 2 * 4) + 8

    async def tick(self, index: int) -> None:
        """One quarter of a simulated second, with the faults due now."""
        faults = self.sim.engine.faults
        # The server took an armed fault of a money request: drop the connection right after.
        for (fault, rpc), waiting in list(self.armed.items()):
            left = getattr(faults, fault).get(rpc, 0)
            if waiting and left < waiting and await self.disconnect():
                self.armed[fault, rpc] -= 1
        for t in [t for t in self.at_tick if t <= index]:
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

    async def until_done(self, calls: Iterable[Awaitable[None]]) -> None:
        """Tick until every call of the phase is done."""
        tasks = [asyncio.ensure_future(call) for call in calls]
        tick = 0
        while not all(task.done() for task in tasks):
            await self.tick(tick)
            tick += 1
            if tick > MAX_TICKS:
                raise RuntimeError(f"a phase hung (seed={self.seed})")

    def disarm(self, rpcs: Iterable[str]) -> None:
        """Forget the faults of ``rpcs`` the server has not taken (and their disconnects)."""
        for key in [key for key in self.armed if key[1] in rpcs]:
            del self.armed[key]
        for rpc in rpcs:
            self.sim.engine.faults.drop_responses.pop(rpc, None)
            self.sim.engine.faults.ignore_requests.pop(rpc, None)

    async def jump(self, seconds: float, disconnect: bool) -> None:
        """Move time on between batches (trades settle), maybe dropping the connection midway."""
        if disconnect:
            first = self.rng.uniform(0, seconds)
            await self.sim.advance(first)
            await self.disconnect()
            await self.sim.advance(seconds - first)
        else:
            await self.sim.advance(seconds)


R = TypeVar("R", bound=ChaosResult)


class Product(Protocol[R]):
    """One product's part of a chaos run (one object per run: it keeps its calls)."""

    def new_result(self, seed: int, calls: int) -> R:
        """The empty figures of a run."""
        ...

    def client_options(self) -> dict[str, Any]:
        """Extra ``Client`` arguments the product needs."""
        ...

    async def start(self, client: Client, trader: Trader, sim: Simulator) -> None:
        """Before the first batch: start the trader's books, open streams."""
        ...

    async def batch(self, driver: Driver, number: int, size: int, quota: int) -> None:
        """Place ``size`` calls under faults (``quota`` disconnects for this batch) and move time on."""
        ...

    async def settle(self, driver: Driver) -> None:
        """After the last batch, connected: let every call reach its end."""
        ...

    async def check(self, client: Client, sim: Simulator, result: R) -> None:
        """Match every server record to its call, compare the ledgers, fill ``result``."""
        ...


async def run(product: Product[R], calls: int, disconnects: int, seed: int) -> R:
    """Run ``calls`` money calls of ``product`` under ``disconnects`` forced disconnects and the
    other seeded faults, then check every guarantee; never raises on a failed guarantee."""
    began = time.monotonic()
    result = product.new_result(seed, calls)
    counter = _FaultCounter()
    sim_log = logging.getLogger("iqwire.sim")
    sim_log.addHandler(counter)
    try:
        await _run(product, calls, disconnects, seed, result)
    finally:
        sim_log.removeHandler(counter)
    result.faults = counter.counts
    result.seconds = time.monotonic() - began
    return result


async def _run(product: Product[R], calls: int, disconnects: int, seed: int, result: R) -> None:
    rng = random.Random(f"{result.label}:{seed}")
    async with Simulator(seed=seed, clock=ManualClock(START)) as sim:
        client = Client(
            email=sim.credentials.email,
            password=sim.credentials.password,
            ws_url=sim.ws_url,
            login_url=sim.login_url,
            request_timeout=1.0,
            heartbeat_timeout=HEARTBEAT,
            reconnect_delay=(0.01, 0.1),
            **product.client_options(),
        )
        client.clock = ServerClock(monotonic=sim.now)
        driver = Driver(sim, rng, result, seed)
        async with client:
            trader = Trader(client)
            await product.start(client, trader, sim)
            batches: list[int] = []
            while sum(batches) < calls:
                batches.append(min(rng.randint(1, 4), calls - sum(batches)))
            for number, size in enumerate(batches):
                quota = round((number + 1) * disconnects / len(batches)) - round(
                    number * disconnects / len(batches)
                )
                await product.batch(driver, number, size, quota)
            while result.disconnects < disconnects:  # top up the disconnects that found no connection
                await client.wait_connected(30)
                await driver.disconnect()
                await sim.advance(1)
            await client.wait_connected(30)
            await product.settle(driver)
            await client.wait_connected(30)
            await sim.advance(2)
            for _ in range(3):  # a round trip through the socket: the client read all the server sent
                await sim.settle()
                await client.get_balances()
            await product.check(client, sim, result)
            result.reconnects = client.reconnects
            await trader.close()
        result.simulated_hours = (sim.now() - START) / 3600


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
