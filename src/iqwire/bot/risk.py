"""Risk guards that strategies cannot bypass: every buy goes through :meth:`RiskGuard.check`."""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from iqwire.errors import RiskLimitExceeded
from iqwire.models import Outcome

__all__ = ["RiskGuard", "RiskLimits"]

log = logging.getLogger("iqwire.bot.risk")


@dataclass(frozen=True)
class RiskLimits:
    """Per-run limits. ``None`` switches a guard off.

    ``daily_loss_limit`` stops trading for the rest of the UTC day once the day's
    realised loss reaches it; ``cooldown_after_losses`` consecutive losses pause
    trading for ``cooldown_seconds``.
    """

    max_stake: float | None = 100.0
    max_open_trades: int | None = 5
    daily_loss_limit: float | None = 500.0
    max_trades_per_minute: int | None = 10
    cooldown_after_losses: int | None = 3
    cooldown_seconds: float = 300.0
    min_payout: float | None = 70.0

    @classmethod
    def unlimited(cls) -> RiskLimits:
        """Every guard switched off: a backtest of the strategy alone (research, benchmarks).

        Example::

            result = await run_backtest(strategy, series, payouts={76: 88}, limits=RiskLimits.unlimited(),
                                        resolve=resolve_active_id)
        """
        return cls(
            max_stake=None,
            max_open_trades=None,
            daily_loss_limit=None,
            max_trades_per_minute=None,
            cooldown_after_losses=None,
            min_payout=None,
        )

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> RiskLimits:
        """Build from a config table; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown risk setting(s): {', '.join(sorted(unknown))}")
        return cls(**data)


class RiskGuard:
    """Applies :class:`RiskLimits` and counts every refusal by reason."""

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self.refusals: Counter[str] = Counter()
        self._recent: deque[float] = deque()
        self._losing_streak = 0
        self._cooldown_until = float("-inf")
        self._day: float | None = None
        self._day_pnl = 0.0
        self.open_count = 0

    def check(self, *, amount: float, payout: float, now: float) -> str | None:
        """The reason to refuse a trade, or ``None`` to allow it. Refusals are counted and logged."""
        reason = self._reason(amount, payout, now)
        if reason is not None:
            key = reason.split(":", 1)[0]
            self.refusals[key] += 1
            log.info("trade refused: %s", reason)
        return reason

    def require(self, *, amount: float, payout: float, now: float) -> None:
        """As :meth:`check`, but a refusal raises :class:`~iqwire.errors.RiskLimitExceeded`.

        For code that places trades itself (outside a bot's ``Context``, which
        counts refusals instead of raising).

        Example::

            guard.require(amount=10, payout=88, now=client.server_time())

        Raises:
            RiskLimitExceeded: a limit refuses the trade; ``reason`` names the rule.
        """
        reason = self.check(amount=amount, payout=payout, now=now)
        if reason is not None:
            raise RiskLimitExceeded(reason.split(":", 1)[0], reason)

    def _reason(self, amount: float, payout: float, now: float) -> str | None:
        limits = self.limits
        self._roll_day(now)
        if limits.max_stake is not None and amount > limits.max_stake:
            return f"max_stake: {amount:g} is above the limit {limits.max_stake:g}"
        if limits.min_payout is not None and payout < limits.min_payout:
            return f"min_payout: payout {payout:g}% is below {limits.min_payout:g}%"
        if limits.max_open_trades is not None and self.open_count >= limits.max_open_trades:
            return f"max_open_trades: {self.open_count} trades are open"
        account = self._account_reason(now)
        if account is not None:
            return account
        if limits.max_trades_per_minute is not None:
            while self._recent and self._recent[0] <= now - 60:
                self._recent.popleft()
            if len(self._recent) >= limits.max_trades_per_minute:
                return f"max_trades_per_minute: {len(self._recent)} trades in the last minute"
        return None

    def _account_reason(self, now: float) -> str | None:
        limit = self.limits.daily_loss_limit
        if limit is not None and -self._day_pnl >= limit:
            return f"daily_loss_limit: lost {-self._day_pnl:.2f} today; trading stops until 00:00 UTC"
        if now < self._cooldown_until:
            return f"cooldown: {self._losing_streak} losses in a row; paused for {self._cooldown_until - now:.0f}s"
        return None

    def check_account(self, now: float) -> str | None:
        """The account-wide rules only (daily loss limit, cool-down): the reason to refuse, or ``None``.

        For trades that are not options (margin orders: no stake, payout or option
        slot), which still stop with the day's loss and pause after a losing streak.
        A refusal is counted and logged as in :meth:`check`.
        """
        self._roll_day(now)
        reason = self._account_reason(now)
        if reason is not None:
            self.refusals[reason.split(":", 1)[0]] += 1
            log.info("trade refused: %s", reason)
        return reason

    def _roll_day(self, now: float) -> None:
        # The UTC day's number: unix time has no leap seconds, so a day is 86,400 s
        # from midnight UTC (what ``datetime.fromtimestamp(now, UTC).date()`` tells, cheaper).
        day = now // 86_400
        if day != self._day:
            self._day = day
            self._day_pnl = 0.0

    def opened(self, now: float) -> None:
        """A trade was placed."""
        if self.limits.max_trades_per_minute is not None:  # only that rule reads them: no growth without it
            self._recent.append(now)
        self.open_count += 1

    def failed(self) -> None:
        """A trade the guard allowed was not placed after all."""
        if self._recent:
            self._recent.pop()
        self.open_count = max(0, self.open_count - 1)

    def closed(self, outcome: Outcome, pnl: float, now: float) -> None:
        """A trade closed: update the day's P&L and the losing streak."""
        count = self.open_count
        self.open_count = count - 1 if count > 0 else 0  # max(0, count - 1) without the call
        self.realised(outcome, pnl, now)

    def realised(self, outcome: Outcome, pnl: float, now: float) -> None:
        """A trade outside the option slots (a margin position) closed: the day's P&L and the streak only."""
        self._roll_day(now)
        self._day_pnl += pnl
        if outcome is Outcome.LOSS:
            self._losing_streak += 1
            threshold = self.limits.cooldown_after_losses
            if threshold is not None and self._losing_streak >= threshold:
                self._cooldown_until = now + self.limits.cooldown_seconds
                log.info("cooldown: %d losses in a row", self._losing_streak)
        elif outcome is Outcome.WIN:
            self._losing_streak = 0

    def replay(
        self,
        opened: Iterable[float],
        closed: Iterable[tuple[float, Outcome, float]],
        now: float,
        realised: Iterable[tuple[float, Outcome, float]] = (),
    ) -> None:
        """Rebuild the state from earlier trades, so a restart never lifts a limit.

        ``opened`` are the times trades were placed, ``closed`` the (time,
        outcome, pnl) of those that closed; they are applied in time order
        (a placement before a close at the same instant), exactly as the live
        guard saw them: the day's P&L, the losing streak and its cool-down, the
        open count and the trades of the last minute come back as they were.
        Refusal counts start again from zero (they describe a run). ``realised`` are the
        closes of trades that hold no option slot (margin positions: :meth:`realised`).

        Example::

            guard = RiskGuard(limits)
            guard.replay([t.opened_at for t in placed], [(t.closed_at, t.outcome, t.pnl) for t in done], now)
        """
        events: list[tuple[float, int, Outcome | None, float]] = [(t, 0, None, 0.0) for t in opened]
        events += [(t, 1, outcome, pnl) for t, outcome, pnl in closed]
        events += [(t, 2, outcome, pnl) for t, outcome, pnl in realised]
        events.sort(key=lambda e: (e[0], e[1]))
        for at, kind, outcome, pnl in events:
            if kind == 0:
                self.opened(at)
            elif outcome is None:
                raise AssertionError("a close without an outcome")
            elif kind == 1:
                self.closed(outcome, pnl, at)
            else:
                self.realised(outcome, pnl, at)
        self._roll_day(now)
        while self._recent and self._recent[0] <= now - 60:
            self._recent.popleft()

    def describe(self, now: float) -> dict[str, str]:
        """The guards' state, for the dashboard."""
        limits = self.limits
        state = {
            "open": f"{self.open_count}/{limits.max_open_trades if limits.max_open_trades is not None else '∞'}",
            "today": f"{self._day_pnl:+.2f}",
            "streak": str(self._losing_streak),
        }
        if now < self._cooldown_until:
            state["cooldown"] = f"{self._cooldown_until - now:.0f}s"
        return state
