"""The simulator's error replies: a status and a message, sent as ``msg.message``."""

from __future__ import annotations

from typing import Any

__all__ = [
    "BAD_REQUEST",
    "FORBIDDEN",
    "INTERNAL",
    "NOT_AUTHENTICATED",
    "NOT_SUPPORTED",
    "PAYOUT_CHANGED",
    "REJECTED",
    "UNKNOWN_NAME",
    "UNSUPPORTED_VERSION",
    "VALIDATION",
    "SimError",
]

#: The frame or body is malformed.
BAD_REQUEST = 4000
#: ``sendMessage``/``subscribeMessage`` before ``authenticate`` succeeded.
NOT_AUTHENTICATED = 4001
#: Another user's balance, position or stream.
FORBIDDEN = 4003
#: An RPC or subscription name the server does not know.
UNKNOWN_NAME = 4004
#: A known name with a version the server does not serve.
UNSUPPORTED_VERSION = 4005
#: A trade refused by a business rule (closed market, funds, limits, expiry).
REJECTED = 4008
#: The payout changed: ``result.actual_commission`` carries the new commission.
PAYOUT_CHANGED = 4117
#: Parameters out of range (a future ``from``, more than 1000 candles).
VALIDATION = 4220
#: A product the simulator does not trade (marginal, digital).
NOT_SUPPORTED = 4501
#: A bug in the simulator while handling a request (logged with the seed).
INTERNAL = 5000


class SimError(Exception):
    """An error reply: ``status`` >= 4000 and a ``msg`` with at least a ``message``.

    ``result`` goes under ``msg.result`` (4117's ``actual_commission``); ``fields``
    are per-field complaints placed beside ``message``, as the live server's 4220
    ``{"from": ["from must not be in the future"]}``.
    """

    def __init__(
        self,
        status: int,
        message: str,
        result: dict[str, Any] | None = None,
        *,
        fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.result = result
        self.fields = fields

    def payload(self) -> dict[str, Any]:
        """The ``msg`` of the error frame."""
        body: dict[str, Any] = {"message": self.message}
        if self.fields:
            body.update({k: v for k, v in self.fields.items() if k != "message"})
        if self.result is not None:
            body["result"] = self.result
        return body
