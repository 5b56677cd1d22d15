"""A raw WebSocket client for checking the simulator against the protocol reference.

It speaks plain JSON frames through ``websockets`` and plain HTTP through
``httpx``, and never touches :mod:`iqwire.client`: what these tests check is the
simulator's wire behaviour, not our own client's reading of it.

A reader task stores every frame the server sends in :attr:`RawClient.inbox`
(so the server is never blocked by an unread socket); the ``wait_*`` and
``collect`` helpers look through it.

Example::

    async with RawClient.open(sim.ws_url) as raw:
        await raw.authenticate(await login(sim))
        reply = await raw.request("core.get-profile", "1.0", {})
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = [
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "DEMO_USER_ID",
    "DEMO_BALANCES",
    "DEMO_MARGIN_BALANCE",
    "TRADER2_BALANCES",
    "TRADER2_USER_ID",
    "RawClient",
    "Frame",
    "login",
    "open_body",
]

Frame = dict[str, Any]

#: The request id prefix of :meth:`RawClient.settle`'s round trips, kept out of the inbox.
_BARRIER = "__barrier__"

DEMO_EMAIL, DEMO_PASSWORD = "demo@example.com", "demo"
DEMO_USER_ID = 141_527_657
TRADER2_USER_ID = 141_527_658
#: The demo user's balances: real (100 USD), demo (10,000), tournament (1,000).
DEMO_BALANCES = {"real": 1_090_667_706, "demo": 1_090_667_707, "tournament": 1_090_667_708}
#: The demo user's marginal demo balance (10,000), the margin service's account.
DEMO_MARGIN_BALANCE = 1_090_667_709
TRADER2_BALANCES = {"real": 1_090_667_716, "demo": 1_090_667_717, "tournament": 1_090_667_718}


async def login(http_url: str, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD) -> str:
    """Log in over HTTP (``POST /api/v2/login``) and return the SSID."""
    async with httpx.AsyncClient(base_url=http_url) as http:
        response = await http.post("/api/v2/login", json={"identifier": email, "password": password})
    response.raise_for_status()
    body = response.json()
    assert body["code"] == "success", body
    ssid: str = body["ssid"]
    return ssid


def open_body(
    balance_id: int,
    *,
    active_id: int = 76,
    direction: str = "call",
    price: float = 10,
    payout: float = 88,
    size: int = 30,
    expired: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """A ``binary-options.open-option`` 2.0 body for a blitz option (the SDK's form by default)."""
    body: dict[str, Any] = {
        "user_balance_id": balance_id,
        "active_id": active_id,
        "option_type_id": 12,
        "direction": direction,
        "expired": expired,
        "price": price,
        "profit_percent": payout,
        "expiration_size": size,
    }
    body.update(extra)
    return body


class RawClient:
    """One raw WebSocket connection to the simulator."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        #: Every frame received so far, decoded (``{"_raw": text}`` when not JSON), in order.
        self.inbox: list[Frame] = []
        #: Why the connection ended, once it has.
        self.closed: ConnectionClosed | None = None
        self._barriers: set[str] = set()
        self._arrived = asyncio.Condition()
        self._ids = itertools.count(1)
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, url: str, **kwargs: Any) -> AsyncIterator[RawClient]:
        """Connect, and close the connection and the reader on exit."""
        ws = await connect(url, **kwargs)
        client = cls(ws)
        try:
            yield client
        finally:
            await client.close()

    async def close(self) -> None:
        """Close the socket and stop the reader."""
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                text = message.decode() if isinstance(message, bytes) else message
                try:
                    frame = json.loads(text)
                except json.JSONDecodeError:
                    frame = {"_raw": text}
                async with self._arrived:
                    rid = frame.get("request_id")
                    if isinstance(rid, str) and rid.startswith(_BARRIER):
                        self._barriers.add(rid)
                    else:
                        self.inbox.append(frame)
                    self._arrived.notify_all()
        except ConnectionClosed as exc:
            self.closed = exc
        async with self._arrived:
            if self.closed is None:
                self.closed = self.ws.protocol.close_exc
            self._arrived.notify_all()

    # -- sending ---------------------------------------------------------------------

    def next_id(self) -> str:
        """A fresh decimal request id, as the official SDK issues them."""
        return str(next(self._ids))

    async def send(self, frame: Frame | str | bytes) -> None:
        """Send a frame: a dict is JSON-encoded, text and bytes go as they are."""
        await self.ws.send(json.dumps(frame) if isinstance(frame, dict) else frame)

    async def send_request(
        self, name: str, version: str | None, body: Any, request_id: str | None = None
    ) -> None:
        """Send a ``sendMessage`` RPC without waiting for anything (``request_id=None`` sends none)."""
        msg: dict[str, Any] = {"name": name, "body": body}
        if version is not None:
            msg["version"] = version
        frame: Frame = {"name": "sendMessage", "msg": msg}
        if request_id is not None:
            frame["request_id"] = request_id
        await self.send(frame)

    async def call(self, name: str, msg: Any, request_id: str | None = None, timeout: float = 2.0) -> Frame:
        """Send a top-level frame and return the first later frame carrying the same ``request_id``."""
        rid = self.next_id() if request_id is None else request_id
        mark = self.mark()
        await self.send({"name": name, "request_id": rid, "msg": msg})
        return await self.reply(rid, timeout, after=mark)

    async def authenticate(self, ssid: str, request_id: str | None = None) -> Frame:
        """``authenticate`` as the SDK sends it; returns the ``authenticated`` reply."""
        msg = {"ssid": ssid, "protocol": 3, "session_id": "", "client_session_id": ""}
        return await self.call("authenticate", msg, request_id)

    async def request(
        self, name: str, version: str | None, body: Any, request_id: str | None = None, timeout: float = 2.0
    ) -> Frame:
        """A ``sendMessage`` RPC; returns the first reply with its ``request_id`` (an ACK included)."""
        msg: dict[str, Any] = {"name": name, "body": body}
        if version is not None:
            msg["version"] = version
        return await self.call("sendMessage", msg, request_id, timeout)

    async def _subscription(
        self, verb: str, name: str, version: str | None, filters: dict[str, Any] | None, rid: str | None
    ) -> Frame:
        msg: dict[str, Any] = {"name": name}
        if version is not None:
            msg["version"] = version
        if filters is not None:
            msg["params"] = {"routingFilters": filters}
        return await self.call(verb, msg, rid)

    async def subscribe(
        self,
        name: str,
        version: str | None = None,
        filters: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> Frame:
        """``subscribeMessage``; returns the reply (``result`` on success)."""
        return await self._subscription("subscribeMessage", name, version, filters, request_id)

    async def unsubscribe(
        self,
        name: str,
        version: str | None = None,
        filters: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> Frame:
        """``unsubscribeMessage`` with the same body; returns the reply."""
        return await self._subscription("unsubscribeMessage", name, version, filters, request_id)

    # -- receiving -------------------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[Frame], bool], timeout: float = 2.0, *, after: int = 0
    ) -> Frame:
        """The first frame (at index ``after`` or later) matching ``predicate``, waiting if need be.

        Raises:
            TimeoutError: none arrived in time.
            ConnectionError: the connection closed before one arrived.
        """

        def found() -> Frame | None:
            return next((f for f in self.inbox[after:] if predicate(f)), None)

        async with asyncio.timeout(timeout), self._arrived:
            while (frame := found()) is None:
                if self.closed is not None:
                    raise ConnectionError(f"connection closed: {self.closed}")
                await self._arrived.wait()
            return frame

    async def reply(self, request_id: str, timeout: float = 2.0, *, after: int = 0) -> Frame:
        """The first frame (from index ``after``) carrying ``request_id``."""
        return await self.wait_for(lambda f: f.get("request_id") == request_id, timeout, after=after)

    async def replies(
        self, request_id: str, count: int, timeout: float = 2.0, *, after: int = 0
    ) -> list[Frame]:
        """The first ``count`` frames (from index ``after``) carrying ``request_id``."""

        def carrying() -> list[Frame]:
            return [f for f in self.inbox[after:] if f.get("request_id") == request_id]

        await self.wait_for(lambda _: len(carrying()) >= count, timeout, after=after)
        return carrying()[:count]

    async def push(self, name: str, timeout: float = 2.0, *, after: int = 0, **fields: Any) -> Frame:
        """The first push named ``name`` whose ``msg`` has these field values."""

        def matches(frame: Frame) -> bool:
            msg = frame.get("msg")
            return (
                frame.get("name") == name
                and "request_id" not in frame
                and isinstance(msg, dict)
                and all(msg.get(k) == v for k, v in fields.items())
            )

        return await self.wait_for(matches, timeout, after=after)

    async def settle(self, timeout: float = 2.0) -> None:
        """Wait until every frame the server queued for this connection so far has arrived.

        A round trip: the server answers in order on each connection, so once the
        reply to a request sent now is here, so is everything queued before it
        (frames held by ``delay_frames`` excepted). The reply stays out of the inbox.
        """
        rid = f"{_BARRIER}{next(self._ids)}"
        await self.send_request("core.get-profile", "1.0", {}, rid)
        async with asyncio.timeout(timeout), self._arrived:
            while rid not in self._barriers:
                if self.closed is not None:
                    raise ConnectionError(f"connection closed: {self.closed}")
                await self._arrived.wait()

    def named(self, name: str, *, after: int = 0) -> list[Frame]:
        """Frames received so far with this ``name`` (from index ``after``)."""
        return [f for f in self.inbox[after:] if f.get("name") == name]

    def mark(self) -> int:
        """The current length of the inbox, for ``after=`` arguments."""
        return len(self.inbox)

    async def wait_closed(self, timeout: float = 2.0) -> ConnectionClosed:
        """Wait for the connection to end; returns why."""
        async with asyncio.timeout(timeout), self._arrived:
            while self.closed is None:
                await self._arrived.wait()
            return self.closed
