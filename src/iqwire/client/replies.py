"""A reply event becomes the caller's payload, or the error the server meant.

The translation happens once, here: status >= 4000 becomes :class:`ServerError`
(4117 with its new commission: :class:`PayoutChanged`), a refused ``result`` ACK
a :class:`ServerError`, and a reply the session could not decode into the
catalog's type a :class:`RemoteProtocolError`; a reply that does not come in time
fails its future (:func:`expire`), which the caller turns into ``RequestTimeout``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from iqwire.errors import PayoutChanged, RemoteProtocolError, ServerError
from iqwire.models import CommissionChangedError, ErrorBody
from iqwire.protocol import Response, ResultAck

__all__ = ["expire", "payload_of"]


class _Expired(TimeoutError):
    """A request's answer did not come in time (set on its future by :func:`expire`)."""


def expire(future: asyncio.Future[Any]) -> None:
    """Fail a reply's future with a ``TimeoutError`` unless it is done: the request timer's callback.

    Example::

        timer = loop.call_later(timeout, expire, future)
    """
    if not future.done():
        future.set_exception(_Expired())


def _error_message(payload: Any) -> str:
    if isinstance(payload, ErrorBody | CommissionChangedError) and payload.message:
        return payload.message
    if isinstance(payload, dict):
        if isinstance(payload.get("message"), str):
            return str(payload["message"])
        return ", ".join(f"{k}: {v}" for k, v in sorted(payload.items()))
    return str(payload)


def payload_of(event: Response | ResultAck, name: str) -> Any:
    """The payload of a reply to the RPC ``name`` (the ACK itself for result-only RPCs).

    Example::

        payload = payload_of(event, "core.get-profile")

    Raises:
        ServerError: status >= 4000 (:class:`PayoutChanged` for 4117), or a
            ``result`` with ``success: false``.
        RemoteProtocolError: the reply did not have the catalog's shape.
    """
    if isinstance(event, ResultAck):
        if not event.success:
            raise ServerError(
                4000,
                f"'{name}' refused: {event.reason or 'no reason given'}",
                request_id=event.request_id,
                name=name,
            )
        return event
    if event.status >= 4000:
        payload = event.payload
        if event.status == 4117 and isinstance(payload, CommissionChangedError):
            actual = payload.result.actual_commission
            raise PayoutChanged(actual.active_id, actual.commission, request_id=event.request_id, name=name)
        raise ServerError(
            event.status, _error_message(payload), request_id=event.request_id, name=name, payload=payload
        )
    if event.error is not None:
        raise RemoteProtocolError(event.error, request_id=event.request_id, name=name)
    return event.payload
