"""The default transport's outgoing text frames: built by ``TextFrames``, exactly as websockets builds them.

``TextFrames.encode`` must write what websockets' ``Frame.serialize`` writes for the
same payload and masking key; over a real connection the server must receive every
message intact, whatever its size; and while websockets logs frames at DEBUG (when the
connection opened) the transport leaves sending to websockets, so the frame log stays.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

from iqwire.transport import WebSocketTransport
from iqwire.transport._wsframes import KEY_POOL, TextFrames

_SIZES = st.sampled_from([0, 1, 125, 126, 127, 65535, 65536, 70000]) | st.integers(0, 3000)


@settings(max_examples=200, deadline=None)
@given(size=_SIZES, fill=st.binary(min_size=1, max_size=7), skip=st.integers(0, 2000))
def test_a_frame_is_websockets_own_serialization_byte_for_byte(size: int, fill: bytes, skip: int) -> None:
    payload = (fill * (size // len(fill) + 1))[:size]
    frames = TextFrames()
    for _ in range(skip):  # anywhere in the key pool, across its refills
        frames.key()
    wire = frames.encode(payload)
    header = 2 + (2 if 126 <= size < 65536 else 8 if size >= 65536 else 0)
    key = wire[header : header + 4]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(secrets, "token_bytes", lambda n: key)  # what Frame.serialize draws
        expected = Frame(Opcode.TEXT, payload).serialize(mask=True, extensions=[])
    assert wire == expected


def test_masking_keys_are_fresh_random_bytes() -> None:
    frames = TextFrames()
    keys = [frames.key() for _ in range(3 * KEY_POOL // 4)]  # three pools' worth
    assert all(len(key) == 4 for key in keys)
    assert len(set(keys)) > len(keys) * 0.99  # 32-bit keys: a few repeats at most


async def _echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with serve(_echo, "127.0.0.1", 0, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/"


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 300_000])
async def test_the_server_receives_each_message_intact(url: str, size: int) -> None:
    transport = await WebSocketTransport.open(url)
    try:
        assert isinstance(transport, WebSocketTransport)
        assert transport._reader.text_frames is not None  # the fast path is the one tested
        message = ("é" + "x" * 9) * (size // 11) + "y" * (size % 11)
        await transport.send(message.encode())
        await transport.send(b'{"name":"next"}')
        assert [await transport.recv(), await transport.recv()] == [message.encode(), b'{"name":"next"}']
    finally:
        await transport.close()


async def test_with_websockets_logging_frames_websockets_sends_them(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="websockets.client")
    transport = await WebSocketTransport.open(url)
    try:
        assert isinstance(transport, WebSocketTransport)
        assert transport._reader.text_frames is None
        await transport.send(b'{"name":"logged"}')
        await transport.recv()
    finally:
        await transport.close()
    assert any('> TEXT \'{"name":"logged"}\'' in record.getMessage() for record in caplog.records)
