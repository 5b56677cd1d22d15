"""Choosing the client's WebSocket transport, and the picows listener's frame handling."""

from __future__ import annotations

import asyncio
import struct
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iqwire.client.transports import transport_factory


def test_the_default_transport_is_websockets() -> None:
    assert transport_factory("websockets").__name__ == "_open_websockets"


def test_a_callable_is_the_factory_itself() -> None:
    async def factory(url: str, ssl_context: Any) -> Any:
        raise NotImplementedError

    assert transport_factory(factory) is factory


def test_an_unknown_transport_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown transport 'aiohttp'"):
        transport_factory("aiohttp")


def test_picows_without_picows_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picows", None)  # import picows now raises ImportError
    monkeypatch.delitem(sys.modules, "iqwire.transport.picows_transport", raising=False)
    with pytest.raises(ImportError, match=r"iqwire\[fast\]"):
        transport_factory("picows")


# -- the picows listener ------------------------------------------------------------------


class _FakeTransport:
    def __init__(self) -> None:
        self.closes: list[Any] = []
        self.disconnected = False

    def send_close(self, code: Any) -> None:
        self.closes.append(code)

    def disconnect(self) -> None:
        self.disconnected = True


@pytest.fixture
def picows() -> Any:
    return pytest.importorskip("picows")


def _frame(picows: Any, kind: str, payload: bytes, fin: bool = True) -> Any:
    from picows.picows import _make_test_ws_frame

    return _make_test_ws_frame(getattr(picows.WSMsgType, kind), payload, fin, False)


async def test_whole_and_fragmented_messages_reach_the_batch_in_order(picows: Any) -> None:
    from iqwire.transport.picows_transport import _Listener

    listener = _Listener()
    transport: Any = _FakeTransport()
    listener.on_ws_frame(transport, _frame(picows, "TEXT", b'{"a":1}'))
    listener.on_ws_frame(transport, _frame(picows, "TEXT", b'{"b":', fin=False))
    listener.on_ws_frame(transport, _frame(picows, "CONTINUATION", b"2", fin=False))
    listener.on_ws_frame(transport, _frame(picows, "CONTINUATION", b"}"))
    listener.on_ws_frame(transport, _frame(picows, "BINARY", b"raw"))
    listener.on_ws_frame(transport, _frame(picows, "PONG", b""))
    assert listener.frames == [b'{"a":1}', b'{"b":2}', b"raw"]


LONG = b"x" * 126  # over 125 bytes: no control frame is that long (the listener's hot path)


@pytest.mark.parametrize("size", [0, 125, 126, 4000])
async def test_messages_of_any_size_reach_the_batch_as_whole_messages(picows: Any, size: int) -> None:
    from iqwire.transport.picows_transport import _Listener

    listener = _Listener()
    transport: Any = _FakeTransport()
    body = b"y" * size
    listener.on_ws_frame(transport, _frame(picows, "TEXT", body + b"1"))
    listener.on_ws_frame(transport, _frame(picows, "TEXT", body, fin=False))
    listener.on_ws_frame(transport, _frame(picows, "PING", b"p" * 125))
    listener.on_ws_frame(transport, _frame(picows, "CONTINUATION", body, fin=False))
    listener.on_ws_frame(transport, _frame(picows, "PONG", b""))
    listener.on_ws_frame(transport, _frame(picows, "CONTINUATION", body + b"2"))
    listener.on_ws_frame(transport, _frame(picows, "BINARY", body + b"3"))
    listener.on_ws_frame(transport, _frame(picows, "CONTINUATION", b"stray, ignored"))
    assert listener.frames == [body + b"1", body * 3 + b"2", body + b"3"]
    assert not transport.disconnected


_kinds = st.sampled_from(["TEXT", "BINARY"])
_payloads = st.sampled_from([b"", b"a", b"b" * 125, LONG, b"c" * 300])
_controls = st.sampled_from(["PING", "PONG"]).map(lambda kind: (kind, b"z", True))


@st.composite
def _messages(draw: st.DrawFn) -> tuple[list[tuple[str, bytes, bool]], bytes]:
    """One message as frames (whole, or fragmented with control frames between), and its bytes."""
    kind = draw(_kinds)
    parts = draw(st.lists(_payloads, min_size=1, max_size=4))
    frames = [(kind if i == 0 else "CONTINUATION", part, i == len(parts) - 1) for i, part in enumerate(parts)]
    for _ in range(draw(st.integers(0, 2))):
        frames.insert(draw(st.integers(1, len(frames))), draw(_controls))
    return frames, b"".join(parts)


@settings(max_examples=200, deadline=None)
@given(st.lists(_messages(), max_size=8), st.booleans())
def test_any_valid_frame_sequence_gives_its_messages(
    messages: list[tuple[list[tuple[str, bytes, bool]], bytes]], with_sink: bool
) -> None:
    picows = pytest.importorskip("picows")
    from iqwire.transport.picows_transport import CHUNK, _Listener

    async def check() -> None:
        listener = _Listener()
        transport: Any = _FakeTransport()
        got: list[bytes] = []
        if with_sink:
            listener.sink = got.extend
            listener.delivered = asyncio.get_running_loop().create_future()
        for frames, _ in messages:
            for kind, payload, fin in frames:
                listener.on_ws_frame(transport, _frame(picows, kind, payload, fin))
        if with_sink:
            assert len(listener.frames) < CHUNK
        listener.read_done()  # the end of a read: the sink gets the rest
        assert got + listener.frames == [whole for _, whole in messages]
        assert not (with_sink and listener.frames)

    asyncio.run(check())


