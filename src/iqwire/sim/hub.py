"""Connections and their subscriptions: who gets which push.

Routing follows each subscription's routing filters (the official SDK filters
pushes only by name and expects the server to scope them). A connection's
``send`` only enqueues; the server's writer task drains the queue, so one slow
client never blocks the others.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from iqwire.protocol.catalog import SubscriptionSpec
from iqwire.sim.accounts import User

__all__ = ["STREAM_KEYS", "Connection", "Hub", "SubscriptionEntry"]

_ids = itertools.count(1)


@dataclass(frozen=True)
class SubscriptionEntry:
    """One subscription of one connection: the catalog entry and its filters."""

    spec: SubscriptionSpec[Any]
    filters: tuple[tuple[str, Any], ...]

    def matches(self, payload_fields: dict[str, Any]) -> bool:
        """Whether a push with these routing fields belongs to this subscription."""
        for key, wanted in self.filters:
            value = payload_fields.get(key)
            if value is not None and value != wanted:
                return False
        return True


@dataclass(eq=False)
class Connection:
    """One WebSocket client of the simulator."""

    send: Callable[[bytes], None]
    close: Callable[[], None]
    conn_id: int = field(default_factory=lambda: next(_ids))
    user: User | None = None
    ssid: str | None = None
    send_results: bool = False
    #: Spoke the community client's dialect (it gets ``listInfoData`` and ``option-closed``).
    legacy: bool = False
    subscriptions: set[SubscriptionEntry] = field(default_factory=set)

    def __repr__(self) -> str:
        return f"Connection(conn_id={self.conn_id}, user={self.user!r})"


def normalise_filters(
    spec: SubscriptionSpec[Any], filters: dict[str, Any] | None
) -> tuple[tuple[str, Any], ...]:
    """Routing filters as a hashable, canonical tuple (numeric strings become ints)."""
    if not filters:
        return ()
    out = []
    for key, value in sorted(filters.items()):
        if isinstance(value, str) and value.lstrip("-").isdigit() and key != "name":
            value = int(value)
        out.append((key, value))
    return tuple(out)


#: Pushes sent several times a second per key: their subscriptions are indexed by these
#: routing-filter fields, so a push is encoded once per key and goes straight to its
#: connections, however many clients there are.
STREAM_KEYS: dict[str, tuple[str, ...]] = {
    "candle-generated": ("active_id", "size"),
    "digital-option-client-price-generated": ("asset_id", "instrument_index"),
    "instrument-quotes-generated": ("active", "expiration_period"),
}


class Hub:
    """Every live connection, indexed by the pushes they asked for."""

    def __init__(self) -> None:
        self.connections: dict[int, Connection] = {}
        # The hot pushes (STREAM_KEYS): push name -> key -> connections.
        self._streams: dict[str, dict[tuple[Any, ...], set[Connection]]] = {name: {} for name in STREAM_KEYS}
        # (push name, filter field) -> value -> how many subscriptions filter on it (for keys_for).
        self._values: dict[tuple[str, str], dict[Any, int]] = {}

    @staticmethod
    def _stream_key(entry: SubscriptionEntry) -> tuple[Any, ...] | None:
        fields = STREAM_KEYS.get(entry.spec.push_name)
        if fields is None:
            return None
        filters = dict(entry.filters)
        key = tuple(filters.get(name) for name in fields)
        return key if all(isinstance(value, int) for value in key) else None

    def _count_values(self, entry: SubscriptionEntry, change: int) -> None:
        for field_name, value in entry.filters:
            if value is None:
                continue
            counts = self._values.setdefault((entry.spec.push_name, field_name), {})
            remaining = counts.get(value, 0) + change
            if remaining > 0:
                counts[value] = remaining
            else:
                counts.pop(value, None)

    def _unindex(self, conn: Connection, entry: SubscriptionEntry) -> None:
        self._count_values(entry, -1)
        key = self._stream_key(entry)
        streams = self._streams.get(entry.spec.push_name)
        if key is not None and streams is not None and key in streams:
            streams[key].discard(conn)
            if not streams[key]:
                del streams[key]

    def add(self, conn: Connection) -> None:
        """Register a new connection."""
        self.connections[conn.conn_id] = conn

    def remove(self, conn: Connection) -> None:
        """Forget a connection and its subscriptions."""
        self.connections.pop(conn.conn_id, None)
        for entry in conn.subscriptions:
            self._unindex(conn, entry)
        conn.subscriptions.clear()

    def subscribe(self, conn: Connection, entry: SubscriptionEntry) -> None:
        """Add a subscription (idempotent: subscribing twice is one subscription)."""
        if entry in conn.subscriptions:
            return
        conn.subscriptions.add(entry)
        self._count_values(entry, 1)
        key = self._stream_key(entry)
        if key is not None:
            self._streams[entry.spec.push_name].setdefault(key, set()).add(conn)

    def unsubscribe(self, conn: Connection, entry: SubscriptionEntry) -> bool:
        """Remove a subscription; ``True`` if it existed."""
        if entry in conn.subscriptions:
            conn.subscriptions.discard(entry)
            self._unindex(conn, entry)
            return True
        return False

    def subscribers(
        self, push_name: str, fields: dict[str, Any], user: User | None = None, service: str | None = None
    ) -> Iterator[tuple[Connection, SubscriptionEntry]]:
        """Connections subscribed to a push whose filters match ``fields``.

        With ``user`` set, only that user's connections (private pushes). With
        ``service``, only subscriptions to that microservice's push (two services
        both push ``balance-changed``). A connection gets a push once, however many
        of its subscriptions match.
        """
        for conn in list(self.connections.values()):
            if user is not None and conn.user is not user:
                continue
            for entry in conn.subscriptions:
                if (
                    entry.spec.push_name == push_name
                    and (service is None or entry.spec.microservice_name == service)
                    and entry.matches(fields)
                ):
                    yield conn, entry
                    break

    def candle_streams(self) -> dict[tuple[Any, ...], set[Connection]]:
        """Every (active_id, size) some connection streams, with its connections."""
        return self._streams["candle-generated"]

    def streams(self, push_name: str) -> dict[tuple[Any, ...], set[Connection]]:
        """Every key (the push's :data:`STREAM_KEYS` fields) some connection streams, with its connections."""
        return self._streams[push_name]

    def keys_for(self, push_name: str, field_name: str) -> set[Any]:
        """Every value of one routing filter among subscriptions to a push.

        Kept as counts while subscriptions come and go, so a step that asks costs
        the number of values, not of connections.
        """
        return set(self._values.get((push_name, field_name), ()))
