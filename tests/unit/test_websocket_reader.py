"""The default transport's reader: every message of every read, in order, whatever the read holds.

Whole text and binary messages, fragmented ones (a ping between their frames),
unsolicited pongs, the handshake's response in the same read as the first messages:
the reader must give the messages in the order the server sent them, as ``bytes``,
however the bytes are cut into reads.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.uri import parse_uri
from websockets.utils import accept_key

from iqwire.transport import websocket as websocket_module


class _Socket:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def pause_reading(self) -> None:
        pass


def _frame(first: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return bytes((first, 126)) + struct.pack("!H", size) + payload
    return bytes((first, 127)) + struct.pack("!Q", size) + payload


_PAYLOADS = st.binary(max_size=300) | st.sampled_from([b"x" * 70000])


@st.composite
def _message(draw: st.DrawFn) -> tuple[bytes, bytes | None]:
    """A message's wire bytes and its payload (``None``: a pong, no message)."""
    if draw(st.integers(0, 9)) == 0:
        return _frame(0x8A, draw(st.binary(max_size=20))), None
    opcode = draw(st.sampled_from([0x1, 0x2]))
    parts = draw(st.lists(_PAYLOADS, min_size=1, max_size=3))
    if len(parts) == 1:
        return _frame(0x80 | opcode, parts[0]), parts[0]
    wire = [_frame(opcode, parts[0])]
    if draw(st.booleans()):
        wire.append(_frame(0x89, b"ping"))  # a control frame inside a fragmented message
    wire += [_frame(0x00, part) for part in parts[1:-1]] + [_frame(0x80, parts[-1])]
    return b"".join(wire), b"".join(parts)


async def _read(messages: list[tuple[bytes, bytes | None]], cuts: list[int]) -> None:
    loop = asyncio.get_running_loop()
    ws = ClientProtocol(parse_uri("ws://example.org/"), max_size=1 << 20)
    reader = websocket_module._Reader(ws, loop.create_future())
    reader.connection_made(_Socket())  # type: ignore[arg-type]
    response = (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(ws.key)}\r\n\r\n"
    ).encode()
    stream = response + b"".join(wire for wire, _ in messages)
    bounds = sorted({min(cut, len(stream)) for cut in cuts} | {0, len(stream)})
    for start, stop in itertools.pairwise(bounds):
        reader.data_received(stream[start:stop])
    assert reader.opened.done() and reader.opened.exception() is None
    assert reader.frames == [payload for _, payload in messages if payload is not None]
    assert all(type(frame) is bytes for frame in reader.frames)
    reader.connection_lost(None)


@settings(max_examples=300, deadline=None)
@given(st.lists(_message(), max_size=10), st.lists(st.integers(0, 80000), max_size=6))
def test_every_message_arrives_in_order_however_the_reads_fall(
    messages: list[tuple[bytes, bytes | None]], cuts: list[int]
) -> None:
    asyncio.run(_read(messages, cuts))


def test_a_read_of_whole_messages_only_and_a_mixed_read() -> None:
    whole: list[tuple[bytes, bytes | None]] = [(_frame(0x81, b"%d" % i), b"%d" % i) for i in range(50)]
    asyncio.run(_read(whole, [200]))  # the handshake and the first messages, then the rest alone
    mixed: list[tuple[bytes, Any]] = [*whole[:3], (_frame(0x8A, b""), None), *whole[3:6]]
    asyncio.run(_read(mixed, []))
