"""Entry 9, digital strike prices at scale: one instrument's prices for N subscribers.

A headless simulator engine (no sockets) steps through simulated time on its push
cadence with N connections subscribed to the live prices of the same digital
instrument (``digital-option-client-price-generated``). The prices are computed
once per instrument and step and encoded once; each extra subscriber only costs
handing the same bytes to one more connection. Measured: the engine's time per
simulated second with N subscribers, against the same with one subscriber (the
baseline: pricing and encoding). Goal: 2000 subscribers cost at most 10x one.

Run: ``python bench/bench_sim_digital.py [--quick] [--subscribers 2000]``.
"""

from __future__ import annotations

import json
import statistics
import time

from _common import START, entry, log, parser

from iqwire.sim.config import SimConfig
from iqwire.sim.engine import Engine
from iqwire.sim.hub import Connection

SECONDS = 20


def engine_with(subscribers: int) -> tuple[Engine, list[bytes]]:
    """An engine with ``subscribers`` connections watching one 5-minute instrument's prices."""
    engine = Engine(7, SimConfig(), START)
    out: list[bytes] = []
    user = engine.accounts.by_email("demo@example.com")
    assert user is not None
    ssid = engine.accounts.issue_ssid(user.user_id)
    index = (START // 300 + 1) * 300 // 60 * 1000 + 5
    auth = {"name": "authenticate", "request_id": "1", "msg": {"ssid": ssid, "protocol": 3}}
    filters = {"asset_id": 76, "instrument_index": index, "instrument_type": "digital-option"}
    sub = {
        "name": "subscribeMessage",
        "request_id": "2",
        "msg": {
            "name": "trading-settings.digital-option-client-price-generated",
            "version": "1.0",
            "params": {"routingFilters": filters},
        },
    }
    for _ in range(subscribers):
        conn = Connection(send=out.append, close=lambda: None)
        engine.connect(conn, START)
        engine.handle(conn, json.dumps(auth).encode(), START)
        engine.handle(conn, json.dumps(sub).encode(), START)
    out.clear()
    return engine, out


def seconds_per_simulated_second(subscribers: int, repeats: int) -> tuple[float, int]:
    runs, frames = [], 0
    for _ in range(repeats):
        engine, out = engine_with(subscribers)
        started = time.perf_counter()
        engine.advance_to(START + SECONDS)
        runs.append((time.perf_counter() - started) / SECONDS)
        frames = sum(1 for data in out if b"digital-option-client-price-generated" in data)
    return statistics.median(runs), frames


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--subscribers", type=int, default=2000)
    args = p.parse_args()
    subscribers = 20 if args.quick else args.subscribers
    repeats = args.repeats or (1 if args.quick else 5)
    one, one_frames = seconds_per_simulated_second(1, repeats)
    many, many_frames = seconds_per_simulated_second(subscribers, repeats)
    log(
        f"digital prices: 1 subscriber {one * 1000:.2f} ms per simulated second ({one_frames} pushes); "
        f"{subscribers}: {many * 1000:.2f} ms ({many_frames} pushes, "
        f"{(many - one) / max(1, subscribers - 1) * 1e6:.2f} us per extra subscriber per second)"
    )
    entry(
        f"sim digital prices: {subscribers} subscribers vs 1 (engine time per simulated s)",
        many,
        one,
        "s",
        None if args.quick else "<= 10.0",
        pushes=many_frames,
    )


if __name__ == "__main__":
    main()
