"""Which WebSocket transport a client opens: the ``Transport`` protocol and its factories."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Protocol

from iqwire.transport import WebSocketTransport

__all__ = ["Transport", "TransportFactory", "transport_factory"]


class Transport(Protocol):
    """What the client needs of a WebSocket connection: text frames out, bytes in.

    ``recv`` and ``close`` as :class:`~iqwire.transport.WebSocketTransport`; a
    transport may also offer ``async recv_batch() -> list[bytes]`` (every frame
    received so far, at least one), which the reader then prefers, or better
    ``async deliver(sink)`` (each read's frames handed to ``sink(frames)`` from the
    read callback until the connection ends, then ``ConnectionLost``).
    """

    async def send(self, data: bytes) -> None: ...

    async def recv(self) -> bytes: ...

    async def close(self) -> None: ...


#: Opens a connection: ``await factory(url, ssl_context)``; raises ``ConnectionLost`` or ``TLSError``.
TransportFactory = Callable[[str, ssl.SSLContext | None], Awaitable[Transport]]


async def _open_websockets(url: str, ssl_context: ssl.SSLContext | None) -> Transport:
    return await WebSocketTransport.open(url, ssl_context=ssl_context)


def transport_factory(transport: str | TransportFactory) -> TransportFactory:
    """The factory for ``Client(transport=...)``: ``"websockets"`` (default), ``"picows"``, or a callable.

    Example::

        open_transport = transport_factory("picows")
        transport = await open_transport("wss://example.org/echo/websocket", None)

    Raises:
        ValueError: an unknown transport name.
        ImportError: ``"picows"`` without picows installed (``pip install 'iqwire[fast]'``).
    """
    if callable(transport):
        return transport
    if transport == "websockets":
        return _open_websockets
    if transport == "picows":
        try:
            from iqwire.transport.picows_transport import PicowsTransport
        except ImportError as exc:
            raise ImportError(
                "transport='picows' needs picows: pip install 'iqwire[fast]' (or pip install picows)"
            ) from exc

        async def open_picows(url: str, ssl_context: ssl.SSLContext | None) -> Transport:
            return await PicowsTransport.open(url, ssl_context=ssl_context)

        return open_picows
    raise ValueError(f"unknown transport {transport!r}: use 'websockets' or 'picows'")
