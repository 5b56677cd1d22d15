"""Fault injection: what to break, when, and the log line that lets a run be replayed.

:class:`FaultInjector` is the engine's outgoing door: every frame passes through
its :meth:`~FaultInjector.send`, which may hold it (``delay_frames``), and every
fault, commanded or random, is logged at WARNING on ``iqwire.sim`` as
``fault <kind>: <detail> (seed=<seed>, t=<time>)`` and counted.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from iqwire.sim.hub import Connection, Hub

__all__ = ["FAULT_KINDS", "FaultInjector", "FaultState", "RandomFaults", "parse_fault_spec"]

log = logging.getLogger("iqwire.sim")

#: Faults the random mode can inject, with a per-step probability each.
FAULT_KINDS = ("disconnect", "delay", "drop_response", "malformed", "silence", "refuse", "ignore_request")


@dataclass
class FaultState:
    """Faults armed now (by a test's control call or by the random mode)."""

    drop_responses: dict[str, int] = field(default_factory=dict)
    drop_any_responses: int = 0
    delay_frames: int = 0
    delay_seconds: float = 0.0
    silent_until: float = float("-inf")
    refuse_until: float = float("-inf")
    ignore_requests: dict[str, int] = field(default_factory=dict)
    ignore_any_requests: int = 0

    def take_dropped_response(self, rpc: str) -> bool:
        """Whether the reply to this RPC is to be swallowed (and count it down)."""
        remaining = self.drop_responses.get(rpc, 0)
        if remaining > 0:
            self.drop_responses[rpc] = remaining - 1
            return True
        if self.drop_any_responses > 0:
            self.drop_any_responses -= 1
            return True
        return False

    def take_ignored_request(self, rpc: str) -> bool:
        """Whether this request is to be ignored entirely (and count it down)."""
        remaining = self.ignore_requests.get(rpc, 0)
        if remaining > 0:
            self.ignore_requests[rpc] = remaining - 1
            return True
        if self.ignore_any_requests > 0:
            self.ignore_any_requests -= 1
            return True
        return False


def parse_fault_spec(spec: str) -> dict[str, float]:
    """``"disconnect=0.001,malformed=0.01"`` → per-step probabilities.

    Raises:
        ValueError: an unknown fault or a probability outside [0, 1].
    """
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in FAULT_KINDS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULT_KINDS)}")
        try:
            rate = float(value)
        except ValueError:
            raise ValueError(f"fault {name!r} needs a probability, e.g. {name}=0.01") from None
        if not 0 <= rate <= 1:
            raise ValueError(f"fault {name!r}: probability {rate} is not within [0, 1]")
        rates[name] = rate
    return rates


class RandomFaults:
    """Seeded random faults: each step draws, in a fixed order, which faults fire."""

    def __init__(self, spec: str, seed: int) -> None:
        self.rates = parse_fault_spec(spec)
        self.seed = seed
        self._random = random.Random(f"faults:{seed}")

    def draw(self) -> list[str]:
        """The faults that fire at this step."""
        return [
            kind for kind in FAULT_KINDS if kind in self.rates and self._random.random() < self.rates[kind]
        ]

    def uniform(self, low: float, high: float) -> float:
        """A seeded draw for a fault's parameter (a delay, a duration)."""
        return self._random.uniform(low, high)


