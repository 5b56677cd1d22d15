"""An optional, faster WebSocket transport on ``picows`` (``pip install 'iqwire[fast]'``).

Selected with ``Client(transport="picows")``. picows parses frames in C and hands
each one to a callback; this transport copies the payload into a list and hands
the list to the client's reader every :data:`CHUNK` frames and at the end of each
read (:meth:`PicowsTransport.deliver`), so a burst of pushes costs no task switch
and is decoded while it is still in the CPU's cache; or it wakes a reader that
asks with :meth:`PicowsTransport.recv_batch` once per batch. A socket read takes at
most :data:`READ_LIMIT` bytes (:class:`_Reads`), so one read's decoded pushes
stay few enough for the consumer to free them while they are in cache. The contract is
:class:`~iqwire.transport.WebSocketTransport`'s: text frames out, bytes in,
``ConnectionLost`` when the connection is gone, TLS verified unless an explicit
``ssl_context`` says otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

from picows import WSCloseCode, WSError, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from iqwire.errors import ConnectionLost
from iqwire.transport._delivery import Sink, pass_on
from iqwire.transport._errors import certificate_error
from iqwire.transport.websocket import USER_AGENT

__all__ = ["PicowsTransport"]


#: Frames buffered for the reader before the socket stops being read.
HIGH_WATER = 4096
#: The most frames handed to a delivery sink at once while picows parses a read (a quarter
#: of HIGH_WATER). It bounds a batch of short frames: a read of candle frames (READ_LIMIT
#: holds ~800) stays under it and goes whole at the read's end; 256, 512 and 1,024 read alike.
CHUNK = 1024
#: The most bytes one socket read takes (see :class:`_Reads`): about 800 candle frames.
READ_LIMIT = 256 * 1024

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE
#: The largest payload of a control frame (RFC 6455, 5.5).
_CONTROL_MAX = 125


class _Listener(WSListener):
    """picows callbacks: whole messages into ``frames``, the reader woken once per batch."""

    # Slots, no instance dict: picows calls on_ws_frame per frame through Cython's check
    # for a Python override, which costs ~75 ns more a frame on an object with a __dict__
    # (a quarter of picows' parse and this callback together).
    __slots__ = (
        "_fragments",
        "_writable",
        "close_reason",
        "delivered",
        "disconnected",
        "frames",
        "paused",
        "sink",
        "transport",
        "waiter",
    )

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False
        self.disconnected = False
        self.close_reason = "connection closed"
        self.transport: WSTransport | None = None
        self._fragments: list[bytes] | None = None
        self._writable: asyncio.Future[None] | None = None
        #: Set by PicowsTransport.deliver: frames go to it every CHUNK frames and after each read.
        self.sink: Sink | None = None
        self.delivered: asyncio.Future[None] | None = None  # ends deliver(): lost, or the sink failed

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        # The hot path, inlined, and without frame.msg_type (its enum costs ~80 ns a frame on
        # Python 3.11, a sixth of picows' whole frame): a final frame of over 125 bytes is no
        # control frame (RFC 6455 caps those at 125, and picows refuses bigger ones), so
        # outside a fragmented message it is one whole TEXT or BINARY message. (A final
        # CONTINUATION frame outside a fragmented message, which the RFC forbids and picows
        # lets through, is taken as a message too.)
        if frame.payload_size > _CONTROL_MAX and self._fragments is None and frame.fin:
            frames = self.frames
            frames.append(frame.get_payload_as_bytes())
            if self.sink is not None:
                if len(frames) >= CHUNK:  # the rest goes at the end of the read (read_done)
                    pass_on(self)
            elif len(frames) == 1:  # the reader waits only on an empty batch
                waiter = self.waiter
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            elif len(frames) >= HIGH_WATER and not self.paused:
                self.paused = True
                transport.underlying_transport.pause_reading()
            return
        msg_type = frame.msg_type
        if (msg_type is _TEXT or msg_type is _BINARY) and frame.fin:
            self._deliver(frame.get_payload_as_bytes())
        elif msg_type is _TEXT or msg_type is _BINARY:
            self._fragments = [frame.get_payload_as_bytes()]
        elif msg_type is _CONTINUATION:
            fragments = self._fragments
            if fragments is None:
                return
            fragments.append(frame.get_payload_as_bytes())
            if frame.fin:
                self._fragments = None
                self._deliver(b"".join(fragments))
        elif msg_type is _CLOSE:
            code = frame.get_close_code()
            reason = frame.get_close_reason() or "no reason"
            self.close_reason = f"received {getattr(code, 'value', code)} ({reason})"
            transport.send_close(code)
            transport.disconnect()

    def read_done(self) -> None:
        """picows has parsed a socket read: its last frames go to the sink (if any) now.

        picows parses a whole read in one go and calls back per frame; the frames go
        on every CHUNK frames while it parses, and the rest here, in the same read
        callback: decoded while still in the CPU's cache, and the consumer's task,
        woken by them, runs before the next read.
        """
        if self.frames and self.sink is not None:
            pass_on(self)

    def _deliver(self, data: bytes) -> None:
        frames = self.frames
        frames.append(data)
        if self.sink is not None:
            if len(frames) >= CHUNK:
                pass_on(self)
            return
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if len(frames) >= HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.underlying_transport.pause_reading()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.disconnected = True
        if self.frames and self.sink is not None:
            pass_on(self)  # every frame reaches the sink before the delivery ends
        for future in (self.waiter, self._writable, self.delivered):
            if future is not None and not future.done():
                future.set_result(None)

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    async def writable(self) -> None:
        """Return when the socket's write buffer is below its high-water mark."""
        if self._writable is not None and not self._writable.done():
            await self._writable


