"""kill -9 at random moments never corrupts the journal nor loses a committed write."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from iqwire.bot.journal import Intent, Journal, TradeStatus

WRITER = Path(__file__).with_name("journal_writer.py")
KILLS = 12


def check_invariants(path: Path, acknowledged: set[int]) -> int:
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    trades = dict(conn.execute("SELECT id, status FROM trades").fetchall())
    # Every intent the writer was told is durable is there.
    assert acknowledged <= set(trades)
    events: dict[int, list[tuple[str, str]]] = {}
    for trade_id, kind, status in conn.execute("SELECT trade_id, kind, status FROM events ORDER BY id"):
        events.setdefault(trade_id, []).append((kind, status))
    for trade_id, status in trades.items():
        history = events[trade_id]
        # The row and its history agree: each change was one transaction.
        assert history[0] == ("intent", "intent")
        assert history[-1][1] == status
        assert len(history) == len({kind for kind, _ in history})
    closed_without = conn.execute(
        "SELECT count(*) FROM trades WHERE status = 'closed' AND (outcome IS NULL OR pnl IS NULL)"
    ).fetchone()[0]
    assert closed_without == 0
    conn.close()
    return len(trades)


def test_kill_9_at_random_moments(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    rng = random.Random(2026)
    acknowledged: set[int] = set()
    for kill in range(KILLS):
        writer = subprocess.Popen(
            [sys.executable, str(WRITER), str(path), str(kill + 1)], stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.01, 0.3))
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate(timeout=30)
        assert writer.returncode == -signal.SIGKILL
        acknowledged |= {int(line) for line in out.split()}
        count = check_invariants(path, acknowledged)
    assert count >= len(acknowledged) > KILLS
    # Still a journal that opens, reads and takes writes.
    with Journal.open(path) as journal:
        assert len(journal.runs()) == KILLS
        assert all(run.ended_at is None for run in journal.runs())  # killed runs never end
        run = journal.start_run(mode="paper", account="kill-test")
        trade = journal.record_intent(run, Intent("blitz", 76, "put", 1.0, 5, 1, 0.0))
        journal.record_state(trade, TradeStatus.REJECTED, at=0.0)
        assert journal.trade(trade) is not None
