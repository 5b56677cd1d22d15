"""The thin I/O edge: the WebSocket connection and the HTTP login.

Only this package imports ``websockets`` and ``httpx``; their errors become
:class:`~iqwire.errors.ConnectionLost`, :class:`~iqwire.errors.TLSError` (a refused
certificate: not retried) and :class:`~iqwire.errors.AuthError` here.
"""

from iqwire.transport.login import DEFAULT_LOGIN_URL, LoginResult, TwoFactor, http_login, http_logout
from iqwire.transport.websocket import DEFAULT_WS_URL, WebSocketTransport

__all__ = [
    "DEFAULT_LOGIN_URL",
    "DEFAULT_WS_URL",
    "LoginResult",
    "TwoFactor",
    "WebSocketTransport",
    "http_login",
    "http_logout",
]