class _Reads(asyncio.BufferedProtocol):
    """picows' protocol with each socket read capped at :data:`READ_LIMIT` bytes, its end told.

    picows doubles its read buffer whenever a read nearly fills it, so under a steady
    burst its reads grow to megabytes: thousands of frames, all decoded (candles and
    their numbers made) before the consumer's task runs and frees any of them. The
    memory of one read's candles then no longer fits the CPU's cache and the
    allocator keeps taking fresh memory (the client spent ~8 % more CPU per candle
    frame with 1.3 MB reads than with 256 KB ones). A read of at most
    :data:`READ_LIMIT` bytes leaves picows' parser as it is (a frame longer than
    that still arrives: picows keeps its partial frame and its buffer still grows).
    When picows has parsed a read, the listener hands its last frames on
    (:meth:`_Listener.read_done`).
    """

    def __init__(self, protocol: Any, listener: _Listener) -> None:
        self._protocol = protocol
        self._listener = listener

    def get_buffer(self, sizehint: int) -> memoryview:
        buffer: memoryview = self._protocol.get_buffer(sizehint)
        return buffer[:READ_LIMIT] if len(buffer) > READ_LIMIT else buffer

    def buffer_updated(self, nbytes: int) -> None:
        self._protocol.buffer_updated(nbytes)  # picows parses, calling back once per frame
        self._listener.read_done()

    # The rest is picows' protocol's.

    def eof_received(self) -> bool | None:
        return bool(self._protocol.eof_received())

    def connection_lost(self, exc: Exception | None) -> None:
        self._protocol.connection_lost(exc)

    def pause_writing(self) -> None:
        self._protocol.pause_writing()

    def resume_writing(self) -> None:
        self._protocol.resume_writing()

    def is_buffered_protocol(self) -> bool:  # asked by aiofastnet's transports (picows' own)
        return True


