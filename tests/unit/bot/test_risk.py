"""Risk guards refuse with a reason, count every refusal, and cannot be bypassed."""

from __future__ import annotations

import pytest

from iqwire.bot.risk import RiskGuard, RiskLimits
from iqwire.models import Outcome

NOW = 1_770_899_100.0


def _guard(**limits: object) -> RiskGuard:
    off = {
        "max_stake": None,
        "max_open_trades": None,
        "daily_loss_limit": None,
        "max_trades_per_minute": None,
        "cooldown_after_losses": None,
        "min_payout": None,
    }
    off.update(limits)
    return RiskGuard(RiskLimits(**off))  # type: ignore[arg-type]


def test_everything_off_allows() -> None:
    assert _guard().check(amount=1e6, payout=1, now=NOW) is None


def test_max_stake() -> None:
    guard = _guard(max_stake=50)
    assert guard.check(amount=50, payout=80, now=NOW) is None
    reason = guard.check(amount=51, payout=80, now=NOW)
    assert reason is not None and reason.startswith("max_stake")
    assert guard.refusals["max_stake"] == 1


def test_min_payout() -> None:
    guard = _guard(min_payout=80)
    reason = guard.check(amount=1, payout=79, now=NOW)
    assert reason is not None and reason.startswith("min_payout")


def test_max_open_trades_counts_opened_and_closed() -> None:
    guard = _guard(max_open_trades=2)
    guard.opened(NOW)
    guard.opened(NOW)
    assert guard.check(amount=1, payout=80, now=NOW) == "max_open_trades: 2 trades are open"
    guard.closed(Outcome.WIN, 1, NOW)
    assert guard.check(amount=1, payout=80, now=NOW) is None
    guard.opened(NOW)
    guard.failed()
    assert guard.open_count == 1


def test_max_trades_per_minute_slides() -> None:
    guard = _guard(max_trades_per_minute=3)
    for i in range(3):
        assert guard.check(amount=1, payout=80, now=NOW + i) is None
        guard.opened(NOW + i)
        guard.closed(Outcome.WIN, 1, NOW + i)
    reason = guard.check(amount=1, payout=80, now=NOW + 10)
    assert reason is not None and reason.startswith("max_trades_per_minute")
    assert guard.check(amount=1, payout=80, now=NOW + 61) is None


def test_daily_loss_limit_stops_until_midnight_utc() -> None:
    guard = _guard(daily_loss_limit=25)
    guard.opened(NOW)
    guard.closed(Outcome.LOSS, -30, NOW)
    reason = guard.check(amount=1, payout=80, now=NOW + 60)
    assert reason is not None and reason.startswith("daily_loss_limit")
    next_day = (NOW // 86_400 + 1) * 86_400 + 1
    assert guard.check(amount=1, payout=80, now=next_day) is None


def test_cooldown_after_consecutive_losses() -> None:
    guard = _guard(cooldown_after_losses=2, cooldown_seconds=120)
    guard.closed(Outcome.LOSS, -1, NOW)
    assert guard.check(amount=1, payout=80, now=NOW) is None
    guard.closed(Outcome.LOSS, -1, NOW)
    reason = guard.check(amount=1, payout=80, now=NOW + 60)
    assert reason is not None and reason.startswith("cooldown")
    assert guard.check(amount=1, payout=80, now=NOW + 121) is None
    assert guard.refusals == {"cooldown": 1}
    assert "streak" in guard.describe(NOW)


def test_unknown_setting_is_an_error() -> None:
    with pytest.raises(ValueError, match="max_stak"):
        RiskLimits.from_mapping({"max_stak": 10})


def test_without_a_per_minute_limit_placements_are_not_kept() -> None:
    # A bot trading for weeks without max_trades_per_minute kept every placement time.
    guard = RiskGuard(RiskLimits.unlimited())
    for n in range(1_000):
        guard.opened(float(n))
        guard.closed(Outcome.WIN, 1.0, float(n))
    assert len(guard._recent) == 0
    limited = RiskGuard(RiskLimits(max_trades_per_minute=5))
    for n in range(1_000):
        limited.opened(float(n))
    assert limited.check(amount=1, payout=85, now=999.5) is not None  # still counted where the rule is on
