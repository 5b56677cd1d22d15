"""The simulator in its own process, for the benchmarks: ``python bench/_sim_server.py [--speed S]``.

It runs ``Simulator(seed=7)`` on a real clock, prints ``SSID <ssid>`` (the demo
user's, issued without the HTTP login) and ``PORT <n>``, and serves until its
stdin closes. With ``--uvloop`` it runs on uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from iqwire.sim import Simulator


async def serve(speed: float) -> None:
    loop = asyncio.get_running_loop()
    stdin_closed = loop.create_future()

    def watch_stdin() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stdin_closed.set_result, None)

    async with Simulator(seed=7, speed=speed) as sim:
        print(f"SSID {sim.issue_ssid()}", flush=True)
        print(f"PORT {sim.port}", flush=True)
        loop.run_in_executor(None, watch_stdin)
        await stdin_closed


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--uvloop", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.uvloop:
        import uvloop

        uvloop.run(serve(args.speed))
    else:
        asyncio.run(serve(args.speed))


if __name__ == "__main__":
    main()
