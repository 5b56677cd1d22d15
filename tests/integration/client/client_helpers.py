"""Helpers for the client's integration tests: a wiretap on the simulator, polling, trades."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from iqwire.client import Client, ConnectionState, Stream
from iqwire.models import BalanceType, Candle, Option
from iqwire.sim import Simulator
from iqwire.sim.hub import Connection

#: The simulator's start time in tests/conftest.py (a Thursday, every active open).
START = 1_770_899_100

#: The ``make_client`` fixture: ``await make_client(stream_maxsize=10, connect=False, ...)``.
MakeClient = Callable[..., Awaitable[Client]]

#: The longest any test waits for something that happens in real time (a reconnect).
DEADLINE = 5.0


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Poll ``predicate`` every few ms until it holds; fail the test after ``timeout`` real seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.1f}s waiting until {what}")
        await asyncio.sleep(0.005)


async def wait_connected(client: Client, *, reconnects: int | None = None) -> None:
    """Wait until the client is CONNECTED again (and, if given, has reconnected that often)."""

    def ready() -> bool:
        return client.state is ConnectionState.CONNECTED and (
            reconnects is None or client.reconnects >= reconnects
        )

    await wait_until(ready, f"the client is connected (reconnects >= {reconnects})")


async def next_state(states: Stream[ConnectionState], timeout: float = DEADLINE) -> ConnectionState:
    """The next connection state, within a short real-time deadline."""
    return await asyncio.wait_for(states.get(), timeout)


def server_connections(sim: Simulator) -> list[Connection]:
    """The simulator's live WebSocket connections."""
    return list(sim.engine.hub.connections.values())


def only_connection(sim: Simulator) -> Connection:
    """The one live server-side connection (fails when there is not exactly one)."""
    conns = server_connections(sim)
    assert len(conns) == 1, f"expected one server connection, found {len(conns)}"
    return conns[0]


def server_subscriptions(sim: Simulator) -> list[tuple[int, str, dict[str, Any]]]:
    """Every live server-side subscription as (conn_id, name, filters)."""
    return [
        (conn.conn_id, entry.spec.name, dict(entry.filters))
        for conn in server_connections(sim)
        for entry in conn.subscriptions
    ]


class _Frame(msgspec.Struct):
    name: str = ""
    msg: msgspec.Raw = msgspec.Raw(b"null")


_frame_decoder = msgspec.json.Decoder(_Frame)
_candle_decoder = msgspec.json.Decoder(Candle)


@dataclass(frozen=True)
class Inbound:
    """One frame the simulator received."""

    conn_id: int
    name: str
    request_id: str | None
    msg: Any


class Wiretap:
    """Records what the simulator receives and sends, per server connection.

    It wraps ``sim.engine.handle`` (frames in) and every connection's ``send``
    (frames out, including those sent later by held-frame faults), so a test can
    compare what the client got with what the server really sent.
    """

    def __init__(self, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sim = sim
        self.inbound: list[Inbound] = []
        self.outbound: list[tuple[int, bytes]] = []
        engine = sim.engine
        original_handle = engine.handle
        original_connect = engine.connect

        def handle(conn: Connection, data: bytes | str, now: float) -> None:
            try:
                frame = json.loads(data)
            except ValueError:
                frame = {}
            if isinstance(frame, dict):
                msg = frame.get("msg")
                self.inbound.append(
                    Inbound(conn.conn_id, str(frame.get("name")), frame.get("request_id"), msg)
                )
            original_handle(conn, data, now)

        def connect(conn: Connection, now: float) -> None:
            self._tap(conn)
            original_connect(conn, now)

        monkeypatch.setattr(engine, "handle", handle)
        monkeypatch.setattr(engine, "connect", connect)
        for conn in server_connections(sim):
            self._tap(conn)

    def _tap(self, conn: Connection) -> None:
        send = conn.send

        def tapped(data: bytes) -> None:
            self.outbound.append((conn.conn_id, data))
            send(data)

        conn.send = tapped

    # -- frames out ----------------------------------------------------------------

    def pushes(self, name: str, conn_id: int | None = None) -> list[bytes]:
        """The ``msg`` bytes of every ``name`` frame sent (to one connection, or any)."""
        out = []
        for cid, data in self.outbound:
            if conn_id is not None and cid != conn_id:
                continue
            try:
                frame = _frame_decoder.decode(data)
            except msgspec.DecodeError:
                continue
            if frame.name == name:
                out.append(bytes(frame.msg))
        return out

    def candles_sent(self, conn_id: int | None = None) -> list[Candle]:
        """Every ``candle-generated`` push the server sent, in order."""
        return [_candle_decoder.decode(msg) for msg in self.pushes("candle-generated", conn_id)]

    # -- frames in -------------------------------------------------------------------

    def received(self, name: str, conn_id: int | None = None) -> list[Inbound]:
        """Every frame of this top-level name the server received."""
        return [f for f in self.inbound if f.name == name and (conn_id is None or f.conn_id == conn_id)]

    def rpcs(self, rpc: str, conn_id: int | None = None) -> list[Inbound]:
        """Every ``sendMessage`` for one RPC name the server received."""
        return [
            f
            for f in self.received("sendMessage", conn_id)
            if isinstance(f.msg, dict) and f.msg.get("name") == rpc
        ]

    def subscribes(
        self, name: str, conn_id: int | None = None, *, verb: str = "subscribeMessage"
    ) -> list[Inbound]:
        """Every ``subscribeMessage`` (or ``unsubscribeMessage``) for one subscription name."""
        return [
            f for f in self.received(verb, conn_id) if isinstance(f.msg, dict) and f.msg.get("name") == name
        ]


async def drain(stream: Stream[Any]) -> list[Any]:
    """Everything queued in a stream now, without waiting for more."""
    items = []
    while stream.pending:
        items.append(await stream.get())
    return items


async def collect(stream: Stream[Any], count: int, what: str) -> list[Any]:
    """Exactly ``count`` items from a stream, within the real-time deadline."""
    items: list[Any] = []

    async def take() -> None:
        while len(items) < count:
            items.append(await stream.get())

    try:
        await asyncio.wait_for(take(), DEADLINE)
    except TimeoutError:
        pytest.fail(f"{what}: got {len(items)} of {count} items within {DEADLINE}s")
    return items


async def open_blitz_option(
    client: Client, *, price: float = 10, direction: str = "call", expiration_size: int = 5
) -> Option:
    """Place a blitz option on the demo balance through the raw ``request`` API."""
    demo = await client.get_balance(BalanceType.DEMO)
    init = await client.get_initialization_data()
    active = init.find_active(76)
    assert active is not None
    option = await client.request(
        "binary-options.open-option",
        "2.0",
        {
            "user_balance_id": demo.id,
            "active_id": 76,
            "option_type_id": 12,
            "direction": direction,
            "expired": 0,
            "price": price,
            "profit_percent": 100 - active.commission,
            "expiration_size": expiration_size,
        },
    )
    assert isinstance(option, Option)
    return option


def assert_contiguous(candles: list[Candle], size: int) -> None:
    """Ascending, gap-free, duplicate-free candles of one size."""
    assert candles, "no candles"
    ids = [c.id for c in candles]
    assert len(set(ids)) == len(ids), "duplicate candle ids"
    assert ids == list(range(ids[0], ids[0] + len(ids))), "candle ids are not contiguous"
    starts = [c.start for c in candles]
    assert starts == list(range(starts[0], starts[0] + size * len(starts), size)), "starts are not contiguous"
    assert all(c.end == c.start + size for c in candles)
    assert all(c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close) for c in candles)
