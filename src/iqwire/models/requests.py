"""Bodies of the ``sendMessage`` RPCs the client sends (and the simulator validates).

Optional fields default to ``None`` and are left out of the frame, as the
official SDK does: no field is ever sent as ``null``.
"""

from __future__ import annotations

import msgspec

from iqwire.models.base import Model

__all__ = [
    "ALL_INSTRUMENT_TYPES",
    "EmptyBody",
    "GetActiveBody",
    "GetBalancesBody",
    "GetCandlesBody",
    "GetCurrencyBody",
    "GetFeaturesBody",
    "GetFirstCandlesBody",
    "GetHistoryPositionsBody",
    "GetOrdersBody",
    "GetPositionsBody",
    "GetTradersMoodBody",
]

#: Every instrument type, as the official SDK lists them in portfolio requests.
ALL_INSTRUMENT_TYPES = [
    "binary-option",
    "turbo-option",
    "blitz-option",
    "digital-option",
    "marginal-forex",
    "marginal-cfd",
    "marginal-crypto",
]


class EmptyBody(Model, kw_only=True, frozen=True):
    """``{}``: the body of RPCs that take no parameters."""


class GetBalancesBody(Model, kw_only=True, frozen=True):
    """``internal-billing.get-balances`` 1.0."""

    types_ids: list[int]
    tournaments_statuses_ids: list[int] | None = None


class GetActiveBody(Model, kw_only=True, frozen=True):
    """``get-active``: 1.0 sends ``active_id``, the SDK's 5.0 sends ``id``."""

    active_id: int | None = None
    id: int | None = None

    @property
    def target(self) -> int | None:
        """The active asked for, whichever key carried it."""
        return self.active_id if self.active_id is not None else self.id


class GetCandlesBody(Model, kw_only=True, frozen=True):
    """``get-candles`` / ``quotes-history.get-candles`` 2.0.

    Select by id range (``from_id``/``to_id``, inclusive), by time (``from``/``to``),
    or the last ``count`` up to ``to``. At most 1000 candles per reply.
    """

    active_id: int
    size: int
    from_id: int | None = None
    to_id: int | None = None
    start: int | None = msgspec.field(default=None, name="from")
    end: int | None = msgspec.field(default=None, name="to")
    count: int | None = None
    only_closed: bool | None = None
    split_normalization: bool | None = None
    backoff: int | None = None
    kind: str | None = None


class GetFirstCandlesBody(Model, kw_only=True, frozen=True):
    """``get-first-candles`` 1.0."""

    active_id: int
    split_normalization: bool | None = None


class GetTradersMoodBody(Model, kw_only=True, frozen=True):
    """``get-traders-mood`` 1.0."""

    asset_id: int
    instrument: str


class GetCurrencyBody(Model, kw_only=True, frozen=True):
    """``get-currency`` 5.0."""

    name: str


class GetFeaturesBody(Model, kw_only=True, frozen=True):
    """``features.get-features`` 2.0."""

    category: str | None = None


class GetPositionsBody(Model, kw_only=True, frozen=True):
    """``portfolio.get-positions`` 4.0 (``user_balance_id`` is optional for the SDK)."""

    instrument_types: list[str]
    limit: int
    offset: int
    user_balance_id: int | None = None


class GetOrdersBody(Model, kw_only=True, frozen=True):
    """``portfolio.get-orders`` 2.0."""

    user_balance_id: int | None = None
    kind: str
    instrument_types: list[str] | None = None


class GetHistoryPositionsBody(Model, kw_only=True, frozen=True):
    """``portfolio.get-history-positions`` 1.0 (reference) and 2.0 (SDK)."""

    instrument_types: list[str] | None = None
    user_balance_id: int | None = None
    user_id: int | None = None
    limit: int | None = None
    offset: int | None = None
    end: int | None = None
    external_id: int | None = None
