"""``make demo``: the example bot trading against the embedded simulator, start to finish.

1. start the simulator on an accelerated clock;
2. download a few days of candles into a temporary store (progress bar);
3. backtest the example strategy on them and print the report;
4. paper-trade it against the simulator with the live dashboard, in lock-step (the
   runner moves the simulator's clock, so a seed prints the same numbers every run);
5. print the session report and check it against the simulator's ledger.

Non-interactive and finite; with no terminal it prints plain lines. The last
line is ``demo: N trades, P&L X, ledger matches simulator: yes``. ``iqwire demo``
(and so ``make demo``) runs it; from Python::

    ok = asyncio.run(run_demo(duration=30, speed=20, days=1, seed=42))
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from iqwire import actives
from iqwire.bot.backtest import run_backtest
from iqwire.bot.dashboard import Dashboard
from iqwire.bot.live import run_live
from iqwire.bot.lockstep import LockStep
from iqwire.bot.records import RunState
from iqwire.bot.risk import RiskLimits
from iqwire.bot.strategy import Strategy
from iqwire.client import Client
from iqwire.models import BalanceType
from iqwire.sim import Clock, ManualClock, Simulator, SystemClock
from iqwire.sim.actives import find_active
from iqwire.sim.clock import REPRODUCIBLE_START
from iqwire.store.candles import CandleStore
from iqwire.store.download import download

__all__ = ["DemoStrategy", "run_demo"]

ACTIVE = "EURUSD-OTC"
SIZE = 5


class DemoStrategy(Strategy):
    """The demo's strategy: RSI mean reversion on 5-second candles (as examples/mean_reversion.py)."""

    actives = [ACTIVE]
    sizes = [SIZE]
    # Wider bands than the example's 30/70: the demo wants a few trades a minute.
    params = {"period": 14, "low": 40.0, "high": 60.0, "amount": 10.0, "expiration": 30}

    async def on_start(self, ctx: object) -> None:
        from iqwire.bot.indicators import RSI

        for active in self.actives:
            ctx.window(active, SIZE).add("rsi", RSI(int(self.params["period"])))  # type: ignore[attr-defined]

    async def on_candle(self, ctx: object, candle: object) -> None:
        from iqwire.bot.context import Context
        from iqwire.models import Candle

        assert isinstance(ctx, Context) and isinstance(candle, Candle) and candle.active_id is not None
        rsi = ctx.window(candle.active_id, SIZE)["rsi"].value
        if rsi is None or any(t.active_id == candle.active_id for t in ctx.open_positions):
            return
        amount, expiration = float(self.params["amount"]), int(self.params["expiration"])
        if rsi < self.params["low"]:
            await ctx.buy("call", amount, expiration)
        elif rsi > self.params["high"]:
            await ctx.buy("put", amount, expiration)


