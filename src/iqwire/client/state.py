"""The client's connection states."""

from __future__ import annotations

import enum

__all__ = ["ConnectionState"]


class ConnectionState(enum.Enum):
    """What the client's connection is doing."""

    #: Not connected yet.
    DISCONNECTED = "disconnected"
    #: Logging in, connecting, authenticating.
    CONNECTING = "connecting"
    #: Authenticated: requests and streams flow.
    CONNECTED = "connected"
    #: The connection was lost; backing off and trying again.
    RECONNECTING = "reconnecting"
    #: Authentication failed for good: no more retries.
    AUTH_FAILED = "auth_failed"
    #: Closed by the user.
    CLOSED = "closed"
