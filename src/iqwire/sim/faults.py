"""Fault injection: what to break, when, and the log line that lets a run be replayed."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

__all__ = ["FAULT_KINDS", "FaultState", "RandomFaults", "parse_fault_spec"]

log = logging.getLogger("iqwire.sim.faults")

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
