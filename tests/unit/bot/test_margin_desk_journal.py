"""The margin desk's journal and guard duties, over a scripted broker (no server)."""

from __future__ import annotations

from pathlib import Path

from iqwire.bot.journal import Journal, TradeStatus
from iqwire.bot.margin import MarginAccountView, MarginDesk, MarginTicket
from iqwire.bot.records import TradeRecord
from iqwire.bot.risk import RiskGuard, RiskLimits
from iqwire.bot.runner import JournalLink
from iqwire.models import Outcome
from iqwire.trading.margin_levels import LevelInput

NOW = 1_770_899_100.0


class ScriptedBroker:
    """Fills every market order at 1.1; a limit order stays pending; ``close`` closes at ``exit``."""

    def __init__(self) -> None:
        self.sent = 0
        self.exit = 1.0995

    def account(self) -> MarginAccountView:
        return MarginAccountView(10_000.0, 10_000.0, 0.0, None, 0.0)

    def price(self, active_id: int) -> float | None:
        return 1.1

    async def describe(self, active: str | int) -> tuple[str, int, int | None]:
        return "marginal-forex", 76, 9

    async def order(
        self,
        active: str | int,
        side: str,
        quantity: float,
        *,
        type: str,
        price: float | None,
        leverage: int | None,
        take_profit: LevelInput,
        stop_loss: LevelInput,
    ) -> MarginTicket:
        self.sent += 1
        ticket = MarginTicket(
            id=100 + self.sent, active_id=76, side=side, quantity=quantity, leverage=100, type=type
        )
        if type == "market":
            ticket.status, ticket.open_price, ticket.opened_at = "open", 1.1, NOW
        return ticket

    async def close(self, ticket: MarginTicket) -> MarginTicket:
        if ticket.status == "pending":
            ticket.status = "canceled"
            return ticket
        ticket.status, ticket.close_price, ticket.closed_at = "closed", self.exit, NOW + 30
        ticket.pnl = round((self.exit - 1.1) * ticket.quantity, 2)
        return ticket


def _desk(
    journal: Journal, guard: RiskGuard, report: list[TradeRecord] | None = None
) -> tuple[MarginDesk, ScriptedBroker, int]:
    run = journal.start_run(mode="paper", account="a", at=NOW)
    broker = ScriptedBroker()
    link = JournalLink(journal, run, None, product="margin", ref_kind="order")
    desk = MarginDesk(
        broker,
        now=lambda: NOW,
        resolve=lambda a: 76,
        journal=link,
        guard=guard,
        report=None if report is None else report.append,
    )
    return desk, broker, run


async def test_a_close_is_journaled_and_counted_once_and_the_day_loss_then_refuses(tmp_path: Path) -> None:
    guard = RiskGuard(RiskLimits(daily_loss_limit=5, cooldown_after_losses=None))
    reported: list[TradeRecord] = []
    with Journal.open(tmp_path / "j.sqlite") as journal:
        desk, broker, run = _desk(journal, guard, reported)
        ticket = await desk.order("EURUSD-OTC", "buy", 10_000)
        assert ticket is not None
        (row,) = journal.trades()
        # What the broker described: the product, the active and the marginal balance.
        assert (row.product, row.active_id, row.balance_id, row.ref_id) == ("marginal-forex", 76, 9, "101")
        closed = await desk.close(ticket)
        assert closed is not None and closed.pnl == -5.0
        desk.settled(closed)  # a push after the close: nothing more
        (row,) = journal.trades()
        assert (row.status, row.outcome, row.pnl) == (TradeStatus.CLOSED, Outcome.LOSS, -5.0)
        assert [kind for kind, _, _ in journal.events(row.id)] == ["intent", "answer", "outcome"]
        assert guard.describe(NOW)["today"] == "-5.00" and guard.open_count == 0
        # Reported once, as the journal reports it (the product the broker described).
        assert reported == journal.closed_records()
        assert (reported[0].product, reported[0].amount, reported[0].close_price) == (
            "marginal-forex",
            10_000,
            1.0995,
        )

        assert await desk.order("EURUSD-OTC", "buy", 10_000) is None
        assert broker.sent == 1  # refused before anything was sent
        assert desk.refusals == {"daily_loss_limit": 1}
        journal.flush()
        assert [d.rule for d in journal.guard_decisions(run) if not d.allowed] == ["daily_loss_limit"]


async def test_a_canceled_pending_order_is_not_placed_and_not_counted(tmp_path: Path) -> None:
    guard = RiskGuard(RiskLimits())
    with Journal.open(tmp_path / "j.sqlite") as journal:
        desk, _, _ = _desk(journal, guard)
        ticket = await desk.order("EURUSD-OTC", "sell", 1_000, type="limit", price=1.2)
        assert ticket is not None and ticket.status == "pending" and desk.open_positions == [ticket]
        assert await desk.close(ticket) is ticket and ticket.status == "canceled"
        (row,) = journal.trades()
        assert row.status is TradeStatus.NOT_PLACED and row.error == "canceled: the order never filled"
        assert guard.describe(NOW)["today"] == "+0.00" and desk.open_positions == []


async def test_a_ticket_closed_while_being_placed_is_settled_after_its_answer(tmp_path: Path) -> None:
    guard = RiskGuard(RiskLimits())
    with Journal.open(tmp_path / "j.sqlite") as journal:
        desk, broker, _ = _desk(journal, guard)
        original = broker.order

        async def closing_at_once(*args: object, **kwargs: object) -> MarginTicket:
            ticket = await original(*args, **kwargs)  # type: ignore[arg-type]
            ticket.status, ticket.pnl, ticket.close_price, ticket.closed_at = "closed", 2.5, 1.1002, NOW + 1
            desk.settled(ticket)  # the broker's push, before the desk knows the ticket
            return ticket

        broker.order = closing_at_once  # type: ignore[method-assign]
        assert await desk.order("EURUSD-OTC", "buy", 10_000) is not None
        (row,) = journal.trades()
        assert (row.status, row.outcome, row.pnl) == (TradeStatus.CLOSED, Outcome.WIN, 2.5)
        assert guard.describe(NOW)["today"] == "+2.50"
