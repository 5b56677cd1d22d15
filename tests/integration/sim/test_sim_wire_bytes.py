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
import socket
from typing import Any

import pytest

from iqwire.sim import Simulator
from iqwire.sim import outbox as outbox_module
from iqwire.sim.hub import Connection
from iqwire.sim.outbox import text_frame

STREAMS = [(76, 1), (76, 5), (81, 1), (1938, 60)]


class RawSocket:
    """A WebSocket client on a bare TCP stream: masked frames out, raw bytes in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = bytearray()

    @classmethod
    async def open(cls, sim: Simulator, receive_buffer: int | None = None) -> RawSocket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:  # a small window: the server's writes back up sooner
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (sim.host, sim.port))
        # A small limit: the stream stops reading the socket once it holds a couple of KiB.
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024 if receive_buffer else 2**16)
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

    async def read_until_closed(self) -> None:
        """Read everything, as it comes."""
        while chunk := await self.reader.read(1 << 16):
            self.buffer += chunk

    def frames(self) -> list[bytes]:
        """The whole frames read so far, as payloads, checking every header is the minimal one."""
        out, at, data = [], 0, bytes(self.buffer)
        while at < len(data):
            marker = data[at + 1]
            header = 2 + (2 if marker == 126 else 8 if marker == 127 else 0)
            size = marker if marker < 126 else int.from_bytes(data[at + 2 : at + header], "big")
            payload = data[at + header : at + header + size]
            if len(payload) < size:
                break  # the rest of this frame is still on its way
            assert data[at : at + header + size] == text_frame(payload)
            out.append(payload)
            at += header + size
        return out

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def _subscribed(
    sim: Simulator, streams: list[tuple[int, int]] = STREAMS, receive_buffer: int | None = None
) -> RawSocket:
    sock = await RawSocket.open(sim, receive_buffer)
    sock.send({"name": "authenticate", "request_id": "a", "msg": {"ssid": sim.issue_ssid(), "protocol": 3}})
    for index, (active, size) in enumerate(streams):
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
        if sum(b'"name":"result"' in frame for frame in sock.frames()) == len(streams):
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


#: Every (OTC active, size): a stalled subscriber's socket fills within a few simulated seconds.
EVERY_STREAM = [
    (active, size) for active in (76, 81, 85, 1938, 1940, 2276) for size in (1, 5, 10, 15, 30, 60)
]


def _phantom(sim: Simulator, like: Connection) -> list[bytes]:
    """A connection recording what the engine sends, subscribed as ``like``."""
    frames: list[bytes] = []
    conn = Connection(send=frames.append, close=lambda: None)
    sim.engine.hub.add(conn)
    for entry in like.subscriptions:
        sim.engine.hub.subscribe(conn, entry)
    return frames


async def _step(sim: Simulator, seconds: float) -> None:
    """Move the manual clock without ``advance``'s wait for every socket (one of them is stalled)."""
    for _ in range(int(seconds * 4)):
        sim.clock.set(sim.clock.now() + 0.25)  # type: ignore[attr-defined]
        sim.engine.advance_to(sim.clock.now())
        for _ in range(3):
            await asyncio.sleep(0)


def _connections(sim: Simulator) -> list[Connection]:
    """The simulator's connections; the first one's server-side send buffer made small.

    Linux grows a socket's send buffer up to megabytes on its own; a fixed small one
    makes the stalled client's frames back up into the simulator within seconds.
    """
    conns = list(sim.engine.hub.connections.values())
    server_socket = sim.server._outboxes[conns[0].conn_id]._transport.get_extra_info("socket")
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    return conns


async def test_a_stalled_subscriber_catches_up_in_order_and_holds_up_nobody(sim: Simulator) -> None:
    stalled = await _subscribed(sim, EVERY_STREAM, receive_buffer=4096)
    healthy = await _subscribed(sim)
    try:
        conns = _connections(sim)
        stalled_frames, healthy_frames = _phantom(sim, conns[0]), _phantom(sim, conns[1])
        skip = [len(stalled.frames()), len(healthy.frames())]
        outbox = sim.server._outboxes[conns[0].conn_id]
        for _ in range(40):  # until the stalled socket's buffer is full and its frames queue up
            await _step(sim, 1)
            await healthy.read_available()
            assert healthy.frames()[skip[1] :] == healthy_frames  # the healthy one is never held up
            if outbox._backlog:
                break
        assert outbox._backlog, "the stalled socket never backed up"
        await _step(sim, 2)
        reading = asyncio.create_task(stalled.read_until_closed())  # now it reads again
        await sim.server.flush()  # the backlog drains, then the batch resumes
        assert outbox._backlog is None
        await _step(sim, 1)
        await sim.server.flush()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(stalled.frames()) - skip[0] >= len(stalled_frames):
                break
        reading.cancel()
        assert stalled.frames()[skip[0] :] == stalled_frames
    finally:
        for sock in (stalled, healthy):
            await sock.close()


async def test_a_subscriber_too_far_behind_is_dropped_and_the_others_go_on(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(outbox_module, "MAX_QUEUED_FRAMES", 200)
    stalled = await _subscribed(sim, EVERY_STREAM, receive_buffer=4096)
    healthy = await _subscribed(sim)
    try:
        conns = _connections(sim)
        healthy_frames = _phantom(sim, conns[1])
        skip = len(healthy.frames())
        for _ in range(40):
            await _step(sim, 1)
            if conns[0].conn_id not in sim.engine.hub.connections:
                break
        for _ in range(20):
            await asyncio.sleep(0.01)  # the aborted socket's handler ends
            if sim.server.connection_count == 1:
                break
        assert sim.server.connection_count == 1
        assert any("frames behind: dropping it" in r.getMessage() for r in caplog.records)
        await _step(sim, 1)
        await healthy.read_available()
        assert healthy.frames()[skip:] == healthy_frames
    finally:
        for sock in (stalled, healthy):
            await sock.close()
