"""Entries 2 and 8, stream: recorded frames over loopback, bare receive loops vs iqwire.Client.

A minimal ``websockets`` server (``_frame_server.py``, its own process) answers
``authenticate``/``setOptions``/``subscribeMessage`` and then sends the recorded
``candle-generated`` frames as fast as the receiver takes them.

(a) a bare ``websockets`` client that only receives (bytes);
(b) ``iqwire.Client`` consuming ``client.candles(76, 1)`` (every candle reaches
    the consumer: the stream is sized so nothing coalesces);
(c) a bare ``picows`` receive loop (payload as bytes);
(d) ``iqwire.Client(transport="picows")`` consuming the same stream;
(e) for information: websockets' own Sans-I/O protocol fed whole socket reads
    (the parser iqwire's default transport runs, without the client).

Entry 2: (b)/(a) >= 1.0. Entry 8: (d)/(c) >= 0.35 and (d)/(b) >= 2.5 (only
when picows is installed; otherwise a "missing" line says so).

Run: ``python bench/bench_stream.py [--quick] [--uvloop]``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _common import ACTIVE, SIZE, ServerProcess, entry, frames_file, log, median, parser
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from iqwire import Client

HAS_PICOWS = importlib.util.find_spec("picows") is not None
GO = b'{"name":"go"}'


async def bare_websockets(url: str, count: int) -> float:
    """(a) Frames/s of a websockets client that only receives."""
    async with connect(url, compression=None, max_size=None) as ws:
        started = time.perf_counter()
        await ws.send(GO, text=True)
        for _ in range(count):
            await ws.recv(decode=False)
        return count / (time.perf_counter() - started)


class _SansIO(asyncio.Protocol):
    """websockets' Sans-I/O protocol under a plain asyncio protocol: every frame of a read at once."""

    def __init__(self, url: str, count: int) -> None:
        loop = asyncio.get_running_loop()
        self.ws = ClientProtocol(parse_uri(url))
        self.count = count
        self.received = 0
        self.opened: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[float] = loop.create_future()
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # asyncio's or uvloop's
        self.ws.send_request(self.ws.connect())
        self.flush()

    def flush(self) -> None:
        assert self.transport is not None
        for data in self.ws.data_to_send():
            if data:
                self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    self.received += 1
                    if self.received == self.count:
                        self.done.set_result(time.perf_counter())
            elif isinstance(event, Response) and not self.opened.done():
                self.opened.set_result(None)
        self.flush()


async def bare_sansio(url: str, count: int) -> float:
    """(e) Frames/s of websockets' Sans-I/O layer fed whole reads (what a batching transport would do)."""
    loop = asyncio.get_running_loop()
    uri = parse_uri(url)
    transport, protocol = await loop.create_connection(lambda: _SansIO(url, count), uri.host, uri.port)
    try:
        await protocol.opened
        started = time.perf_counter()
        protocol.ws.send_text(GO)
        protocol.flush()
        return count / (await protocol.done - started)
    finally:
        transport.close()


async def bare_picows(url: str, count: int) -> float:
    """(c) Frames/s of a picows listener that only takes each payload as bytes."""
    from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()

    class Counter(WSListener):  # type: ignore[misc]
        received = 0

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type is WSMsgType.TEXT:
                frame.get_payload_as_bytes()
                self.received += 1
                if self.received == count:
                    done.set_result(time.perf_counter())

    transport, _ = await ws_connect(Counter, url)
    try:
        started = time.perf_counter()
        transport.send(WSMsgType.TEXT, GO)
        finished = await done
        return count / (finished - started)
    finally:
        transport.disconnect()
        await transport.wait_disconnected()


async def iqwire_client(url: str, count: int, transport: str | None = None) -> float:
    """(b)/(d) Frames/s of iqwire.Client consuming one candle stream."""
    options: dict[str, Any] = {} if transport is None else {"transport": transport}
    client = Client(
        ssid="bench", ws_url=url, stream_maxsize=count + 16, reconnect=False, heartbeat_timeout=600, **options
    )
    async with client:
        received = 0
        started = time.perf_counter()
        async with client.candles(ACTIVE, SIZE) as stream:
            async for _candle in stream:
                received += 1
                if received == count:
                    break
            elapsed = time.perf_counter() - started
        assert stream.coalesced == 0, "the consumer must see every candle"
        return count / elapsed


async def measure(url: str, count: int, repeats: int, only: str) -> dict[str, list[float]]:
    variants: dict[str, Callable[[], Awaitable[float]]] = {
        "a": lambda: bare_websockets(url, count),
        "b": lambda: iqwire_client(url, count),
    }
    if HAS_PICOWS:
        variants["c"] = lambda: bare_picows(url, count)
        variants["d"] = lambda: iqwire_client(url, count, "picows")
    variants["e"] = lambda: bare_sansio(url, count)
    variants = {key: run for key, run in variants.items() if key in only}
    results: dict[str, list[float]] = {key: [] for key in variants}
    for _ in (0, *range(repeats)):  # the first round warms up and is not kept
        for key, run in variants.items():
            results[key].append(await asyncio.wait_for(run(), 120))
    return {key: values[1:] for key, values in results.items()}


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--uvloop", action="store_true", help="run the receivers on uvloop")
    p.add_argument("--variants", default="abcde", help="which of (a)-(e) to run (default: all)")
    args = p.parse_args()
    count = 2_000 if args.quick else 100_000
    repeats = args.repeats or (1 if args.quick else 5)
    logging.getLogger("iqwire").setLevel(logging.WARNING)
    with ServerProcess("_frame_server.py", str(frames_file(count))) as port:
        url = f"ws://127.0.0.1:{port}/echo/websocket"
        if args.uvloop:
            import uvloop

            results = uvloop.run(measure(url, count, repeats, args.variants))
        else:
            results = asyncio.run(measure(url, count, repeats, args.variants))
    rate = {key: median(values) for key, values in results.items()}
    log("stream frames/s: " + ", ".join(f"({key}) {value:,.0f}" for key, value in rate.items()))
    suffix = " [uvloop]" if args.uvloop else ""
    quick = args.quick
    if "a" in rate and "b" in rate:
        goal = None if quick else ">= 1.0"
        entry(f"stream{suffix}: Client (b) vs bare websockets (a)", rate["b"], rate["a"], "frames/s", goal)
    if "a" in rate and "e" in rate:
        name = f"stream{suffix}: bare websockets Sans-I/O, batched (e) vs bare websockets (a)"
        entry(name, rate["e"], rate["a"], "frames/s")
    if not HAS_PICOWS:
        entry(
            f"fast transport{suffix}: picows not installed",
            None,
            None,
            "frames/s",
            ">= 0.35",
            missing="pip install 'iqwire[fast]'",
        )
        return
    if "c" in rate and "d" in rate:
        goal = None if quick else ">= 0.35"
        name = f"fast transport{suffix}: Client on picows (d) vs bare picows (c)"
        entry(name, rate["d"], rate["c"], "frames/s", goal)
    if "b" in rate and "d" in rate:
        goal = None if quick else ">= 2.5"
        name = f"fast transport{suffix}: Client on picows (d) vs Client on websockets (b)"
        entry(name, rate["d"], rate["b"], "frames/s", goal)


if __name__ == "__main__":
    main()
