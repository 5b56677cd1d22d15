"""What the simulator puts on the socket, byte for byte: every frame the engine sends a
connection, in order, each as the minimal unmasked text frame (what aiohttp's writer sent
before the batched outbox), with nothing else in between.

A raw TCP client does the WebSocket handshake by hand and keeps every byte it reads; a
phantom connection, registered in the same engine with the same subscriptions, records
what the engine handed out. The socket's bytes must be exactly the phantom's frames.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

from iqwire.sim import Simulator
from iqwire.sim.hub import Connection
from iqwire.sim.outbox import text_frame

STREAMS = [(76, 1), (76, 5), (81, 1), (1938, 60)]


class RawSocket:
    """A WebSocket client on a bare TCP stream: masked frames out, raw bytes in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = bytearray()

    @classmethod
    async def open(cls, sim: Simulator) -> RawSocket:
        reader, writer = await asyncio.open_connection(sim.host, sim.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /echo/websocket HTTP/1.1\r\nHost: {sim.host}:{sim.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    def send(self, frame: dict[str, Any]) -> None:
        payload = json.dumps(frame).encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert len(payload) < 65536
        length = (
            bytes((0x80 | len(payload),)) if len(payload) < 126 else b"\xfe" + len(payload).to_bytes(2, "big")
        )
        self.writer.write(b"\x81" + length + mask + masked)

    async def read_available(self) -> None:
        """Take whatever the socket holds now (after the server flushed)."""
        while True:
            try:
                chunk = await asyncio.wait_for(self.reader.read(1 << 16), 0.05)
            except TimeoutError:
                return
            if not chunk:
                return
            self.buffer += chunk

    def frames(self) -> list[bytes]:
        """Split the bytes read so far into payloads, checking every header is the minimal one."""
        out, at, data = [], 0, bytes(self.buffer)
        while at < len(data):
            marker = data[at + 1]
            header = 2 + (2 if marker == 126 else 8 if marker == 127 else 0)
            size = marker if marker < 126 else int.from_bytes(data[at + 2 : at + header], "big")
            payload = data[at + header : at + header + size]
            assert len(payload) == size, "a frame cut short"
            assert data[at : at + header + size] == text_frame(payload)
            out.append(payload)
            at += header + size
        return out

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def _subscribed(sim: Simulator) -> RawSocket:
    sock = await RawSocket.open(sim)
    sock.send({"name": "authenticate", "request_id": "a", "msg": {"ssid": sim.issue_ssid(), "protocol": 3}})
    for index, (active, size) in enumerate(STREAMS):
        filters = {"active_id": active, "size": size}
        sock.send(
            {
                "name": "subscribeMessage",
                "request_id": f"s_{index}",
                "msg": {"name": "candle-generated", "params": {"routingFilters": filters}},
            }
        )
    for _ in range(100):
        await sock.read_available()
        if sum(b'"name":"result"' in frame for frame in sock.frames()) == len(STREAMS):
            return sock
    raise AssertionError(f"no subscription acks: {sock.frames()}")


async def test_the_socket_carries_exactly_the_engines_frames_as_minimal_text_frames(sim: Simulator) -> None:
    sockets = [await _subscribed(sim) for _ in range(3)]
    try:
        greeting = [len(sock.frames()) for sock in sockets]
        phantom: list[bytes] = []
        conn = Connection(send=phantom.append, close=lambda: None)
        hub = sim.engine.hub
        hub.add(conn)
        for entry in next(iter(c for c in hub.connections.values() if c is not conn)).subscriptions:
            hub.subscribe(conn, entry)
        await sim.advance(12)
        for sock in sockets:
            await sock.read_available()
        names = {json.loads(frame)["name"] for frame in phantom}
        assert names == {"candle-generated", "timeSync"}
        assert len(phantom) > 12 * 4 * len(STREAMS)
        for sock, skip in zip(sockets, greeting, strict=True):
            assert sock.frames()[skip:] == phantom
    finally:
        for sock in sockets:
            await sock.close()


async def test_replies_and_pushes_of_one_turn_keep_their_order(sim: Simulator) -> None:
    sock = await _subscribed(sim)
    try:
        before = len(sock.frames())
        for index in range(20):  # requests interleaved with the pushes of each step
            sock.send({"name": "sendMessage", "request_id": f"r{index}", "msg": {"name": "core.get-profile"}})
            await sim.advance(0.25)
        await sock.read_available()
        frames = [json.loads(frame) for frame in sock.frames()[before:]]
        replies = [frame["request_id"] for frame in frames if frame.get("request_id")]
        assert replies == [f"r{index}" for index in range(20)]
        candles = [frame["msg"]["at"] for frame in frames if frame["name"] == "candle-generated"]
        assert len(candles) >= 20 * len(STREAMS)
    finally:
        await sock.close()