class FaultInjector:
    """Commanded and random faults, applied to the hub's connections and outgoing frames.

    ``stats`` is the engine's counter dict (``frames_out`` and ``faults`` are kept
    here); ``now`` reads the engine's time.
    """

    def __init__(
        self, hub: Hub, seed: int, spec: str | None, stats: dict[str, int], now: Callable[[], float]
    ) -> None:
        self.hub = hub
        self.seed = seed
        self.stats = stats
        self.now = now
        self.state = FaultState()
        self.random = RandomFaults(spec, seed) if spec else None
        self._held: dict[int, list[tuple[float, bytes]]] = {}

    # -- the outgoing door -----------------------------------------------------------

    def send(self, conn: Connection, data: bytes) -> None:
        """Send a frame, unless a ``delay_frames`` fault holds it for later."""
        if self.state.delay_frames > 0:
            self.state.delay_frames -= 1
            self._held.setdefault(conn.conn_id, []).append((self.now() + self.state.delay_seconds, data))
            return
        self.stats["frames_out"] += 1
        conn.send(data)

    def send_each(self, conns: Collection[Connection], frames: Sequence[bytes]) -> None:
        """Send the same frames, in order, to each connection: what :meth:`send` does for each pair.

        The fan-out of a stream: without a ``delay_frames`` fault armed, each
        connection's ``send`` is called directly; with one, frame by frame through
        :meth:`send`, connection by connection, so the same frames are held.
        """
        if self.state.delay_frames > 0:
            for conn in list(conns):
                for data in frames:
                    self.send(conn, data)
            return
        targets = list(conns)
        self.stats["frames_out"] += len(targets) * len(frames)
        for data in frames:
            for conn in targets:
                conn.send(data)

    def release_due(self, now: float) -> None:
        """Send the held frames whose delay is over."""
        if not self._held:
            return
        for conn_id in list(self._held):
            conn = self.hub.connections.get(conn_id)
            frames = self._held[conn_id]
            due = [f for f in frames if f[0] <= now]
            self._held[conn_id] = [f for f in frames if f[0] > now]
            if not self._held[conn_id]:
                del self._held[conn_id]
            if conn is not None:
                for _, data in due:
                    self.stats["frames_out"] += 1
                    conn.send(data)

    # -- faults ----------------------------------------------------------------------

    def record(self, kind: str, detail: str) -> None:
        """Count a fault and log the line that replays it."""
        self.stats["faults"] += 1
        log.warning("fault %s: %s (seed=%s, t=%.3f)", kind, detail, self.seed, self.now())

    def drop_connections(self, user_id: int | None = None) -> int:
        """Close every connection (or one user's) now; returns how many."""
        victims = [
            c
            for c in self.hub.connections.values()
            if user_id is None or (c.user and c.user.user_id == user_id)
        ]
        for conn in victims:
            conn.close()
        self.record("disconnect", f"{len(victims)} connection(s) dropped")
        return len(victims)

    def send_malformed(self) -> None:
        """Send a frame that is not JSON to every connection."""
        for conn in list(self.hub.connections.values()):
            self.send(conn, b'{"name": "candle-generated", "msg": {"id": ')
        self.record("malformed", "a truncated frame sent to every connection")

    def delay_frames(self, count: int, seconds: float) -> None:
        """Hold the next ``count`` outgoing frames for ``seconds`` (later frames overtake them)."""
        self.state.delay_frames = count
        self.state.delay_seconds = seconds
        self.record("delay", f"next {count} frame(s) held {seconds:.2f}s")

    def drop_responses(self, rpc: str | None = None, count: int = 1) -> None:
        """Execute the next ``count`` requests (of ``rpc``, or any) but swallow their replies."""
        if rpc is None:
            self.state.drop_any_responses += count
        else:
            self.state.drop_responses[rpc] = self.state.drop_responses.get(rpc, 0) + count
        self.record("drop_response", f"next {count} repl(ies) to {rpc or 'any RPC'} will be swallowed")

    def ignore_requests(self, rpc: str | None = None, count: int = 1) -> None:
        """Ignore the next ``count`` requests (of ``rpc``, or any): neither executed nor answered."""
        if rpc is None:
            self.state.ignore_any_requests += count
        else:
            self.state.ignore_requests[rpc] = self.state.ignore_requests.get(rpc, 0) + count
        self.record("ignore_request", f"next {count} request(s) to {rpc or 'any RPC'} will be ignored")

    def silence(self, seconds: float) -> None:
        """Stop sending ``timeSync`` for ``seconds`` of simulated time."""
        self.state.silent_until = self.now() + seconds
        self.record("silence", f"no timeSync for {seconds:.1f}s")

    def refuse_connections(self, seconds: float) -> None:
        """Refuse new connections for ``seconds`` of simulated time."""
        self.state.refuse_until = self.now() + seconds
        self.record("refuse", f"new connections refused for {seconds:.1f}s")

    def draw_random(self) -> None:
        """Draw this step's random faults (random mode only) and inject them."""
        if self.random is None:
            return
        for kind in self.random.draw():
            if kind == "disconnect":
                self.drop_connections()
            elif kind == "delay":
                self.delay_frames(int(self.random.uniform(1, 10)), self.random.uniform(0.1, 2.0))
            elif kind == "drop_response":
                self.drop_responses(None, 1)
            elif kind == "malformed":
                self.send_malformed()
            elif kind == "silence":
                self.silence(self.random.uniform(5, 70))
            elif kind == "refuse":
                self.refuse_connections(self.random.uniform(1, 5))
            elif kind == "ignore_request":
                self.ignore_requests(None, 1)
