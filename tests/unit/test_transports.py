"""Choosing the client's WebSocket transport, and the picows listener's frame handling."""

from __future__ import annotations

import asyncio
import struct
import sys
from typing import Any

import pytest

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
