"""kill -9 a live bot that trades on margin at random moments, restart it, check the account against its journal.

The margin variant of ``test_bot_kill_restart.py``: ``iqwire sim`` runs as its own
process (10x clock); ``iqwire bot run --live`` with a ``[margin]`` table trades the
demo marginal balance with market orders carrying a take-profit and a stop-loss, and
is killed (SIGKILL) at random moments, with positions open and the day's loss
closing in on its limit, then restarted; a last run ends normally. Then, from the
simulator's own record of the account's margin positions:

* every position is in the journal exactly once by its order id, closed with its
  real P&L (or still open, and open in the journal, if it outlived the last run):
  lost = 0, and no intent was placed twice (doubled = 0);
* the daily loss limit held across every restart: no position opened once the day's
  realised margin loss had reached it, and it was reached during the test.

The strategy opens a buy and a sell of 100,000 together, each with its take-profit
and stop-loss one pip away (a leg moves about 10.00): when the price runs a pip one
way, one leg takes its profit and the other its loss (about even, less the spreads);
when it turns back before the second leg's level, both stop out (about -21.00). The
day's loss reaches the limit after a few pairs, with the bot flat.
"""

from __future__ import annotations

import re
from pathlib import Path

from kill_helpers import check_limit_across_restarts, recovered_counts, run_and_kill

from iqwire.bot.journal import Journal, TradeStatus, is_margin
from iqwire.client import Client
from iqwire.models import BalanceType, Position
from iqwire.sim.config import DEMO_EMAIL, DEMO_PASSWORD
from iqwire.trading.margin_positions import MARGIN_TYPES, order_ids

#: At least this many kills, and two more after the limit was reached; never more than MAX_RUNS.
KILLS = 8
MAX_RUNS = 20
#: A few pairs of a buy and a sell (see above): the limit is reached at the first pair that stops out twice.
LIMIT = 10.0
RECOVERED = re.compile(
    r"recovered margin: (\d+) position\(s\) or order\(s\) followed, (\d+) closed while down, "
    r"(\d+) reconciled, (\d+) not placed"
)

STRATEGY = """
from iqwire.bot import Strategy

LEVELS = {"take_profit": (1, "pips"), "stop_loss": (1, "pips")}


class Hedge(Strategy):
    actives = ["EURUSD-OTC"]
    sizes = [1]

    async def on_candle(self, ctx, candle):
        if ctx.margin_positions:
            return
        if await ctx.order("EURUSD-OTC", "buy", 100_000, leverage=100, **LEVELS) is not None:
            await ctx.order("EURUSD-OTC", "sell", 100_000, leverage=100, **LEVELS)
"""

CONFIG = f"""
strategy = "hedge.py"

[risk]
daily_loss_limit = {LIMIT}
cooldown_after_losses = 1000

[margin]
max_open = 2
"""


async def margin_positions(ws_url: str, login_url: str) -> list[Position]:
    async with Client(DEMO_EMAIL, DEMO_PASSWORD, ws_url=ws_url, login_url=login_url) as client:
        balances = await client.get_balances()
        marginal = next(b.id for b in balances if b.is_marginal and b.type == BalanceType.DEMO)
        types = list(MARGIN_TYPES)
        positions = await client.get_positions(marginal, instrument_types=types)
        offset = 0
        while page := await client.get_history_positions(
            marginal, instrument_types=types, limit=100, offset=offset
        ):
            positions += page
            offset += len(page)
    return positions


def test_kill_9_and_restart_of_a_margin_bot_loses_nothing_doubles_nothing_and_keeps_the_limit(
    tmp_path: Path,
) -> None:
    done, positions = run_and_kill(
        tmp_path,
        {"hedge.py": STRATEGY, "run.toml": CONFIG},
        limit=LIMIT,
        kills=KILLS,
        max_runs=MAX_RUNS,
        counted=lambda t: is_margin(t.product),
        seed=16,
        last_duration=6,
        positions=margin_positions,
    )

    with Journal.open(tmp_path / "journal.sqlite") as journal:
        trades = [t for t in journal.trades() if is_margin(t.product)]
        runs = journal.runs()
    journaled = {t.ref_id: t for t in trades if t.ref_id is not None}
    server = {str(order_ids(p)[0]): p for p in positions}

    lost = [ref for ref in server if ref not in journaled]
    doubled = len(positions) - len(server) + len([ref for ref in journaled if ref not in server])
    assert lost == [] and doubled == 0
    still_open = 0
    for ref, position in server.items():
        trade = journaled[ref]
        assert trade.ref_kind == "order" and trade.product == position.instrument_type
        if position.is_closed:
            assert trade.status is TradeStatus.CLOSED, trade
            assert trade.pnl == position.pnl and trade.close_price == position.close_quote
        else:  # outlived the last run: followed, not lost
            still_open += 1
            assert trade.status is TradeStatus.OPEN, trade
    # Every intent ended somewhere definite: placed (closed or still open), or provably not placed.
    assert {t.status for t in trades} <= {
        TradeStatus.CLOSED,
        TradeStatus.OPEN,
        TradeStatus.NOT_PLACED,
        TradeStatus.REJECTED,
    }

    # The limit held: at each open, the day's realised margin P&L (every close up to then) was above it;
    # no more than the two of a pair open at once: nothing was placed twice.
    spans = [(p.open_time_s or 0.0, p.close_time_s, p.pnl or 0.0) for p in positions]
    # The first instant the day's loss reached the limit (a trade the last run followed may close later).
    day_pnl, after = check_limit_across_restarts(spans, [r.started_at for r in runs], LIMIT, at_once=2)

    recovered = recovered_counts(tmp_path, RECOVERED)
    print(
        f"\nkill/restart margin: recovered followed={recovered[0]} closed_while_down={recovered[1]} "
        f"reconciled={recovered[2]} not_placed={recovered[3]}"
    )
    print(
        f"kill/restart margin: runs={len(runs)} kills={done.kills} kills_with_positions_open={done.with_trades_open} "
        f"positions={len(positions)} still_open={still_open} intents={len(trades)} lost={len(lost)} "
        f"doubled={doubled} day_pnl={day_pnl:+.2f} limit=-{LIMIT:g} runs_after_limit={after}"
    )
