"""An aiohttp application served on a local port at the platform's paths.

The simulator (:class:`iqwire.sim.Simulator`) and the replay server
(:class:`iqwire.replay.ReplayServer`) both serve the HTTP login and the WebSocket
from one aiohttp application on one port; this base class listens, learns the
port it got, stops listening, and builds the URLs a client connects to.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web

__all__ = ["AiohttpServer"]


class AiohttpServer:
    """Serves ``app`` on ``host:port`` (port 0 picks a free one); an async context manager.

    Subclasses extend :meth:`start` and :meth:`stop` with what they run besides.
    """

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._app_served = app
        self._requested_port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on ``host:port``; ``port`` is then the one actually bound."""
        self._runner = web.AppRunner(self._app_served, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._requested_port)
        await site.start()
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def http_url(self) -> str:
        """Base HTTP URL, for clients that append ``/v2/login``."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket URL (``/echo/websocket``, as on the real platform)."""
        return f"ws://{self.host}:{self.port}/echo/websocket"

    @property
    def login_url(self) -> str:
        """The HTTP login endpoint."""
        return f"{self.http_url}/api/v2/login"
