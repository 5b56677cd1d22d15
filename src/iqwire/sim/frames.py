"""Outgoing frames of the simulator, encoded once."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["encode_out", "push_frame", "reply_frame"]


class _Out(msgspec.Struct, omit_defaults=True):
    name: str
    msg: Any
    request_id: str | None = None
    status: int | None = None
    microserviceName: str | None = None
    session_id: str | None = None
    client_session_id: str | None = None


_encode = msgspec.json.Encoder().encode


def encode_out(
    name: str,
    msg: Any,
    *,
    request_id: str | None = None,
    status: int | None = None,
    microservice: str | None = None,
    session_id: str | None = None,
    client_session_id: str | None = None,
) -> bytes:
    """Any frame the server sends."""
    return _encode(_Out(name, msg, request_id, status, microservice, session_id, client_session_id))


def reply_frame(name: str, request_id: str | None, msg: Any, status: int = 2000) -> bytes:
    """A reply: the request's ``request_id`` echoed verbatim, and a status."""
    return _encode(_Out(name, msg, request_id, status))


def push_frame(name: str, microservice: str, msg: Any) -> bytes:
    """A push: no ``request_id``, always a ``microserviceName``."""
    return _encode(_Out(name, msg, None, None, microservice))