class PicowsTransport:
    """One WebSocket connection on picows. Frames go out as text and come in as bytes."""

    def __init__(self, transport: WSTransport, listener: _Listener) -> None:
        self._transport = transport
        self._listener = listener

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        open_timeout: float = 10.0,
        max_size: int = 16 * 1024 * 1024,
    ) -> PicowsTransport:
        """Connect.

        Raises:
            ConnectionLost: the server could not be reached or refused the upgrade.
            TLSError: its certificate did not verify.
        """
        kwargs: dict[str, Any] = {
            "websocket_handshake_timeout": open_timeout,
            "max_frame_size": max_size,
            "extra_headers": {"User-Agent": USER_AGENT},
            "enable_auto_ping": True,
            "auto_ping_idle_timeout": 20,
            "auto_ping_reply_timeout": 20,
        }
        if url.startswith("wss://"):
            kwargs["ssl_context"] = ssl_context if ssl_context is not None else ssl.create_default_context()
        try:
            async with asyncio.timeout(open_timeout):
                transport, listener = await ws_connect(_Listener, url, **kwargs)
        except ssl.SSLCertVerificationError as exc:
            raise certificate_error(url, exc) from exc
        except (OSError, TimeoutError, WSError) as exc:
            raise ConnectionLost(f"cannot connect to {url}: {exc}") from exc
        assert isinstance(listener, _Listener)
        listener.transport = transport
        underlying = transport.underlying_transport
        underlying.set_protocol(_Reads(underlying.get_protocol(), listener))
        return cls(transport, listener)

    async def send(self, data: bytes) -> None:
        """Send one frame as a text message.

        Raises:
            ConnectionLost: the connection is closed.
        """
        transport = self._transport
        if transport.is_disconnected or transport.is_close_frame_sent:
            raise ConnectionLost(f"connection closed while sending: {self._listener.close_reason}")
        transport.send(_TEXT, data)
        await self._listener.writable()

    async def recv_batch(self) -> list[bytes]:
        """Every frame received since the last call (at least one), oldest first.

        Raises:
            ConnectionLost: the connection closed and every frame has been read.
        """
        listener = self._listener
        while not listener.frames:
            if listener.disconnected:
                raise ConnectionLost(f"connection closed: {listener.close_reason}")
            waiter = listener.waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                listener.waiter = None
        frames = listener.frames
        listener.frames = []
        if listener.paused and not listener.disconnected:
            listener.paused = False
            self._transport.underlying_transport.resume_reading()
        return frames

    async def deliver(self, sink: Sink) -> None:
        """Hand every received frame to ``sink`` as it is read, until the connection ends.

        ``sink(frames)`` runs in the socket's read callback, every :data:`CHUNK` frames
        while picows parses a read and once it has parsed it (first with the frames
        received before this call), so a burst is decoded while it is still in the CPU's cache and a reply
        reaches its request without a task switch; it must not block. Reading never
        pauses: nothing is buffered here. Cancelling this call stops the delivery;
        frames read after that wait for :meth:`recv_batch`.

        Raises:
            ConnectionLost: the connection closed (every frame was delivered first).
            Exception: whatever ``sink`` raised (it gets no frames after that).
        """
        listener = self._listener
        if listener.disconnected and not listener.frames:
            raise ConnectionLost(f"connection closed: {listener.close_reason}")
        delivered = listener.delivered = asyncio.get_running_loop().create_future()
        listener.sink = sink
        try:
            if listener.frames:
                pass_on(listener)
            if listener.paused and not listener.disconnected:
                listener.paused = False
                self._transport.underlying_transport.resume_reading()
            if listener.disconnected and not delivered.done():
                delivered.set_result(None)
            await delivered
        finally:
            listener.sink = None
            listener.delivered = None
        raise ConnectionLost(f"connection closed: {listener.close_reason}")

    async def recv(self) -> bytes:
        """The next frame's bytes (prefer :meth:`recv_batch`).

        Raises:
            ConnectionLost: the connection closed (cleanly or not).
        """
        listener = self._listener
        if not listener.frames:
            listener.frames = await self.recv_batch()
        return listener.frames.pop(0)

    async def close(self) -> None:
        """Close with a normal close frame; never raises."""
        transport = self._transport
        with contextlib.suppress(Exception):
            if not transport.is_disconnected:
                transport.send_close(WSCloseCode.OK)
                transport.disconnect()
            async with asyncio.timeout(5):
                await transport.wait_disconnected()

    @property
    def closed(self) -> bool:
        """Whether the connection is no longer open."""
        return bool(self._transport.is_disconnected)
