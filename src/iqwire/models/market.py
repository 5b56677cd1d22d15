"""Market data payloads: candles, actives, initialization data, mood, currency."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from iqwire.models.base import Model
from iqwire.models.common import ns_to_datetime, seconds_to_datetime

__all__ = [
    "Active",
    "Candle",
    "CandlesResponse",
    "Currency",
    "FirstCandles",
    "InitActive",
    "InitOption",
    "InitProfit",
    "InitializationData",
    "InstrumentGroup",
    "InstrumentStatus",
    "InstrumentsList",
    "Quote",
    "TradersMood",
]


class Candle(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True, gc=False):
    """One OHLC candle (``candle-generated`` push or an entry of ``candles``).

    The wire says ``min``/``max``/``from``/``to``; Python says ``low``/``high``/
    ``start``/``end``. ``at`` is the tick time in nanoseconds (absent on some
    closed history candles).

    Example::

        candle = msgspec.json.decode(data, type=Candle)
        print(candle.datetime, candle.open, candle.high, candle.low, candle.close)
    """

    id: int
    start: int = msgspec.field(name="from")
    end: int = msgspec.field(name="to")
    open: float
    close: float
    low: float = msgspec.field(name="min")
    high: float = msgspec.field(name="max")
    volume: float | None = None
    active_id: int | None = None
    size: int | None = None
    at: int | None = None
    min_at: int | None = None
    max_at: int | None = None
    ask: float | None = None
    bid: float | None = None
    phase: str | None = None

    @property
    def datetime(self) -> dt.datetime:
        """The candle's start as a UTC datetime."""
        return seconds_to_datetime(self.start)

    @property
    def at_s(self) -> float | None:
        """The time of the last tick in unix seconds, if the frame carried ``at`` (nanoseconds)."""
        return None if self.at is None else self.at / 1_000_000_000

    @property
    def at_datetime(self) -> dt.datetime | None:
        """The time of the last tick as a UTC datetime, if the frame carried ``at``."""
        return None if self.at is None else ns_to_datetime(self.at)

    @property
    def is_closed(self) -> bool:
        """Whether the candle is complete (its last tick reached ``to``, or no ``at``)."""
        return self.at is None or self.at >= self.end * 1_000_000_000


class CandlesResponse(Model, kw_only=True, frozen=True):
    """The ``candles`` response of ``get-candles``: ascending, ids +1 per candle."""

    candles: list[Candle]


class FirstCandles(Model, kw_only=True, frozen=True):
    """The ``get-first-candles`` response: the earliest candle of each size.

    The wire keys are sizes as strings (``"60"``); here they are ints.
    """

    candles_by_size: dict[int, Candle]


class Quote(Model, kw_only=True, frozen=True):
    """The ``quote-generated`` push (``time`` in milliseconds)."""

    active_id: int
    time: int
    value: float | None = None
    ask: float | None = None
    bid: float | None = None
    phase: str | None = None


class InitProfit(Model, kw_only=True, frozen=True):
    """``option.profit`` of an initialization-data active."""

    commission: float


class InitOption(Model, kw_only=True, frozen=True):
    """``option`` of an initialization-data active: expiries and commission."""

    profit: InitProfit
    expiration_times: list[int] = []
    count: int | None = None
    special: dict[str, Any] | None = None


class InitActive(Model, kw_only=True, frozen=True, omit_defaults=False):
    """One active of ``initialization-data``, with its schedule and commission.

    ``schedule`` is a list of ``[open, close]`` unix-second pairs. Every field is
    sent, defaults included: the community client reads ``enabled`` and
    ``is_suspended`` of every active unconditionally.
    """

    id: int
    name: str
    option: InitOption
    ticker: str | None = None
    description: str | None = None
    image: str | None = None
    enabled: bool = True
    is_suspended: bool = False
    schedule: list[list[int]] = []
    deadtime: int | None = None
    buyback_deadtime: int | None = None
    is_buyback: bool | None = None
    minimal_bet: float | None = None
    maximal_bet: float | None = None
    precision: int | None = None

    @property
    def commission(self) -> float:
        """The current commission in percent."""
        return self.option.profit.commission

    @property
    def payout(self) -> float:
        """The payout in percent (``100 - commission``): the profit on a win."""
        return 100 - self.option.profit.commission

    def is_open_at(self, unix_seconds: float) -> bool:
        """Whether trading is allowed at a time (enabled, not suspended, in schedule)."""
        if not self.enabled or self.is_suspended:
            return False
        if not self.schedule:
            return True
        return any(start <= unix_seconds < end for start, end in self.schedule)


