"""Margin rows on restart: matched by order id against the simulator's margin book, never re-sent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

from iqwire.bot import Context, RiskGuard, RiskLimits, Strategy
from iqwire.bot.journal import Answer, Intent, Journal, TradeStatus
from iqwire.bot.live import LiveResult, LiveSession
from iqwire.bot.margin import MarginLimits
from iqwire.bot.margin_recovery import recover_margin
from iqwire.bot.recovery import rebuild_guard, recover
from iqwire.client import Client
from iqwire.models import BalanceType, Candle, Outcome
from iqwire.sim import ManualClock, Simulator
from iqwire.trading import MarginOrder, Trader

#: A Thursday, 2026-02-12 12:25 UTC: the OTC actives are open.
START = 1_770_899_100
OTC = 76
PRODUCT = "marginal-forex"


async def _marginal_id(client: Client) -> int:
    return next(b.id for b in await client.get_balances() if b.is_marginal and b.type == BalanceType.DEMO)


def _intent(client: Client, balance_id: int, side: str, quantity: float, **details: Any) -> Intent:
    terms = {"type": "market", "price": None, "leverage": 100, **details}
    return Intent(PRODUCT, OTC, side, quantity, None, balance_id, client.server_time(), details=terms)


async def test_every_margin_recovery_rule(tmp_path: Path) -> None:
    async with (
        Simulator(seed=3, clock=ManualClock(START)) as sim,
        Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client,
        Trader(client) as trader,
    ):
        marginal = await _marginal_id(client)
        account = f"{client.ws_url}|{await client.user_id()}"
        journal = Journal.open(tmp_path / "j.sqlite")
        run = journal.start_run(mode="live", account=account, balance_id=marginal)

        async def placed(
            side: str, quantity: float, *, answer: bool, **terms: Any
        ) -> tuple[int, MarginOrder]:
            intent_id = journal.record_intent(run, _intent(client, marginal, side, quantity, **terms))
            order = await trader.place_order(
                "EURUSD-OTC",
                side,
                quantity,
                leverage=100,
                type=terms.get("type", "market"),
                price=terms.get("price"),
            )
            if answer:
                journal.record_answer(
                    intent_id, Answer("order", order.id, client.server_time()), at=client.server_time()
                )
            return intent_id, order

        closed_while_down, first = await placed("buy", 2_000, answer=True)
        position = await first.filled(5)
        await sim.advance(3)
        closed = await position.close()  # closed while "the bot is down"
        still_open, second = await placed("sell", 3_000, answer=True)
        await second.filled(5)
        lost_answer, third = await placed("buy", 4_000, answer=False)  # sent; its answer never journaled
        await third.filled(5)
        far = position.open_price - 0.05
        pending, fourth = await placed("buy", 5_000, answer=True, type="limit", price=round(far, 5))
        never_sent = journal.record_intent(
            run, _intent(client, marginal, "sell", 6_000)
        )  # killed before sending
        ghost = journal.record_intent(run, _intent(client, marginal, "buy", 7_000))
        journal.record_answer(ghost, Answer("order", 987_654, START), at=START)  # not on this server
        ancient = journal.record_intent(
            run, Intent(PRODUCT, OTC, "sell", 8_000, None, marginal, START - 3 * 86_400, {"leverage": 100})
        )
        orders_on_server = len(await client.get_orders(marginal)) + len(
            await client.get_positions(marginal, instrument_types=[PRODUCT])
        )

        # The options' recovery leaves margin rows alone, even on the same balance id.
        assert (await recover(journal, client, account=account, balance_id=marginal)).summary.startswith(
            "recovered: 0 open"
        )
        found = await recover_margin(journal, client, account=account, balance_id=marginal)

        followed = {f.ticket.id: f for f in found.follow}
        assert sorted(followed) == sorted([second.id, third.id, fourth.id])
        assert followed[fourth.id].ticket.status == "pending" and followed[fourth.id].position is None
        assert followed[second.id].ticket.status == "open" and followed[second.id].intent_id == still_open
        assert [t.id for t in found.closed] == [closed_while_down]
        assert (found.reconciled, found.not_placed, found.unknown) == (1, 1, 2)
        done = journal.trade(closed_while_down)
        assert done is not None and done.status is TradeStatus.CLOSED
        assert done.pnl == closed.pnl and done.close_price == closed.close_price
        assert done.outcome is (
            Outcome.WIN if closed.pnl > 0 else Outcome.LOSS if closed.pnl < 0 else Outcome.EQUAL
        )
        reconciled = journal.trade(lost_answer)
        assert reconciled is not None and reconciled.ref_id == str(third.id)
        assert [kind for kind, _, _ in journal.events(lost_answer)] == ["intent", "reconciled"]
        assert journal.trade(pending).status is TradeStatus.OPEN  # type: ignore[union-attr]
        assert journal.trade(never_sent).status is TradeStatus.NOT_PLACED  # type: ignore[union-attr]
        assert journal.trade(ghost).status is TradeStatus.UNKNOWN  # type: ignore[union-attr]
        assert journal.trade(ancient).status is TradeStatus.UNKNOWN  # type: ignore[union-attr]
        # Nothing was sent again.
        after = len(await client.get_orders(marginal)) + len(
            await client.get_positions(marginal, instrument_types=[PRODUCT])
        )
        assert after == orders_on_server

        # A second restart changes nothing: the settled rows stay settled.
        again = await recover_margin(journal, client, account=account, balance_id=marginal)
        assert (
            len(again.follow) == 3 and again.closed == [] and (again.reconciled, again.not_placed) == (0, 0)
        )
        journal.close()


def test_margin_closes_count_in_the_rebuilt_guard_without_taking_option_slots(tmp_path: Path) -> None:
    limits = RiskLimits(daily_loss_limit=25, max_open_trades=1, cooldown_after_losses=2, cooldown_seconds=60)
    with Journal.open(tmp_path / "j.sqlite") as journal:
        run = journal.start_run(mode="live", account="a", balance_id=1)
        for n, pnl in enumerate([-10.0, -12.0]):
            at = START + 10 * n
            trade = journal.record_intent(run, Intent(PRODUCT, OTC, "buy", 1_000, None, 9, at))
            journal.record_answer(trade, Answer("order", 100 + n, at), at=at)
            journal.record_outcome(trade, Outcome.LOSS, pnl, close_price=1.1, closed_at=at + 5)
        still = journal.record_intent(run, Intent(PRODUCT, OTC, "sell", 1_000, None, 9, START + 30))
        journal.record_answer(still, Answer("order", 200, START + 30), at=START + 30)
        guard = RiskGuard(limits)
        rebuild_guard(guard, journal.trades(), START + 40)

    assert guard.describe(START + 40)["today"] == "-22.00"
    assert guard.open_count == 0  # an open margin position holds no option slot
    assert guard.check(amount=1, payout=90, now=START + 40) is not None  # the two losses: cool-down
    assert (guard.check_account(START + 200) or "").startswith("cooldown") is False
    guard.realised(Outcome.LOSS, -3.0, START + 200)
    assert (guard.check_account(START + 201) or "").startswith("daily_loss_limit")


class TakeProfit(Strategy):
    """Buys EURUSD-OTC on margin once, with a take-profit and a stop-loss ``pips`` away (none: 0)."""

    actives: ClassVar[list[str | int]] = ["EURUSD-OTC"]
    sizes: ClassVar[list[int]] = [1]

    def __init__(self, pips: int = 2) -> None:
        super().__init__()
        self.tickets: list[Any] = []
        self.levels = {"take_profit": (pips, "pips"), "stop_loss": (pips, "pips")} if pips else {}

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        if not self.tickets:
            self.tickets.append(await ctx.order("EURUSD-OTC", "buy", 10_000, leverage=100, **self.levels))


async def _run_margin_session(
    tmp_path: Path,
    strategy: TakeProfit,
    done: Callable[[], bool],
    check: Callable[[LiveSession, LiveResult, Journal, Client], Awaitable[None]],
) -> None:
    """A journaled live session with a margin desk on a manual-clock simulator, moved on until ``done``."""
    async with (
        Simulator(seed=5, clock=ManualClock(START)) as sim,
        Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client,
    ):
        with Journal.open(tmp_path / "j.sqlite") as journal:
            session = LiveSession(client, strategy, margin=MarginLimits(), warmup=False, journal=journal)
            stop = asyncio.Event()
            run = asyncio.create_task(session.run(stop=stop))
            for _ in range(600):
                await sim.advance(1)
                await asyncio.sleep(0.01)
                if done():
                    break
            stop.set()
            while not run.done():
                await sim.advance(1)
                await asyncio.sleep(0.01)
            await check(session, await run, journal, client)


async def test_a_take_profit_or_stop_loss_close_is_journaled_and_counted_by_the_guard(tmp_path: Path) -> None:
    strategy = TakeProfit()

    async def check(session: LiveSession, result: LiveResult, journal: Journal, client: Client) -> None:
        assert result.unsettled == 0
        (ticket,) = strategy.tickets
        assert ticket.status == "closed" and ticket.close_reason in ("take_profit", "stop_loss")
        (row,) = journal.trades()
        assert row.product == PRODUCT and row.ref_id == str(ticket.id) and row.status is TradeStatus.CLOSED
        assert row.pnl == ticket.pnl and row.balance_id == await _marginal_id(client)
        assert session.runner is not None
        assert session.runner.guard.describe(client.server_time())["today"] == f"{ticket.pnl:+.2f}"
        # The run's own report counts it, as the journal's does.
        (record,) = session.state.closed
        assert (record.id, record.product, record.pnl) == (ticket.id, PRODUCT, ticket.pnl)
        assert journal.closed_records() == [record]

    await _run_margin_session(
        tmp_path, strategy, lambda: bool(strategy.tickets) and strategy.tickets[0].status == "closed", check
    )


async def test_a_position_left_open_at_the_end_is_unsettled_and_open_in_the_journal(tmp_path: Path) -> None:
    strategy = TakeProfit(pips=0)

    async def check(session: LiveSession, result: LiveResult, journal: Journal, client: Client) -> None:
        (ticket,) = strategy.tickets
        assert ticket.status == "open" and result.unsettled == 1 and session.state.closed == []
        (row,) = journal.trades()
        assert row.status is TradeStatus.OPEN and row.ref_id == str(ticket.id)
        # Named in the result, with the position's id to close it by; the marginal balance traded on.
        assert result.open_margin == [ticket] and ticket.position_id is not None
        (position,) = [p for p in await client.get_positions(instrument_types=[PRODUCT]) if not p.is_closed]
        assert position.external_id == ticket.position_id  # what iqwire close takes
        marginal = await _marginal_id(client)
        assert result.traded_margin and not result.traded_options
        assert result.margin_start is not None and result.margin_end is not None
        assert result.margin_start.id == result.margin_end.id == marginal

    await _run_margin_session(tmp_path, strategy, lambda: bool(strategy.tickets), check)
