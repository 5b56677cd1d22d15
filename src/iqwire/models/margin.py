"""Margin trading payloads (forex, CFD, crypto): instruments, orders, balances, fees.

The platform writes money and quantities in margin bodies as decimal **strings**
(``"1000"``, ``"1.08512"``); the request bodies here accept a string or a number,
as the official SDK sends strings and older clients numbers. Positions and orders
use the shared :class:`~iqwire.models.Position` / :class:`~iqwire.models.Order`,
their margin details under ``raw_event.marginal_<family>_position_changed1``.

Example::

    import msgspec
    body = msgspec.convert({"side": "buy", "user_balance_id": 1, "count": "1000",
                            "instrument_id": "mf.1", "leverage": "100"}, PlaceMarginOrderBody)
    body.count   # '1000'
"""

from __future__ import annotations

import msgspec

from iqwire.models.base import Model

__all__ = [
    "MARGIN_FAMILIES",
    "AvailableLeverages",
    "AvailableLeveragesBody",
    "CancelPendingOrderBody",
    "ChangeTpslBody",
    "MarginClosePositionBody",
    "DynamicLeverageProfile",
    "ExchangeRate",
    "GetInstrumentsListBody",
    "GetOrderBody",
    "GetOvernightFeeBody",
    "GetPositionBody",
    "LegacyGetPositionsBody",
    "LeverageStep",
    "MarginCall",
    "MarginInstrument",
    "MarginInstrumentsList",
    "MarginOrderPlaced",
    "MarginalBalance",
    "MarginalBalanceBody",
    "OvernightFee",
    "PlaceMarginOrderBody",
    "PlaceOrderTempBody",
    "TpSl",
    "Tradable",
    "Underlying",
    "UnderlyingList",
    "UnderlyingSession",
]

#: The margin families: ``marginal-<family>`` is the instrument type, ``<family>`` the old name.
MARGIN_FAMILIES = ("forex", "cfd", "crypto")

#: A number the platform may write as a string or a number.
Number = str | int | float


# -- requests -------------------------------------------------------------------------


class MarginalBalanceBody(Model, kw_only=True, frozen=True):
    """``marginal-portfolio.get-marginal-balance`` / ``subscribe-balance-changed`` 1.0."""

    user_balance_id: int


class GetInstrumentsListBody(Model, kw_only=True, frozen=True):
    """``marginal-<family>-instruments.get-instruments-list`` 1.0."""

    active_id: int


class TpSl(Model, kw_only=True, frozen=True):
    """A take-profit or stop-loss: ``type`` is ``price``, ``pips``, ``delta`` or ``pnl``."""

    value: Number
    type: str


class PlaceMarginOrderBody(Model, kw_only=True, frozen=True):
    """``marginal-<family>.place-{market,limit,stop}-order`` 1.0.

    ``count`` is units (a forex lot is 100000); ``limit_price`` or ``stop_price``
    only for the pending kinds.
    """

    side: str
    user_balance_id: int
    count: Number
    instrument_id: str
    leverage: Number
    instrument_active_id: int | None = None
    limit_price: Number | None = None
    stop_price: Number | None = None
    stop_loss: TpSl | None = None
    take_profit: TpSl | None = None


class MarginClosePositionBody(Model, kw_only=True, frozen=True):
    """``marginal-<family>.close-position`` 1.0 and the old ``close-position`` 1.0."""

    position_id: int | str


class CancelPendingOrderBody(Model, kw_only=True, frozen=True):
    """``marginal-<family>.cancel-pending-order`` 1.0 and the old ``cancel-order`` 1.0."""

    order_id: int


class GetOvernightFeeBody(Model, kw_only=True, frozen=True):
    """``get-overnight-fee`` 1.0 (old type names) and ``marginal-<family>-instruments.get-overnight-fee``."""

    active_id: int
    instrument_type: str | None = None
    user_group_id: int | None = None


class AvailableLeveragesBody(Model, kw_only=True, frozen=True):
    """``get-available-leverages`` 2.0 of the community client (``actives`` may hold ``""``)."""

    instrument_type: str
    actives: list[int | str] = msgspec.field(default_factory=list)


class PlaceOrderTempBody(Model, kw_only=True, frozen=True):
    """``place-order-temp`` 4.0 of the community client: ``instrument_id`` is a name, ``amount`` units."""

    instrument_type: str
    instrument_id: str
    side: str
    amount: Number
    leverage: Number
    user_balance_id: int
    type: str = "market"
    limit_price: Number | None = None
    stop_price: Number | None = None
    stop_lose_kind: str | None = None
    stop_lose_value: Number | None = None
    take_profit_kind: str | None = None
    take_profit_value: Number | None = None
    use_trail_stop: bool = False
    auto_margin_call: bool = False