class InstrumentGroup(Model, kw_only=True, frozen=True):
    """The actives of one instrument type; the wire sends an object or an array."""

    actives: dict[str, InitActive] | list[InitActive] = {}

    def all(self) -> list[InitActive]:
        """Every active of the group, whatever the wire's container."""
        if isinstance(self.actives, dict):
            return list(self.actives.values())
        return list(self.actives)


class InitializationData(Model, kw_only=True, frozen=True):
    """The ``initialization-data`` response: actives per instrument type.

    Example::

        init = await client.get_initialization_data()
        eurusd = init.find_active(76)
        print(eurusd.payout, eurusd.option.expiration_times)
    """

    blitz: InstrumentGroup = InstrumentGroup()
    turbo: InstrumentGroup = InstrumentGroup()
    binary: InstrumentGroup = InstrumentGroup()

    def find_active(self, active_id: int, instrument: str = "blitz") -> InitActive | None:
        """The active with this id in one instrument group, or ``None``."""
        group: InstrumentGroup = getattr(self, instrument)
        for active in group.all():
            if active.id == active_id:
                return active
        return None


class Active(Model, kw_only=True, frozen=True):
    """One active (``get-active`` response, ``active`` push)."""

    id: int
    name: str | None = None
    description: str | None = None
    ticker: str | None = None
    image: str | None = None
    is_otc: bool | None = None
    is_suspended: bool | None = None
    enabled: bool | None = None
    precision: int | None = None
    pip_scale: int | None = None
    spread_plus: float | None = None
    spread_minus: float | None = None
    expiration_days: list[int] | None = None
    currency_left_side: str | None = None
    currency_right_side: str | None = None
    type: str | None = None
    time_from: str | None = None
    time_to: str | None = None
    min_qty: float | None = None
    qty_step: float | None = None
    type_qty: str | None = None
    schedule: list[list[int]] | None = None


class TradersMood(Model, kw_only=True, frozen=True):
    """Traders' sentiment for one asset: ``value`` is the share of ``call`` (0..1).

    Sent as the ``traders-mood`` response and the ``traders-mood-changed`` push.
    """

    asset_id: int
    value: float
    instrument: str | None = None
    instrument_type: str | None = None

    @property
    def call_share(self) -> float:
        """The share of traders buying ``call``."""
        return self.value

    @property
    def put_share(self) -> float:
        """The share of traders buying ``put``."""
        return 1 - self.value


class InstrumentStatus(Model, kw_only=True, frozen=True):
    """One entry of ``instruments-list``: is the asset open for trading now."""

    active_id: int
    name: str | None = None
    is_suspended: bool = False
    is_open: bool | None = None
    schedule: list[list[int]] | None = None

    @property
    def tradable(self) -> bool:
        """Open and not suspended (``is_open`` absent counts as open)."""
        return not self.is_suspended and self.is_open is not False


class InstrumentsList(Model, kw_only=True, frozen=True):
    """The ``instruments-list`` push: the status of every asset of one type."""

    items: list[InstrumentStatus]
    type: str | None = None


class Currency(Model, kw_only=True, frozen=True):
    """A currency (``get-currency`` response, ``currency-updated`` push)."""

    name: str
    id: int | None = None
    description: str | None = None
    symbol: str | None = None
    mask: str | None = None
    unit: int | None = None
    rate: float | None = None
    rate_usd: float | None = None
    min_deal_amount: float | None = None
    max_deal_amount: float | None = None
    minor_units: int | None = None
    image: str | None = None
    interest_rate: float | None = None
    is_visible: bool | None = None
    is_tradable: bool | None = None
    is_crypto: bool | None = None
    is_inout: bool | None = None
