"""The simulator's network layer: aiohttp serves HTTP login and the WebSocket on one port.

aiohttp, not the ``websockets`` server, because the login endpoint needs a POST
body and both must share one port like the real platform's host. The engine does
the thinking; this layer only moves bytes: each connection's frames of a loop
turn go out in one socket write (:mod:`iqwire.sim.outbox`), and a client whose
socket falls behind gets a writer task of its own, so it never delays the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from iqwire.sim.engine import Engine
from iqwire.sim.hub import Connection
from iqwire.sim.outbox import MAX_QUEUED_FRAMES, Batcher, Outbox

__all__ = ["MAX_FRAME_BYTES", "MAX_QUEUED_FRAMES", "SimServer"]

log = logging.getLogger("iqwire.sim.server")

#: Frames larger than this close the connection with code 1009 (message too big).
MAX_FRAME_BYTES = 1024 * 1024


class SimServer:
    """HTTP and WebSocket endpoints in front of an :class:`Engine`."""

    def __init__(self, engine: Engine, now: Callable[[], float]) -> None:
        self.engine = engine
        self.now = now
        self.app = web.Application()
        login_routes = ("/api/v2/login", "/v2/login")
        verify_routes = ("/api/v2/verify/2fa", "/v2/verify/2fa")
        logout_routes = ("/api/v1.0/logout", "/api/v2/logout", "/v2/logout")
        for path in login_routes:
            self.app.router.add_post(path, self._login)
        for path in verify_routes:
            self.app.router.add_post(path, self._verify)
        for path in logout_routes:
            self.app.router.add_post(path, self._logout)
        self.app.router.add_get("/api/lang/route-translations", self._translations)
        self.app.router.add_get("/echo/websocket", self._websocket)
        self._batcher = Batcher()
        self._outboxes: dict[int, Outbox] = {}
        self._sockets: dict[int, web.WebSocketResponse] = {}

    # -- HTTP ------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            try:
                data = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise web.HTTPBadRequest(
                    text=json.dumps({"code": "invalid_request", "message": "body is not valid JSON"}),
                    content_type="application/json",
                ) from None
            if not isinstance(data, dict):
                raise web.HTTPBadRequest(
                    text=json.dumps({"code": "invalid_request", "message": "body must be a JSON object"}),
                    content_type="application/json",
                )
            return data
        form = await request.post()
        return {key: value for key, value in form.items() if isinstance(value, str)}

    async def _login(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        identifier = data.get("identifier") or data.get("email")
        password = data.get("password")
        if not isinstance(identifier, str) or not isinstance(password, str):
            return web.json_response(
                {"code": "invalid_request", "message": "identifier and password are required"}, status=400
            )
        result = self.engine.accounts.login(identifier, password)
        if result is None:
            log.info("login refused for an account")
            return web.json_response(
                {"code": "invalid_credentials", "message": "You entered the wrong credentials."}, status=401
            )
        if result.two_factor_token is not None:
            return web.json_response({"code": "verify", "token": result.two_factor_token, "method": "email"})
        return self._session_response(result.ssid or "")

    async def _verify(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        token, code = data.get("token"), data.get("code")
        ssid = (
            self.engine.accounts.verify_two_factor(token, code)
            if isinstance(token, str) and isinstance(code, str)
            else None
        )
        if ssid is None:
            return web.json_response(
                {"code": "invalid_code", "message": "The code is wrong or expired."}, status=401
            )
        return self._session_response(ssid)

    @staticmethod
    def _session_response(ssid: str) -> web.Response:
        response = web.json_response({"code": "success", "ssid": ssid})
        response.set_cookie("ssid", ssid, httponly=True, samesite="Lax")
        return response

    async def _logout(self, request: web.Request) -> web.Response:
        ssid = request.cookies.get("ssid")
        if ssid is None and request.can_read_body:
            with contextlib.suppress(web.HTTPBadRequest):
                body = await self._body(request)
                ssid = body.get("ssid") if isinstance(body.get("ssid"), str) else None
        if ssid is None or not self.engine.accounts.logout(ssid):
            return web.json_response({"code": "invalid_session", "message": "not logged in"}, status=401)
        response = web.json_response({"code": "success"})
        response.del_cookie("ssid")
        return response

    async def _translations(self, request: web.Request) -> web.Response:
        names = {f"front.{spec.name}": spec.description for spec in self.engine.model.actives}
        return web.json_response({"isSuccessful": True, "result": {"en": names}})

    # -- WebSocket -------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if self.engine.refusing_connections(self.now()):
            return web.json_response({"code": "unavailable", "message": "try again later"}, status=503)
        ws = web.WebSocketResponse(
            max_msg_size=MAX_FRAME_BYTES, compress=False, decode_text=False, autoping=True
        )
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None  # prepared: the connection is open

        def drop() -> None:
            # An abrupt loss, as a network failure looks to the client: no close frame.
            outbox.close()
            transport.abort()

        outbox = Outbox(self._batcher, ws, transport, drop)
        conn = Connection(send=outbox.send, close=drop)
        self._outboxes[conn.conn_id] = outbox
        self._sockets[conn.conn_id] = ws
        self.engine.connect(conn, self.now())
        try:
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self.engine.handle(conn, message.data, self.now())
                elif message.type is WSMsgType.ERROR:
                    log.info("connection %s closed with an error: %s", conn.conn_id, ws.exception())
        finally:
            self.engine.disconnect(conn)
            await outbox.aclose()
            self._outboxes.pop(conn.conn_id, None)
            self._sockets.pop(conn.conn_id, None)
        return ws

    async def flush(self) -> None:
        """Wait until every frame sent so far has been written to its socket."""
        self._batcher.flush()
        for outbox in list(self._outboxes.values()):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(outbox.drained(), timeout=5)

    async def close_all(self) -> None:
        """Close every WebSocket with a normal close frame (shutdown), after the frames sent before it."""
        self._batcher.flush()
        for ws in list(self._sockets.values()):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"server shutting down")

    @property
    def connection_count(self) -> int:
        """Live WebSocket connections."""
        return len(self._sockets)
