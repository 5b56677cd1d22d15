"""Plain records the bot runtime shares between the runner, the report and the dashboard."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from iqwire.models import Outcome

__all__ = ["OpenTrade", "RunState", "TradeRecord"]


@dataclass(frozen=True)
class TradeRecord:
    """One closed trade, as the report and the CSV export see it."""

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


@dataclass
class RunState:
    """Everything a live view of a run shows; the runner keeps it current."""

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
    guard_state: dict[str, str] = field(default_factory=dict)
    messages: deque[str] = field(default_factory=lambda: deque(maxlen=8))
    #: Closed candles each window still needs before every indicator is warm (0: warm).
    warmup_needed: int = 0
    #: Closed candles the least-filled window holds, while warming up.
    warmup_have: int = 0

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
