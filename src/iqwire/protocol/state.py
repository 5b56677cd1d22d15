"""The session's states and the one table of allowed transitions.

A connection starts ``IDLE``. ``authenticate`` moves it to ``AUTHENTICATING``;
the server's answer to ``READY`` (accepted) or ``REFUSED`` (the SSID was
rejected; authenticate again with another). Losing the connection from any
state returns to ``IDLE``: the caller reconnects and authenticates again, and
the session replays its subscriptions. Only :class:`~iqwire.protocol.Session`
changes a state, and only through :func:`transition`.
"""

from __future__ import annotations

import enum

from iqwire.errors import LocalProtocolError

__all__ = ["SessionState", "transition"]


class SessionState(enum.Enum):
    """Where a session stands."""

    #: Connected (or about to be), not authenticated.
    IDLE = "idle"
    #: ``authenticate`` sent, no answer yet.
    AUTHENTICATING = "authenticating"
    #: Authenticated: requests and subscriptions may be sent.
    READY = "ready"
    #: The server refused the SSID.
    REFUSED = "refused"


_ALLOWED: dict[SessionState, frozenset[SessionState]] = {
    SessionState.IDLE: frozenset({SessionState.AUTHENTICATING, SessionState.IDLE}),
    SessionState.AUTHENTICATING: frozenset(
        {SessionState.READY, SessionState.REFUSED, SessionState.IDLE, SessionState.AUTHENTICATING}
    ),
    SessionState.READY: frozenset(
        {SessionState.IDLE, SessionState.AUTHENTICATING, SessionState.READY, SessionState.REFUSED}
    ),
    SessionState.REFUSED: frozenset({SessionState.AUTHENTICATING, SessionState.IDLE}),
}


def transition(current: SessionState, target: SessionState) -> SessionState:
    """Return ``target`` if the table allows moving there from ``current``.

    Raises:
        LocalProtocolError: the move is not allowed.
    """
    if target not in _ALLOWED[current]:
        raise LocalProtocolError(f"session cannot go from {current.value} to {target.value}")
    return target
