"""The shapes of catalog entries: an RPC, a subscription, and how an RPC moves money."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["RAW", "MoneyMove", "RpcSpec", "SubscriptionSpec"]

#: Stand-in for "any JSON": the payload is kept as plain dicts and lists.
RAW: Any = dict

Body = TypeVar("Body")
Reply = TypeVar("Reply")
Payload = TypeVar("Payload")


@dataclass(frozen=True, slots=True)
class MoneyMove:
    """How an RPC moves money: what the real-money lock needs to know of it.

    ``action`` is what it does (``"open"``, ``"sell"``, ``"close"``, ``"cancel"``).
    The balance concerned is named by the body's ``balance_field``; a body that
    names positions or orders instead (a sell or a cancel) lists their ids in
    ``ids_field``, of the ``ids_kind`` given, and the lock looks their balance up.
    """

    action: str
    balance_field: str | None = "user_balance_id"
    ids_field: str | None = None
    ids_kind: str = "position"


@dataclass(frozen=True, slots=True)
class RpcSpec(Generic[Body, Reply]):
    """One ``sendMessage`` RPC: its body type ``Body`` and what the caller gets back, ``Reply``.

    ``versions`` is empty when no capture showed one; ``default_version`` is then
    ``"1.0"`` (a guess, recorded in protocol-notes). ``result_only`` RPCs end with
    the ``result`` ACK (their ``Reply`` is :class:`~iqwire.protocol.events.ResultAck`).
    ``money`` is set on every RPC that opens, sells, closes or cancels a position
    or order: the client's real-money lock checks each of them.

    Example::

        candles = await connection.call(catalog.GET_CANDLES, GetCandlesBody(active_id=76, size=60))
    """

    name: str
    versions: tuple[str, ...]
    body_type: Any
    response_name: str | None
    response_type: Any
    result_only: bool = False
    aliases: tuple[str, ...] = ()
    money: MoneyMove | None = None

    @property
    def default_version(self) -> str:
        """The version to send when the caller does not choose one."""
        return self.versions[0] if self.versions else "1.0"


@dataclass(frozen=True, slots=True)
class SubscriptionSpec(Generic[Payload]):
    """One subscription: its pushes arrive as ``push_name`` from ``microservice_name``."""

    name: str
    versions: tuple[str, ...]
    routing_filters: tuple[str, ...]
    push_name: str
    payload_type: Any
    microservice_name: str
    aliases: tuple[str, ...] = field(default=())

    @property
    def default_version(self) -> str | None:
        """The version to send, or ``None`` to send none."""
        return self.versions[0] if self.versions else None
