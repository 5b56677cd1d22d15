"""Entry 4, simulator scale: N clients x 10 candle subscriptions on one simulator process.

The simulator (real clock, speed 1) runs in its own process, pinned to one core
where the OS allows; the clients run here, on the other. Each client subscribes
to 10 of the 84 (OTC active, size) candle streams, so every stream the simulator
computes fans out to many connections. After a warm-up, for a window of real
time, every push is counted and its lag measured: the simulated time at receipt
minus the candle's tick time ``at`` (the simulator's clock is wall time at speed
1). A run keeps up when its p99 lag is under 1 s. Goals: 200 x 10 keeps up, and
the largest N that does is at least 2,000 (issue 16; reported as a ratio to 200).

The load (``--load``): ``light`` (the default) connects each client as a picows
WebSocket driven by the client's Sans-I/O ``Session``, which decodes every frame
it receives; the lag of each candle is taken as it is decoded (``_sim_load.py``).
``client`` runs N full ``iqwire.Client`` objects instead, each stream consumed by
a task (``--transport`` picks theirs): past ~1,000 clients that process saturates
its core before the simulator does, so it measures the clients, not the simulator.

Run: ``python bench/bench_sim_scale.py [--quick] [--sizes 200,800,2000] [--load light|client]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from _common import ServerProcess, entry, log, parser, percentile, pin
from _sim_load import Tally, close_all, open_clients

from iqwire import Client

#: The OTC actives (open around the clock) and every candle size: 84 streams.
ACTIVES = (76, 81, 85, 1938, 1940, 2276)
SIZES = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 14400, 86400)
STREAMS = [(active, size) for active in ACTIVES for size in SIZES]
PER_CLIENT = 10
LAG_LIMIT = 1.0


async def _consume(stream: Any, tally: Tally) -> None:
    with contextlib.suppress(Exception):
        async for candle in stream:
            tally.take(candle)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux ``/proc``; ``None`` elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def plan(n: int) -> list[list[tuple[int, int]]]:
    """Each client's 10 streams: consecutive ones of the 84, so every stream has ~N*10/84 subscribers."""
    return [
        [STREAMS[(index * PER_CLIENT + j) % len(STREAMS)] for j in range(PER_CLIENT)] for index in range(n)
    ]


async def _full_clients(
    url: str, ssid: str, n: int, transport: str, tally: Tally
) -> contextlib.AsyncExitStack:
    """N ``iqwire.Client`` objects, each stream consumed by a task; closing the stack ends them."""
    clients: list[Client] = []
    async with contextlib.AsyncExitStack() as stack:  # closed here only if setting up fails

        async def connect() -> Client:
            client = Client(ssid=ssid, ws_url=url, reconnect=False, request_timeout=60, transport=transport)
            await client.connect()
            return client

        for first in range(0, n, 50):
            batch = await asyncio.gather(*(connect() for _ in range(first, min(n, first + 50))))
            for client in batch:
                stack.push_async_callback(client.close)
            clients += batch
        streams = [
            client.candles(active, size)
            for client, mine in zip(clients, plan(n), strict=True)
            for active, size in mine
        ]
        for first in range(0, len(streams), 500):
            await asyncio.gather(*(stream.__aenter__() for stream in streams[first : first + 500]))
        for stream in streams:
            stack.push_async_callback(stream.aclose)
        tasks = [asyncio.create_task(_consume(stream, tally)) for stream in streams]

        async def stop_tasks() -> None:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        stack.push_async_callback(stop_tasks)
        return stack.pop_all(), clients


