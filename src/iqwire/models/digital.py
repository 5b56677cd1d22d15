"""Digital options: underlyings, instruments and their strikes, live strike prices, orders.

The official SDK's 3.0 shapes, and the community client's older dialect
(``instrument-quotes-generated``, ``strike-list``, ``digital-option-placed``).
Strike prices are quoted per 100 of payout: buying at ``ask`` pays
``(100 - ask) / ask`` of the amount on a win (:mod:`iqwire.pricing`).
"""

from __future__ import annotations

import msgspec

from iqwire.models.base import Model

__all__ = [
    "ClosePositionBody",
    "DigitalClientPrices",
    "DigitalInstrument",
    "DigitalInstruments",
    "DigitalOptionPlaced",
    "DigitalSession",
    "DigitalStrike",
    "DigitalUnderlying",
    "DigitalUnderlyingList",
    "GetDigitalInstrumentsBody",
    "GetStrikeListBody",
    "GetUnderlyingListBody",
    "InstrumentQuote",
    "InstrumentQuotes",
    "PlaceDigitalOptionBody",
    "QuoteExpiration",
    "QuotePrice",
    "StrikeList",
    "StrikeListEntry",
    "StrikePrice",
    "StrikeSide",
    "StrikeSymbol",
]


class GetUnderlyingListBody(Model, kw_only=True, frozen=True):
    """``digital-option-instruments.get-underlying-list`` 3.0; the community's ``get-underlying-list`` 2.0 sends ``type``."""

    filter_suspended: bool | None = None
    type: str | None = None


class DigitalSession(Model, kw_only=True, frozen=True):
    """A trading session of an underlying, unix seconds."""

    open: int
    close: int


class DigitalUnderlying(Model, kw_only=True, frozen=True):
    """An active digital options are sold on (``underlying`` is the name the community client reads)."""

    active_id: int
    name: str
    is_suspended: bool
    schedule: list[DigitalSession]
    underlying: str | None = None


class DigitalUnderlyingList(Model, kw_only=True, frozen=True):
    """The underlying list (reply and ``underlying-list-changed`` push)."""

    type: str
    underlying: list[DigitalUnderlying]


class GetDigitalInstrumentsBody(Model, kw_only=True, frozen=True):
    """``digital-option-instruments.get-instruments`` 3.0."""

    asset_id: int


class DigitalStrike(Model, kw_only=True, frozen=True):
    """One strike of an instrument and direction: ``strike`` is the price as text, or ``"SPT"`` (spot)."""

    direction: str
    strike: str
    symbol: str


class DigitalInstrument(Model, kw_only=True, frozen=True):
    """An instrument: one expiry of one period, with its strikes (also the ``instrument-generated`` push)."""

    asset_id: int
    index: int
    instrument_type: str
    period: int
    expiration: int
    deadtime: int
    data: list[DigitalStrike]


class DigitalInstruments(Model, kw_only=True, frozen=True):
    """The reply of ``get-instruments`` 3.0."""

    instruments: list[DigitalInstrument]


class StrikeSide(Model, kw_only=True, frozen=True):
    """One direction of a strike's prices (per 100 of payout)."""

    symbol: str
    ask: float | None = None
    bid: float | None = None


class StrikePrice(Model, kw_only=True, frozen=True):
    """A strike's call and put prices."""

    strike: str
    call: StrikeSide
    put: StrikeSide


class DigitalClientPrices(Model, kw_only=True, frozen=True):
    """The ``digital-option-client-price-generated`` push: every strike of one instrument, priced now."""

    instrument_index: int
    asset_id: int
    quote_time: int
    prices: list[StrikePrice]
    instrument_type: str | None = None


class PlaceDigitalOptionBody(Model, kw_only=True, frozen=True):
    """``digital-options.place-digital-option``: 3.0 (SDK) names the instrument by index and strike
    symbol; 1.0/2.0 (community) only by the instrument-id string. ``amount`` is text in the SDK."""

    user_balance_id: int
    instrument_id: str
    amount: str | float
    asset_id: int | None = None
    instrument_index: int | None = None


class DigitalOptionPlaced(Model, kw_only=True, frozen=True):
    """The reply of ``place-digital-option``: the order id."""

    id: int


class ClosePositionBody(Model, kw_only=True, frozen=True):
    """``digital-options.close-position`` 1.0."""

    position_id: int | str


class QuoteExpiration(Model, kw_only=True, frozen=True):
    """The expiry an ``instrument-quotes-generated`` push prices (``timestamp`` in seconds)."""

    period: int
    timestamp: int


class QuotePrice(Model, kw_only=True, frozen=True):
    """Ask and bid of a symbol, per 100 of payout."""

    ask: float | None = None
    bid: float | None = None


class InstrumentQuote(Model, kw_only=True, frozen=True):
    """The prices of one symbol."""

    symbols: list[str]
    price: QuotePrice


class InstrumentQuotes(Model, kw_only=True, frozen=True):
    """The community client's ``instrument-quotes-generated`` push."""

    active: int
    kind: str
    expiration: QuoteExpiration
    quotes: list[InstrumentQuote]


class GetStrikeListBody(Model, kw_only=True, frozen=True):
    """``get-strike-list`` 4.0 (community): ``expiration`` in ms, ``underlying`` a name."""

    type: str
    underlying: str
    expiration: int
    period: int


class StrikeSymbol(Model, kw_only=True, frozen=True):
    """An instrument id in a strike list."""

    id: str


class StrikeListEntry(Model, kw_only=True, frozen=True):
    """A strike of the community's ``strike-list``: ``value`` is the strike × 10⁶."""

    value: int
    call: StrikeSymbol
    put: StrikeSymbol


class StrikeList(Model, kw_only=True, frozen=True):
    """The ``strike-list`` reply (``expiration`` in seconds, as the quotes push's timestamp)."""

    strike: list[StrikeListEntry]
    expiration: int
    period: int
    underlying: str | None = None
    type: str | None = msgspec.field(default=None)
