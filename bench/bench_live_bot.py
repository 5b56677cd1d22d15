"""Live bot: candles/s from the socket to the strategy through the whole runtime, vs ``Client.candles()`` alone.

The server (``_bot_server.py``, its own process) sends the same 100,000 recorded
``candle-generated`` frames as ``bench_stream.py`` (EURUSD-OTC, 1-second candles,
four pushes per candle: three forming, one closing), and answers every other
request from a headless simulator on the wall clock.

Baseline: ``iqwire.Client`` consuming ``client.candles(76, 1)`` alone (the
stream sized so nothing coalesces), frames/s: ``bench_stream.py``'s variant (b).

Value: on a client configured as the baseline's (its streams sized so the client
itself coalesces nothing: what is measured is the runtime), a ``LiveSession`` running the example strategy (``examples/mean_reversion.py``,
its RSI on the 1-second candles it is sent) as ``iqwire bot run`` runs it: the
mailbox, the windows and the RSI, the risk guards (the default limits), real trades
(blitz, 30 s) opened and settled by the simulator, the SQLite journal on (a
temporary file, every trade durable before its request leaves), and the dashboard
``bot run`` shows on a terminal (a rich live view redrawn 4 times a second, into
a string buffer). The strategy also defines ``on_tick``, so every candle the
runtime delivers reaches it: forming ones ``on_tick``, closing ones ``on_candle``.
Counted: the pushes delivered to the strategy (a candle the mailbox coalesced away
under backpressure is not counted), from ``on_start`` (the feeds are open) until
the last frame reaches it; per second.

Goal (issue 16): value / baseline >= 0.5.

Run: ``python bench/bench_live_bot.py [--quick] [--repeats N]``.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, SIZE, ServerProcess, candle_frames, entry, frames_file, log, median, parser
from bench_stream import iqwire_client
from rich.console import Console

from iqwire import Client
from iqwire.bot import Context
from iqwire.bot.dashboard import Dashboard
from iqwire.bot.indicators import RSI
from iqwire.bot.journal import Journal
from iqwire.bot.live import LiveSession
from iqwire.bot.loader import load_strategy
from iqwire.bot.records import RunState
from iqwire.models import Candle

NS = 1_000_000_000


def client(url: str, count: int) -> Client:
    """Configured as bench_stream.py's (b): streams sized so the client itself coalesces nothing."""
    return Client(ssid="bench", ws_url=url, stream_maxsize=count + 16, reconnect=False, heartbeat_timeout=600)


def counting_strategy(last_at: int) -> Any:
    """The example strategy on 1-second candles, counting what reaches it, stopping at the last frame."""
    base: Any = load_strategy(str(ROOT / "examples" / "mean_reversion.py"))

    class Counting(base):  # type: ignore[misc,valid-type]
        sizes = [SIZE]

        def __init__(self) -> None:
            super().__init__()
            self.delivered = 0
            self.closes = 0
            self.started = 0.0
            self.finished = 0.0
            self.done = asyncio.Event()

        async def on_start(self, ctx: Context) -> None:
            self.started = time.perf_counter()  # the feeds are open: frames are on their way
            self.rsi = {
                ctx.resolve(active): ctx.window(active, SIZE).add("rsi", RSI(int(self.params["period"])))
                for active in self.actives
            }

        def _reached(self, candle: Candle) -> None:
            if candle.at is not None and candle.at >= last_at:
                self.finished = time.perf_counter()
                self.done.set()

        def on_candle(self, ctx: Context, candle: Candle) -> Any:
            if candle.at is None or candle.at >= candle.end * NS:
                # The closing push itself (not a forming one committed by the next candle's).
                self.delivered += 1
                self._reached(candle)
            self.closes += 1
            return super().on_candle(ctx, candle)

        def on_tick(self, ctx: Context, candle: Candle) -> None:
            # A plain ``def`` (docs/bot.md): a forming candle costs the strategy no coroutine.
            self.delivered += 1
            self._reached(candle)

    return Counting()


async def _refresh(dashboard: Dashboard, c: Client) -> None:
    # What ``iqwire bot run`` does beside the session (cli/bot_cmd.py).
    while True:
        await asyncio.sleep(0.25)
        dashboard.state.server_time = max(dashboard.state.server_time, c.server_time())
        dashboard.refresh()


async def live_bot(url: str, count: int, last_at: int) -> tuple[float, dict[str, Any]]:
    """Pushes/s delivered to the strategy by a LiveSession with the journal and the dashboard."""
    strategy = counting_strategy(last_at)
    state = RunState(mode="paper")
    console = Console(file=io.StringIO(), force_terminal=True, width=120, height=40)
    with tempfile.TemporaryDirectory() as folder:
        async with client(url, count) as c:
            with (
                Journal.open(Path(folder) / "journal.sqlite") as journal,
                Dashboard(state, console=console) as board,
            ):
                refresher = asyncio.create_task(_refresh(board, c))
                session = LiveSession(
                    c, strategy, state=state, emit=board.log, journal=journal, settle_timeout=0.0
                )
                stop = asyncio.Event()
                stopper = asyncio.create_task(strategy.done.wait())
                stopper.add_done_callback(lambda _task: stop.set())
                try:
                    result = await asyncio.wait_for(session.run(stop=stop), 120)
                finally:
                    refresher.cancel()
                    stopper.cancel()
                    await asyncio.gather(refresher, stopper, return_exceptions=True)
    elapsed = strategy.finished - strategy.started
    details = {
        "delivered": strategy.delivered,
        "closes": strategy.closes,
        "coalesced": session.mailbox.coalesced,
        "trades": result.report.trades,
        "unsettled": result.unsettled,
    }
    return strategy.delivered / elapsed, details


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    count = 2_000 if args.quick else 100_000
    repeats = args.repeats or (1 if args.quick else 5)
    logging.getLogger("iqwire").setLevel(logging.WARNING)
    last_at = json.loads(candle_frames(count)[-1])["msg"]["at"]
    alone: list[float] = []
    bot: list[float] = []
    details: dict[str, Any] = {}
    with ServerProcess("_bot_server.py", str(frames_file(count))) as port:
        url = f"ws://127.0.0.1:{port}/echo/websocket"

        async def measure() -> None:
            nonlocal details
            for round_ in range(repeats + 1):  # the first round warms up and is not kept
                rate = await asyncio.wait_for(iqwire_client(url, count), 120)
                bot_rate, details = await live_bot(url, count, last_at)
                if round_:
                    alone.append(rate)
                    bot.append(bot_rate)
                log(f"round {round_}: client {rate:,.0f}/s, bot {bot_rate:,.0f}/s {details}")

        asyncio.run(measure())
    log(
        f"live bot: {median(bot):,.0f} pushes/s to the strategy; Client.candles() alone {median(alone):,.0f}/s"
    )
    entry(
        "live bot: LiveSession (journal, dashboard) to on_candle/on_tick vs Client.candles() alone",
        median(bot),
        median(alone),
        "candles/s",
        None if args.quick else ">= 0.5",
        **details,
    )


if __name__ == "__main__":
    main()
