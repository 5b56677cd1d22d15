"""Transport.deliver: received frames handed to a sink from the read callback.

Both transports: ``WebSocketTransport`` hands on each socket read's frames,
``PicowsTransport`` every ``CHUNK`` frames and the rest when the read is over.

A local ``websockets`` server sends numbered text frames when asked (``"send N"``)
and closes on ``"close"``; the sink records what it got.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trustme
from websockets.asyncio.server import ServerConnection, serve

from iqwire.client.transports import Transport, transport_factory
from iqwire.errors import ConnectionLost


async def _handler(ws: ServerConnection) -> None:
    sent = 0
    async for message in ws:
        command, _, count = str(message).partition(" ")
        if command == "send":
            for _ in range(int(count)):
                await ws.send(f'{{"n":{sent}}}')
                sent += 1
        elif command == "big":  # one frame of that many bytes, then the next number
            await ws.send("x" * int(count))
        elif command == "close":
            await ws.close()


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with serve(_handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/"


HAS_PICOWS = importlib.util.find_spec("picows") is not None


@pytest.fixture(params=["websockets", "picows"])
async def transport(request: pytest.FixtureRequest, url: str) -> AsyncIterator[Any]:
    if request.param == "picows" and not HAS_PICOWS:
        pytest.skip("picows is not installed")
    opened: Transport = await transport_factory(request.param)(url, None)
    yield opened
    await opened.close()


def _buffered(transport: Any) -> int:
    reader = getattr(transport, "_reader", None) or transport._listener
    return len(reader.frames)


def _numbers(batches: list[list[bytes]]) -> list[int]:
    return [int(frame[5:-1]) for batch in batches for frame in batch]


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_frames_read_before_and_after_the_call_arrive_in_order_then_connection_lost(
    transport: Any,
) -> None:
    await transport.send(b"send 5")
    await _until(lambda: _buffered(transport) == 5, "five frames buffered")
    batches: list[list[bytes]] = []
    delivery = asyncio.create_task(transport.deliver(batches.append))
    await _until(lambda: len(_numbers(batches)) == 5, "the buffered frames")
    await transport.send(b"send 3000")
    await _until(lambda: len(_numbers(batches)) == 3005, "the later frames")
    assert _numbers(batches) == list(range(3005))
    assert all(batches)  # never an empty call
    if hasattr(transport, "_listener"):  # picows: a long read is handed on in chunks
        from iqwire.transport.picows_transport import CHUNK

        assert max(map(len, batches)) <= CHUNK
    await transport.send(b"close")
    with pytest.raises(ConnectionLost, match="1000"):
        await asyncio.wait_for(delivery, 5)


async def test_a_sink_that_raises_ends_the_delivery_with_its_error(transport: Any) -> None:
    batches: list[list[bytes]] = []

    def sink(frames: list[bytes]) -> None:
        batches.append(frames)
        raise ValueError("the consumer broke")

    delivery = asyncio.create_task(transport.deliver(sink))
    await transport.send(b"send 1")
    with pytest.raises(ValueError, match="the consumer broke"):
        await asyncio.wait_for(delivery, 5)
    await transport.send(b"send 2")
    assert _numbers([await asyncio.wait_for(transport.recv_batch(), 5)]) in ([1, 2], [1])
    assert _numbers(batches) == [0]  # nothing more reached the sink


async def test_a_cancelled_delivery_leaves_later_frames_to_recv_batch(transport: Any) -> None:
    batches: list[list[bytes]] = []
    delivery = asyncio.create_task(transport.deliver(batches.append))
    await transport.send(b"send 3")
    await _until(lambda: len(_numbers(batches)) == 3, "three frames")
    delivery.cancel()
    with pytest.raises(asyncio.CancelledError):
        await delivery
    await transport.send(b"send 2")
    got: list[bytes] = []
    while len(got) < 2:
        got += await asyncio.wait_for(transport.recv_batch(), 5)
    assert _numbers([got]) == [3, 4] and _numbers(batches) == [0, 1, 2]


async def test_frames_read_before_a_loss_are_delivered_before_connection_lost(transport: Any) -> None:
    await transport.send(b"send 3")
    await _until(lambda: _buffered(transport) == 3, "three frames buffered")
    await transport.send(b"close")
    await _until(lambda: bool(transport.closed), "the connection closed")
    batches: list[list[bytes]] = []
    with pytest.raises(ConnectionLost):
        await asyncio.wait_for(transport.deliver(batches.append), 5)
    assert _numbers(batches) == [0, 1, 2]


class _ReadSpy:
    """picows' protocol, noting how many bytes each read brings."""

    def __init__(self, protocol: Any, reads: list[int]) -> None:
        self._protocol = protocol
        self._reads = reads

    def get_buffer(self, sizehint: int) -> Any:
        return self._protocol.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self._reads.append(nbytes)
        self._protocol.buffer_updated(nbytes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._protocol, name)


@pytest.fixture
async def tls() -> AsyncIterator[tuple[str, ssl.SSLContext]]:
    """The same server over TLS (a throw-away CA), and a client context trusting it."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    async with serve(_handler, "127.0.0.1", 0, ssl=server_context) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"wss://localhost:{port}/", client_context


@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
async def test_picows_reads_at_most_read_limit_bytes_and_longer_frames_arrive_whole(
    url: str, tls: tuple[str, ssl.SSLContext], secure: bool
) -> None:
    if not HAS_PICOWS:
        pytest.skip("picows is not installed")
    from iqwire.transport.picows_transport import READ_LIMIT

    transport: Any = await transport_factory("picows")(*(tls if secure else (url, None)))
    try:
        reads: list[int] = []  # the bytes of each socket read
        limited = transport._transport.underlying_transport.get_protocol()
        limited._protocol = _ReadSpy(limited._protocol, reads)  # picows' protocol, behind the cap
        batches: list[list[bytes]] = []
        delivery = asyncio.create_task(transport.deliver(batches.append))
        await transport.send(b"send 20000")
        await transport.send(b"big 1000000")  # one frame of ~4 reads
        await transport.send(b"send 1")
        await _until(lambda: sum(map(len, batches)) == 20_002, "every frame")
        frames = [frame for batch in batches for frame in batch]
        assert frames[20_000] == b"x" * 1_000_000
        assert _numbers([frames[:20_000] + frames[20_001:]]) == list(range(20_001))
        assert reads and max(reads) <= READ_LIMIT
        delivery.cancel()
        with pytest.raises(asyncio.CancelledError):
            await delivery
    finally:
        await transport.close()
