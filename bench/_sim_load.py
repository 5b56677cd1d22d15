"""Light load for the simulator-scale bench: many connections, no task per push.

Two thousand full :class:`iqwire.Client` objects in one process cost more CPU
than the simulator they measure (each push wakes the client's reader and a
consumer task of its stream), so the bench's default load is this: per
connection a picows WebSocket (frames parsed in C) and the client's own
Sans-I/O :class:`iqwire.protocol.Session`, which builds the ``authenticate`` and
``subscribeMessage`` frames and decodes **every** received frame into typed
events, as the Client does. Each ``candle-generated`` push is timed in the
socket callback that receives it, so the lag still covers every push each
connection receives, from the candle's tick to its decoding here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from iqwire.models import Candle
from iqwire.protocol import Authenticated, Push, ResultAck, Session

_TEXT, _BINARY, _CLOSE = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CLOSE


class Tally:
    """Every candle push received while measuring, and its lag (seconds)."""

    def __init__(self) -> None:
        self.measuring = False
        self.count = 0
        self.lags: list[float] = []

    def take(self, candle: Candle) -> None:
        if self.measuring and candle.at is not None:
            self.count += 1
            self.lags.append(time.time() - candle.at / 1e9)


class LoadClient(WSListener):
    """One connection: authenticates, subscribes to ``streams`` (active, size), then tallies candles."""

    def __init__(self, ssid: str, streams: Sequence[tuple[int, int]], tally: Tally) -> None:
        self.session = Session()
        self.ssid = ssid
        self.streams = streams
        self.tally = tally
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: WSTransport | None = None
        self.candles = 0
        #: The connection ended without :meth:`close` (the simulator dropped it).
        self.lost = False
        self._closing = False
        self._acks_left = len(streams)

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        transport.send(_TEXT, self.session.authenticate(self.ssid))

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is not _TEXT and kind is not _BINARY:
            if kind is _CLOSE:
                self._fail(f"closed by the server: {frame.get_close_code()}")
            return
        if not frame.fin:  # the simulator sends every message in one frame
            self._fail("a fragmented message")
            return
        for event in self.session.receive(frame.get_payload_as_bytes()):
            if isinstance(event, Push):  # the session may hand out a subclass per push name
                if event.name == "candle-generated":
                    self.candles += 1
                    self.tally.take(event.payload)
            elif isinstance(event, ResultAck):
                self._acked(event)
            elif isinstance(event, Authenticated):
                self._authenticated(transport, event)

    def _authenticated(self, transport: WSTransport, event: Authenticated) -> None:
        if not event.ok:
            self._fail("the SSID was refused")
            return
        for active, size in self.streams:
            _, data = self.session.subscribe(
                "candle-generated", routing_filters={"active_id": active, "size": size}
            )
            transport.send(_TEXT, data)

    def _acked(self, event: ResultAck) -> None:
        if not event.success:
            self._fail(f"a subscription was refused: {event.reason}")
            return
        self._acks_left -= 1
        if self._acks_left == 0 and not self.ready.done():
            self.ready.set_result(None)

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.lost = not self._closing
        self._fail("disconnected")

    def close(self) -> None:
        self._closing = True
        if self.transport is not None:
            self.transport.send_close()
            self.transport.disconnect()


async def open_clients(
    url: str, ssid: str, plan: Sequence[Sequence[tuple[int, int]]], tally: Tally, batch: int = 50
) -> list[LoadClient]:
    """One :class:`LoadClient` per entry of ``plan`` (its streams), connected and subscribed."""
    clients: list[LoadClient] = []

    async def one(streams: Sequence[tuple[int, int]]) -> LoadClient:
        client = LoadClient(ssid, streams, tally)
        await ws_connect(lambda: client, url)
        await asyncio.wait_for(client.ready, 60)
        return client

    try:
        for first in range(0, len(plan), batch):
            clients += await asyncio.gather(*(one(streams) for streams in plan[first : first + batch]))
    except BaseException:
        close_all(clients)
        raise
    return clients


def close_all(clients: Sequence[LoadClient]) -> None:
    """Close every connection (a close frame, then the socket)."""
    for client in clients:
        client.close()
