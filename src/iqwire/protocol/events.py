"""Events the :class:`~iqwire.protocol.Session` hands back from received bytes.

Events are frozen nouns. A server that misbehaves produces :class:`MalformedFrame`,
never an exception.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "Authenticated",
    "Event",
    "Front",
    "MalformedFrame",
    "Push",
    "Pushes",
    "RequestExpired",
    "Response",
    "ResultAck",
    "TimeSync",
]


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Base class of every session event."""


class Authenticated(Event, frozen=True, kw_only=True):
    """The answer to ``authenticate``: ``ok`` is ``False`` when the SSID was refused."""

    ok: bool
    request_id: str | None = None
    client_session_id: str | None = None


class Response(Event, frozen=True, kw_only=True):
    """The answer to a ``sendMessage`` RPC, matched by ``request_id``.

    ``payload`` is typed through the catalog (the request's response type; for
    ``status >= 4000`` an error body). When the payload did not match the expected
    type, ``payload`` holds the plain JSON and ``error`` says what was wrong, so the
    waiting request can still be failed rather than left hanging.
    """

    request_id: str
    name: str
    status: int
    payload: Any
    rpc: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """A success: status below 4000 and the payload decoded."""
        return self.status < 4000 and self.error is None


class ResultAck(Event, frozen=True, kw_only=True):
    """A ``result`` frame: the ACK of ``setOptions``, a subscription or a result-only RPC.

    ``final`` is ``True`` when the request is over (result-only requests, and any
    ``success: false``); a ``success: true`` ACK of an RPC that also has a typed
    reply is not final: the reply follows with the same ``request_id``.
    """

    request_id: str
    success: bool
    reason: str | None = None
    final: bool = True


class Push(Event, frozen=True, kw_only=True):
    """A server push: ``payload`` is typed by push name, or plain JSON for unknown names.

    The session decodes a catalogued push straight into a private subclass of this
    class (see ``iqwire.protocol.pushes``); it prints, compares, hashes and pickles
    as a plain ``Push``. Test with ``isinstance``, not ``type(event) is Push``.
    """

    name: str
    payload: Any
    microservice_name: str | None = None


class Pushes(Event, frozen=True, kw_only=True):
    """Consecutive pushes of one name and service, from :meth:`Session.receive_batch`.

    It stands for ``[Push(name=name, payload=p, microservice_name=microservice_name)
    for p in payloads]`` (oldest first): a burst of candles costs one event, not one
    per frame.

    Example::

        for event in session.receive_batch(frames):
            if isinstance(event, Pushes):
                for push in event.pushes():
                    ...
    """

    name: str
    payloads: list[Any]
    microservice_name: str | None = None

    def pushes(self) -> list[Push]:
        """The :class:`Push` events this one stands for."""
        name, service = self.name, self.microservice_name
        return [Push(name=name, payload=payload, microservice_name=service) for payload in self.payloads]


class TimeSync(Event, frozen=True, kw_only=True):
    """The server's clock, in unix milliseconds (the heartbeat)."""

    server_time_ms: int


class Front(Event, frozen=True, kw_only=True):
    """The server's identification frame."""

    server: str
    session_id: str | None = None


class MalformedFrame(Event, frozen=True, kw_only=True):
    """The server sent something that is not a valid frame; the session carried on."""

    reason: str
    raw: bytes


class RequestExpired(Event, frozen=True, kw_only=True):
    """A request had no answer by the deadline given to :meth:`Session.expire`."""

    request_id: str
    rpc: str
