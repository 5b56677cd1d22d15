"""A minimal ``websockets`` server that speaks just enough protocol, then sends recorded frames.

It answers ``authenticate`` (``authenticated: true``), ``setOptions`` and
``(un)subscribeMessage`` (``result: success``), and on a candle subscription, or
a bare ``{"name": "go"}``, sends every recorded frame as fast as the receiver
takes them. The frames are framed once up front (unmasked text frames, as a
server sends them) and written straight to the socket in large chunks with
flow control, so the sender is never what limits the receiver being measured.

Run by the benchmarks in its own process: ``python bench/_frame_server.py FRAMES_FILE``;
it prints ``PORT <n>`` and serves until its stdin closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import sys
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

CHUNK = 256 * 1024


def frame_text(payload: bytes) -> bytes:
    """One unmasked, final text frame (RFC 6455) around ``payload``."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + payload


def chunks(frames: list[bytes]) -> list[bytes]:
    """The frames as wire bytes, cut into chunks of about :data:`CHUNK` bytes at frame edges."""
    out: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for data in frames:
        framed = frame_text(data)
        current.append(framed)
        size += len(framed)
        if size >= CHUNK:
            out.append(b"".join(current))
            current, size = [], 0
    if current:
        out.append(b"".join(current))
    return out


class FrameServer:
    def __init__(self, frames: list[bytes]) -> None:
        self.wire = chunks(frames)

    async def blast(self, ws: ServerConnection) -> None:
        transport: Any = ws.transport
        for chunk in self.wire:
            if transport.is_closing():
                return
            transport.write(chunk)
            await ws.drain()

    async def handler(self, ws: ServerConnection) -> None:
        # The receiver leaves as soon as it has every frame: its goodbye is no error.
        with contextlib.suppress(ConnectionClosed):
            await self.serve(ws)

    async def serve(self, ws: ServerConnection) -> None:
        tasks: set[asyncio.Task[None]] = set()
        async for message in ws:
            frame = json.loads(message)
            name, rid = frame.get("name"), frame.get("request_id")
            if name == "authenticate":
                reply: dict[str, Any] = {"name": "authenticated", "msg": True, "request_id": rid}
                await ws.send(json.dumps(reply))
            elif name in ("setOptions", "subscribeMessage", "unsubscribeMessage"):
                reply = {"name": "result", "msg": {"success": True}, "request_id": rid, "status": 2000}
                await ws.send(json.dumps(reply))
                if name == "subscribeMessage" and frame["msg"].get("name") == "candle-generated":
                    task = asyncio.create_task(self.blast(ws))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            elif name == "go":
                task = asyncio.create_task(self.blast(ws))
                tasks.add(task)
                task.add_done_callback(tasks.discard)


async def main(frames: list[bytes]) -> None:
    server = FrameServer(frames)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.create_future()

    def watch_stdin() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stdin_closed.set_result, None)

    async with serve(server.handler, "127.0.0.1", 0, compression=None, max_size=None) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        print(f"PORT {port}", flush=True)
        loop.run_in_executor(None, watch_stdin)
        await stdin_closed


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]).read_bytes().split(b"\n")))
