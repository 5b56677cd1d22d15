"""ctx.order / ctx.close live: through the Trader, the margin guards and the journal, against the simulator."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from iqwire.bot import Context, Strategy
from iqwire.bot.journal import Journal, TradeStatus
from iqwire.bot.live import LiveSession
from iqwire.bot.margin import MarginDesk, MarginLimits, TraderMarginBroker
from iqwire.bot.runner import JournalLink
from iqwire.client import Client
from iqwire.models import Candle, Outcome
from iqwire.sim import ManualClock, Simulator
from iqwire.trading import Trader

#: A Thursday, 2026-02-12 12:25 UTC.
START = 1_770_899_100


async def test_orders_and_closes_are_guarded_and_journaled(
    sim: Simulator, client: Client, trader: Trader, tmp_path: Path
) -> None:
    marginal = next(b for b in await client.get_balances() if b.is_marginal)
    with Journal.open(tmp_path / "journal.sqlite") as journal:
        run_id = journal.start_run(mode="paper", account="demo", at=client.server_time())
        link = JournalLink(journal, run_id, marginal.id, product="marginal-forex", ref_kind="order")
        broker = TraderMarginBroker(trader)
        desk = MarginDesk(
            broker,
            MarginLimits(max_exposure=50_000, max_open=1),
            now=client.server_time,
            resolve=lambda active: 76,
            journal=link,
        )

        ticket = await desk.order("EURUSD-OTC", "buy", 20_000, leverage=100, stop_loss=(30, "pips"))
        assert ticket is not None and ticket.status == "open" and ticket.open_price
        assert broker.account().margin_level is not None
        assert await desk.order("EURUSD-OTC", "sell", 1_000) is None  # max_open
        assert desk.refusals == {"max_open": 1}

        closed = await desk.close(ticket)
        assert closed is not None and closed.status == "closed" and closed.close_reason == "default"
        assert await desk.order("EURUSD-OTC", "sell", 50_000) is None  # 55,000 of exposure
        assert desk.refusals == {"max_open": 1, "max_exposure": 1}

        (row,) = journal.trades()
        assert row.product == "marginal-forex" and row.ref_kind == "order" and row.ref_id == str(ticket.id)
        assert row.direction == "buy" and row.amount == 20_000 and row.status is TradeStatus.CLOSED
        assert row.pnl == closed.pnl and row.outcome in (Outcome.WIN, Outcome.LOSS, Outcome.EQUAL)
        journal.flush()
        refused = {d.rule for d in journal.guard_decisions(run_id) if not d.allowed}
        assert refused == {"max_open", "max_exposure"}


class OneMarginTrade(Strategy):
    """Buys EURUSD-OTC on margin on its first closed candle and closes the position three candles later."""

    actives: ClassVar[list[str | int]] = ["EURUSD-OTC"]
    sizes: ClassVar[list[int]] = [1]

    def __init__(self) -> None:
        super().__init__()
        self.tickets: list[Any] = []
        self.seen = 0
        self.closed: Any = None

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        self.seen += 1
        if self.seen == 1:
            self.tickets.append(
                await ctx.order("EURUSD-OTC", "buy", 5_000, leverage=100, stop_loss=(300, "pips"))
            )
        elif self.seen == 4 and ctx.margin_positions:
            self.closed = await ctx.close(ctx.margin_positions[0])


async def test_a_live_session_trades_margin_through_ctx() -> None:
    async with (
        Simulator(seed=5, clock=ManualClock(START)) as sim,
        Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client,
    ):
        strategy = OneMarginTrade()
        session = LiveSession(client, strategy, margin=MarginLimits(min_margin_level=200), warmup=False)
        stop = asyncio.Event()
        run = asyncio.create_task(session.run(stop=stop))
        await asyncio.sleep(0.3)
        for _ in range(8):
            await sim.advance(1)
            await asyncio.sleep(0.05)
        stop.set()
        while not run.done():
            await sim.advance(1)
            await asyncio.sleep(0.01)
        await run

    (ticket,) = strategy.tickets
    assert ticket is not None and strategy.closed is ticket
    assert ticket.status == "closed" and ticket.close_reason == "default" and ticket.margin > 0
