"""A process that writes a trade journal as fast as it can, until it is killed.

Run by ``test_journal_kill.py``: ``python journal_writer.py FILE SEED``. It prints
``ready`` once, then each intent id right after ``record_intent`` returned (the
test checks that every id printed survives the kill).
"""

from __future__ import annotations

import random
import sys

from iqwire.bot.journal import Answer, Intent, Journal, TradeStatus
from iqwire.models import Outcome


def main(path: str, seed: int) -> None:
    rng = random.Random(seed)
    with Journal.open(path) as journal:
        run = journal.start_run(mode="paper", account="kill-test", balance_id=1, start_balance=1000.0)
        ref = 1_000_000 * seed  # each run its own range of server ids
        print("ready", flush=True)
        t = 1_770_899_100.0
        while True:
            t += 1
            for _ in range(rng.randint(0, 20)):
                journal.record_guard_decision(
                    run, allowed=False, at=t, reason=rng.choice(["cooldown: x", "max_open_trades: y"])
                )
            trade = journal.record_intent(run, Intent("blitz", 76, "call", 10.0, 5, 1, t), guarded=True)
            print(trade, flush=True)
            fate = rng.random()
            if fate < 0.1:
                journal.record_state(trade, TradeStatus.REJECTED, at=t, error="InvalidOrder")
                continue
            ref += 1
            journal.record_answer(trade, Answer("option", ref, t, t + 5, 1.1, 85.0), at=t)
            if fate < 0.9:
                outcome, pnl = rng.choice([(Outcome.WIN, 8.5), (Outcome.LOSS, -10.0), (Outcome.EQUAL, 0.0)])
                journal.record_outcome(trade, outcome, pnl, close_price=1.0, closed_at=t + 5)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
