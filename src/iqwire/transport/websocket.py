"""The WebSocket transport on the ``websockets`` asyncio API: bytes in, bytes out."""

from __future__ import annotations

import contextlib
import logging
import re
import ssl
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from iqwire.errors import ConnectionLost

__all__ = ["DEFAULT_WS_URL", "WebSocketTransport"]

_SSID_VALUE = re.compile(r'("ssid"\s*:\s*")[^"\s]*("?)')


class _RedactSsid(logging.Filter):
    """``websockets`` logs every frame at DEBUG, ``authenticate`` with its SSID among them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            message = record.getMessage()
            if '"ssid"' in message or any('"ssid"' in repr(arg) for arg in _args(record)):
                record.msg, record.args = _SSID_VALUE.sub(r"\1***\2", message), ()
        return True


def _args(record: logging.LogRecord) -> tuple[object, ...]:
    args = record.args
    if isinstance(args, tuple):
        return args
    return () if args is None else (args,)


for _name in ("websockets.client", "websockets.protocol"):
    if not any(isinstance(f, _RedactSsid) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_RedactSsid())

#: The real platform's WebSocket endpoint.
DEFAULT_WS_URL = "wss://ws.iqoption.com/echo/websocket"
USER_AGENT = "iqwire/0.1 (+https://github.com/iqwire)"


class WebSocketTransport:
    """One WebSocket connection. Frames go out as text and come in as bytes.

    TLS certificates are verified unless an explicit ``ssl_context`` says otherwise.
    """

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        open_timeout: float = 10.0,
        max_size: int = 16 * 1024 * 1024,
    ) -> WebSocketTransport:
        """Connect.

        Raises:
            ConnectionLost: the server could not be reached, refused the upgrade, or
                its certificate did not verify.
        """
        kwargs: dict[str, Any] = {
            "open_timeout": open_timeout,
            "max_size": max_size,
            "compression": None,
            "user_agent_header": USER_AGENT,
            "ping_interval": 20,
            "ping_timeout": 20,
            "max_queue": 256,
        }
        if url.startswith("wss://"):
            kwargs["ssl"] = ssl_context if ssl_context is not None else ssl.create_default_context()
        try:
            connection = await connect(url, **kwargs)
        except ssl.SSLCertVerificationError as exc:
            raise ConnectionLost(
                f"TLS certificate of {url} did not verify ({exc.verify_message}); "
                "pass ssl_context= with the right CA to trust it"
            ) from exc
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
            raise ConnectionLost(f"cannot connect to {url}: {exc}") from exc
        return cls(connection)

    async def send(self, data: bytes) -> None:
        """Send one frame as a text message.

        Raises:
            ConnectionLost: the connection is closed.
        """
        try:
            await self._connection.send(data, text=True)
        except websockets.exceptions.ConnectionClosed as exc:
            raise ConnectionLost(f"connection closed while sending: {exc}") from exc

    async def recv(self) -> bytes:
        """The next frame's bytes.

        Raises:
            ConnectionLost: the connection closed (cleanly or not).
        """
        try:
            data = await self._connection.recv(decode=False)
        except websockets.exceptions.ConnectionClosed as exc:
            raise ConnectionLost(f"connection closed: {exc}") from exc
        return data if isinstance(data, bytes) else data.encode()

    async def close(self) -> None:
        """Close with a normal close frame; never raises."""
        # Closing a dead socket must not mask the error that killed it.
        with contextlib.suppress(Exception):
            await self._connection.close()

    @property
    def closed(self) -> bool:
        """Whether the connection is no longer open."""
        return self._connection.state is websockets.protocol.State.CLOSED
