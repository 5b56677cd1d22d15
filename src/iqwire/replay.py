"""Replay a recorded session as a fake server, so a client test runs against it deterministically.

A recording (see :mod:`iqwire.store.recording`) is a list of frames, ``out``
(client to server) and ``in``. The replay server cuts it into *exchanges*: each
``out`` frame with the ``in`` frames recorded after it, up to the next ``out``.
The ``in`` frames before the first ``out`` (the greeting ``timeSync``) are sent
when the first connection opens.

For each frame a client sends, the server takes the first exchange not yet used
whose ``out`` frame is of the same kind (``authenticate``, ``setOptions``, or
``sendMessage``/``subscribeMessage``/``unsubscribeMessage`` with the same
``msg.name``), preferring one with an identical ``msg``, and answers with the
exchange's ``in`` frames, in recorded order (pushes included). ``request_id``
is rewritten from the recorded one to the one the client used. A reply recorded
for a request the client has not sent yet in this run is held until it does.
A frame nothing matches is answered with an error (status 4004) and kept in
:attr:`ReplayServer.unmatched`.

Frames go out as fast as the socket takes them, unless ``realtime=True``: then
the recorded delays between an ``out`` frame and its answers are kept. One
exception: after a subscription's ACK the server waits ``subscribe_pause``
(20 ms) before the pushes recorded after it, because the client attaches its
stream to a subscription only once the ACK has been processed; pushes sent in
the same breath would be routed to nobody.

The server is aiohttp, not the ``websockets`` server: the HTTP login must share
the WebSocket's port (``Client(email=..., password=...)`` logs in over HTTP
first), as on the simulator, which uses aiohttp for the same reason.

Example::

    async with ReplayServer("session.jsonl") as server:
        async with Client(email="any", password="any", ws_url=server.ws_url,
                          login_url=server.login_url) as client:
            profile = await client.get_profile()     # as recorded
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from iqwire._aiohttp_server import AiohttpServer
from iqwire.store.recording import RecordedFrame, load_recording

__all__ = ["DUMMY_SSID", "ReplayServer"]

log = logging.getLogger("iqwire.replay")

#: The SSID the replay server's HTTP login hands out.
DUMMY_SSID = "replay-0000-0000-0000"


def _parse(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _kind(data: dict[str, Any]) -> tuple[str, str]:
    name = str(data.get("name", ""))
    msg = data.get("msg")
    inner = msg.get("name") if isinstance(msg, dict) else None
    if name in ("sendMessage", "subscribeMessage", "unsubscribeMessage"):
        return name, str(inner or "")
    return name, ""


def _content(data: dict[str, Any]) -> str:
    return json.dumps(data.get("msg"), sort_keys=True, separators=(",", ":"))


@dataclass
class _Incoming:
    frame: RecordedFrame
    request_id: str | None
    data: dict[str, Any] | None


@dataclass
class _Exchange:
    out: RecordedFrame
    kind: tuple[str, str]
    content: str
    request_id: str | None
    answers: list[_Incoming] = field(default_factory=list)
    used: bool = False


class ReplayServer(AiohttpServer):
    """A fake server that answers a client from a recording.

    Its HTTP login takes any e-mail and password and hands out :data:`DUMMY_SSID`.

    Args:
        recording: a JSONL recording's path, or its frames.
        realtime: keep the recorded delays between a request and its answers.
        host, port: where to listen (port 0 picks a free one).
        subscribe_pause: seconds between a subscription's ACK and the pushes recorded
            after it (the client starts consuming only once it has processed the ACK).
    """

    def __init__(
        self,
        recording: str | Path | Iterable[RecordedFrame],
        *,
        realtime: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        subscribe_pause: float = 0.02,
    ) -> None:
        frames = load_recording(recording) if isinstance(recording, str | Path) else list(recording)
        self.realtime = realtime
        self.subscribe_pause = subscribe_pause
        self.preamble: list[_Incoming] = []
        self.exchanges: list[_Exchange] = []
        self._recorded_ids: set[str] = set()
        for frame in frames:
            data = _parse(frame.frame)
            if frame.dir == "out":
                request_id = str(data["request_id"]) if data and "request_id" in data else None
                if request_id is not None:
                    self._recorded_ids.add(request_id)
                kind = _kind(data) if data else ("", "")
                self.exchanges.append(_Exchange(frame, kind, _content(data) if data else "", request_id))
            else:
                rid = data.get("request_id") if data else None
                incoming = _Incoming(frame, str(rid) if rid not in (None, "") else None, data)
                (self.exchanges[-1].answers if self.exchanges else self.preamble).append(incoming)
        self.unmatched: list[str] = []
        self.matched = 0
        self._ids: dict[str, str] = {}
        self._held: dict[str, list[_Incoming]] = {}
        self._greeted = False
        self._lock = asyncio.Lock()
        app = web.Application()
        for path in ("/api/v2/login", "/v2/login"):
            app.router.add_post(path, self._login)
        for path in ("/api/v1.0/logout", "/api/v2/logout", "/v2/logout"):
            app.router.add_post(path, self._logout)
        app.router.add_get("/echo/websocket", self._websocket)
        super().__init__(app, host, port)
        self._sockets: set[web.WebSocketResponse] = set()

    # -- lifecycle (start, the URLs: AiohttpServer's) ---------------------------------------------

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        await super().stop()

    @property
    def remaining(self) -> int:
        """Recorded client frames not matched yet."""
        return sum(1 for exchange in self.exchanges if not exchange.used)

    # -- HTTP ----------------------------------------------------------------------------------

    async def _login(self, request: web.Request) -> web.Response:
        response = web.json_response({"code": "success", "ssid": DUMMY_SSID})
        response.set_cookie("ssid", DUMMY_SSID, httponly=True, samesite="Lax")
        return response

    async def _logout(self, request: web.Request) -> web.Response:
        return web.json_response({"code": "success"})

    # -- WebSocket -----------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(compress=False, autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            if not self._greeted:
                self._greeted = True
                await self._send_all(ws, self.preamble, None)
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    text = message.data
                elif message.type is WSMsgType.BINARY:
                    text = message.data.decode("utf-8", "replace")
                else:
                    continue
                async with self._lock:
                    await self._answer(ws, text)
        except (ConnectionResetError, RuntimeError) as exc:
            log.debug("replay connection ended: %s", exc)
        finally:
            self._sockets.discard(ws)
        return ws

    def _match(self, kind: tuple[str, str], content: str) -> _Exchange | None:
        fallback = None
        for exchange in self.exchanges:
            if exchange.used or exchange.kind != kind:
                continue
            if exchange.content == content:
                return exchange
            if fallback is None:
                fallback = exchange
        return fallback

    async def _answer(self, ws: web.WebSocketResponse, text: str) -> None:
        data = _parse(text)
        if data is None:
            self.unmatched.append(text)
            return
        client_id = str(data.get("request_id", ""))
        exchange = self._match(_kind(data), _content(data))
        if exchange is None:
            self.unmatched.append(text)
            await ws.send_str(self._refusal(data, client_id))
            return
        exchange.used = True
        self.matched += 1
        if exchange.request_id is not None:
            self._ids[exchange.request_id] = client_id
        ack_id = exchange.request_id if exchange.kind[0] == "subscribeMessage" else None
        await self._send_all(ws, exchange.answers, exchange.out.t, pause_after=ack_id)
        if exchange.request_id is not None:
            await self._send_all(ws, self._held.pop(exchange.request_id, []), None)

    async def _send_all(
        self,
        ws: web.WebSocketResponse,
        frames: list[_Incoming],
        since: float | None,
        *,
        pause_after: str | None = None,
    ) -> None:
        clock = since
        for index, incoming in enumerate(frames):
            rid = incoming.request_id
            if rid is not None and rid not in self._ids and rid in self._recorded_ids:
                self._held.setdefault(rid, []).append(incoming)  # its request has not come yet
                continue
            if self.realtime and clock is not None and incoming.frame.t > clock:
                await asyncio.sleep(incoming.frame.t - clock)
            clock = incoming.frame.t if clock is not None else None
            text = incoming.frame.frame
            if rid is not None and rid in self._ids and self._ids[rid] != rid and incoming.data is not None:
                rewritten = dict(incoming.data)
                rewritten["request_id"] = self._ids[rid]
                text = json.dumps(rewritten, separators=(",", ":"))
            await ws.send_str(text)
            if pause_after is not None and rid == pause_after and index + 1 < len(frames):
                # The client adds a stream to a subscription once its ACK is processed; pushes
                # sent in the same breath would find no consumer yet.
                await asyncio.sleep(self.subscribe_pause)

    @staticmethod
    def _refusal(data: dict[str, Any], request_id: str) -> str:
        name, inner = _kind(data)
        if name == "authenticate":
            reply: dict[str, Any] = {"name": "authenticated", "request_id": request_id, "msg": True}
        elif name in ("setOptions", "unsubscribeMessage"):
            reply = {"name": "result", "request_id": request_id, "msg": {"success": True}}
        else:
            reply = {
                "name": inner or "result",
                "request_id": request_id,
                "status": 4004,
                "msg": {"message": f"replay: nothing recorded answers '{inner or name}'"},
            }
        return json.dumps(reply, separators=(",", ":"))
