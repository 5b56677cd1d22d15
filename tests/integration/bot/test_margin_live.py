"""ctx.order / ctx.close live: through the Trader, the margin guards and the journal, against the simulator."""

from __future__ import annotations

from pathlib import Path

from iqwire.bot.journal import Journal, TradeStatus
from iqwire.bot.margin import MarginDesk, MarginLimits, TraderMarginBroker
from iqwire.bot.runner import JournalLink
from iqwire.client import Client
from iqwire.models import Outcome
from iqwire.sim import Simulator
from iqwire.trading import Trader


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
