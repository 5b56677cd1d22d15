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

import asyncio
import random
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

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
CLI = [sys.executable, "-c", "from iqwire.cli.main import main; main()"]

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


def start_sim() -> tuple[subprocess.Popen[str], str, str]:
    sim = subprocess.Popen(
        [*CLI, "sim", "--port", "0", "--speed", "10", "--seed", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert sim.stdout is not None
    urls: dict[str, str] = {}
    while len(urls) < 2:
        line = sim.stdout.readline()
        assert line, "iqwire sim stopped before it listened"
        found = re.match(r"(WebSocket|Login) URL:\s+(\S+)", line)
        if found:
            urls[found.group(1)] = found.group(2)
    return sim, urls["WebSocket"], urls["Login"]


async def account_positions(ws_url: str, login_url: str) -> list[Position]:
    async with Client(DEMO_EMAIL, DEMO_PASSWORD, ws_url=ws_url, login_url=login_url) as client:
        balance = (await client.get_balance(BalanceType.DEMO)).id
        positions = await client.get_positions(balance)
        offset = 0
        while page := await client.get_history_positions(balance, limit=100, offset=offset):
            positions += page
            offset += len(page)
    return positions


def day_of(seconds: float) -> object:
    return datetime.fromtimestamp(seconds, tz=UTC).date()


def test_kill_9_and_restart_loses_nothing_doubles_nothing_and_keeps_the_limit(tmp_path: Path) -> None:
    (tmp_path / "pairs.py").write_text(STRATEGY, encoding="utf-8")
    config = tmp_path / "run.toml"
    config.write_text(CONFIG, encoding="utf-8")
    journal_path = tmp_path / "journal.sqlite"
    sim, ws_url, login_url = start_sim()
    rng = random.Random(15)
    bot = [*CLI, "bot", "run", "--live", "--config", str(config), "--journal", str(journal_path),
           "--ws-url", ws_url, "--login-url", login_url, "--email", DEMO_EMAIL, "--password", DEMO_PASSWORD]  # fmt: skip
    open_at_kill = kills = after_limit = 0
    try:
        while kills < MAX_RUNS and (kills < KILLS or after_limit < 2):
            with (tmp_path / f"bot{kills}.log").open("w") as log:
                process = subprocess.Popen([*bot, "--duration", "600"], stdout=log, stderr=subprocess.STDOUT)
                time.sleep(rng.uniform(1.0, 5.0))
                process.send_signal(signal.SIGKILL)
                assert process.wait(10) == -signal.SIGKILL
            kills += 1
            with Journal.open(journal_path) as journal:
                trades = journal.trades()
            open_at_kill += any(t.status in (TradeStatus.OPEN, TradeStatus.INTENT) for t in trades)
            realised = sum(t.pnl or 0.0 for t in trades if t.status is TradeStatus.CLOSED)
            after_limit += -realised >= LIMIT
        last = subprocess.run([*bot, "--duration", "3"], capture_output=True, text=True, timeout=60)
        assert last.returncode == 0, last.stdout + last.stderr
        positions = asyncio.run(account_positions(ws_url, login_url))
    finally:
        sim.send_signal(signal.SIGINT)
        sim.communicate(timeout=10)

    with Journal.open(journal_path) as journal:
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

    # The limit held: at each open, the day's realised P&L (every close up to then) was above it.
    ordered = sorted(positions, key=lambda p: (p.open_time or 0, p.option_id or 0))
    reached_at = None
    for position in ordered:
        opened = timestamp_seconds(position.open_time or 0)
        realised = sum(
            p.pnl or 0.0
            for p in positions
            if p.close_time is not None
            and timestamp_seconds(p.close_time) <= opened
            and day_of(timestamp_seconds(p.close_time)) == day_of(opened)
        )
        assert -realised < LIMIT, f"trade {position.option_id} opened with {realised:.2f} realised today"
        # No more than the two of a pair open at once: nothing was placed twice.
        overlapping = [
            p for p in positions if (p.open_time or 0) <= (position.open_time or 0) < (p.close_time or 0)
        ]
        assert len(overlapping) <= 2
    day_pnl = sum(p.pnl or 0.0 for p in positions)
    if -day_pnl >= LIMIT:
        reached_at = max(timestamp_seconds(p.close_time or 0) for p in positions)
    assert reached_at is not None, f"the day's P&L {day_pnl:.2f} never reached the limit -{LIMIT}"
    after = [r for r in runs if r.started_at > reached_at]
    assert after, "at least one restart happened after the limit was reached"

    recovered = [0, 0, 0, 0]
    for log_file in tmp_path.glob("bot*.log"):
        for found in RECOVERED.finditer(log_file.read_text(encoding="utf-8")):
            recovered = [a + int(b) for a, b in zip(recovered, found.groups(), strict=True)]
    print(
        f"\nkill/restart: recovered followed={recovered[0]} closed_while_down={recovered[1]} "
        f"reconciled={recovered[2]} not_placed={recovered[3]}"
    )
    print(
        f"kill/restart: runs={len(runs)} kills={kills} kills_with_trades_open={open_at_kill} "
        f"trades={len(positions)} intents={len(trades)} lost={len(lost)} doubled={doubled} "
        f"day_pnl={day_pnl:+.2f} limit=-{LIMIT:g} runs_after_limit={len(after)}"
    )