async def run_n(
    url: str, ssid: str, n: int, warmup: float, window: float, load: str, transport: str, sim_pid: int
) -> dict[str, Any]:
    tally = Tally()
    async with contextlib.AsyncExitStack() as stack:
        if load == "client":
            full, clients = await _full_clients(url, ssid, n, transport, tally)
            stack.push_async_exit(full)

            def lost() -> int:
                return sum(not client.is_connected for client in clients)
        else:
            light = await open_clients(url, ssid, plan(n), tally)
            stack.callback(close_all, light)

            def lost() -> int:
                return sum(client.lost for client in light)

        await asyncio.sleep(warmup)
        tally.measuring = True
        started = time.perf_counter()
        sim_cpu, own_cpu = cpu_seconds(sim_pid), time.process_time()
        await asyncio.sleep(window)
        tally.measuring = False
        elapsed = time.perf_counter() - started
        sim_after = cpu_seconds(sim_pid)
        sim_load = None if sim_cpu is None or sim_after is None else (sim_after - sim_cpu) / elapsed
        client_load = (time.process_time() - own_cpu) / elapsed
        # A connection the simulator dropped (e.g. too far behind) stops counting: it is a failure.
        disconnected = lost()
    lags = tally.lags or [float("inf")]
    return {
        "n": n,
        "pushes_per_s": tally.count / elapsed,
        "per_stream_per_s": tally.count / elapsed / (n * PER_CLIENT),
        "p50_lag": percentile(lags, 0.5),
        "p99_lag": percentile(lags, 0.99),
        "max_lag": max(lags),
        "sim_cpu": sim_load,
        "clients_cpu": client_load,
        "lost": disconnected,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--sizes", default="200,800,2000")
    p.add_argument("--load", choices=("light", "client"), default="light", help="see the module docstring")
    p.add_argument("--transport", default="websockets", help="the Clients' transport (--load client)")
    p.add_argument("--uvloop", action="store_true", help="run the simulator on uvloop")
    args = p.parse_args()
    sizes = [2] if args.quick else [int(n) for n in args.sizes.split(",")]
    warmup, window = (0.5, 1.0) if args.quick else (2.0, 5.0)
    logging.getLogger("iqwire").setLevel(logging.ERROR)
    server = ServerProcess("_sim_server.py", *(["--uvloop"] if args.uvloop else []))
    results = []
    with server as port:
        assert server.process is not None
        pin(server.process.pid, 0)
        pin(0, 1)
        url = f"ws://127.0.0.1:{port}/echo/websocket"
        for n in sizes:
            run = run_n(
                url, server.info["SSID"], n, warmup, window, args.load, args.transport, server.process.pid
            )
            result = asyncio.run(run)
            results.append(result)
            log(
                f"sim scale N={n}x{PER_CLIENT}: {result['pushes_per_s']:,.0f} pushes/s "
                f"({result['per_stream_per_s']:.2f}/stream/s), lag p50 {result['p50_lag'] * 1000:.0f} ms "
                f"p99 {result['p99_lag'] * 1000:.0f} ms max {result['max_lag'] * 1000:.0f} ms; "
                f"CPU: simulator {result['sim_cpu'] or 0:.0%} of a core, clients {result['clients_cpu']:.0%}; "
                f"{result['lost']} connection(s) lost; load average {result['load_average'] or 0:.1f}"
            )
    suffix = "".join(
        tag for tag, on in ((" [uvloop]", args.uvloop), (" [iqwire Clients]", args.load == "client")) if on
    )
    for result in results:
        n = result["n"]
        entry(
            f"sim scale{suffix}: {n}x{PER_CLIENT} p99 push lag vs 1 s",
            result["p99_lag"],
            LAG_LIMIT,
            "s",
            "<= 1.0" if n == 200 and not args.quick else None,
            pushes_per_s=round(result["pushes_per_s"], 1),
            max_lag=round(result["max_lag"], 4),
            sim_cpu=None if result["sim_cpu"] is None else round(result["sim_cpu"], 3),
            clients_cpu=round(result["clients_cpu"], 3),
            lost=result["lost"],
        )
    keeping_up = [r["n"] for r in results if r["p99_lag"] < LAG_LIMIT and r["lost"] == 0]
    largest = max(keeping_up, default=0)
    entry(
        f"sim scale{suffix}: largest N keeping up (x10 subscriptions) vs 200",
        largest,
        200,
        "clients",
        None if args.quick else ">= 10.0",  # 2,000 clients (issue 16)
    )


if __name__ == "__main__":
    main()