class GetOrderBody(Model, kw_only=True, frozen=True):
    """``get-order`` (no version) of the community client."""

    order_id: int


class GetPositionBody(Model, kw_only=True, frozen=True):
    """``get-position`` (no version) of the community client."""

    position_id: int | str


class LegacyGetPositionsBody(Model, kw_only=True, frozen=True):
    """``get-positions`` (no version) of the community client."""

    instrument_type: str
    user_balance_id: int | None = None


class ChangeTpslBody(Model, kw_only=True, frozen=True):
    """``change-tpsl`` 2.0 of the community client: by ``position_id`` or by pending ``order_id``."""

    position_id: int | str | None = None
    order_id: int | None = None
    stop_lose_kind: str | None = None
    stop_lose_value: Number | None = None
    take_profit_kind: str | None = None
    take_profit_value: Number | None = None
    use_trail_stop: bool = False


# -- replies and pushes -------------------------------------------------------------------


class MarginalBalance(Model, kw_only=True, frozen=True):
    """``marginal-balance`` reply and ``balance-changed`` push of ``marginal-portfolio``.

    Money as decimal strings; ``margin_level`` and ``stop_out_level`` in percent.
    """

    id: int
    type: int
    user_id: int
    currency: str
    cash: str
    bonus: str
    pnl: str
    pnl_net: str
    equity: str
    equity_usd: str
    swap: str
    dividends: str
    margin: str
    available: str
    margin_level: str
    stop_out_level: str


class UnderlyingSession(Model, kw_only=True, frozen=True):
    """One trading session of an underlying, unix seconds."""

    open: int
    close: int


class Underlying(Model, kw_only=True, frozen=True):
    """One margin underlying (an active) of a family."""

    active_id: int
    name: str
    is_suspended: bool
    schedule: list[UnderlyingSession]


class UnderlyingList(Model, kw_only=True, frozen=True):
    """``get-underlying-list`` reply and ``underlying-list-changed`` push (``type`` on the push)."""

    items: list[Underlying]
    type: str | None = None


class Tradable(Model, kw_only=True, frozen=True):
    """When an instrument can be bought: unix seconds."""

    start: int = msgspec.field(name="from")
    to: int


class LeverageStep(Model, kw_only=True, frozen=True):
    """From this equity (USD) up, this leverage."""

    equity: float
    leverage: int


class DynamicLeverageProfile(Model, kw_only=True, frozen=True):
    """A leverage profile: the steps an instrument's ``leverage_profile`` id refers to."""

    id: int
    items: list[LeverageStep]


class MarginInstrument(Model, kw_only=True, frozen=True):
    """One tradable margin instrument (``min_qty``/``qty_step`` as strings)."""

    id: str
    active_id: int
    name: str
    default_leverage: int
    leverage_profile: int
    is_suspended: bool
    min_qty: str
    qty_step: str
    tradable: Tradable
    allow_long_position: bool = True
    allow_short_position: bool = True
    leverages: list[int] | None = None


class MarginInstrumentsList(Model, kw_only=True, frozen=True):
    """``instruments-list`` reply of ``get-instruments-list``."""

    items: list[MarginInstrument]
    dynamic_leverage_profiles: list[DynamicLeverageProfile]


class MarginOrderPlaced(Model, kw_only=True, frozen=True):
    """The reply to a place-order: the order id."""

    id: int


class OvernightFee(Model, kw_only=True, frozen=True):
    """``overnight-fee``: percent of the notional charged per night, long and short."""

    active_id: int
    instrument_type: str
    user_group_id: int
    long_percent: str
    short_percent: str
    rollover_hour_utc: int


class AvailableLeverages(Model, kw_only=True, frozen=True):
    """``available-leverages`` of the community client: leverages per active."""

    instrument_type: str
    leverages: list[dict[str, object]]


class MarginCall(Model, kw_only=True, frozen=True):
    """``margin-call`` push of ``marginal-portfolio``: the margin level fell below the call level."""

    user_id: int
    user_balance_id: int
    margin_level: str
    margin_call_level: str
    stop_out_level: str
    equity: str
    margin: str


class ExchangeRate(Model, kw_only=True, frozen=True):
    """``exchange-rate-generated`` push: a currency pair's ask and bid (strings), ``changed_at`` in ms.

    The SDK's margin calculator converts margin and pip value into the account currency with it.
    """

    base_currency: str
    quote_currency: str
    ask: str
    bid: str
    changed_at: int
