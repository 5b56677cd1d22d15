"""What both transports share to hand received frames to a sink (their ``deliver``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

__all__ = ["Delivery", "Sink", "pass_on"]

#: Takes the frames read so far, oldest first; called from the transport's read callback.
Sink = Callable[[list[bytes]], None]


class Delivery(Protocol):
    """A transport's read side: the frames read and not yet taken, and the sink they go to."""

    frames: list[bytes]
    #: Set while the transport's ``deliver`` runs.
    sink: Sink | None
    #: Ends ``deliver``: set when the connection is lost, failed when the sink raised.
    delivered: asyncio.Future[None] | None


def pass_on(reader: Delivery) -> None:
    """Hand ``reader``'s buffered frames to its sink; a sink that raises ends the delivery.

    A function, not a base class's method, so that a reader may keep its state in slots
    (the picows listener does).

    Example::

        if reader.frames and reader.sink is not None:
            pass_on(reader)
    """
    sink, delivered = reader.sink, reader.delivered
    assert sink is not None and delivered is not None
    frames, reader.frames = reader.frames, []
    try:
        sink(frames)
    except BaseException as exc:  # the reader's failure, as when it read the frames itself
        reader.sink = None
        if not delivered.done():
            delivered.set_exception(exc)
