"""Plain records the bot runtime shares between the runner, the report and the dashboard."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from iqwire.models import Outcome

__all__ = ["GuardView", "OpenTrade", "RunState", "TradeRecord"]

#: How a frozen record's ``__init__`` sets its fields (its own ``__setattr__`` refuses).
_set_frozen = object.__setattr__


@dataclass(frozen=True, init=False)
class TradeRecord:
    """One closed trade, as the report and the CSV export see it.

    Frozen (hashable, compared by value). Its ``__init__`` is written out rather
    than generated: a frozen dataclass's sets the twelve fields one
    ``object.__setattr__`` call at a time (1.3 µs per record, a backtest builds one
    per trade); this one sets the instance's dict in one step (0.5 µs). The fields,
    their order and the default are the dataclass's (a test compares the two).
    """

    id: int
    active_id: int
    direction: str
    amount: float
    payout: float
    opened_at: float
    expires_at: float
    open_price: float
    close_price: float | None
    outcome: Outcome
    pnl: float
    product: str = "blitz"

    def __init__(
        self,
        id: int,
        active_id: int,
        direction: str,
        amount: float,
        payout: float,
        opened_at: float,
        expires_at: float,
        open_price: float,
        close_price: float | None,
        outcome: Outcome,
        pnl: float,
        product: str = "blitz",
    ) -> None:
        _set_frozen(
            self,
            "__dict__",
            {
                "id": id,
                "active_id": active_id,
                "direction": direction,
                "amount": amount,
                "payout": payout,
                "opened_at": opened_at,
                "expires_at": expires_at,
                "open_price": open_price,
                "close_price": close_price,
                "outcome": outcome,
                "pnl": pnl,
                "product": product,
            },
        )


@dataclass
class OpenTrade:
    """A trade waiting for its expiry.

    ``opened_at`` and ``payout`` are the server's terms when known; ``reconciled``
    says the answer was lost and the trade was found on the server instead;
    ``intent_id`` is its row in the journal, when the run keeps one.
    """

    id: int
    active_id: int
    direction: str
    amount: float
    expires_at: float
    open_price: float
    opened_at: float | None = None
    payout: float | None = None
    reconciled: bool = False
    intent_id: int | None = None
    product: str = "blitz"
    #: A digital option's strike (``None``: other products).
    strike: float | None = None


class GuardView(Protocol):
    """What :attr:`RunState.guard_state` is described by (:class:`iqwire.bot.risk.RiskGuard`)."""

    def describe(self, now: float) -> dict[str, str]:
        """The guards' state at ``now``, for the dashboard."""
        ...


@dataclass
class RunState:
    """Everything a live view of a run shows; the runner keeps it current.

    ``guard_state`` is the risk guards' state as of the run's last guarded event
    (a buy, a refusal, a close): the runner marks it with :meth:`guard_changed`
    and the dict is built when something reads it (the dashboard a few times a
    second), not on every trade of a backtest.
    """

    mode: str = "paper"
    server_time: float = 0.0
    connection: str = "disconnected"
    balance: float | None = None
    currency: str = "USD"
    prices: dict[int, deque[float]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    open_trades: dict[int, OpenTrade] = field(default_factory=dict)
    closed: list[TradeRecord] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)
    _guard_state: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    # The guard and the time of its last change, until guard_state is next read.
    _guard: GuardView | None = field(default=None, init=False, repr=False, compare=False)
    _guard_at: float = field(default=0.0, init=False, repr=False, compare=False)
    messages: deque[str] = field(default_factory=lambda: deque(maxlen=8))
    #: Closed candles each window still needs before every indicator is warm (0: warm).
    warmup_needed: int = 0
    #: Closed candles the least-filled window holds, while warming up.
    warmup_have: int = 0

    @property
    def guard_state(self) -> dict[str, str]:
        """The risk guards' state for the dashboard (open trades, the day's P&L, streak, cool-down)."""
        guard = self._guard
        if guard is not None:
            self._guard_state = guard.describe(self._guard_at)
            self._guard = None
        return self._guard_state

    @guard_state.setter
    def guard_state(self, value: dict[str, str]) -> None:
        self._guard_state = value
        self._guard = None

    def guard_changed(self, guard: GuardView, now: float) -> None:
        """The guard changed at ``now``: ``guard_state`` reads ``guard.describe(now)`` next time."""
        self._guard = guard
        self._guard_at = now

    @property
    def warming_up(self) -> bool:
        """Whether some indicator still waits for candles."""
        return self.warmup_have < self.warmup_needed

    def record_price(self, active_id: int, price: float, keep: int = 60) -> None:
        """Remember a price for the sparkline (the newest ``keep``)."""
        series = self.prices.get(active_id)
        if series is None:
            series = self.prices[active_id] = deque(maxlen=keep)
        series.append(price)

    @property
    def pnl(self) -> float:
        """Realised P&L of the run."""
        return round(sum(t.pnl for t in self.closed), 2)

    @property
    def wins(self) -> int:
        """Trades won."""
        return sum(1 for t in self.closed if t.outcome is Outcome.WIN)

    @property
    def win_rate(self) -> float | None:
        """Wins over decided trades (refunds excluded), or ``None`` before any."""
        decided = sum(1 for t in self.closed if t.outcome in (Outcome.WIN, Outcome.LOSS))
        return None if decided == 0 else self.wins / decided
