"""Shared helpers of the benchmark scripts: recorded frames, timing, result lines.

Every script prints one JSON line per entry on stdout::

    {"name", "value", "baseline", "ratio", "goal", "unit", "meets_goal"}

``value`` and ``baseline`` are medians over repeated runs measured in the same
process run, ``ratio`` is ``value / baseline`` and ``goal`` reads like ``">= 1.0"``.
Progress and details go to stderr. Nothing here asserts: a missed goal is a
``meets_goal: false`` line, not a failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

#: A Thursday, 2026-02-12 12:25 UTC (every active open), as in the tests.
START = 1_770_899_100
SEED = 7
#: The stream every recorded frame belongs to: EURUSD-OTC, 1-second candles.
ACTIVE, SIZE = 76, 1


def log(*parts: object) -> None:
    """A progress line on stderr (stdout carries only result lines)."""
    print(*parts, file=sys.stderr, flush=True)


def parser(description: str) -> argparse.ArgumentParser:
    """The arguments every script takes: ``--quick`` and ``--repeats``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a smoke run: tiny sizes, seconds, no goals")
    p.add_argument("--repeats", type=int, default=None, help="runs per measurement (median)")
    return p


# -- recorded frames ------------------------------------------------------------------


def _cache_path(count: int) -> Path:
    # Keyed by the simulator's sources so a change to the wire format re-records.
    digest = hashlib.sha1()
    sim = ROOT / "src" / "iqwire" / "sim"
    for name in ("frames.py", "prices.py", "engine.py"):
        path = sim / name
        if path.exists():
            digest.update(path.read_bytes())
    folder = Path(os.environ.get("IQWIRE_BENCH_CACHE", Path(tempfile.gettempdir()) / "iqwire-bench"))
    return folder / f"candle-frames-{SEED}-{count}-{digest.hexdigest()[:12]}.jsonl"


def record_candle_frames(count: int) -> list[bytes]:
    """``count`` ``candle-generated`` frames, byte for byte as the simulator sends them.

    A headless :class:`iqwire.sim.engine.Engine` (no sockets) with one subscribed
    connection is stepped on its push cadence; its outgoing bytes are captured.
    """
    from iqwire.sim.config import SimConfig
    from iqwire.sim.engine import Engine
    from iqwire.sim.hub import Connection

    engine = Engine(SEED, SimConfig(), START)
    out: list[bytes] = []
    conn = Connection(send=out.append, close=lambda: None)
    engine.connect(conn, START)
    user = engine.accounts.by_email("demo@example.com")
    assert user is not None
    ssid = engine.accounts.issue_ssid(user.user_id)
    auth = {"name": "authenticate", "request_id": "1", "msg": {"ssid": ssid, "protocol": 3}}
    engine.handle(conn, json.dumps(auth).encode(), START)
    filters = {"active_id": ACTIVE, "size": SIZE}
    sub = {
        "name": "subscribeMessage",
        "request_id": "s_2",
        "msg": {"name": "candle-generated", "params": {"routingFilters": filters}},
    }
    engine.handle(conn, json.dumps(sub).encode(), START)
    out.clear()
    frames: list[bytes] = []
    t = float(START)
    prefix = b'{"name":"candle-generated"'
    while len(frames) < count:
        t += 60
        engine.advance_to(t)
        frames.extend(data for data in out if data.startswith(prefix))
        out.clear()
    return frames[:count]


def candle_frames(count: int) -> list[bytes]:
    """The recorded frames, from a cache file in the temp folder when there is one."""
    path = _cache_path(count)
    if path.exists():
        frames = path.read_bytes().split(b"\n")
        if len(frames) == count:
            return frames
    started = time.perf_counter()
    frames = record_candle_frames(count)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(b"\n".join(frames))
    tmp.replace(path)
    log(f"recorded {count} frames from a headless simulator in {time.perf_counter() - started:.1f}s")
    return frames


def frames_file(count: int) -> Path:
    """The cache file of :func:`candle_frames` (recorded first if needed), for a server process."""
    candle_frames(count)
    return _cache_path(count)


# -- timing and results ---------------------------------------------------------------------


def best_of_inner(fn: Callable[[], object], inner: int = 1) -> float:
    """Seconds one call of ``fn`` takes (the fastest of ``inner`` calls)."""
    best = float("inf")
    for _ in range(inner):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def median(values: Sequence[float]) -> float:
    """The median (of repeated runs)."""
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def meets(ratio: float | None, goal: str | None) -> bool | None:
    """Whether ``ratio`` meets a goal such as ``">= 1.0"`` or ``"<= 1.3"``."""
    if ratio is None or goal is None:
        return None
    op, _, number = goal.partition(" ")
    target = float(number)
    if op == ">=":
        return ratio >= target
    if op == "<=":
        return ratio <= target
    raise ValueError(f"unknown goal {goal!r}")


def entry(
    name: str,
    value: float | None,
    baseline: float | None,
    unit: str,
    goal: str | None = None,
    *,
    ratio: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One result line (also printed on stdout)."""
    if ratio is None and value is not None and baseline:
        ratio = value / baseline
    line: dict[str, Any] = {
        "name": name,
        "value": _round(value),
        "baseline": _round(baseline),
        "ratio": None if ratio is None else round(ratio, 3),
        "goal": goal,
        "unit": unit,
        "meets_goal": meets(ratio, goal),
    }
    line.update(extra)
    print(json.dumps(line), flush=True)
    return line


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    return round(value, 6) if abs(value) < 100 else round(value, 1)


class ServerProcess:
    """A helper server in its own process (so it has its own core): ``with ServerProcess(...) as port``.

    The child prints ``KEY value`` lines (kept in :attr:`info`), ``PORT <n>`` last
    when it listens, and stops when its stdin closes.
    """

    def __init__(self, script: str, *args: str) -> None:
        self.command = [sys.executable, str(BENCH / script), *args]
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, str] = {}

    def __enter__(self) -> int:
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            key, _, value = line.strip().partition(" ")
            self.info[key] = value
            if key == "PORT":
                return int(value)
        raise RuntimeError(f"{self.command} exited without listening")

    def __exit__(self, *exc: object) -> None:
        process = self.process
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pin(pid: int, core: int) -> None:
    """Pin a process (0: this one) to the ``core``-th allowed CPU, where the OS allows it."""
    if not hasattr(os, "sched_getaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= 2:
        os.sched_setaffinity(pid, {cores[core % len(cores)]})


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
