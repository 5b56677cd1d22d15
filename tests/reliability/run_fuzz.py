#!/usr/bin/env python3
"""Fuzz the protocol core: mutated and generated frames through decode_frame and Session.receive.

Usage (``make fuzz`` runs the million; ``make test`` runs 20,000 in test_fuzz_million.py)::

    python tests/reliability/run_fuzz.py --frames 1000000 --seed 1

It prints ``fuzz: frames=N crashes=0`` and then the figures (frames per second, the
slowest frame, the tracemalloc peak), and exits 1 on any crash or hang.

A crash is any exception from ``decode_frame`` other than ``ProtocolError``, any
exception at all from ``Session.receive``, or an event list that is not exactly the
events the session promises. A hang is a frame that takes longer than ``--hang`` CPU
seconds. Frames come from valid server frames (every push, reply, ACK and error the
session decodes, answering the session's own pending requests) mutated: fields
dropped, retyped, made huge, nested deep, filled with odd unicode; whole frames
truncated, bit-flipped, spliced; plus random JSON and random bytes.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from iqwire.errors import ProtocolError
from iqwire.protocol import Event, Session, decode_frame

#: RPCs the session waits on, so replies are decoded with their typed decoders.
RPCS: list[tuple[str, str, dict[str, Any]]] = [
    ("core.get-profile", "1.0", {}),
    ("internal-billing.get-balances", "1.0", {"types_ids": [1, 4, 2]}),
    ("get-candles", "2.0", {"active_id": 76, "size": 60, "count": 10}),
    ("binary-options.open-option", "2.0", {}),
    ("portfolio.get-positions", "4.0", {}),
    ("portfolio.get-history-positions", "1.0", {}),
    ("get-initialization-data", "4.0", {}),
    ("get-traders-mood", "1.0", {"asset_id": 76}),
    ("get-currency", "5.0", {"name": "USD"}),
    ("binary-options.sell-options", "3.0", {"options_ids": [1]}),
]
SUBSCRIPTIONS: list[tuple[str, dict[str, Any] | None]] = [
    ("candle-generated", {"active_id": 76, "size": 1}),
    ("portfolio.position-changed", {"user_id": 1, "instrument_type": "blitz-option"}),
    ("balance-changed", None),
    ("traders-mood-changed", {"asset_id": 76, "instrument_type": "turbo-option"}),
]

CANDLE = {
    "id": 35209000,
    "from": 1770899100,
    "to": 1770899101,
    "open": 1.08,
    "close": 1.0801,
    "min": 1.0799,
    "max": 1.0802,
    "volume": 0,
    "active_id": 76,
    "size": 1,
    "at": 1770899100750000000,
}
POSITION = {
    "id": 13607084167,
    "external_id": 13607084167,
    "user_id": 141527657,
    "user_balance_id": 1090667707,
    "active_id": 76,
    "instrument_type": "blitz-option",
    "instrument_id": "blitz_EURUSD_OTC",
    "direction": "call",
    "investment": 10.0,
    "invest": 10.0,
    "open_time": 1770899100,
    "open_quote": 1.08,
    "expiration_time": 1770899130,
    "expiration_size": 30,
    "status": "closed",
    "close_reason": "win",
    "result": "win",
    "pnl": 8.8,
    "close_profit": 18.8,
    "profit_amount": 8.8,
    "close_time": 1770899130,
    "expiration_value": 1.081,
    "version": 2,
    "raw_event": {"binary_options_option_changed1": {"order_ids": [13607084167], "direction": "call"}},
}
BALANCE = {"id": 1090667707, "type": 4, "amount": 10000.0, "currency": "USD", "user_id": 141527657}
OPTION = {
    "id": 13607084167,
    "act": 76,
    "direction": "call",
    "price": 10.0,
    "exp": 1770899130,
    "value": 1.08,
    "user_id": 141527657,
    "created": 1770899100,
    "time_rate": 1770899100,
    "type": "blitz",
    "profit_income": 188,
    "profit_return": 0,
}
PROFILE = {"user_id": 141527657, "email": "demo@example.com", "balance_id": 1090667707, "balances": [BALANCE]}
INIT_ACTIVE = {
    "id": 76,
    "name": "front.EURUSD-OTC",
    "ticker": "EURUSD-OTC",
    "enabled": True,
    "is_suspended": False,
    "schedule": [[1770800000, 1771800000]],
    "option": {"profit": {"commission": 12}, "expiration_times": [5, 30], "count": 2},
    "minimal_bet": 1,
    "maximal_bet": 20000,
    "precision": 6,
}


def _templates(pending: list[str]) -> list[dict[str, Any]]:
    """Valid server frames; replies answer the session's pending request ids."""
    rid = lambda i: pending[i % len(pending)] if pending else "1"  # noqa: E731
    return [
        {"name": "timeSync", "msg": 1770899115227},
        {"name": "front", "msg": "ws01.sim.iqwire.local", "session_id": "abc"},
        {"name": "authenticated", "msg": False},
        {"name": "candle-generated", "microserviceName": "quotes", "msg": CANDLE},
        {"name": "position-changed", "microserviceName": "portfolio", "msg": POSITION},
        {"name": "portfolio.position-changed", "msg": POSITION},
        {
            "name": "balance-changed",
            "microserviceName": "balances",
            "msg": {"current_balance": BALANCE, "user_id": 141527657},
        },
        {
            "name": "traders-mood-changed",
            "msg": {"asset_id": 76, "value": 0.55, "instrument": "turbo-option"},
        },
        {"name": "order-changed", "msg": {"id": 1, "status": "filled"}},
        {"name": "result", "request_id": rid(0), "msg": {"success": True}},
        {"name": "result", "request_id": rid(1), "msg": {"success": False, "reason": "no"}},
        {
            "name": "profile",
            "request_id": rid(0),
            "status": 2000,
            "msg": {"result": PROFILE, "isSuccessful": True},
        },
        {"name": "balances", "request_id": rid(1), "status": 2000, "msg": [BALANCE, BALANCE]},
        {"name": "candles", "request_id": rid(2), "status": 2000, "msg": {"candles": [CANDLE, CANDLE]}},
        {"name": "option", "request_id": rid(3), "status": 2000, "msg": OPTION},
        {
            "name": "option",
            "request_id": rid(3),
            "status": 4117,
            "msg": {
                "message": "changed",
                "result": {"actual_commission": {"active_id": 76, "commission": 14, "option_type": 12}},
            },
        },
        {
            "name": "positions",
            "request_id": rid(4),
            "status": 2000,
            "msg": {"positions": [POSITION], "limit": 30, "total": 1},
        },
        {
            "name": "history-positions",
            "request_id": rid(5),
            "status": 2000,
            "msg": {"positions": [POSITION], "limit": 30, "total": 1},
        },
        {
            "name": "initialization-data",
            "request_id": rid(6),
            "status": 2000,
            "msg": {
                "blitz": {"actives": {"76": INIT_ACTIVE}},
                "turbo": {"actives": {}},
                "binary": {"actives": {}},
            },
        },
        {
            "name": "traders-mood",
            "request_id": rid(7),
            "status": 2000,
            "msg": {"asset_id": 76, "value": 0.4, "instrument": "turbo-option"},
        },
        {
            "name": "candles",
            "request_id": rid(2),
            "status": 4220,
            "msg": {"message": "bad", "from": ["future"]},
        },
        {"request_id": rid(8), "msg": {"success": True}},
        {"name": "error", "request_id": rid(9), "status": 4000, "msg": {"message": "bad frame"}},
    ]


