"""kill -9 a live bot at random moments, restart it, and check the account against its journal.

``iqwire sim`` runs as its own process (10x clock); ``iqwire bot run --live`` trades its
demo balance with a journal and is killed (SIGKILL) at random moments, with trades
open and the day's loss closing in on its limit, then restarted; a last run ends
normally and settles. Then, from the simulator's own record of the account:

* every position is in the journal exactly once, closed with its real outcome and P&L
  (lost = 0), and no intent was placed twice (doubled = 0);
* the daily loss limit held across every restart: no trade opened once the day's
  realised loss had reached it (the strategy only trades when flat, so the guard
  knew every close before each open), and it was reached during the test.

The strategy buys a call and a put together, so the day's P&L falls by about
(100 - payout)% of a stake per pair: the limit is reached part-way through, and the
bot is killed and restarted at least twice more after that.
"""

from __future__ import annotations

import re
from pathlib import Path

from kill_helpers import check_limit_across_restarts, recovered_counts, run_and_kill

from iqwire.bot.journal import Journal, TradeStatus
from iqwire.client import Client
from iqwire.models import BalanceType, Position, timestamp_seconds
from iqwire.sim.config import DEMO_EMAIL, DEMO_PASSWORD

#: At least this many kills, and two more after the limit was reached; never more than MAX_RUNS.
KILLS = 8
MAX_RUNS = 20
#: About four pairs of a call and a put (each pair loses about 12% of a stake: 1.20).
LIMIT = 5.0
RECOVERED = re.compile(
    r"recovered: (\d+) open trade\(s\) followed, (\d+) closed while down, (\d+) reconciled, (\d+) not placed"
)

STRATEGY = """
from iqwire.bot import Strategy


class Pairs(Strategy):
    actives = ["EURUSD-OTC"]
    sizes = [1]

    async def on_candle(self, ctx, candle):
        if ctx.open_positions:
            return
        # 30 s (3 s of wall time): some trades close while the bot is down, some outlive the restart.
        if await ctx.buy("call", 10, expiration=30) is not None:
            await ctx.buy("put", 10, expiration=30)
"""

CONFIG = f"""
strategy = "pairs.py"

[risk]
max_stake = 10
max_open_trades = 2
daily_loss_limit = {LIMIT}
max_trades_per_minute = 100
min_payout = 0
"""


async def account_positions(ws_url: str, login_url: str) -> list[Position]:
    async with Client(DEMO_EMAIL, DEMO_PASSWORD, ws_url=ws_url, login_url=login_url) as client:
        balance = (await client.get_balance(BalanceType.DEMO)).id
        positions = await client.get_positions(balance)
        offset = 0
        while page := await client.get_history_positions(balance, limit=100, offset=offset):
            positions += page
            offset += len(page)
    return positions


def test_kill_9_and_restart_loses_nothing_doubles_nothing_and_keeps_the_limit(tmp_path: Path) -> None:
    done, positions = run_and_kill(
        tmp_path,
        {"pairs.py": STRATEGY, "run.toml": CONFIG},
        limit=LIMIT,
        kills=KILLS,
        max_runs=MAX_RUNS,
        counted=lambda t: True,
        seed=15,
        last_duration=3,
        positions=account_positions,
    )

    with Journal.open(tmp_path / "journal.sqlite") as journal:
        trades = journal.trades()
        runs = journal.runs()
    journaled = {t.ref_id: t for t in trades if t.ref_id is not None}
    server = {str(p.option_id): p for p in positions}

    lost = [ref for ref in server if ref not in journaled]
    doubled = len(positions) - len(server) + len([ref for ref in journaled if ref not in server])
    assert lost == [] and doubled == 0
    assert all(p.is_closed for p in positions), "the last run settled every trade"
    for ref, position in server.items():
        trade = journaled[ref]
        assert trade.status is TradeStatus.CLOSED, trade
        assert (trade.outcome, trade.pnl) == (position.outcome, position.pnl)
    # Every intent ended somewhere definite: placed and closed, or provably not placed.
    assert {t.status for t in trades} <= {TradeStatus.CLOSED, TradeStatus.NOT_PLACED, TradeStatus.REJECTED}

    # The limit held: at each open, the day's realised P&L (every close up to then) was above it;
    # no more than the two of a pair open at once: nothing was placed twice.
    spans = [
        (timestamp_seconds(p.open_time or 0), timestamp_seconds(p.close_time or 0), p.pnl or 0.0)
        for p in positions
    ]
    # The first instant the day's loss reached the limit (a trade the last run followed may close later).
    day_pnl, after = check_limit_across_restarts(spans, [r.started_at for r in runs], LIMIT, at_once=2)

    recovered = recovered_counts(tmp_path, RECOVERED)
    print(
        f"\nkill/restart: recovered followed={recovered[0]} closed_while_down={recovered[1]} "
        f"reconciled={recovered[2]} not_placed={recovered[3]}"
    )
    print(
        f"kill/restart: runs={len(runs)} kills={done.kills} kills_with_trades_open={done.with_trades_open} "
        f"trades={len(positions)} intents={len(trades)} lost={len(lost)} doubled={doubled} "
        f"day_pnl={day_pnl:+.2f} limit=-{LIMIT:g} runs_after_limit={after}"
    )
