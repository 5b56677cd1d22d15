"""What both transports share to hand received frames to a sink (their ``deliver``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Delivery", "Sink"]

#: Takes the frames read so far, oldest first; called from the transport's read callback.
Sink = Callable[[list[bytes]], None]


class Delivery:
    """A transport's read side: the frames read and not yet taken, and the sink they go to."""

    frames: list[bytes]
    #: Set while the transport's ``deliver`` runs.
    sink: Sink | None
    #: Ends ``deliver``: set when the connection is lost, failed when the sink raised.
    delivered: asyncio.Future[None] | None

    def pass_on(self) -> None:
        """Hand the buffered frames to the sink; a sink that raises ends the delivery."""
        sink, delivered = self.sink, self.delivered
        assert sink is not None and delivered is not None
        frames, self.frames = self.frames, []
        try:
            sink(frames)
        except BaseException as exc:  # the reader's failure, as when it read the frames itself
            self.sink = None
            if not delivered.done():
                delivered.set_exception(exc)
