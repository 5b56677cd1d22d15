"""The margin product of the chaos run: margin orders placed, closed and canceled under faults.

Run it through ``run_chaos.py margin`` (``make chaos``: 500 orders, 100 disconnects;
``make test`` runs a small one in test_chaos_margin.py). The runner
(``run_chaos_runner.py``) owns the simulator, the clock, the batches and the faults;
this module says how an order is placed and finished, how a server order is matched
back to its call, and what the ledger is.

Orders go in small concurrent batches on EURUSD-OTC and BTCUSD (open around the
clock); each call has its own quantity (1000, 2000, … units of EURUSD-OTC; 0.001,
0.002, … BTC), which maps every server order to exactly one call. Most are market
orders, followed to their fill and closed; some are limit orders far from the market,
then canceled. Faults, all seeded: a dropped connection right after the server
executed a place-order, a close-position or a cancel whose answer it swallowed; right
after it ignored a place-order (never executed); at a random moment; with refused
reconnects; plus delayed frames and swallowed answers without a disconnect (timeouts).

Afterwards: no server order that its call did not learn of (lost), no call with two
server orders (doubled), every position closed, and the ledger equal on both sides:
the simulator's cash movements sum to its cash, the billing balance shows it, the
trader's marginal balance shows it, and every closed position's P&L is the same in
the trader's book as on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from run_chaos_runner import DROP, IGNORE, ChaosResult, Driver, run

from iqwire.client import Client
from iqwire.errors import IqwireError, TradeNotPlaced, TradeStateUnknown
from iqwire.sim import Simulator
from iqwire.sim.margin import Margin
from iqwire.trading import MarginOrder, MarginPosition, Trader

#: (instrument, unit of quantity, leverage): always-open instruments.
INSTRUMENTS = (("EURUSD-OTC", Decimal(1000), 500), ("BTCUSD", Decimal("0.001"), 10))
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
class MarginChaosResult(ChaosResult):
    """The figures of one margin run."""

    label: ClassVar[str] = "chaos-margin"
    noun: ClassVar[str] = "orders"

    filled: int = 0
    canceled: int = 0
    close_retries: int = 0

    @property
    def orders(self) -> int:
        """The place-order calls of the run."""
        return self.calls

    def product_lines(self) -> list[str]:
        return [
            f"  filled and closed={self.filled} (close retried after a lost answer: {self.close_retries}) "
            f"canceled={self.canceled}"
        ]


class MarginProduct:
    """The margin product: one object per run."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def new_result(self, seed: int, calls: int) -> MarginChaosResult:
        return MarginChaosResult(seed=seed, calls=calls)

    def client_options(self) -> dict[str, Any]:
        return {}

    async def start(self, client: Client, trader: Trader, sim: Simulator) -> None:
        self.trader = trader
        await trader.margin.start()

    async def batch(self, driver: Driver, number: int, size: int, quota: int) -> None:
        """Place the batch (half the disconnects among the place-orders), then close or cancel
        what was placed (the other half among the closes and cancels)."""
        rng = driver.rng
        batch = []
        for _ in range(size):
            name, unit, leverage = rng.choice(INSTRUMENTS)
            index = len(self.calls)
            side = rng.choice(("buy", "sell"))
            call = Call(index, name, unit * (index + 1), leverage, side, rng.random() < 0.2)
            self.calls.append(call)
            batch.append(call)
        place_faults = quota - quota // 2
        _arm(driver, place_faults, FAULTED[:2])
        await driver.until_done(_place(self.trader, c) for c in batch)
        driver.disarm(FAULTED)  # faults not taken this phase
        _arm(driver, quota - place_faults, FAULTED[2:])
        await driver.until_done(_finish(c) for c in batch if c.order is not None)
        driver.disarm(FAULTED)
        await driver.sim.advance(rng.uniform(1, 20))

    async def settle(self, driver: Driver) -> None:
        """Nothing to wait for: every batch closed or canceled what it placed."""

    async def check(self, client: Client, sim: Simulator, result: MarginChaosResult) -> None:
        await self.trader.margin.resync()
        figures = await self.trader.margin_balance()
        _check(result, self.calls, self.trader, sim, figures.cash)


async def run_chaos_margin(orders: int = 500, disconnects: int = 100, seed: int = 1) -> MarginChaosResult:
    """Run the margin chaos scenario and check every guarantee; never raises on a failed guarantee."""
    return await run(MarginProduct(), orders, disconnects, seed)


def _arm(driver: Driver, disconnects: int, rpcs: tuple[str, ...]) -> None:
    """Choose this phase's faults, for the RPCs it sends."""
    rng, sim = driver.rng, driver.sim
    for _ in range(disconnects):
        kind = rng.choice(("lost_answer", "lost_answer", "ignored", "random", "refused"))
        rpc = rng.choice(rpcs)
        if kind == "lost_answer":
            driver.disconnect_after(DROP, rpc)
        elif kind == "ignored" and "place" in rpc:
            driver.disconnect_after(IGNORE, rpc)
        elif kind == "refused":
            driver.refuse_then_disconnect()
        else:
            driver.disconnect_at(rng.randrange(0, 10))
    driver.maybe_delay_frames()
    if rng.random() < 0.05:
        sim.drop_responses(rng.choice(rpcs))  # executed, answer lost, connection stays: a timeout


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


def _check(
    result: MarginChaosResult, calls: list[Call], trader: Trader, sim: Simulator, our_cash: Decimal
) -> None:
    product = next(p for p in sim.engine.products if isinstance(p, Margin))
    by_key: dict[tuple[str, Decimal], list[int]] = {}
    for order in product.book.orders.values():
        by_key.setdefault((order.terms.name, order.count), []).append(order.id)
    for call in calls:
        found = by_key.pop((call.instrument, call.quantity), [])
        result.count_matches(call.index, found, "server orders")
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
            result.count_unplaced(call.error, found, call.index)
    result.count_strays(by_key, "order(s)")
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
