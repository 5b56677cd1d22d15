"""Lock-step paper runs: the same seed gives the same trades and P&L, however loaded the machine."""

from __future__ import annotations

import io

from rich.console import Console

from iqwire.bot.live import run_live
from iqwire.bot.lockstep import LockStep
from iqwire.bot.risk import RiskLimits
from iqwire.client import Client
from iqwire.demo import DemoStrategy, run_demo
from iqwire.sim import ManualClock, Simulator
from iqwire.sim.clock import REPRODUCIBLE_START

LIMITS = RiskLimits(max_stake=50, max_open_trades=3, daily_loss_limit=1_000, max_trades_per_minute=6)


async def _paper_run(seed: int, duration: float) -> tuple[list[tuple[object, ...]], float, float]:
    async with (
        Simulator(seed=seed, clock=ManualClock(REPRODUCIBLE_START)) as sim,
        Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client,
    ):
        lockstep = LockStep(client, sim)
        result = await run_live(client, DemoStrategy(), limits=LIMITS, duration=duration, lockstep=lockstep)
        assert result.unsettled == 0
        # Simulated time moved exactly as the runner stepped it: the duration, then the settling.
        assert sim.now() >= REPRODUCIBLE_START + duration
    trades = [
        (t.id, t.active_id, t.direction, t.amount, t.opened_at, t.open_price, t.close_price, t.outcome, t.pnl)
        for t in result.state.closed
    ]
    return trades, result.report.pnl, result.end_balance or 0.0


async def test_the_same_seed_gives_the_same_paper_run() -> None:
    first = await _paper_run(seed=3, duration=180)
    second = await _paper_run(seed=3, duration=180)
    assert first[0], "the strategy should trade within three simulated minutes"
    assert first == second


async def test_another_seed_gives_another_run() -> None:
    assert await _paper_run(seed=3, duration=120) != await _paper_run(seed=4, duration=120)


async def _demo_lines(seed: int) -> list[str]:
    console = Console(file=io.StringIO(), width=120, force_terminal=False)
    assert await run_demo(duration=6, speed=20, days=0.1, seed=seed, console=console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    # Everything but the simulator's address (a free port) and the download's speed.
    return [line for line in output.splitlines() if "ws://" not in line and "candles/s" not in line]


async def test_the_demo_prints_the_same_numbers_on_every_run() -> None:
    first, second = await _demo_lines(seed=42), await _demo_lines(seed=42)
    assert first[-1].startswith("demo: ") and first[-1].endswith("ledger matches simulator: yes")
    assert not first[-1].startswith("demo: 0 trades"), "two simulated minutes should trade"
    assert first == second