async def run_demo(
    *,
    duration: float = 60.0,
    speed: float = 20.0,
    days: float = 2.0,
    seed: int = 42,
    now: bool = False,
    console: Console | None = None,
) -> bool:
    """Run the whole demo; returns whether our ledger matched the simulator's.

    The simulator's clock starts at a fixed origin and the paper run moves it in
    lock-step for ``duration × speed`` simulated seconds, so a seed prints the same
    numbers on every run; ``now=True`` runs a real clock ×``speed`` from the wall-clock
    time instead, for ``duration`` wall seconds.
    """
    console = console or Console()
    limits = RiskLimits(
        max_stake=50, max_open_trades=3, daily_loss_limit=1_000, max_trades_per_minute=6, cooldown_seconds=60
    )
    clock: Clock = SystemClock(speed=speed, start=None) if now else ManualClock(REPRODUCIBLE_START)
    async with Simulator(seed=seed, clock=clock) as sim:
        console.rule("[bold]iqwire demo")
        console.print(f"simulator: {sim.ws_url} (seed {seed}, clock ×{speed:g})")
        async with Client(
            email=sim.credentials.email,
            password=sim.credentials.password,
            ws_url=sim.ws_url,
            login_url=sim.login_url,
            reconnect_delay=(0.05, 1.0),
        ) as client:
            lockstep = None if now else LockStep(client, sim)
            profile = await client.get_profile()
            console.print(f"logged in as {profile.email} (user {profile.user_id})")
            init = await client.get_initialization_data()
            traded = actives.resolve(ACTIVE, init, groups=("blitz",))
            active_id = traded.id

            # 1-2. Download candles into a temporary store, then backtest on them.
            with tempfile.TemporaryDirectory(prefix="iqwire-demo-") as folder:
                store = CandleStore(Path(folder) / "candles.sqlite")
                try:
                    end = int(client.server_time()) // SIZE * SIZE
                    start = end - int(days * 86_400)
                    console.rule(f"1. download {days:g} days of {SIZE}s candles of {ACTIVE}")
                    with Progress(
                        TextColumn("[progress.description]{task.description}"),
                        BarColumn(),
                        MofNCompleteColumn(),
                        TextColumn("{task.fields[rate]}"),
                        TimeRemainingColumn(),
                        console=console,
                        transient=not console.is_terminal,
                    ) as progress:
                        task = progress.add_task("candles", total=(end - start) // SIZE, rate="")

                        def on_progress(done: int, total: int) -> None:
                            progress.update(task, completed=done, total=total)

                        report = await download(
                            store, client, active_id, SIZE, start, end, progress=on_progress
                        )
                    console.print(
                        f"downloaded {report.written:,} candles in {report.pages} pages "
                        f"({report.fetched / max(report.elapsed, 1e-9):,.0f} candles/s); "
                        f"missing: {len(report.missing)} gaps, market closed: {len(report.market_gaps)} gaps"
                    )
                    candles = store.read(active_id, SIZE, start, end)
                finally:
                    store.close()
            console.rule("2. backtest")
            spec = find_active(ACTIVE)
            assert spec is not None
            backtest = await run_backtest(
                DemoStrategy(),
                [candles],
                payouts={active_id: traded.payout},
                limits=limits,
                resolve=lambda a: actives.resolve(a, init, groups=("blitz",)).id,
                names={active_id: ACTIVE},
            )
            backtest.report.print(console)

            # 3-4. Paper-trade against the simulator with the dashboard.
            if lockstep is None:
                console.rule(f"3. paper trading for {duration:g}s (simulated ×{speed:g})")
            else:
                console.rule(f"3. paper trading for {duration * speed:g} simulated seconds, in lock-step")
            before = next(b for b in sim.balances() if b.type is BalanceType.DEMO).amount
            placed_before = {p.option_id for p in sim.positions()}
            state = RunState(mode="paper")
            with Dashboard(state, console=console) as dashboard:
                refresher = asyncio.create_task(_refresh(dashboard))
                try:
                    live = await run_live(
                        client,
                        DemoStrategy(),
                        limits=limits,
                        duration=duration if lockstep is None else duration * speed,
                        state=state,
                        emit=dashboard.log,
                        lockstep=lockstep,
                    )
                finally:
                    refresher.cancel()
                    await asyncio.gather(refresher, return_exceptions=True)
                dashboard.refresh(force=True)
            console.rule("4. session report")
            live.report.print(console)

            after = next(b for b in sim.balances() if b.type is BalanceType.DEMO).amount
            server_positions = [p for p in sim.positions() if p.option_id not in placed_before]
            server_pnl = round(sum(p.pnl or 0.0 for p in server_positions if p.is_closed), 2)
            ours = live.report.pnl
            matches = (
                live.unsettled == 0
                and len(server_positions) == live.report.trades
                and all(p.is_closed for p in server_positions)
                and abs(ours - server_pnl) < 0.005
                and abs((after - before) - ours) < 0.005
            )
            console.print(
                f"simulator ledger: balance {before:.2f} → {after:.2f} ({after - before:+.2f}), "
                f"{len(server_positions)} positions, P&L {server_pnl:+.2f}"
            )
            console.print(
                f"demo: {live.report.trades} trades, P&L {ours:+.2f}, "
                f"ledger matches simulator: {'yes' if matches else 'no'}",
                highlight=False,
            )
            return matches


async def _refresh(dashboard: Dashboard) -> None:
    while True:
        await asyncio.sleep(0.25)
        dashboard.refresh()
