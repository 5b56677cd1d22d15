"""The WebSocket transport on ``websockets``: bytes in, bytes out.

:class:`WebSocketTransport` (the default) runs websockets' Sans-I/O protocol
(:class:`websockets.client.ClientProtocol`) under a plain :class:`asyncio.Protocol`:
each socket read is parsed at once and its frames go to the client's reader from the
read callback (:meth:`WebSocketTransport.deliver`: no task switch at all) or as one
batch (:meth:`WebSocketTransport.recv_batch`: one task switch per burst, not per
frame). It keeps what ``websockets.asyncio.client.connect`` gave: TLS
verified by default, keepalive pings, the closing handshake, the frame size limit,
the DEBUG frame log (with the SSID redacted), write flow control, and it stops
reading the socket while the reader is :data:`HIGH_WATER` frames behind. Through a
configured proxy it falls back to :class:`ConnectionTransport`, the asyncio client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import ssl
from typing import Any, cast

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import State
from websockets.proxy import get_proxy
from websockets.uri import parse_uri

from iqwire.errors import ConnectionLost
from iqwire.transport._delivery import Sink, pass_on
from iqwire.transport._errors import certificate_error
from iqwire.transport._wsframes import TextFrames

__all__ = ["DEFAULT_WS_URL", "ConnectionTransport", "WebSocketTransport"]

log = logging.getLogger("websockets.client")

_SSID_VALUE = re.compile(r'("ssid"\s*:\s*")[^"\s]*("?)')


class _RedactSsid(logging.Filter):
    """``websockets`` logs every frame at DEBUG, ``authenticate`` with its SSID among them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            message = record.getMessage()
            if '"ssid"' in message or any('"ssid"' in repr(arg) for arg in _args(record)):
                record.msg, record.args = _SSID_VALUE.sub(r"\1***\2", message), ()
        return True


def _args(record: logging.LogRecord) -> tuple[object, ...]:
    args = record.args
    if isinstance(args, tuple):
        return args
    return () if args is None else (args,)


for _name in ("websockets.client", "websockets.protocol"):
    if not any(isinstance(f, _RedactSsid) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_RedactSsid())

#: The real platform's WebSocket endpoint.
DEFAULT_WS_URL = "wss://ws.iqoption.com/echo/websocket"
USER_AGENT = "iqwire/0.1 (+https://github.com/iqwire)"

#: Seconds between keepalive pings, and to wait for each pong before failing the connection.
PING_INTERVAL = PING_TIMEOUT = 20.0
#: Seconds to wait for the server's side of the closing handshake.
CLOSE_TIMEOUT = 10.0
#: Frames buffered for the reader before the socket stops being read.
HIGH_WATER = 4096


class ConnectionTransport:
    """One WebSocket connection on ``websockets``' asyncio client (used through a proxy).

    Frames go out as text and come in as bytes. TLS certificates are verified
    unless an explicit ``ssl_context`` says otherwise.
    """

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        open_timeout: float = 10.0,
        max_size: int = 16 * 1024 * 1024,
    ) -> ConnectionTransport:
        """Connect.

        Raises:
            ConnectionLost: the server could not be reached or refused the upgrade.
            TLSError: its certificate did not verify.
        """
        kwargs: dict[str, Any] = {
            "open_timeout": open_timeout,
            "max_size": max_size,
            "compression": None,
            "user_agent_header": USER_AGENT,
            "ping_interval": PING_INTERVAL,
            "ping_timeout": PING_TIMEOUT,
            "max_queue": 256,
        }
        if url.startswith("wss://"):
            kwargs["ssl"] = ssl_context if ssl_context is not None else ssl.create_default_context()
        try:
            connection = await connect(url, **kwargs)
        except ssl.SSLCertVerificationError as exc:
            raise certificate_error(url, exc) from exc
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
            raise ConnectionLost(f"cannot connect to {url}: {exc}") from exc
        return cls(connection)

    async def send(self, data: bytes) -> None:
        """Send one frame as a text message.

        Raises:
            ConnectionLost: the connection is closed.
        """
        try:
            await self._connection.send(data, text=True)
        except websockets.exceptions.ConnectionClosed as exc:
            raise ConnectionLost(f"connection closed while sending: {exc}") from exc

    async def recv(self) -> bytes:
        """The next frame's bytes.

        Raises:
            ConnectionLost: the connection closed (cleanly or not).
        """
        try:
            data = await self._connection.recv(decode=False)
        except websockets.exceptions.ConnectionClosed as exc:
            raise ConnectionLost(f"connection closed: {exc}") from exc
        return data if isinstance(data, bytes) else data.encode()

    async def close(self) -> None:
        """Close with a normal close frame; never raises."""
        # Closing a dead socket must not mask the error that killed it.
        with contextlib.suppress(Exception):
            await self._connection.close()

    @property
    def closed(self) -> bool:
        """Whether the connection is no longer open."""
        return self._connection.state is websockets.protocol.State.CLOSED


