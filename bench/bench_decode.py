"""Entry 1, decode: recorded candle frames through ``Session.receive`` vs untyped decoding.

Value: frames/s of ``Session.receive(frame)`` producing ``[Push(payload=Candle)]``.
Baseline: frames/s of ``msgspec.json.decode(frame)`` (untyped dicts) over the same
frames. ``json.loads`` is reported as a second line for scale.

Run: ``python bench/bench_decode.py [--quick]``.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable

import msgspec
from _common import candle_frames, entry, log, median, parser

from iqwire.models import Candle
from iqwire.protocol import Push, Session


def _pass(fn: Callable[[bytes], object], frames: list[bytes]) -> float:
    gc.collect()
    started = time.perf_counter()
    for data in frames:
        fn(data)
    return len(frames) / (time.perf_counter() - started)


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    count = 2_000 if args.quick else 100_000
    repeats = args.repeats or (2 if args.quick else 9)
    frames = candle_frames(count)
    session = Session()
    events = session.receive(frames[0])
    assert len(events) == 1 and isinstance(events[0], Push), events
    assert isinstance(events[0].payload, Candle), events[0]

    typed: list[float] = []
    raw: list[float] = []
    stdlib: list[float] = []
    raw_decode = msgspec.json.decode
    for _ in range(repeats):
        # Interleaved, so a drift of the machine's speed hits every variant alike.
        typed.append(_pass(session.receive, frames))
        raw.append(_pass(raw_decode, frames))
        stdlib.append(_pass(json.loads, frames))
    log(
        f"decode: typed {median(typed):,.0f}/s, msgspec untyped {median(raw):,.0f}/s, json {median(stdlib):,.0f}/s"
    )
    entry(
        "decode: Session.receive vs msgspec.json.decode",
        median(typed),
        median(raw),
        "frames/s",
        None if args.quick else ">= 1.4",
    )
    entry("decode: Session.receive vs json.loads", median(typed), median(stdlib), "frames/s")


if __name__ == "__main__":
    main()
