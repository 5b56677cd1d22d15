"""The simulator's outgoing frames (``iqwire.sim.outbox``): built once, batched per loop turn,
byte for byte what aiohttp's writer sends, in order, and bounded for a client that does not read."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp._websocket.writer import WebSocketWriter
from hypothesis import given
from hypothesis import strategies as st

from iqwire.sim import outbox as outbox_module
from iqwire.sim.outbox import Batcher, Outbox, frame_payload, text_frame

HIGH_WATER = 64 * 1024


class FakeTransport(asyncio.Transport):
    """Records every write; its write buffer holds ``buffered`` bytes (the socket's backlog)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.buffered = 0
        self.closing = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (HIGH_WATER // 4, HIGH_WATER)

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        self.aborted = True
        self.closing = True


class FakeSocket:
    """The part of aiohttp's ``WebSocketResponse`` the outbox uses; ``send_frame`` may be held."""

    def __init__(self, transport: FakeTransport) -> None:
        self.transport = transport
        self.closed = False
        self.sent: list[bytes] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def send_frame(self, message: bytes, opcode: WSMsgType) -> None:
        assert opcode is WSMsgType.TEXT
        await self.gate.wait()
        self.sent.append(message)
        self.transport.write(text_frame(message))


class _Writes:
    """A transport stand-in for aiohttp's own writer: collects what it writes."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return False


class _Protocol:
    _paused = False


def aiohttp_frame(payload: bytes) -> bytes:
    """What aiohttp's server-side writer puts on the wire for ``send_frame(payload, TEXT)``."""
    writes = _Writes()
    writer = WebSocketWriter(_Protocol(), writes, use_mask=False)  # type: ignore[arg-type]
    writer._write_websocket_frame(payload, WSMsgType.TEXT, 0)
    return bytes(writes.data)


SIZES = st.one_of(
    st.sampled_from([0, 1, 125, 126, 127, 16_384, 16_385, 65_535, 65_536, 70_000]),
    st.integers(min_value=0, max_value=140_000),
)


@given(size=SIZES, seed=st.integers(min_value=0, max_value=2**16))
def test_a_frame_is_byte_for_byte_what_aiohttp_sends(size: int, seed: int) -> None:
    payload = random.Random(seed).randbytes(size)
    frame = text_frame(payload)
    assert frame == aiohttp_frame(payload)
    assert frame_payload(frame) == payload


def make(batcher: Batcher | None = None) -> tuple[Outbox, FakeSocket, FakeTransport, list[int]]:
    transport = FakeTransport()
    ws = FakeSocket(transport)
    drops: list[int] = []
    box = Outbox(batcher or Batcher(), ws, transport, lambda: drops.append(1))  # type: ignore[arg-type]
    return box, ws, transport, drops


def frames_of(data: bytes) -> list[bytes]:
    """Split a stream of unmasked frames into their payloads."""
    out, at = [], 0
    while at < len(data):
        assert data[at] == 0x81
        marker, at = data[at + 1], at + 2
        size = marker
        if marker == 126:
            size, at = int.from_bytes(data[at : at + 2], "big"), at + 2
        elif marker == 127:
            size, at = int.from_bytes(data[at : at + 8], "big"), at + 8
        out.append(data[at : at + size])
        at += size
    return out


async def turn() -> None:
    """Let the event loop run the callbacks scheduled so far."""
    await asyncio.sleep(0)


async def test_one_write_per_connection_per_loop_turn_with_the_frames_in_order() -> None:
    batcher = Batcher()
    (a, _, ta, _), (b, _, tb, _) = make(batcher), make(batcher)
    shared = b'{"name":"candle-generated"}'
    for data in (b"1", shared, b"3"):
        a.send(data)
    b.send(shared)
    assert ta.writes == tb.writes == []  # nothing before the end of the turn
    await turn()
    assert ta.writes == [text_frame(b"1") + text_frame(shared) + text_frame(b"3")]
    assert tb.writes == [text_frame(shared)]
    a.send(b"4")
    await turn()
    assert ta.writes[1:] == [text_frame(b"4")]


async def test_the_same_payload_is_framed_once_per_turn() -> None:
    batcher = Batcher()
    boxes = [make(batcher) for _ in range(3)]
    shared = b"x" * 300
    for box, *_ in boxes:
        box.send(shared)
    assert batcher.frame(shared) is batcher.frame(shared)
    framed = batcher.frame(shared)
    await turn()
    for _, _, transport, _ in boxes:
        assert transport.writes == [framed]


async def test_a_connection_whose_socket_is_behind_is_written_by_its_own_task_in_order() -> None:
    box, ws, transport, drops = make()
    box.send(b"a")
    await turn()
    transport.buffered = HIGH_WATER + 1  # the client stopped reading
    ws.gate.clear()  # aiohttp's writer waits for the socket to drain
    for data in (b"b", b"c"):
        box.send(data)
    await turn()
    for data in (b"d", b"e"):
        box.send(data)  # behind: queued after b, c
    await turn()
    assert frames_of(b"".join(transport.writes)) == [b"a"]
    transport.buffered = 0
    ws.gate.set()
    await box.drained()
    box.send(b"f")  # caught up: back to the batch
    await turn()
    assert ws.sent == [b"b", b"c", b"d", b"e"]
    assert frames_of(b"".join(transport.writes)) == [b"a", b"b", b"c", b"d", b"e", b"f"]
    assert transport.writes[-1] == text_frame(b"f")
    assert drops == []


async def test_a_connection_too_far_behind_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_module, "MAX_QUEUED_FRAMES", 10)
    box, ws, transport, drops = make()
    transport.buffered = HIGH_WATER + 1
    ws.gate.clear()
    box.send(b"0")
    await turn()  # behind from now on
    for i in range(1, 20):
        box.send(str(i).encode())
    assert drops == [1]
    assert box.closed
    box.send(b"late")  # a dropped connection takes nothing more
    ws.gate.set()
    await turn()
    assert ws.sent == []


async def test_more_frames_in_one_turn_than_the_bound_drop_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox_module, "MAX_QUEUED_FRAMES", 10)
    box, _, transport, drops = make()
    for i in range(11):
        box.send(str(i).encode())
    await turn()
    assert drops == [1]
    assert transport.writes == []


