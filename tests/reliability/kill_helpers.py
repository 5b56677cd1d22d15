"""What the kill -9 / restart tests share: ``iqwire sim`` as a process, and the kill loop.

``kill_loop`` starts ``iqwire bot run`` again and again, kills each with SIGKILL after
1–5 s of wall time, and reads the journal after each kill; it stops after ``kills``
kills once at least two happened after the day's realised loss reached ``limit``.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from iqwire.bot.journal import Journal, JournalTrade, TradeStatus
from iqwire.models import Position
from iqwire.sim.config import DEMO_EMAIL, DEMO_PASSWORD

CLI = [sys.executable, "-c", "from iqwire.cli.main import main; main()"]


def start_sim() -> tuple[subprocess.Popen[str], str, str]:
    """``iqwire sim`` on a free port at 10x speed: the process and its WebSocket and login URLs."""
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


def stop_sim(sim: subprocess.Popen[str]) -> None:
    sim.send_signal(signal.SIGINT)
    sim.communicate(timeout=10)


def day_of(seconds: float) -> date:
    return datetime.fromtimestamp(seconds, tz=UTC).date()


@dataclass
class Kills:
    """What the kill loop did."""

    kills: int = 0
    with_trades_open: int = 0
    after_limit: int = 0


def kill_loop(
    bot: list[str],
    journal_path: Path,
    logs: Path,
    *,
    limit: float,
    kills: int,
    max_runs: int,
    counted: Callable[[JournalTrade], bool],
    seed: int,
) -> Kills:
    """Run and SIGKILL the bot until ``kills`` kills, two of them past the limit (at most ``max_runs``).

    ``counted`` picks the journal rows whose P&L makes the day's realised loss.
    """
    rng = random.Random(seed)
    done = Kills()
    while done.kills < max_runs and (done.kills < kills or done.after_limit < 2):
        with (logs / f"bot{done.kills}.log").open("w") as log:
            process = subprocess.Popen([*bot, "--duration", "600"], stdout=log, stderr=subprocess.STDOUT)
            time.sleep(rng.uniform(1.0, 5.0))
            process.send_signal(signal.SIGKILL)
            assert process.wait(10) == -signal.SIGKILL
        done.kills += 1
        with Journal.open(journal_path) as journal:
            trades = [t for t in journal.trades() if counted(t)]
        still_open = any(t.status in (TradeStatus.OPEN, TradeStatus.INTENT) for t in trades)
        done.with_trades_open += still_open
        realised = sum(t.pnl or 0.0 for t in trades if t.status is TradeStatus.CLOSED)
        # Past the limit with nothing open: only the guard keeps the restarted bot from trading.
        done.after_limit += -realised >= limit and not still_open
    return done


def run_and_kill(
    folder: Path,
    files: dict[str, str],
    *,
    limit: float,
    kills: int,
    max_runs: int,
    counted: Callable[[JournalTrade], bool],
    seed: int,
    last_duration: float,
    positions: Callable[[str, str], Coroutine[object, object, list[Position]]],
) -> tuple[Kills, list[Position]]:
    """Write ``files`` (the strategy and ``run.toml``) in ``folder``, run the kill loop against a fresh
    ``iqwire sim``, end with a normal run of ``last_duration`` s, and read the account's ``positions``.

    The journal is ``folder / "journal.sqlite"``; each run's output is ``folder / "botN.log"``.
    """
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    journal_path = folder / "journal.sqlite"
    sim, ws_url, login_url = start_sim()
    bot = [*CLI, "bot", "run", "--live", "--config", str(folder / "run.toml"), "--journal", str(journal_path),
           "--ws-url", ws_url, "--login-url", login_url, "--email", DEMO_EMAIL, "--password", DEMO_PASSWORD]  # fmt: skip
    try:
        done = kill_loop(
            bot, journal_path, folder, limit=limit, kills=kills, max_runs=max_runs, counted=counted, seed=seed
        )
        last = subprocess.run(
            [*bot, "--duration", f"{last_duration:g}"], capture_output=True, text=True, timeout=60
        )
        assert last.returncode == 0, last.stdout + last.stderr
        return done, asyncio.run(positions(ws_url, login_url))
    finally:
        stop_sim(sim)


def check_limit_held(
    spans: Sequence[tuple[float, float | None, float]], limit: float, *, at_once: int
) -> None:
    """Over ``(opened, closed or None, pnl)`` spans: nothing opened once the day's realised loss reached
    ``limit`` (every close up to the open counted), and never more than ``at_once`` open together."""
    for opened, _, _ in sorted(spans):
        realised = sum(
            pnl
            for _, closed, pnl in spans
            if closed is not None and closed <= opened and day_of(closed) == day_of(opened)
        )
        assert -realised < limit, f"a trade opened at {opened} with {realised:.2f} realised today"
        overlapping = [s for s in spans if s[0] <= opened < (s[1] if s[1] is not None else float("inf"))]
        assert len(overlapping) <= at_once, f"{len(overlapping)} trades open at {opened}: one placed twice?"


def limit_reached_at(
    spans: Sequence[tuple[float, float | None, float]], limit: float
) -> tuple[float, float | None]:
    """The day's realised P&L over ``(opened, closed or None, pnl)`` spans, and the first instant at
    which the loss had reached ``limit`` with nothing open (so the guard, not an open trade, kept the
    bot from trading), or ``None``.

    Closes at the same instant count together (their order within it is not the guard's to see).
    """
    by_instant: dict[float, float] = {}
    for _, closed, pnl in spans:
        if closed is not None:
            by_instant[closed] = by_instant.get(closed, 0.0) + pnl
    total, reached = 0.0, None
    for instant in sorted(by_instant):
        total += by_instant[instant]
        flat = not any(
            opened <= instant < (closed if closed is not None else math.inf) for opened, closed, _ in spans
        )
        if reached is None and flat and -total >= limit:
            reached = instant
    return total, reached


def check_limit_across_restarts(
    spans: Sequence[tuple[float, float | None, float]],
    run_starts: Sequence[float],
    limit: float,
    *,
    at_once: int,
) -> tuple[float, int]:
    """Both kill tests' verdict on the daily loss limit: it held at every open (:func:`check_limit_held`),
    it was reached, and at least one run started after it was (so a restart, not luck, kept it).

    Returns the day's realised P&L and how many runs started after the limit was reached.
    """
    check_limit_held(spans, limit, at_once=at_once)
    day_pnl, reached_at = limit_reached_at(spans, limit)
    assert reached_at is not None, f"the day's P&L {day_pnl:.2f} never reached the limit -{limit}"
    after = sum(1 for started in run_starts if started > reached_at)
    assert after, "at least one restart happened after the limit was reached"
    return day_pnl, after


def recovered_counts(logs: Path, pattern: re.Pattern[str]) -> list[int]:
    """The recovery summaries of every run's log, summed field by field."""
    total = [0] * pattern.groups
    for log_file in logs.glob("bot*.log"):
        for found in pattern.finditer(log_file.read_text(encoding="utf-8")):
            total = [a + int(b) for a, b in zip(total, found.groups(), strict=True)]
    return total
