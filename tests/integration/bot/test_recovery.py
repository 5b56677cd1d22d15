"""Recovery on restart: the journal settled against the server, the guards rebuilt from it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pytest

from iqwire.bot import Context, RiskGuard, RiskLimits, Strategy, live_journal
from iqwire.bot.journal import Answer, Intent, Journal, TradeStatus
from iqwire.bot.live import LiveSession
from iqwire.bot.recovery import rebuild_guard, recover
from iqwire.client import Client
from iqwire.errors import ConnectionLost
from iqwire.models import BalanceType, Candle, Outcome
from iqwire.sim import ManualClock, Simulator
from iqwire.trading import Trader

#: A Thursday, 2026-02-12 12:25 UTC: the forex and OTC actives are open.
START = 1_770_899_100
OTC = 76


async def _demo_id(client: Client) -> int:
    return (await client.get_balance(BalanceType.DEMO)).id


def _intent(client: Client, balance_id: int, amount: float, direction: str = "call") -> Intent:
    return Intent("blitz", OTC, direction, amount, 5, balance_id, client.server_time())


async def test_every_recovery_rule(tmp_path: Path) -> None:
    async with (
        Simulator(seed=3, clock=ManualClock(START)) as sim,
        Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client,
    ):
        balance_id = await _demo_id(client)
        account = f"{client.ws_url}|{await client.user_id()}"
        journal = Journal.open(tmp_path / "j.sqlite")
        run = journal.start_run(mode="live", account=account, balance_id=balance_id)

        async def placed(amount: float, *, answer: bool) -> tuple[int, int]:
            intent_id = journal.record_intent(run, _intent(client, balance_id, amount))
            trade = await Trader(client).buy_blitz(OTC, "call", amount, 5)
            if answer:
                journal.record_answer(
                    intent_id, Answer("option", trade.id, trade.created, trade.expires, trade.open_price, 85.0),
                    at=client.server_time(),
                )  # fmt: skip
            return intent_id, trade.id

        closed_while_down, closed_id = await placed(3, answer=True)
        await sim.advance(6)  # it expires while "the bot is down"
        still_open, open_id = await placed(4, answer=True)
        lost_answer, lost_id = await placed(5, answer=False)  # sent, answer never journaled
        never_sent = journal.record_intent(run, _intent(client, balance_id, 6))  # killed before sending
        ghost = journal.record_intent(run, _intent(client, balance_id, 7))
        journal.record_answer(ghost, Answer("option", 1, START, START + 5), at=START)  # not on this server
        ancient = journal.record_intent(
            run, Intent("blitz", OTC, "put", 8, 5, balance_id, START - 3 * 86_400)
        )

        recovery = await recover(journal, client, account=account, balance_id=balance_id)

        assert sorted(t.id for t in recovery.follow) == sorted([open_id, lost_id])
        assert [t.id for t in recovery.closed] == [closed_while_down]
        assert (recovery.reconciled, recovery.not_placed, recovery.unknown) == (1, 1, 2)
        server = {p.option_id: p for p in sim.positions()}
        done = journal.find("option", closed_id)
        assert done is not None and done.status is TradeStatus.CLOSED
        assert (done.outcome, done.pnl) == (server[closed_id].outcome, server[closed_id].pnl)
        reconciled = journal.trade(lost_answer)
        assert reconciled is not None and reconciled.ref_id == str(lost_id)
        assert [kind for kind, _, _ in journal.events(lost_answer)] == ["intent", "reconciled"]
        assert journal.trade(still_open).status is TradeStatus.OPEN  # type: ignore[union-attr]
        assert journal.trade(never_sent).status is TradeStatus.NOT_PLACED  # type: ignore[union-attr]
        assert journal.trade(ghost).status is TradeStatus.UNKNOWN  # type: ignore[union-attr]
        # Older than the history read: not finding it proves nothing.
        assert journal.trade(ancient).status is TradeStatus.UNKNOWN  # type: ignore[union-attr]
        # Nothing was sent again: the server holds exactly the three trades placed above.
        assert sorted(server) == sorted([closed_id, open_id, lost_id])

        guard = RiskGuard(RiskLimits(max_open_trades=2, daily_loss_limit=None))
        rebuild_guard(guard, journal.trades(account=account, balance_id=balance_id), client.server_time())
        assert guard.open_count == 2
        assert (
            guard.check(amount=1, payout=85, now=client.server_time()) == "max_open_trades: 2 trades are open"
        )
        assert guard.describe(client.server_time())["today"] == f"{server[closed_id].pnl:+.2f}"
        # A second recovery finds nothing new to settle.
        again = await recover(journal, client, account=account, balance_id=balance_id)
        assert (again.reconciled, again.not_placed, len(again.closed)) == (0, 0, 0)
        journal.close()


class Eager(Strategy):
    """Tries to buy on every closed candle."""

    actives: ClassVar[list[str | int]] = ["EURUSD-OTC"]
    sizes: ClassVar[list[int]] = [1]
    params: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.bought = 0

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        if await ctx.buy("call", 10, expiration=5) is not None:
            self.bought += 1


async def test_a_restart_keeps_the_daily_loss_limit_and_adopts_open_trades(tmp_path: Path) -> None:
    async with (
        Simulator(seed=4, clock=ManualClock(START)) as sim,
        Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client,
    ):
        balance_id = await _demo_id(client)
        account = f"{client.ws_url}|{await client.user_id()}"
        with Journal.open(tmp_path / "j.sqlite") as journal:
            # An earlier run today: 60 lost, and one trade still open on the server.
            run = journal.start_run(mode="live", account=account, balance_id=balance_id)
            for n in range(6):
                lost = journal.record_intent(run, _intent(client, balance_id, 10))
                journal.record_answer(lost, Answer("option", 500 + n, START - 600, START - 595), at=START)
                journal.record_outcome(lost, Outcome.LOSS, -10.0, close_price=1.0, closed_at=START - 595)
            open_intent = journal.record_intent(run, _intent(client, balance_id, 2))
            trade = await Trader(client).buy_blitz(OTC, "call", 2, 5)
            journal.record_answer(
                open_intent, Answer("option", trade.id, trade.created, trade.expires), at=START
            )

            strategy = Eager()
            limits = RiskLimits(daily_loss_limit=50, max_open_trades=None, cooldown_after_losses=None,
                                min_payout=None, max_trades_per_minute=None)  # fmt: skip
            session = LiveSession(client, strategy, limits=limits, journal=journal, settle_timeout=10)
            stop = asyncio.Event()
            running = asyncio.create_task(session.run(stop=stop))
            await asyncio.sleep(0.3)
            for _ in range(20):
                await sim.advance(1)
                await asyncio.sleep(0.01)
            stop.set()
            while not running.done():
                await sim.advance(1)
                await asyncio.sleep(0.01)
            result = await running

            assert strategy.bought == 0
            assert result.state.refusals.get("daily_loss_limit", 0) > 0
            assert result.recovery is not None and [t.id for t in result.recovery.follow] == [trade.id]
            # The adopted trade was followed to its real outcome, in the journal and the run's report.
            adopted = journal.find("option", trade.id)
            server = next(p for p in sim.positions() if p.option_id == trade.id)
            assert adopted is not None and adopted.status is TradeStatus.CLOSED
            assert (adopted.outcome, adopted.pnl) == (server.outcome, server.pnl)
            assert [r.id for r in result.state.closed] == [trade.id]
            assert len(sim.positions()) == 1
            decisions = journal.guard_decisions(journal.runs()[-1].id)
            assert decisions and all(not d.allowed and d.rule == "daily_loss_limit" for d in decisions)


async def test_a_run_that_fails_to_start_gives_the_journal_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recovery failing after the journal was claimed: the error reaches the caller, and
    the same process (or another bot) can claim the journal again at once."""

    async def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionLost("lost during recovery")

    monkeypatch.setattr(live_journal, "recover_options", broken)
    async with (
        Simulator(seed=5, clock=ManualClock(START)) as sim,
        Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client,
    ):
        with Journal.open(tmp_path / "j.sqlite") as journal:
            session = LiveSession(client, Eager(), journal=journal, settle_timeout=1)
            with pytest.raises(ConnectionLost):
                await session.run(duration=1)
            with Journal.open(tmp_path / "j.sqlite") as other:
                other.claim()  # JournalInUse while the failed run still held it
                other.release()