async def test_nothing_is_written_after_the_close_frame_or_on_a_lost_connection() -> None:
    box, ws, transport, _ = make()
    box.send(b"a")
    ws.closed = True  # aiohttp marks the socket closed before it writes the close frame
    await turn()
    box.send(b"b")
    transport.closing = True
    await turn()
    assert transport.writes == []


async def test_close_discards_what_is_not_written() -> None:
    box, ws, transport, _ = make()
    transport.buffered = HIGH_WATER + 1
    ws.gate.clear()
    box.send(b"a")
    await turn()
    box.send(b"b")
    await box.aclose()
    ws.gate.set()
    box.send(b"c")
    await turn()
    assert ws.sent == [] and transport.writes == []


async def test_waiting_for_a_drain_ends_quietly_when_the_connection_closes() -> None:
    # The server's flush() waits on every connection's drain; one closing meanwhile (its
    # writer cancelled) used to raise CancelledError into the flush, which nobody cancelled.
    box, ws, transport, _ = make()
    transport.buffered = HIGH_WATER + 1
    ws.gate.clear()
    box.send(b"a")
    await turn()  # behind: its own writer task holds the frame
    waiting = asyncio.create_task(box.drained())
    await turn()
    await box.aclose()
    await asyncio.wait_for(waiting, timeout=1)  # returns, no CancelledError
    assert waiting.exception() is None
    other, other_ws, other_transport, _ = make()
    other_transport.buffered = HIGH_WATER + 1
    other_ws.gate.clear()
    other.send(b"b")
    await turn()
    flusher = asyncio.create_task(other.drained())
    await turn()
    flusher.cancel()  # a caller's own cancellation still reaches it, and leaves the writer alone
    with pytest.raises(asyncio.CancelledError):
        await flusher
    other_transport.buffered = 0
    other_ws.gate.set()
    await other.drained()
    assert other_ws.sent == [b"b"]