_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_CONT = Opcode.CONT
_PONG = Opcode.PONG
_OPEN = State.OPEN


class _Reader(asyncio.Protocol):
    """The socket's side: whole reads into websockets' parser, whole messages into ``frames``."""

    def __init__(self, ws: ClientProtocol, opened: asyncio.Future[None]) -> None:
        self.ws = ws
        self.opened = opened
        self.loop = opened.get_loop()
        self.transport: asyncio.Transport | None = None
        self.frames: list[bytes] = []
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False
        self.closing = False  # close() called: read on, whatever is buffered, to see the close
        self.lost = False
        self.lost_waiter: asyncio.Future[None] = self.loop.create_future()
        #: Set by WebSocketTransport.deliver: each read's frames go to it at once.
        self.sink: Sink | None = None
        self.delivered: asyncio.Future[None] | None = None  # ends deliver(): lost, or the sink failed
        self._fragments: list[bytes] | None = None
        #: Pending while the socket's write buffer is above its high-water mark (send waits on it).
        self.writable_future: asyncio.Future[None] | None = None
        self._ping: bytes | None = None
        self._ping_sent = 0.0
        self._keepalive: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        #: Builds the outgoing text frames once the connection is open, unless websockets
        #: logs every frame at DEBUG or an extension was negotiated (WebSocketTransport.send).
        self.text_frames: TextFrames | None = None

    def reason(self) -> str:
        """Why the connection is (being) closed, as websockets words it."""
        ws = self.ws
        if ws.state is State.CLOSED:
            return str(ws.close_exc)
        return str(
            websockets.exceptions.ConnectionClosed(ws.close_rcvd, ws.close_sent, ws.close_rcvd_then_sent)
        )

    # -- writing ------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write what the protocol has to send; arm the close timeout when a close is under way."""
        transport = self.transport
        if transport is None:
            return
        for data in self.ws.data_to_send():
            if data:
                transport.write(data)
            elif transport.can_write_eof():  # half-close (plain TCP)
                with contextlib.suppress(Exception):
                    transport.write_eof()
            else:  # TLS cannot half-close
                transport.close()
        if self._close_timer is None and self.ws.close_expected():
            self._close_timer = self.loop.call_later(CLOSE_TIMEOUT, transport.abort)

    def pause_writing(self) -> None:
        if self.writable_future is None or self.writable_future.done():
            self.writable_future = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.writable_future is not None and not self.writable_future.done():
            self.writable_future.set_result(None)

    # -- reading ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's or uvloop's (the latter is not an asyncio.Transport subclass).
        self.transport = cast(asyncio.Transport, transport)
        request = self.ws.connect()
        request.headers["User-Agent"] = USER_AGENT
        self.ws.send_request(request)
        self.flush()

    def data_received(self, data: bytes) -> None:
        ws = self.ws
        ws.receive_data(data)
        events = ws.events_received()
        self.flush()  # the protocol's own answers: pongs, the close reply
        frames = self.frames
        waiting = not frames
        for event in events:
            if type(event) is Frame:
                opcode = event.opcode
                if opcode is _TEXT or opcode is _BINARY:
                    payload = event.data
                    if type(payload) is not bytes:
                        payload = bytes(payload)
                    if event.fin:
                        frames.append(payload)  # the hot path: one whole message
                    else:
                        self._fragments = [payload]
                elif opcode is _CONT:
                    fragments = self._fragments
                    if fragments is not None:
                        fragments.append(bytes(event.data))
                        if event.fin:
                            self._fragments = None
                            frames.append(b"".join(fragments))
                elif opcode is _PONG:
                    self._pong(bytes(event.data))
            else:  # the opening handshake's response
                self._handshake_done()
        if frames and self.sink is not None:
            pass_on(self)
        elif frames:
            if waiting:  # the reader waits only on an empty batch
                waiter = self.waiter
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            if (
                len(frames) >= HIGH_WATER
                and not self.paused
                and not self.closing
                and self.transport is not None
            ):
                self.paused = True
                self.transport.pause_reading()

    def _handshake_done(self) -> None:
        if self.opened.done():
            return
        exc = self.ws.handshake_exc
        if exc is not None:
            self.opened.set_exception(exc)
        else:
            self.opened.set_result(None)
            self._keepalive = self.loop.call_later(PING_INTERVAL, self._send_ping)
            if not self.ws.debug and not self.ws.extensions:
                self.text_frames = TextFrames()

    def eof_received(self) -> None:
        self.ws.receive_eof()
        self.flush()
        # Nothing is ever written after the peer's EOF: let asyncio close the transport.

    def connection_lost(self, exc: Exception | None) -> None:
        self.ws.receive_eof()  # idempotent: the protocol's state becomes CLOSED
        self.lost = True
        for handle in (self._keepalive, self._close_timer):
            if handle is not None:
                handle.cancel()
        self._keepalive = self._close_timer = None
        if not self.opened.done():
            self.opened.set_exception(
                exc or ConnectionError("connection closed during the opening handshake")
            )
        for future in (self.waiter, self.writable_future, self.lost_waiter, self.delivered):
            if future is not None and not future.done():
                future.set_result(None)

    # -- keepalive ----------------------------------------------------------------------------

    def _send_ping(self) -> None:
        self._keepalive = None
        if self.ws.state is not _OPEN:
            return
        payload = os.urandom(4)
        self._ping, self._ping_sent = payload, self.loop.time()
        self.ws.send_ping(payload)
        self.flush()
        self._keepalive = self.loop.call_later(PING_TIMEOUT, self._ping_timed_out)

    def _pong(self, data: bytes) -> None:
        if self._ping is None or data != self._ping:
            return
        self._ping = None
        if self._keepalive is not None:
            self._keepalive.cancel()
        latency = self.loop.time() - self._ping_sent
        self._keepalive = self.loop.call_later(max(0.0, PING_INTERVAL - latency), self._send_ping)

    def _ping_timed_out(self) -> None:
        self._keepalive = None
        if self.ws.state is _OPEN:
            log.debug("- timed out waiting for keepalive pong")
            self.ws.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
            self.flush()


