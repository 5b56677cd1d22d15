"""The recorded-frames server with a simulator behind it, for the live bot's benchmark.

``python bench/_bot_server.py FRAMES_FILE [--speed S]`` prints ``PORT <n>`` and serves
until its stdin closes. Any SSID authenticates as the simulator's demo user.

A bot needs more than candles: the initialization data, balances, the profile,
positions, its trades opened and settled, traders' mood, balance changes. Every
request goes to a headless :class:`iqwire.sim.engine.Engine` (seed 7) on the wall
clock (``--speed`` runs it faster), except the ``candle-generated`` subscription: it is answered
like ``_frame_server.py`` answers it, by sending the recorded frames as fast as
the receiver takes them (the engine never pushes candles of its own). The
engine's frames are written as whole text frames between the recorded chunks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
from pathlib import Path
from typing import Any

from _common import START
from _frame_server import FrameServer, frame_text
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from iqwire.sim.config import SimConfig
from iqwire.sim.engine import Engine
from iqwire.sim.hub import Connection

SEED = 7
#: How often the engine's clock moves on (wall seconds).
TICK = 0.02
#: The server's socket send buffer and write high-water mark (bytes).
SNDBUF = 64 * 1024


class BotServer(FrameServer):
    def __init__(self, frames: list[bytes], speed: float) -> None:
        super().__init__(frames)
        self.engine = Engine(SEED, SimConfig(), START)
        self.speed = speed
        self.loop = asyncio.get_running_loop()
        self.started = self.loop.time()

    def now(self) -> float:
        return START + (self.loop.time() - self.started) * self.speed

    def ssid(self) -> str:
        user = self.engine.accounts.by_email("demo@example.com")
        assert user is not None
        return self.engine.accounts.issue_ssid(user.user_id)

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self.engine.advance_to(self.now())

    async def handler(self, ws: ServerConnection) -> None:
        transport: Any = ws.transport
        # Little in flight: an answer (a trade opened) waits behind at most ~100 kB of
        # candles, not the megabytes loopback buffers take, as on a server that pushes
        # 4 candles a second instead of 100,000.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
        transport.set_write_buffer_limits(high=SNDBUF)

        def send(data: bytes) -> None:
            if not transport.is_closing():
                transport.write(frame_text(data))

        conn = Connection(send=send, close=transport.close)
        self.engine.connect(conn, self.now())
        try:
            with contextlib.suppress(ConnectionClosed):
                await self.serve_bot(ws, conn)
        finally:
            self.engine.disconnect(conn)

    async def serve_bot(self, ws: ServerConnection, conn: Connection) -> None:
        tasks: set[asyncio.Task[None]] = set()
        async for message in ws:
            frame = json.loads(message)
            name, body = frame.get("name"), frame.get("msg")
            candles = isinstance(body, dict) and body.get("name") == "candle-generated"
            if candles and name in ("subscribeMessage", "unsubscribeMessage"):
                reply = {"name": "result", "msg": {"success": True}, "request_id": frame.get("request_id")}
                await ws.send(json.dumps({**reply, "status": 2000}))
                if name == "subscribeMessage":
                    task = asyncio.create_task(self.blast(ws))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            elif name == "authenticate":
                # Any SSID logs in as the demo user (bench_stream.py's client sends "bench").
                frame["msg"]["ssid"] = self.ssid()
                self.engine.handle(conn, json.dumps(frame).encode(), self.now())
            else:
                data = message if isinstance(message, bytes) else message.encode()
                self.engine.handle(conn, data, self.now())


async def main(frames: list[bytes], speed: float) -> None:
    server = BotServer(frames, speed)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.create_future()

    def watch_stdin() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stdin_closed.set_result, None)

    ticker = asyncio.create_task(server.tick())
    async with serve(server.handler, "127.0.0.1", 0, compression=None, max_size=None) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        print(f"PORT {port}", flush=True)
        loop.run_in_executor(None, watch_stdin)
        await stdin_closed
    ticker.cancel()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("frames")
    p.add_argument("--speed", type=float, default=1.0)
    args = p.parse_args()
    asyncio.run(main(Path(args.frames).read_bytes().split(b"\n"), args.speed))
