"""The simulator's outgoing side of each WebSocket: frames batched into one socket write per loop turn.

A step of the engine sends the same ``candle-generated`` bytes to thousands of
connections, and each connection gets several frames per step. Handing each
frame to aiohttp's writer costs a coroutine, a header build and a ``send``
system call per frame and per subscriber; here a frame is built **once** per
payload (:func:`text_frame`: a server's frames are unmasked, so the bytes are the
same for every subscriber), each connection collects the frames of the current
loop turn, and one callback at the end of the turn writes each connection's
frames with one ``transport.write``.

A connection whose socket does not keep up (its transport's buffer is above the
high-water mark) falls back to the slow path: its frames wait in a backlog that
a writer task hands to aiohttp's ``send_frame`` (which waits for the socket to
drain), so it never holds up the others; a connection ``MAX_QUEUED_FRAMES``
frames behind is dropped. When its backlog is written, it returns to the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import deque
from collections.abc import Callable

from aiohttp import WSMsgType, web

__all__ = ["MAX_QUEUED_FRAMES", "Batcher", "Outbox", "text_frame"]

log = logging.getLogger("iqwire.sim.server")

#: A client this far behind is disconnected rather than buffered without bound.
MAX_QUEUED_FRAMES = 50_000

_FIN_TEXT = 0x81  # FIN bit and opcode 1 (text); server frames carry no mask
_pack_short = struct.Struct("!BB").pack
_pack_medium = struct.Struct("!BBH").pack
_pack_long = struct.Struct("!BBQ").pack


def text_frame(payload: bytes) -> bytes:
    """A complete unmasked WebSocket text frame (RFC 6455 §5.2) carrying ``payload``.

    Byte for byte what aiohttp's writer sends for ``send_frame(payload, TEXT)``
    without compression.

    Example::

        >>> text_frame(b"{}")
        b'\\x81\\x02{}'
    """
    size = len(payload)
    if size < 126:
        return _pack_short(_FIN_TEXT, size) + payload
    if size < 65536:
        return _pack_medium(_FIN_TEXT, 126, size) + payload
    return _pack_long(_FIN_TEXT, 127, size) + payload


def frame_payload(frame: bytes) -> bytes:
    """The payload of a frame built by :func:`text_frame`."""
    marker = frame[1]
    return frame[2 + (2 if marker == 126 else 8 if marker == 127 else 0) :]


class Batcher:
    """Every connection's frames of one loop turn, written at the end of the turn.

    One per server. :meth:`frame` builds each payload's frame once per turn, however
    many connections send it; :meth:`flush` writes every waiting connection.
    """

    def __init__(self) -> None:
        self._waiting: list[Outbox] = []
        # id(payload) -> (payload, frame): the payload is kept so its id is not reused this turn.
        self._framed: dict[int, tuple[bytes, bytes]] = {}
        self._scheduled = False

    def frame(self, data: bytes) -> bytes:
        """``data``'s frame, built once however many connections send it this turn."""
        cached = self._framed.get(id(data))
        if cached is not None and cached[0] is data:
            return cached[1]
        frame = text_frame(data)
        self._framed[id(data)] = (data, frame)
        return frame

    def wait(self, outbox: Outbox) -> None:
        """``outbox`` has frames to write: write them at the end of this loop turn."""
        self._waiting.append(outbox)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write every connection's waiting frames now."""
        self._scheduled = False
        waiting, self._waiting = self._waiting, []
        self._framed.clear()
        for outbox in waiting:
            outbox.write_pending()


class Outbox:
    """One connection's outgoing frames: batched while its socket keeps up, queued when it does not.

    ``drop`` ends the connection abruptly (a client too far behind).
    """

    __slots__ = (
        "_backlog",
        "_batcher",
        "_drop",
        "_high_water",
        "_pending",
        "_transport",
        "_writer",
        "_ws",
        "closed",
    )

    def __init__(
        self,
        batcher: Batcher,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport,
        drop: Callable[[], None],
    ) -> None:
        self._batcher = batcher
        self._ws = ws
        self._transport = transport
        self._drop = drop
        self._high_water = transport.get_write_buffer_limits()[1]
        self._pending: list[bytes] = []  # frames of this loop turn
        self._backlog: deque[bytes] | None = None  # payloads, while the socket is behind
        self._writer: asyncio.Task[None] | None = None
        self.closed = False

    def send(self, data: bytes) -> None:
        """Queue one text frame carrying ``data`` (the engine's ``Connection.send``)."""
        if self.closed:
            return
        backlog = self._backlog
        if backlog is not None:
            if len(backlog) >= MAX_QUEUED_FRAMES:
                self._overflow(len(backlog))
                return
            backlog.append(data)
            return
        pending = self._pending
        if not pending:
            self._batcher.wait(self)
        elif len(pending) >= MAX_QUEUED_FRAMES:
            self._overflow(len(pending))
            return
        pending.append(self._batcher.frame(data))

    def _overflow(self, behind: int) -> None:
        log.warning("a connection is %s frames behind: dropping it", behind)
        self.close()
        self._drop()

    def write_pending(self) -> None:
        """Write this turn's frames with one ``transport.write``, or queue them if the socket is behind."""
        pending = self._pending
        if not pending or self.closed:
            return
        self._pending = []
        transport = self._transport
        if self._ws.closed or transport.is_closing():
            return  # nothing may follow a close frame; a lost connection takes nothing
        if self._backlog is None and transport.get_write_buffer_size() <= self._high_water:
            transport.write(pending[0] if len(pending) == 1 else b"".join(pending))
            return
        self._queue([frame_payload(frame) for frame in pending])

    def _queue(self, payloads: list[bytes]) -> None:
        if self._backlog is None:
            self._backlog = deque(payloads)
            self._writer = asyncio.get_running_loop().create_task(self._write_backlog())
        else:
            self._backlog.extend(payloads)

    async def _write_backlog(self) -> None:
        backlog = self._backlog
        assert backlog is not None
        try:
            while backlog:
                # aiohttp's writer waits for the socket to drain once its buffer is full.
                await self._ws.send_frame(backlog.popleft(), WSMsgType.TEXT)
        except (ConnectionError, RuntimeError) as exc:  # the socket was lost while it waited
            log.debug("writer stopped: %s", exc)
            self.closed = True
            backlog.clear()
        finally:
            self._backlog = None
            self._writer = None

    async def drained(self) -> None:
        """Wait until every frame sent so far has been handed to the socket, or the connection closed."""
        if self._pending:
            self.write_pending()
        writer = self._writer
        if writer is not None:
            # wait(), not await: a writer cancelled because the connection closed ends the
            # wait (nothing more will be written) instead of raising CancelledError into a
            # caller nobody cancelled; the caller's own cancellation leaves the writer running.
            await asyncio.wait((writer,))
            if not writer.cancelled() and (error := writer.exception()) is not None:
                raise error

    def close(self) -> None:
        """Stop sending: what is not written yet is discarded."""
        self.closed = True
        self._pending = []
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
        self._backlog = None

    async def aclose(self) -> None:
        """:meth:`close`, and wait for the slow-path writer to stop."""
        writer = self._writer
        self.close()
        if writer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await writer