class WebSocketTransport:
    """One WebSocket connection on websockets' Sans-I/O protocol (see the module's text).

    Frames go out as text and come in as bytes. TLS certificates are verified
    unless an explicit ``ssl_context`` says otherwise.
    """

    def __init__(self, reader: _Reader) -> None:
        self._reader = reader

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        open_timeout: float = 10.0,
        max_size: int = 16 * 1024 * 1024,
    ) -> WebSocketTransport | ConnectionTransport:
        """Connect (through a configured proxy: a :class:`ConnectionTransport`).

        Raises:
            ConnectionLost: the server could not be reached or refused the upgrade.
            TLSError: its certificate did not verify.
        """
        try:
            uri = parse_uri(url)
        except websockets.exceptions.InvalidURI as exc:
            raise ConnectionLost(f"cannot connect to {url}: {exc}") from exc
        if get_proxy(uri) is not None:
            return await ConnectionTransport.open(
                url, ssl_context=ssl_context, open_timeout=open_timeout, max_size=max_size
            )
        context: ssl.SSLContext | None = None
        if uri.secure:
            context = ssl_context if ssl_context is not None else ssl.create_default_context()
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[None] = loop.create_future()
        ws = ClientProtocol(uri, max_size=max_size)
        transport: asyncio.BaseTransport | None = None
        try:
            async with asyncio.timeout(open_timeout):
                transport, reader = await loop.create_connection(
                    lambda: _Reader(ws, opened),
                    uri.host,
                    uri.port,
                    ssl=context,
                    server_hostname=uri.host if context is not None else None,
                )
                await opened
        except ssl.SSLCertVerificationError as exc:
            raise certificate_error(url, exc) from exc
        except TimeoutError as exc:
            if transport is not None:
                transport.abort()  # type: ignore[attr-defined]
            raise ConnectionLost(f"cannot connect to {url}: timed out during the opening handshake") from exc
        except (OSError, websockets.exceptions.WebSocketException) as exc:
            if transport is not None:
                transport.abort()  # type: ignore[attr-defined]
            raise ConnectionLost(f"cannot connect to {url}: {exc}") from exc
        return cls(reader)

    async def send(self, data: bytes) -> None:
        """Send one frame as a text message.

        Raises:
            ConnectionLost: the connection is closed.
        """
        reader = self._reader
        ws = reader.ws
        if ws.state is not _OPEN:
            raise ConnectionLost(f"connection closed while sending: {reader.reason()}")
        text_frames = reader.text_frames
        transport = reader.transport
        if text_frames is not None and transport is not None and not ws.writes:
            transport.write(text_frames.encode(data))  # what send_text() then flush() would write
        else:
            ws.send_text(data)
            reader.flush()
        writable = reader.writable_future
        if writable is not None and not writable.done():
            await writable

    async def recv_batch(self) -> list[bytes]:
        """Every frame received since the last call (at least one), oldest first.

        Raises:
            ConnectionLost: the connection closed and every frame has been read.
        """
        reader = self._reader
        while not reader.frames:
            if reader.lost:
                raise ConnectionLost(f"connection closed: {reader.reason()}")
            waiter = reader.waiter = reader.loop.create_future()
            try:
                await waiter
            finally:
                reader.waiter = None
        frames = reader.frames
        reader.frames = []
        if reader.paused:
            reader.paused = False
            if not reader.lost and reader.transport is not None:
                reader.transport.resume_reading()
        return frames

    async def deliver(self, sink: Sink) -> None:
        """Hand the frames of every socket read to ``sink`` as they are read, until the connection ends.

        ``sink(frames)`` runs in the socket's read callback (first with the frames
        received before this call), so a reply or a burst of pushes reaches its
        consumer without a task switch; it must not block. Reading never pauses:
        nothing is buffered here. Cancelling this call stops the delivery; frames
        read after that wait for :meth:`recv_batch`.

        Example::

            await transport.deliver(lambda frames: print(len(frames), "frames"))

        Raises:
            ConnectionLost: the connection closed (every frame was delivered first).
            Exception: whatever ``sink`` raised (it gets no frames after that).
        """
        reader = self._reader
        if reader.lost and not reader.frames:
            raise ConnectionLost(f"connection closed: {reader.reason()}")
        delivered = reader.delivered = reader.loop.create_future()
        reader.sink = sink
        try:
            if reader.frames:
                pass_on(reader)
            if reader.paused:
                reader.paused = False
                if not reader.lost and reader.transport is not None:
                    reader.transport.resume_reading()
            if reader.lost and not delivered.done():
                delivered.set_result(None)  # lost before the call: its frames were handed on above
            await delivered
        finally:
            reader.sink = None
            reader.delivered = None
        raise ConnectionLost(f"connection closed: {reader.reason()}")

    async def recv(self) -> bytes:
        """The next frame's bytes (prefer :meth:`recv_batch`).

        Raises:
            ConnectionLost: the connection closed (cleanly or not).
        """
        reader = self._reader
        if not reader.frames:
            reader.frames = await self.recv_batch()
        return reader.frames.pop(0)

    async def close(self) -> None:
        """Close with a normal close frame and wait for the server's; never raises."""
        reader = self._reader
        with contextlib.suppress(Exception):
            reader.closing = True
            if reader.paused and not reader.lost and reader.transport is not None:
                reader.paused = False  # the server's close frame is behind the unread frames
                reader.transport.resume_reading()
            if reader.ws.state is _OPEN:
                reader.ws.send_close(CloseCode.NORMAL_CLOSURE)
                reader.flush()
            if not reader.lost:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await asyncio.shield(reader.lost_waiter)
        if not reader.lost and reader.transport is not None:
            reader.transport.abort()

    @property
    def closed(self) -> bool:
        """Whether the connection is no longer open."""
        return self._reader.lost or self._reader.ws.state is State.CLOSED
