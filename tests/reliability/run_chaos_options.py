"""The options product of the chaos run: blitz, turbo, binary and digital buys under faults.

Run it through ``run_chaos.py options`` (``make chaos``: 1,000 trades, 200 disconnects;
``make test`` runs a small one in test_chaos.py). The runner (``run_chaos_runner.py``)
owns the simulator, the clock, the batches and the faults; this module says how an
option is bought, how a server position is matched back to its call, and what the
ledger is.

Trades go in small concurrent batches. While a batch is in flight the driver advances
the simulator a quarter second at a time; between batches it jumps 5–40 s ahead, so
1,000 trades span simulated hours. The calls mix the four option products (blitz,
turbo, binary, digital: ``PRODUCTS``). Every buy call uses its own stake (1.00, 1.01,
…), which maps each server position to exactly one call. Faults, all seeded: forced
disconnects right after the server executed an ``open-option`` or
``place-digital-option`` whose answer it swallowed; right after it ignored one (never
executed); at a random moment of a batch; while time jumps; and together with refused
reconnects (HTTP 503); delayed (so reordered) frames, swallowed answers of executed
requests (of the two money requests and of any RPC), ignored requests, malformed frames
and ``timeSync`` silences longer than the client's heartbeat timeout. A 1-second
candle stream runs throughout and must see no hole (reconnects back-fill it).

Afterwards: no position on the server that its buy call did not learn of (lost), no
buy call with two positions (doubled), every outcome known, and the client's ledger
(balance, positions, realised P&L) equal to the simulator's to the cent.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from run_chaos_runner import DROP, IGNORE, ChaosResult, Driver, run

from iqwire.client import Client, Stream
from iqwire.client.backfill import CandleStream
from iqwire.errors import IqwireError, TradeStateUnknown
from iqwire.models import BalanceType, Candle, Position
from iqwire.sim import Simulator
from iqwire.trading import Trade, Trader, TradeResult

#: The OTC actives (open around the clock).
ACTIVES = (76, 81, 85, 1938, 1940, 2276)
EXPIRATIONS = (5, 10, 15, 30, 60)
OPEN = "binary-options.open-option"
PLACE = "digital-options.place-digital-option"
#: The money requests whose answers the faults swallow or ignore.
MONEY = (OPEN, PLACE)
#: The option products the calls mix, and how often each is drawn.
PRODUCTS = ("blitz", "blitz", "turbo", "binary", "digital", "digital")


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
class OptionsChaosResult(ChaosResult):
    """The figures of one options run."""

    label: ClassVar[str] = "chaos"
    noun: ClassVar[str] = "trades"

    #: Trades placed, by product.
    products: dict[str, int] = field(default_factory=dict)
    outcomes_known: int = 0
    outcomes_unknown: int = 0
    candles_seen: int = 0
    candle_holes: int = 0
    candles_backfilled: int = 0
    candles_coalesced: int = 0

    @property
    def trades(self) -> int:
        """The buy calls of the run."""
        return self.calls

    @property
    def ok(self) -> bool:
        """Every guarantee held, every outcome is known and the candle stream has no hole."""
        return super().ok and self.outcomes_unknown == 0 and self.candle_holes == 0

    def product_lines(self) -> list[str]:
        return [
            f"  placed by product: {', '.join(f'{k}={v}' for k, v in sorted(self.products.items()))}",
            f"  outcomes known={self.outcomes_known} unknown={self.outcomes_unknown}",
            f"  candles seen={self.candles_seen} back-filled={self.candles_backfilled} "
            f"holes={self.candle_holes} coalesced={self.candles_coalesced}",
        ]


class Options:
    """The options product: one object per run."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.outcomes: list[asyncio.Task[None]] = []
        self.seen: list[Candle] = []

    def new_result(self, seed: int, calls: int) -> OptionsChaosResult:
        return OptionsChaosResult(seed=seed, calls=calls)

    def client_options(self) -> dict[str, Any]:
        # Time runs ~60x fast here: a 3 s back-fill holds 12 minutes of pushes. Room for
        # them, so coalescing (the documented backpressure policy) does not blur the check.
        return {"outcome_grace": 7200.0, "stream_maxsize": 100_000}

    async def start(self, client: Client, trader: Trader, sim: Simulator) -> None:
        self.trader = trader
        await trader.portfolio.start()
        self.demo_id = (await client.get_balance(BalanceType.DEMO)).id
        self.start_balance = sim.balances()[1].amount
        self.stream: Stream[Candle] = client.candles(76, 1)
        await self.stream.__aenter__()

        async def watch_candles() -> None:
            async for candle in self.stream:
                self.seen.append(candle)

        self.watcher = asyncio.create_task(watch_candles())

    async def batch(self, driver: Driver, number: int, size: int, quota: int) -> None:
        rng = driver.rng
        in_jump = quota > 0 and rng.random() < 0.2
        _arm(driver, quota - (1 if in_jump else 0))
        first = len(self.calls)
        batch = [_call(first + k, rng) for k in range(size)]
        self.calls += batch
        await driver.until_done(_buy(self.trader, call) for call in batch)
        for call in batch:
            if call.trade is not None:
                self.outcomes.append(asyncio.create_task(_outcome(call)))
        await driver.jump(rng.uniform(5, 40), in_jump)

    async def settle(self, driver: Driver) -> None:
        """Every trade's outcome: time moves on until each has settled."""
        deadline = asyncio.get_running_loop().time() + 120
        while not all(task.done() for task in self.outcomes):
            await driver.sim.advance(1)
            await asyncio.sleep(0.005)
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"outcomes hung (seed={driver.seed})")

    async def check(self, client: Client, sim: Simulator, result: OptionsChaosResult) -> None:
        _check(result, self.calls, self.trader, sim, self.demo_id, self.start_balance)
        self.watcher.cancel()
        await asyncio.gather(self.watcher, return_exceptions=True)
        stream = self.stream
        assert isinstance(stream, CandleStream)
        result.candles_backfilled = stream.backfilled
        result.candles_coalesced = stream.coalesced
        result.candle_holes = _holes(self.seen) + len(stream.gaps)
        result.candles_seen = len(self.seen)
        await stream.aclose()


