"""What a live or paper run produced, and what it leaves open on the server.

Example::

    result = await LiveSession(client, strategy, margin=MarginLimits()).run(duration=60)
    print(result.report.summary_line())
    if result.open_margin:
        print("still open:", describe_open_margin(result.open_margin))
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iqwire.bot.journal import is_margin
from iqwire.bot.margin import MarginTicket
from iqwire.bot.records import RunState
from iqwire.bot.recovery import Recovery
from iqwire.bot.report import Report
from iqwire.models import Balance

__all__ = ["LiveResult", "describe_open_margin"]


@dataclass
class LiveResult:
    """What a live or paper run produced.

    ``unsettled`` counts the trades still open at the end: option trades that did not
    settle within ``settle_timeout``, and margin positions and pending margin orders,
    which do not expire — a run never closes them, so they stay open on the server
    (``open_margin`` lists them). ``margin_start``/``margin_end``: the marginal balance
    at the start and the end of a run that traded margin (``None`` otherwise).
    """

    report: Report
    state: RunState
    balance_id: int | None
    start_balance: float | None
    end_balance: float | None
    unsettled: int
    recovery: Recovery | None = None
    open_margin: list[MarginTicket] = field(default_factory=list)
    margin_start: Balance | None = None
    margin_end: Balance | None = None

    @property
    def traded_margin(self) -> bool:
        """Whether the run placed or followed a margin order."""
        return self.margin_start is not None

    @property
    def traded_options(self) -> bool:
        """Whether the run closed an option trade or left one open."""
        return bool(self.state.open_trades) or any(not is_margin(t.product) for t in self.state.closed)


def describe_open_margin(tickets: list[MarginTicket]) -> str:
    """The margin positions and pending orders in ``tickets``, with their ids.

    >>> describe_open_margin([MarginTicket(7, 1, "buy", 1000.0, 100, status="open", position_id=70)])
    '1 margin position (position 70 of order 7)'
    """
    positions = [t for t in tickets if t.status == "open"]
    pending = [t for t in tickets if t.status != "open"]
    parts = []
    if positions:
        ids = ", ".join(f"position {t.position_id} of order {t.id}" for t in positions)
        parts.append(f"{len(positions)} margin position{'s' if len(positions) > 1 else ''} ({ids})")
    if pending:
        ids = ", ".join(f"order {t.id}" for t in pending)
        parts.append(f"{len(pending)} pending margin order{'s' if len(pending) > 1 else ''} ({ids})")
    return " and ".join(parts)