def test_a_long_final_continuation_without_a_message_is_taken_as_one(picows: Any) -> None:
    # RFC 6455 forbids it and picows lets it through; the hot path does not read the
    # opcode of a long final frame outside a fragmented message (a short one is ignored).
    from iqwire.transport.picows_transport import _Listener

    listener = _Listener()
    listener.on_ws_frame(_FakeTransport(), _frame(picows, "CONTINUATION", b"short"))
    listener.on_ws_frame(_FakeTransport(), _frame(picows, "CONTINUATION", LONG))
    assert listener.frames == [LONG]


async def test_the_reader_is_woken_by_the_first_frame_of_a_batch(picows: Any) -> None:
    from iqwire.transport.picows_transport import _Listener

    listener = _Listener()
    listener.waiter = asyncio.get_running_loop().create_future()
    listener.on_ws_frame(_FakeTransport(), _frame(picows, "TEXT", b"1"))
    assert listener.waiter.done()


async def test_a_close_frame_is_answered_and_named_in_the_reason(picows: Any) -> None:
    from iqwire.transport.picows_transport import _Listener

    listener = _Listener()
    transport = _FakeTransport()
    listener.on_ws_frame(transport, _frame(picows, "CLOSE", struct.pack("!H", 1001) + b"bye"))
    assert transport.disconnected and len(transport.closes) == 1
    assert "1001" in listener.close_reason and "bye" in listener.close_reason


# -- the picows read limit ------------------------------------------------------------------


class _BufferedProtocol:
    """picows' protocol as the event loop sees it: a buffer to read into, and what it was told."""

    def __init__(self, size: int) -> None:
        self.memory = bytearray(size)
        self.calls: list[tuple[str, Any]] = []

    def get_buffer(self, sizehint: int) -> memoryview:
        self.calls.append(("get_buffer", sizehint))
        return memoryview(self.memory)

    def buffer_updated(self, nbytes: int) -> None:
        self.calls.append(("buffer_updated", nbytes))

    def eof_received(self) -> bool:
        self.calls.append(("eof_received", None))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.calls.append(("connection_lost", exc))

    def pause_writing(self) -> None:
        self.calls.append(("pause_writing", None))

    def resume_writing(self) -> None:
        self.calls.append(("resume_writing", None))


@pytest.mark.parametrize("size", [1, 4096, 256 * 1024, 256 * 1024 + 1, 8 * 1024 * 1024])
def test_a_read_takes_at_most_read_limit_bytes_of_picows_buffer(picows: Any, size: int) -> None:
    from iqwire.transport.picows_transport import READ_LIMIT, _Listener, _Reads

    inner = _BufferedProtocol(size)
    buffer = _Reads(inner, _Listener()).get_buffer(-1)
    assert len(buffer) == min(size, READ_LIMIT)
    buffer[:1] = b"x"  # the start of picows' own buffer, not a copy
    assert inner.memory[:1] == b"x"
    assert inner.calls == [("get_buffer", -1)]


async def test_the_end_of_a_read_hands_its_frames_to_the_sink(picows: Any) -> None:
    from iqwire.transport.picows_transport import _Listener, _Reads

    listener = _Listener()
    reads = _Reads(_BufferedProtocol(16), listener)
    reads.buffer_updated(16)  # no frame, no sink: nothing to hand on
    listener.frames.append(b"before deliver")
    reads.buffer_updated(16)
    assert listener.frames == [b"before deliver"]  # no sink: recv_batch takes them
    got: list[list[bytes]] = []
    listener.sink = got.append
    listener.delivered = asyncio.get_running_loop().create_future()
    reads.buffer_updated(16)
    reads.buffer_updated(16)  # nothing new: no empty call
    listener.on_ws_frame(_FakeTransport(), _frame(picows, "TEXT", LONG))
    assert got == [[b"before deliver"]] and listener.frames == [LONG]  # kept until the read ends
    reads.buffer_updated(16)
    assert got == [[b"before deliver"], [LONG]] and listener.frames == []


def test_the_read_limit_passes_everything_else_to_picows_protocol(picows: Any) -> None:
    from iqwire.transport.picows_transport import _Listener, _Reads

    inner = _BufferedProtocol(16)
    limited = _Reads(inner, _Listener())
    lost = ConnectionResetError("gone")
    limited.buffer_updated(7)
    assert limited.eof_received() is False
    limited.pause_writing()
    limited.resume_writing()
    limited.connection_lost(lost)
    assert inner.calls == [
        ("buffer_updated", 7),
        ("eof_received", None),
        ("pause_writing", None),
        ("resume_writing", None),
        ("connection_lost", lost),
    ]
    assert isinstance(limited, asyncio.BufferedProtocol) and limited.is_buffered_protocol()
