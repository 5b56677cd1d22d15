"""The connection's reader: frames from the transport, through the session, to their consumers.

This is the hot path of every stream and reply. A transport that has ``deliver()``
(the default one) hands it each socket read's frames from its read callback, so a
reply resolves its request's future with no task switch in between; from others it
takes whole batches through ``recv_batch()`` (one task switch per burst, not per
frame). It feeds each batch
to :meth:`~iqwire.protocol.Session.receive_batch` in one call (a burst of candles
comes back as one :class:`~iqwire.protocol.Pushes` event, not an event per frame),
hands push runs to ``on_pushes`` and single pushes to ``on_push`` without the
dispatch call, and formats no per-frame log line unless DEBUG was on when it started.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from iqwire.client.transports import Transport
from iqwire.errors import ConnectionLost
from iqwire.protocol import Push, Pushes, Session

if TYPE_CHECKING:
    from iqwire.store.recording import FrameRecorder

__all__ = ["read_frames"]

log = logging.getLogger("iqwire.client")
frames_log = logging.getLogger("iqwire.client.frames")


async def read_frames(
    transport: Transport,
    session: Session,
    *,
    on_push: Callable[[Push], None],
    on_pushes: Callable[[Pushes], None],
    dispatch: Callable[[object], None],
    recorder: FrameRecorder | None = None,
) -> None:
    """Read until the connection is lost (``ConnectionLost`` ends it quietly, logged at INFO).

    Every received frame is recorded by ``recorder`` (if any) and logged at DEBUG
    before its batch is decoded; the session's events go, in order, to
    ``on_pushes`` (a run of pushes), ``on_push`` (one push) or ``dispatch``.

    Example::

        reader = asyncio.create_task(
            read_frames(transport, session, on_push=route, on_pushes=route_many, dispatch=print)
        )
    """
    receive_batch = session.receive_batch
    debug = frames_log.isEnabledFor(logging.DEBUG)

    def handle(batch: Sequence[bytes]) -> None:
        if recorder is not None or debug:
            for data in batch:
                if recorder is not None:
                    recorder.frame("in", data)
                if debug:
                    frames_log.debug("< %s", data[:500])
        for event in receive_batch(batch):
            kind = type(event)
            if kind is Pushes:
                on_pushes(event)  # type: ignore[arg-type]
            elif isinstance(event, Push):  # the session's pushes may be of a private subclass
                on_push(event)
            else:
                dispatch(event)

    deliver: Callable[[Callable[[list[bytes]], None]], Awaitable[None]] | None = getattr(
        transport, "deliver", None
    )
    recv_batch: Callable[[], Awaitable[list[bytes]]] | None = getattr(transport, "recv_batch", None)
    recv = transport.recv
    try:
        if deliver is not None:
            await deliver(handle)  # frames handled in the socket's read callback: no task switch
        while True:
            handle(await recv_batch() if recv_batch is not None else (await recv(),))
    except ConnectionLost as exc:
        log.info("reader stopped: %s", exc)
