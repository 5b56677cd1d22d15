"""Account payloads: profile, balances, user settings."""

from __future__ import annotations

from typing import Any

import msgspec

from iqwire.models.base import Model
from iqwire.models.common import BalanceType

__all__ = [
    "Balance",
    "BalanceChanged",
    "Profile",
    "ProfileResponse",
    "UserSettings",
]


class Profile(Model, kw_only=True, frozen=True):
    """The user's profile (``msg.result`` of ``core.get-profile``).

    Example::

        profile = await client.get_profile()
        print(profile.user_id, profile.email)
    """

    user_id: int
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    nickname: str | None = None
    currency: str | None = None
    currency_char: str | None = None
    balance_id: int | None = None
    country_id: int | None = None
    locale: str | None = None
    tz: str | None = None
    is_demo_account: bool | None = None
    balances: list[Balance] | None = None


class ProfileResponse(Model, kw_only=True, frozen=True):
    """The ``profile`` response: the profile is nested under ``result``."""

    result: Profile
    is_successful: bool | None = msgspec.field(default=None, name="isSuccessful")


class Balance(Model, kw_only=True, frozen=True):
    """One balance of the account.

    ``type`` is a :class:`BalanceType`; ``amount`` is in ``currency`` units.
    """

    id: int
    type: BalanceType
    amount: float
    currency: str | None = None
    user_id: int | None = None
    bonus_amount: float | None = None
    is_marginal: bool | None = None
    tournament_id: int | None = None
    tournament_name: str | None = None


class BalanceChanged(Model, kw_only=True, frozen=True):
    """The ``balance-changed`` push: the balance as it is after the change."""

    current_balance: Balance
    user_id: int | None = None


class UserSettings(Model, kw_only=True, frozen=True):
    """The ``user-settings`` response (shape not captured; see protocol-notes)."""

    user_id: int | None = None
    settings: dict[str, Any] | None = None
    timezone: str | None = None
    language: str | None = None