ODD_TEXT = [
    "\u202e\u202d",
    "\u200b\u200c\u200d\ufeff",
    "😀" * 50,
    "\ud800",
    "\udfff",
    "\x00\x01\x1f",
    "é" * 1000,
    "𝕏" * 10,
    "\\u0000",
    '"',
    "\\",
    "null",
    "NaN",
    "-0",
    "1e999",
    "９",
    "٣",
]
_NEST = re.compile(rb'"@@NEST(\d+)@@"')
#: Frames generated, then fed (and traced) at a time; each chunk gets a fresh busy session.
CHUNK = 1000
HUGE_NUMBERS = [10**30, -(10**30), 2**63, 2**64, -(2**63) - 1, 1e308, -1e308, 5e-324, 0.1, -0.0]


@dataclass
class FuzzResult:
    """The figures of one fuzz run."""

    frames: int
    crashes: int = 0
    hangs: int = 0
    protocol_errors: int = 0
    decoded: int = 0
    events: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    slowest: float = 0.0
    peak_bytes: int = 0
    retained_bytes: int = 0
    max_rss_kib: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No crash and no hang."""
        return self.crashes == 0 and self.hangs == 0

    def line(self) -> str:
        """The one-line summary ``make fuzz`` prints."""
        return f"fuzz: frames={self.frames} crashes={self.crashes}"

    def details(self) -> str:
        """The other figures."""
        events = ", ".join(f"{k}={v}" for k, v in sorted(self.events.items()))
        lines = [
            f"  hangs={self.hangs} protocol_errors={self.protocol_errors} decoded={self.decoded}",
            f"  session events: {events}",
            f"  {self.frames / max(self.seconds, 1e-9):,.0f} frames/s; slowest frame {self.slowest * 1000:.1f} ms; "
            f"{self.seconds:.1f} s",
            f"  memory: tracemalloc peak {self.peak_bytes / 2**20:.1f} MiB while feeding {CHUNK:,} frames, "
            f"at most {self.retained_bytes / 2**10:.1f} KiB still held after them; "
            f"process max RSS {self.max_rss_kib / 2**10:.0f} MiB",
        ]
        lines += [f"  CRASH {example}" for example in self.examples[:10]]
        return "\n".join(lines)


class Mutator:
    """Seeded frame generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"fuzz:{seed}")

    def value(self, depth: int = 0) -> Any:
        """A random JSON value."""
        rng = self.rng
        roll = rng.random()
        if depth > 3 or roll < 0.5:
            return rng.choice(
                [
                    None,
                    True,
                    False,
                    rng.randint(-5, 5),
                    rng.random() * 1e6,
                    rng.choice(HUGE_NUMBERS),
                    rng.choice(ODD_TEXT),
                    "",
                    "x" * rng.randint(0, 40),
                    rng.randint(-(2**70), 2**70),
                ]
            )
        if roll < 0.75:
            return [self.value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {
            rng.choice(["id", "msg", "name", "request_id", "status", "from", "x", ""]): self.value(depth + 1)
            for _ in range(rng.randint(0, 4))
        }

    def _paths(self, node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        yield path
        if len(path) > 6:
            return
        if isinstance(node, dict):
            for key, child in node.items():
                yield from self._paths(child, (*path, key))
        elif isinstance(node, list):
            for index, child in enumerate(node[:8]):  # a huge list is one target, not 50,000
                yield from self._paths(child, (*path, index))

    def mutate_tree(self, frame: dict[str, Any]) -> Any:
        """Drop, retype, enlarge, nest or garble one to three fields."""
        rng = self.rng
        tree: Any = copy.deepcopy(frame)
        for _ in range(rng.randint(1, 3)):
            paths = [p for p in self._paths(tree) if p]
            if not paths:
                return self.value()
            path = rng.choice(paths)
            parent = tree
            for step in path[:-1]:
                parent = parent[step]
            key = path[-1]
            action = rng.randrange(7)
            if action == 0 and isinstance(parent, dict):
                del parent[key]
            elif action == 1:
                parent[key] = self.value()
            elif action == 2:
                size = rng.choice([1000, 1000, 70_000]) if rng.random() < 0.95 else 1_100_000
                parent[key] = "A" * size if rng.random() < 0.7 else [0] * (size // 20)
            elif action == 3:
                parent[key] = (
                    f"@@NEST{rng.choice([10, 200, 1000, 5000, 5000, 100_000])}@@"  # expanded by encode()
                )
            elif action == 4:
                parent[key] = rng.choice(ODD_TEXT) + str(parent[key])
            elif action == 5:
                parent[key] = rng.choice(HUGE_NUMBERS)
            elif isinstance(parent, dict):
                parent[rng.choice(ODD_TEXT)] = self.value()
        return tree

    def encode(self, tree: Any) -> bytes:
        """JSON bytes, sometimes with invalid escapes or lone surrogates kept as-is."""
        text = json.dumps(tree, ensure_ascii=self.rng.random() < 0.5, allow_nan=True)
        data = text.encode("utf-8", "surrogatepass")
        return _NEST.sub(self._nest, data)

    def _nest(self, match: re.Match[bytes]) -> bytes:
        depth = int(match.group(1))
        opener, closer = (b"[", b"]") if self.rng.random() < 0.5 else (b'{"k":', b"}")
        return opener * depth + b"1" + closer * depth

    def mutate_bytes(self, data: bytes) -> bytes:
        """Truncate, flip, splice or duplicate bytes."""
        rng = self.rng
        action = rng.randrange(5)
        if action == 0 or not data:
            return data[: rng.randint(0, max(0, len(data) - 1))]
        buf = bytearray(data)
        if action == 1:
            for _ in range(rng.randint(1, 8)):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif action == 2:
            cut = rng.randrange(len(buf))
            buf[cut:cut] = rng.choice(
                [b"\xff\xfe", b"\xc0\x80", b"\xed\xa0\x80", b"{", b"}", b'"', b"\x00", b"]"]
            )
        elif action == 3:
            cut = rng.randrange(len(buf))
            buf = buf[:cut] + buf
        else:
            return bytes(buf) * rng.randint(2, 3)
        return bytes(buf)

    def random_bytes(self) -> bytes:
        """Random bytes, sometimes JSON-looking."""
        rng = self.rng
        size = rng.choice([0, 1, 2, 8, 64, 512, 4096])
        raw = rng.randbytes(size)
        return b"{" + raw if rng.random() < 0.3 else raw


def _busy_session() -> tuple[Session, list[str]]:
    session = Session()
    session.authenticate("fuzz-ssid", now=0.0)
    (auth_id,) = session.pending
    session.receive(json.dumps({"name": "authenticated", "request_id": auth_id, "msg": True}).encode())
    ids = [session.set_options(now=0.0)[0]]
    for name, version, body in RPCS:
        ids.append(session.request(name, version, body, now=0.0)[0])
    for name, filters in SUBSCRIPTIONS:
        ids.append(session.subscribe(name, routing_filters=filters, now=0.0)[0])
    return session, ids[1:]


def run_fuzz(frames: int = 1_000_000, seed: int = 1, hang: float = 1.0, trace: bool = True) -> FuzzResult:
    """Feed ``frames`` frames; never raises on a crash (it is counted)."""
    mutator = Mutator(seed)
    rng = mutator.rng
    result = FuzzResult(frames=frames)
    templates: list[dict[str, Any]] = []
    encoded: list[bytes] = []
    generators: list[tuple[float, Callable[[], bytes]]] = [
        (0.45, lambda: mutator.encode(mutator.mutate_tree(rng.choice(templates)))),
        (0.25, lambda: mutator.mutate_bytes(rng.choice(encoded))),
        (0.10, lambda: mutator.random_bytes()),
        (0.10, lambda: mutator.encode(mutator.value())),
        (0.10, lambda: rng.choice(encoded)),
    ]
    began = time.perf_counter()
    try:
        for chunk_start in range(0, frames, CHUNK):
            # A fresh session per chunk: replies consumed the previous one's pending requests.
            session, pending = _busy_session()
            templates[:] = _templates(pending)
            encoded[:] = [json.dumps(t).encode() for t in templates]
            chunk: list[bytes | str] = []
            for _ in range(min(CHUNK, frames - chunk_start)):
                roll = rng.random()
                generate = generators[-1][1]
                for weight, candidate in generators:
                    roll -= weight
                    if roll < 0:
                        generate = candidate
                        break
                data = generate()
                chunk.append(data.decode("utf-8", "surrogateescape") if rng.random() < 0.1 else data)
            # Only feeding is traced: the figure is the protocol core's memory, not the fuzzer's.
            if trace:
                tracemalloc.start()
            for data_in in chunk:
                # CPU time of this thread, not wall time: a hang burns CPU, while a frame
                # that waited for the other processes of a loaded machine did not hang.
                start = time.thread_time()
                _feed(session, data_in, result)
                spent = time.thread_time() - start
                result.slowest = max(result.slowest, spent)
                if spent > hang:
                    result.hangs += 1
                    result.examples.append(f"hang {spent:.2f}s on {data_in[:80]!r}")
            if trace:
                current, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                result.peak_bytes = max(result.peak_bytes, peak)
                result.retained_bytes = max(result.retained_bytes, current)
            del chunk
    finally:
        result.seconds = time.perf_counter() - began
        result.max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return result


def _feed(session: Session, data: bytes | str, result: FuzzResult) -> None:
    try:
        decode_frame(data)
        result.decoded += 1
    except ProtocolError:
        result.protocol_errors += 1
    except BaseException as exc:  # the finding: anything but ProtocolError
        result.crashes += 1
        result.examples.append(f"decode_frame: {type(exc).__name__}: {exc} on {data[:80]!r}")
    try:
        events = session.receive(data)
        if not isinstance(events, list) or not all(isinstance(e, Event) for e in events):
            raise TypeError(f"receive returned {events!r}")
        for event in events:
            kind = type(event).__name__
            result.events[kind] = result.events.get(kind, 0) + 1
    except BaseException as exc:
        result.crashes += 1
        result.examples.append(f"Session.receive: {type(exc).__name__}: {exc} on {data[:80]!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fuzz decode_frame and Session.receive.")
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hang", type=float, default=1.0, help="seconds after which one frame is a hang")
    parser.add_argument("--no-trace", action="store_true", help="skip tracemalloc (faster, no memory figure)")
    args = parser.parse_args(argv)
    result = run_fuzz(args.frames, args.seed, args.hang, trace=not args.no_trace)
    print(result.line())
    print(result.details())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
