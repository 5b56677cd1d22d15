"""Fuzzing at CI size: 20,000 mutated and generated frames (``make fuzz`` runs 1,000,000)."""

from __future__ import annotations

import json
import tracemalloc

from run_fuzz import run_fuzz

from iqwire.protocol import Push, Session

FRAMES = 20_000


def test_twenty_thousand_hostile_frames_raise_nothing_but_protocol_error() -> None:
    result = run_fuzz(FRAMES, seed=9, hang=1.0, trace=True)
    report = f"{result.line()}\n{result.details()}"
    assert result.crashes == 0, report
    assert result.hangs == 0, report
    assert result.protocol_errors > FRAMES // 4, report  # the mutations reach the error paths
    assert result.decoded > FRAMES // 10, report  # ... and the happy paths
    assert result.events.get("Response", 0) > 0 and result.events.get("Push", 0) > 0, report
    assert result.events.get("MalformedFrame", 0) > 0, report
    assert result.peak_bytes < 64 * 2**20, report  # bounded: frames are at most ~1 MiB each
    assert result.retained_bytes < 8 * 2**20, report


def test_the_fuzzer_is_deterministic_per_seed() -> None:
    first, second = run_fuzz(500, seed=4, trace=False), run_fuzz(500, seed=4, trace=False)
    assert (first.decoded, first.protocol_errors, first.events) == (
        second.decoded,
        second.protocol_errors,
        second.events,
    )


def test_pushes_with_ever_new_names_do_not_grow_the_session() -> None:
    session = _ready()
    for i in range(200):  # warm up
        session.receive(b'{"name":"made-up-%d","msg":{}}' % i)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(10_000):
            name = f"made-up-{i}-" + "x" * 1000
            events = session.receive(json.dumps({"name": name, "msg": {"n": i}}).encode())
            assert isinstance(events[0], Push)
        del events
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert retained < 256 * 1024, f"{retained} bytes kept after 10,000 pushes of unknown names"


def _ready() -> Session:
    session = Session()
    session.authenticate("fuzz-ssid")
    (auth_id,) = session.pending
    session.receive(json.dumps({"name": "authenticated", "request_id": auth_id, "msg": True}).encode())
    return session
