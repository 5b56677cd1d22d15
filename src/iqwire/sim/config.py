"""The simulator's configuration: accounts, cadences and switches, loadable from TOML."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DEMO_EMAIL", "DEMO_PASSWORD", "AccountConfig", "SimConfig", "load_config"]

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo"


@dataclass(frozen=True)
class AccountConfig:
    """One user of the simulator: real, demo and tournament balances, and a marginal demo balance."""

    email: str
    password: str
    user_id: int
    first_name: str = "Demo"
    last_name: str = "Trader"
    currency: str = "USD"
    real_amount: float = 0.0
    demo_amount: float = 10_000.0
    tournament_amount: float = 1_000.0
    margin_amount: float = 10_000.0
    two_factor_code: str | None = None

    def __repr__(self) -> str:
        # Never show the password.
        return f"AccountConfig(email={self.email!r}, user_id={self.user_id})"


def default_accounts() -> tuple[AccountConfig, ...]:
    """The built-in accounts: the demo user, a second user, and one with two-factor login."""
    return (
        AccountConfig(DEMO_EMAIL, DEMO_PASSWORD, 141_527_657, real_amount=100.0),
        AccountConfig("trader2@example.com", "trader2", 141_527_658, first_name="Second"),
        AccountConfig("2fa@example.com", "demo", 141_527_659, first_name="Guarded", two_factor_code="123456"),
    )


@dataclass(frozen=True)
class SimConfig:
    """Everything about a simulator run that is not the seed, clock or address.

    ``push_interval`` is the simulated time between ``candle-generated`` pushes of a
    forming candle; ``timesync_interval`` between heartbeats; ``mood_interval``
    between traders'-mood updates. ``commission_changes`` turns on a seeded random
    schedule of payout changes (off by default so tests see fixed payouts).
    """

    accounts: tuple[AccountConfig, ...] = field(default_factory=default_accounts)
    push_interval: float = 0.25
    timesync_interval: float = 1.0
    mood_interval: float = 5.0
    commission_changes: bool = False
    commission_change_interval: float = 900.0
    expiry_tolerance: int = 2
    faults: str | None = None


def load_config(path: str | Path) -> SimConfig:
    """Read a TOML file: top-level keys of :class:`SimConfig`, ``[[accounts]]`` tables.

    Raises:
        ValueError: an unknown key or a wrong value.
    """
    data: dict[str, Any] = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    accounts_data = data.pop("accounts", None)
    known = set(SimConfig.__dataclass_fields__) - {"accounts"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown simulator setting(s): {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = dict(data)
    if accounts_data is not None:
        try:
            kwargs["accounts"] = tuple(AccountConfig(**entry) for entry in accounts_data)
        except TypeError as exc:
            raise ValueError(f"bad [[accounts]] entry: {exc}") from exc
    return SimConfig(**kwargs)