async def run_chaos_options(trades: int = 1000, disconnects: int = 200, seed: int = 1) -> OptionsChaosResult:
    """Run the options chaos scenario and check every guarantee; never raises on a failed guarantee."""
    return await run(Options(), trades, disconnects, seed)


def _arm(driver: Driver, disconnects: int) -> None:
    """Choose this batch's faults."""
    rng, sim = driver.rng, driver.sim
    for _ in range(disconnects):
        kind = rng.choice(("lost_answer", "ignored", "random", "random", "refused"))
        if kind == "lost_answer":
            driver.disconnect_after(DROP, rng.choice(MONEY))
        elif kind == "ignored":
            driver.disconnect_after(IGNORE, rng.choice(MONEY))
        elif kind == "refused":
            driver.refuse_then_disconnect()
        else:
            driver.disconnect_at(rng.randrange(0, 10))
    driver.maybe_delay_frames()
    if rng.random() < 0.2:
        driver.pending_malformed = True
    if rng.random() < 0.08:
        sim.drop_responses(rng.choice(MONEY))  # executed, answer lost, connection stays: a timeout
    if rng.random() < 0.08:
        sim.ignore_requests(rng.choice(MONEY))  # never executed nor answered: a timeout
    if rng.random() < 0.08:
        sim.drop_responses()  # the next answer of any RPC
    if rng.random() < 0.05:
        driver.silence()  # longer than the client's heartbeat timeout


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


def _holes(candles: list[Candle]) -> int:
    """Missing ids in the closed 1-second candles the consumer saw."""
    ids = sorted({c.id for c in candles if c.is_closed})
    if not ids:
        return 0
    return (ids[-1] - ids[0] + 1) - len(ids)


def _check(
    result: OptionsChaosResult,
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
    for call in calls:
        found = by_amount.pop(call.amount, [])
        result.count_matches(call.index, found, "positions")
        if call.trade is not None:
            result.placed += 1
            result.products[call.product] = result.products.get(call.product, 0) + 1
            result.reconciled += call.trade.reconciled
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
            result.count_unplaced(call.error, found, call.index)
    result.count_strays(by_amount, "position(s)")
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
