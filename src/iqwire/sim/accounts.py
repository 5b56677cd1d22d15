"""Users, their balances, and the SSIDs that log them in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from iqwire.models import Balance, BalanceType, Profile
from iqwire.sim.config import AccountConfig

__all__ = ["Accounts", "LoginResult", "User"]


@dataclass
class _BalanceState:
    id: int
    type: BalanceType
    amount: float
    currency: str
    user_id: int
    is_marginal: bool = False

    def model(self) -> Balance:
        return Balance(
            id=self.id,
            type=self.type,
            amount=round(self.amount, 2),
            currency=self.currency,
            user_id=self.user_id,
            bonus_amount=0.0,
            is_marginal=self.is_marginal,
        )


class User:
    """A simulator user and the balances it owns."""

    def __init__(self, config: AccountConfig, first_balance_id: int) -> None:
        self.config = config
        self.user_id = config.user_id
        self.balances: dict[int, _BalanceState] = {}
        for offset, (kind, amount) in enumerate(
            (
                (BalanceType.REAL, config.real_amount),
                (BalanceType.DEMO, config.demo_amount),
                (BalanceType.TOURNAMENT, config.tournament_amount),
            )
        ):
            balance_id = first_balance_id + offset
            self.balances[balance_id] = _BalanceState(balance_id, kind, amount, config.currency, self.user_id)
        # The margin service's own demo account, after the options balances (type 4, ``is_marginal``).
        margin_id = first_balance_id + 3
        self.balances[margin_id] = _BalanceState(
            margin_id, BalanceType.DEMO, config.margin_amount, config.currency, self.user_id, is_marginal=True
        )

    def __repr__(self) -> str:
        return f"User(user_id={self.user_id})"

    def balance_models(self, types: set[int] | None = None) -> list[Balance]:
        """The balances as wire models, optionally only some types."""
        return [b.model() for b in self.balances.values() if types is None or int(b.type) in types]

    def balance(self, balance_id: int) -> _BalanceState | None:
        """A balance of this user, or ``None`` (another user's id is ``None`` too)."""
        return self.balances.get(balance_id)

    def balance_of_type(self, kind: BalanceType) -> _BalanceState:
        """The options balance of a type (every user has one of each)."""
        return next(b for b in self.balances.values() if b.type is kind and not b.is_marginal)

    def marginal_balance(self) -> _BalanceState:
        """The user's marginal demo balance (every user has one)."""
        return next(b for b in self.balances.values() if b.is_marginal)

    def profile(self) -> Profile:
        """The ``core.get-profile`` result."""
        demo = self.balance_of_type(BalanceType.DEMO)
        return Profile(
            user_id=self.user_id,
            email=self.config.email,
            first_name=self.config.first_name,
            last_name=self.config.last_name,
            nickname=self.config.first_name.lower(),
            currency=self.config.currency,
            currency_char="$",
            balance_id=demo.id,
            country_id=194,
            locale="en_US",
            tz="UTC",
            is_demo_account=False,
            balances=self.balance_models(),
        )


@dataclass(frozen=True)
class LoginResult:
    """What an HTTP login produced: an SSID, or a 2FA token, or a refusal."""

    ssid: str | None = None
    two_factor_token: str | None = None

    def __repr__(self) -> str:
        return f"LoginResult(ok={self.ssid is not None}, two_factor={self.two_factor_token is not None})"


class Accounts:
    """Every user of the simulator and the live SSIDs (128-bit random tokens)."""

    def __init__(self, configs: tuple[AccountConfig, ...]) -> None:
        self.users: dict[int, User] = {}
        self._by_email: dict[str, User] = {}
        for index, config in enumerate(configs):
            user = User(config, 1_090_667_706 + index * 10)
            self.users[user.user_id] = user
            self._by_email[config.email.lower()] = user
        self._ssids: dict[str, int] = {}
        self._pending_2fa: dict[str, int] = {}

    def login(self, identifier: str, password: str) -> LoginResult | None:
        """Check credentials; ``None`` when they are wrong."""
        user = self._by_email.get(identifier.strip().lower())
        if user is None or not secrets.compare_digest(user.config.password, password):
            return None
        if user.config.two_factor_code is not None:
            token = secrets.token_hex(16)
            self._pending_2fa[token] = user.user_id
            return LoginResult(two_factor_token=token)
        return LoginResult(ssid=self.issue_ssid(user.user_id))

    def verify_two_factor(self, token: str, code: str) -> str | None:
        """Exchange a 2FA token and the right code for an SSID; ``None`` otherwise."""
        user_id = self._pending_2fa.get(token)
        if user_id is None:
            return None
        expected = self.users[user_id].config.two_factor_code or ""
        if not secrets.compare_digest(expected, code):
            return None
        del self._pending_2fa[token]
        return self.issue_ssid(user_id)

    def issue_ssid(self, user_id: int) -> str:
        """A fresh SSID for a user."""
        ssid = secrets.token_hex(16)
        self._ssids[ssid] = user_id
        return ssid

    def user_for_ssid(self, ssid: str) -> User | None:
        """The user an SSID belongs to, or ``None`` for an unknown or expired one."""
        user_id = self._ssids.get(ssid)
        return None if user_id is None else self.users[user_id]

    def logout(self, ssid: str) -> bool:
        """Expire an SSID; ``True`` if it was live."""
        return self._ssids.pop(ssid, None) is not None

    def by_email(self, email: str) -> User | None:
        """A user by e-mail (case-insensitive)."""
        return self._by_email.get(email.lower())
