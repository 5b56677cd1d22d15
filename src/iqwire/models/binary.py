"""Turbo and binary options beyond the purchase: early sale, live sale prices, the old client's pushes.

The purchase itself is :class:`iqwire.models.OpenOptionRequest` / :class:`~iqwire.models.Option`
(the same RPC as blitz, ``option_type_id`` 3 turbo or 1 binary).
"""

from __future__ import annotations

from iqwire.models.base import Model

__all__ = [
    "ListInfoItem",
    "OptionClosed",
    "OptionSpecial",
    "PositionState",
    "PositionsState",
    "SellOptionsBody",
    "SoldOption",
    "SoldOptions",
    "SubscribePositionsBody",
]


class SellOptionsBody(Model, kw_only=True, frozen=True):
    """``binary-options.sell-options`` 3.0 (SDK) and ``sell-options`` 2.0 (community client)."""

    options_ids: list[int]


class SoldOption(Model, kw_only=True, frozen=True):
    """One option of a sale: what it sold for (``amount``), or why it did not."""

    id: int
    amount: float | None = None
    reason: str | None = None


class SoldOptions(Model, kw_only=True, frozen=True):
    """The ``sold-options`` reply of ``sell-options`` 2.0 (shape not captured)."""

    success: bool
    options: list[SoldOption]
    reason: str | None = None


class OptionSpecial(Model, kw_only=True, frozen=True):
    """A binary active's special expiry (``option.special``, keyed by the expiry time)."""

    title: str
    enabled: bool


class SubscribePositionsBody(Model, kw_only=True, frozen=True):
    """``portfolio.subscribe-positions`` 1.0: positions whose state to push, by internal id."""

    frequency: str | None = None
    ids: list[int | str] = []


class PositionState(Model, kw_only=True, frozen=True):
    """One position in a ``positions-state`` push: what it is worth now.

    ``sell_profit`` is what selling (binary/turbo) or closing (digital) it now pays
    back; ``pnl`` is that minus the amount invested.
    """

    id: int | str
    instrument_type: str | None = None
    sell_profit: float | None = None
    current_price: float | None = None
    quote_timestamp: int | None = None
    pnl: float | None = None
    pnl_net: float | None = None
    open_price: float | None = None
    expected_profit: float | None = None
    margin: float | None = None
    currency_conversion: float | None = None


class PositionsState(Model, kw_only=True, frozen=True):
    """The ``positions-state`` push of ``portfolio.positions-state`` 1.0."""

    positions: list[PositionState]
    expires_in: int | None = None
    user_id: int | None = None
    subscription_id: int | str | None = None


class ListInfoItem(Model, kw_only=True, frozen=True):
    """One closed option in the community client's ``listInfoData`` push (``game_state`` 1 = closed)."""

    id: int
    win: str
    game_state: int
    amount: float | None = None
    profit_amount: float | None = None
    active_id: int | None = None
    direction: str | None = None
    exp: int | None = None


class OptionClosed(Model, kw_only=True, frozen=True):
    """The ``option-closed`` push: ``profit_amount`` is what was paid back, ``amount`` the stake."""

    option_id: int
    profit_amount: float
    amount: float
    result: str | None = None
    active_id: int | None = None
    direction: str | None = None
    expiration_time: int | None = None
