"""The fast paths of the simulator's fan-out answer exactly like the slow ones.

``FaultInjector.send_each`` (a stream's frames to all its connections at once) against
``send`` called per connection and frame, with and without a ``delay_frames`` fault;
``Hub.keys_for`` (kept as counts) against a scan of every connection's subscriptions.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from iqwire.protocol import catalog
from iqwire.sim.faults import FaultInjector
from iqwire.sim.hub import Connection, Hub, SubscriptionEntry


def _injector() -> tuple[FaultInjector, dict[str, int]]:
    stats = {"frames_out": 0, "faults": 0}
    return FaultInjector(Hub(), 7, None, stats, lambda: 100.0), stats


def _connections(count: int) -> tuple[list[Connection], list[list[bytes]]]:
    outs: list[list[bytes]] = [[] for _ in range(count)]
    return [Connection(send=out.append, close=lambda: None) for out in outs], outs


@given(
    connections=st.integers(min_value=0, max_value=6),
    frames=st.lists(st.binary(min_size=1, max_size=8), min_size=1, max_size=3),
    delayed=st.integers(min_value=0, max_value=12),
    rounds=st.integers(min_value=1, max_value=3),
)
def test_send_each_is_send_per_connection_and_frame(
    connections: int, frames: list[bytes], delayed: int, rounds: int
) -> None:
    fast, fast_stats = _injector()
    slow, slow_stats = _injector()
    fast_conns, fast_out = _connections(connections)
    slow_conns, slow_out = _connections(connections)
    for injector in (fast, slow):
        injector.state.delay_frames, injector.state.delay_seconds = delayed, 1.5
    for _ in range(rounds):
        fast.send_each(fast_conns, frames)
        for conn in slow_conns:  # what the feed did: connection by connection, frame by frame
            for data in frames:
                slow.send(conn, data)
        assert fast_out == slow_out
    assert fast_stats == slow_stats
    assert fast.state.delay_frames == slow.state.delay_frames
    index_fast = {conn.conn_id: index for index, conn in enumerate(fast_conns)}
    index_slow = {conn.conn_id: index for index, conn in enumerate(slow_conns)}
    assert {index_fast[k]: v for k, v in fast._held.items()} == {
        index_slow[k]: v for k, v in slow._held.items()
    }


def test_a_delay_fault_holds_the_same_frames_of_a_fan_out() -> None:
    injector, stats = _injector()
    conns, outs = _connections(3)
    injector.delay_frames(4, 2.0)
    injector.send_each(conns, (b"closed", b"current"))
    # Connection by connection, frame by frame: the first four frames are held.
    assert outs == [[], [], [b"closed", b"current"]]
    assert [[data for _, data in held] for held in injector._held.values()] == [
        [b"closed", b"current"],
        [b"closed", b"current"],
    ]
    assert stats["frames_out"] == 2
    injector.send_each(conns, (b"next",))  # the fault is spent: the fast path
    assert outs == [[b"next"], [b"next"], [b"closed", b"current", b"next"]]
    assert stats["frames_out"] == 5


_SPECS = [
    catalog.subscription(name) for name in ("candle-generated", "quote-generated", "traders-mood-changed")
]
_FIELDS = ("active_id", "size", "asset_id")
_entries = st.builds(
    lambda spec, filters: SubscriptionEntry(spec, tuple(sorted(filters.items()))),
    st.sampled_from(_SPECS),
    st.dictionaries(st.sampled_from(_FIELDS), st.one_of(st.none(), st.integers(1, 4)), max_size=2),
)
_operations = st.lists(
    st.tuples(st.sampled_from(["subscribe", "unsubscribe", "remove"]), st.integers(0, 3), _entries),
    max_size=40,
)


def _scan(hub: Hub, push_name: str, field_name: str) -> set[Any]:
    """``keys_for`` as it was: every connection's every subscription, looked at."""
    values = set()
    for conn in hub.connections.values():
        for entry in conn.subscriptions:
            if entry.spec.push_name == push_name:
                value = dict(entry.filters).get(field_name)
                if value is not None:
                    values.add(value)
    return values


@given(operations=_operations)
def test_keys_for_is_a_scan_of_every_subscription(
    operations: list[tuple[str, int, SubscriptionEntry]],
) -> None:
    hub = Hub()
    conns, _ = _connections(4)
    for conn in conns:
        hub.add(conn)
    for verb, index, entry in operations:
        conn = conns[index]
        if verb == "subscribe":
            if conn.conn_id not in hub.connections:
                hub.add(conn)
            hub.subscribe(conn, entry)
        elif verb == "unsubscribe":
            hub.unsubscribe(conn, entry)
        else:
            hub.remove(conn)
        for spec in _SPECS:
            assert spec is not None
            for field_name in _FIELDS:
                assert hub.keys_for(spec.push_name, field_name) == _scan(hub, spec.push_name, field_name)
