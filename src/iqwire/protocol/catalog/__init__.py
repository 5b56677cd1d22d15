"""The message catalog: every RPC and subscription the client and simulator speak.

One table, two lookups. An RPC entry names the versions known to work, the body
type, the response name and the response type; a subscription entry names its
versions, routing-filter fields, the push it produces and the push's payload type.
Entries whose shapes were never captured carry ``dict`` as body and payload, so
they can still be called.

Names that differ between the protocol reference and the official SDK are both
present (``get-candles`` / ``quotes-history.get-candles``; the push names
``position-changed`` / ``portfolio.position-changed``); ``docs/protocol-notes.md``
lists every such pair.

Example::

    from iqwire.protocol import catalog
    spec = catalog.rpc("get-candles")
    assert spec.response_type is CandlesResponse
"""

from __future__ import annotations

from typing import Any

from iqwire.models import (
    Active,
    Balance,
    BalanceChanged,
    Candle,
    CandlesResponse,
    Currency,
    Features,
    FirstCandles,
    HistoryPositions,
    InitializationData,
    InstrumentsList,
    OpenOptionRequest,
    Option,
    OptionInsurance,
    Order,
    OrdersResponse,
    Position,
    PositionsResponse,
    ProfileResponse,
    Quote,
    Result,
    TradersMood,
    TradingGroupParams,
    TradingVolume,
    UserSettings,
)
from iqwire.models.binary import (
    ListInfoItem,
    OptionClosed,
    PositionsState,
    SellOptionsBody,
    SoldOptions,
    SubscribePositionsBody,
)
from iqwire.models.digital import (
    ClosePositionBody,
    DigitalClientPrices,
    DigitalInstrument,
    DigitalInstruments,
    DigitalOptionPlaced,
    DigitalUnderlyingList,
    GetDigitalInstrumentsBody,
    GetStrikeListBody,
    GetUnderlyingListBody,
    InstrumentQuotes,
    PlaceDigitalOptionBody,
    StrikeList,
)
from iqwire.models.legacy import GetLegacyInstrumentsBody, LegacyInstruments
from iqwire.models.margin import (
    CancelPendingOrderBody,
    ExchangeRate,
    GetInstrumentsListBody,
    GetOvernightFeeBody,
    MarginCall,
    MarginClosePositionBody,
    MarginInstrumentsList,
    MarginOrderPlaced,
    OvernightFee,
    PlaceMarginOrderBody,
    UnderlyingList,
)
from iqwire.models.requests import (
    EmptyBody,
    GetActiveBody,
    GetBalancesBody,
    GetCandlesBody,
    GetCurrencyBody,
    GetFeaturesBody,
    GetFirstCandlesBody,
    GetHistoryPositionsBody,
    GetOrdersBody,
    GetPositionsBody,
    GetTradersMoodBody,
)
from iqwire.protocol.catalog.margin import (
    GET_MARGINAL_BALANCE,
    MARGIN_CALL,
    MARGIN_CHANGE_TPSL,
    MARGINAL_BALANCE_CHANGED,
    SUBSCRIBE_MARGINAL_BALANCE,
    margin_rpcs,
    margin_subscriptions,
)
from iqwire.protocol.catalog.specs import RAW, MoneyMove, RpcSpec, SubscriptionSpec
from iqwire.protocol.events import ResultAck

__all__ = [
    "GET_MARGINAL_BALANCE",
    "MARGINAL_BALANCE_CHANGED",
    "MARGIN_CALL",
    "MARGIN_CHANGE_TPSL",
    "SUBSCRIBE_MARGINAL_BALANCE",
    "RAW",
    "ACK_FIRST_ALWAYS",
    "COMMUNITY_CALLS",
    "COMMUNITY_FRAMES",
    "LEGACY_PUSHES",
    "PUSHES",
    "RPCS",
    "SERVICE_PUSHES",
    "SERVICE_PUSH_NAMES",
    "SUBSCRIPTIONS",
    "MoneyMove",
    "RpcSpec",
    "SubscriptionSpec",
    "canonical_push",
    "margin_cancel_order",
    "margin_close_position",
    "margin_instrument_type",
    "margin_instruments",
    "margin_overnight_fee",
    "margin_place_order",
    "margin_underlyings",
    "push_microservices",
    "push_type",
    "rpc",
    "subscription",
]

# -- the RPCs the library calls by name: typed end to end ------------------------------------

GET_PROFILE: RpcSpec[EmptyBody, ProfileResponse] = RpcSpec(
    "core.get-profile", ("1.0",), EmptyBody, "profile", ProfileResponse
)
GET_USER_SETTINGS: RpcSpec[dict[str, Any], UserSettings] = RpcSpec(
    "get-user-settings", ("1.0", "2.0"), RAW, "user-settings", UserSettings
)
GET_BALANCES: RpcSpec[GetBalancesBody, list[Balance]] = RpcSpec(
    "internal-billing.get-balances", ("1.0",), GetBalancesBody, "balances", list[Balance]
)
GET_INITIALIZATION_DATA: RpcSpec[EmptyBody, InitializationData] = RpcSpec(
    "get-initialization-data", ("4.0", "3.0"), EmptyBody, "initialization-data", InitializationData
)
GET_ACTIVE: RpcSpec[GetActiveBody, Active] = RpcSpec(
    "get-active", ("1.0", "5.0"), GetActiveBody, "active", Active
)
GET_ACTIVES_INDEX: RpcSpec[EmptyBody, Any] = RpcSpec("get-actives-index", (), EmptyBody, "actives-index", RAW)
GET_CANDLES: RpcSpec[GetCandlesBody, CandlesResponse] = RpcSpec(
    "get-candles",
    ("2.0",),
    GetCandlesBody,
    "candles",
    CandlesResponse,
    aliases=("quotes-history.get-candles",),
)
GET_FIRST_CANDLES: RpcSpec[GetFirstCandlesBody, FirstCandles] = RpcSpec(
    "get-first-candles", ("1.0",), GetFirstCandlesBody, "first-candles", FirstCandles
)
GET_TRADERS_MOOD: RpcSpec[GetTradersMoodBody, TradersMood] = RpcSpec(
    "get-traders-mood", ("1.0",), GetTradersMoodBody, "traders-mood", TradersMood
)
GET_CURRENCY: RpcSpec[GetCurrencyBody, Currency] = RpcSpec(
    "get-currency", ("5.0",), GetCurrencyBody, "currency", Currency
)
OPEN_OPTION: RpcSpec[OpenOptionRequest, Option] = RpcSpec(
    "binary-options.open-option",
    ("2.0", "1.0"),
    OpenOptionRequest,
    "option",
    Option,
    money=MoneyMove("open"),
)
SELL_OPTIONS: RpcSpec[SellOptionsBody, ResultAck] = RpcSpec(
    "binary-options.sell-options",
    ("3.0",),
    SellOptionsBody,
    "result",
    Result,
    result_only=True,
    money=MoneyMove("sell", balance_field=None, ids_field="options_ids"),
)
SUBSCRIBE_POSITIONS: RpcSpec[SubscribePositionsBody, ResultAck] = RpcSpec(
    "portfolio.subscribe-positions", ("1.0",), SubscribePositionsBody, "result", Result, result_only=True
)
GET_DIGITAL_INSTRUMENTS: RpcSpec[GetDigitalInstrumentsBody, DigitalInstruments] = RpcSpec(
    "digital-option-instruments.get-instruments",
    ("3.0",),
    GetDigitalInstrumentsBody,
    "instruments",
    DigitalInstruments,
)
PLACE_DIGITAL_OPTION: RpcSpec[PlaceDigitalOptionBody, DigitalOptionPlaced] = RpcSpec(
    "digital-options.place-digital-option",
    ("3.0", "2.0", "1.0"),
    PlaceDigitalOptionBody,
    "digital-option-placed",
    DigitalOptionPlaced,
    money=MoneyMove("open"),
)
CLOSE_DIGITAL_POSITION: RpcSpec[ClosePositionBody, ResultAck] = RpcSpec(
    "digital-options.close-position",
    ("1.0",),
    ClosePositionBody,
    "result",
    Result,
    result_only=True,
    money=MoneyMove("close", balance_field=None, ids_field="position_id"),
)
GET_POSITIONS: RpcSpec[GetPositionsBody, PositionsResponse] = RpcSpec(
    "portfolio.get-positions", ("4.0",), GetPositionsBody, "positions", PositionsResponse
)
GET_ORDERS: RpcSpec[GetOrdersBody, OrdersResponse] = RpcSpec(
    "portfolio.get-orders", ("2.0",), GetOrdersBody, "orders", OrdersResponse
)
GET_HISTORY_POSITIONS: RpcSpec[GetHistoryPositionsBody, HistoryPositions] = RpcSpec(
    "portfolio.get-history-positions",
    ("1.0", "2.0"),
    GetHistoryPositionsBody,
    "history-positions",
    HistoryPositions,
)
GET_TRADING_GROUP_PARAMS: RpcSpec[EmptyBody, TradingGroupParams] = RpcSpec(
    "trading-settings.get-trading-group-params",
    (),
    EmptyBody,
    "trading-group-params",
    TradingGroupParams,
)
GET_OPTION_INSURANCE: RpcSpec[EmptyBody, OptionInsurance] = RpcSpec(
    "cashback.get-option-insurance", (), EmptyBody, "option-insurance", OptionInsurance
)
GET_TRADING_VOLUME: RpcSpec[EmptyBody, TradingVolume] = RpcSpec(
    "user-activity.get-trading-volume", (), EmptyBody, "trading-volume", TradingVolume
)


def _rpcs() -> tuple[RpcSpec[Any, Any], ...]:
    r: type[RpcSpec[Any, Any]] = RpcSpec
    return (
        # 4.1 core and account
        GET_PROFILE,
        r("get-user-profile-client", (), RAW, "user-profile-client", RAW),
        GET_USER_SETTINGS,
        r("set-user-settings", (), RAW, "set-user-settings-reply", RAW),
        r("update-user-availability", (), RAW, "result", Result, result_only=True),
        # 4.2 billing
        GET_BALANCES,
        r("balances.get-available-balances", ("1.0",), GetBalancesBody, "balances", list[Balance]),
        r("internal-billing.reset-training-balance", ("4.0",), RAW, "result", Result, result_only=True),
        # 4.3 assets and market data
        GET_INITIALIZATION_DATA,
        r(
            "binary-options.get-initialization-data",
            ("3.0",),
            EmptyBody,
            "initialization-data",
            InitializationData,
        ),
        GET_ACTIVE,
        GET_ACTIVES_INDEX,
        GET_CANDLES,
        r("quotes-history.get-candles", ("2.0",), GetCandlesBody, "candles", CandlesResponse),
        GET_FIRST_CANDLES,
        GET_TRADERS_MOOD,
        GET_CURRENCY,
        r("get-currency-list", (), RAW, "currency-list", RAW),
        r("get-currencies-list", (), RAW, "currencies-list", RAW),
        # 4.4 binary / blitz options
        OPEN_OPTION,
        SELL_OPTIONS,
        # 4.5 portfolio
        GET_POSITIONS,
        GET_ORDERS,
        GET_HISTORY_POSITIONS,
        SUBSCRIBE_POSITIONS,
        # 4.6 marginal trading (and the community client's older margin dialect)
        *margin_rpcs(),
        # 4.7 digital options
        r(
            "digital-option-instruments.get-underlying-list",
            ("3.0",),
            GetUnderlyingListBody,
            "underlying-list",
            DigitalUnderlyingList,
        ),
        GET_DIGITAL_INSTRUMENTS,
        PLACE_DIGITAL_OPTION,
        CLOSE_DIGITAL_POSITION,
        # 4.8 trading settings and tools
        GET_TRADING_GROUP_PARAMS,
        r("tech-instruments.get-script-indicators", (), RAW, None, RAW),
        r("tech-instruments.get-standard-library", (), RAW, None, RAW),
        r("tech-instruments.get-templates", (), RAW, None, RAW),
        # 4.9 / 4.10 the non-SKIP rows
        GET_OPTION_INSURANCE,
        GET_TRADING_VOLUME,
        # asked by the official SDK on every connect
        r("features.get-features", ("2.0",), GetFeaturesBody, "features", Features),
        # the community Python client's own names (wire-facts §9, §10)
        r("get-balances", ("1.0",), RAW, "balances", list[Balance]),
        r(
            "sell-options",
            ("2.0",),
            SellOptionsBody,
            "sold-options",
            SoldOptions,
            money=MoneyMove("sell", balance_field=None, ids_field="options_ids"),
        ),
        r("get-underlying-list", ("2.0",), GetUnderlyingListBody, "underlying-list", DigitalUnderlyingList),
        r("get-strike-list", ("4.0",), GetStrikeListBody, "strike-list", StrikeList),
        r("get-instruments", ("4.0",), GetLegacyInstrumentsBody, "instruments", LegacyInstruments),
    )


def margin_place_order(family: str, kind: str) -> RpcSpec[PlaceMarginOrderBody, MarginOrderPlaced]:
    """``marginal-<family>.place-<kind>-order`` (``kind``: market, limit or stop)."""
    return RPCS[f"marginal-{family}.place-{kind}-order"]


def margin_close_position(family: str) -> RpcSpec[MarginClosePositionBody, ResultAck]:
    """``marginal-<family>.close-position``."""
    return RPCS[f"marginal-{family}.close-position"]


def margin_cancel_order(family: str) -> RpcSpec[CancelPendingOrderBody, ResultAck]:
    """``marginal-<family>.cancel-pending-order``."""
    return RPCS[f"marginal-{family}.cancel-pending-order"]


def margin_underlyings(family: str) -> RpcSpec[EmptyBody, UnderlyingList]:
    """``marginal-<family>-instruments.get-underlying-list``."""
    return RPCS[f"marginal-{family}-instruments.get-underlying-list"]


def margin_instruments(family: str) -> RpcSpec[GetInstrumentsListBody, MarginInstrumentsList]:
    """``marginal-<family>-instruments.get-instruments-list``."""
    return RPCS[f"marginal-{family}-instruments.get-instruments-list"]


def margin_overnight_fee(family: str) -> RpcSpec[GetOvernightFeeBody, OvernightFee]:
    """``marginal-<family>-instruments.get-overnight-fee``."""
    return RPCS[f"marginal-{family}-instruments.get-overnight-fee"]


def margin_instrument_type(family: str) -> str:
    """The ``instrument_type`` of a margin family's positions and orders: ``marginal-<family>``."""
    return f"marginal-{family}"


# -- the subscriptions the library opens by name ------------------------------------------------

CANDLE_GENERATED: SubscriptionSpec[Candle] = SubscriptionSpec(
    "candle-generated", ("1.0",), ("active_id", "size"), "candle-generated", Candle, "quotes"
)
POSITION_CHANGED: SubscriptionSpec[Position] = SubscriptionSpec(
    "portfolio.position-changed",
    ("3.0", "2.0"),
    ("user_id", "user_balance_id", "instrument_type"),
    "position-changed",
    Position,
    "portfolio",
    aliases=("position-changed",),
)
ORDER_CHANGED: SubscriptionSpec[Order] = SubscriptionSpec(
    "portfolio.order-changed",
    ("2.0", "1.0"),
    ("user_id", "instrument_type"),
    "order-changed",
    Order,
    "portfolio",
)
TRADERS_MOOD_CHANGED: SubscriptionSpec[TradersMood] = SubscriptionSpec(
    "traders-mood-changed",
    (),
    ("asset_id", "instrument_type"),
    "traders-mood-changed",
    TradersMood,
    "traders-mood",
)
BALANCE_CHANGED: SubscriptionSpec[BalanceChanged] = SubscriptionSpec(
    "balance-changed",
    ("1.0",),
    (),
    "balance-changed",
    BalanceChanged,
    "balances",
    aliases=("balances.balance-changed", "subscription-balance-changed"),
)
CURRENCY_UPDATED: SubscriptionSpec[Currency] = SubscriptionSpec(
    "currency-updated", ("5.0",), ("name",), "currency-updated", Currency, "currencies"
)
INSTRUMENTS_LIST: SubscriptionSpec[InstrumentsList] = SubscriptionSpec(
    "instruments-list", (), ("type",), "instruments-list", InstrumentsList, "instruments"
)

POSITIONS_STATE: SubscriptionSpec[PositionsState] = SubscriptionSpec(
    "portfolio.positions-state", ("1.0",), (), "positions-state", PositionsState, "portfolio"
)
DIGITAL_CLIENT_PRICES: SubscriptionSpec[DigitalClientPrices] = SubscriptionSpec(
    "trading-settings.digital-option-client-price-generated",
    ("1.0",),
    ("asset_id", "instrument_index", "instrument_type"),
    "digital-option-client-price-generated",
    DigitalClientPrices,
    "trading-settings",
)


def _subscriptions() -> tuple[SubscriptionSpec[Any], ...]:
    s: type[SubscriptionSpec[Any]] = SubscriptionSpec
    return (
        CANDLE_GENERATED,
        POSITION_CHANGED,
        ORDER_CHANGED,
        TRADERS_MOOD_CHANGED,
        s("profile-changed", ("1.0",), (), "profile-changed", RAW, "profile"),
        BALANCE_CHANGED,
        CURRENCY_UPDATED,
        INSTRUMENTS_LIST,
        s("active", (), ("id",), "active", Active, "actives"),
        s("quote-generated", ("2.0",), ("active_id",), "quote-generated", Quote, "quotes"),
        POSITIONS_STATE,
        s(
            "digital-option-instruments.underlying-list-changed",
            ("3.0",),
            (),
            "underlying-list-changed",
            DigitalUnderlyingList,
            "digital-option-instruments",
        ),
        s(
            "digital-option-instruments.instrument-generated",
            ("3.0",),
            ("asset_id",),
            "instrument-generated",
            DigitalInstrument,
            "digital-option-instruments",
        ),
        DIGITAL_CLIENT_PRICES,
        s(
            "instrument-quotes-generated",
            ("1.0",),
            ("active", "expiration_period", "kind"),
            "instrument-quotes-generated",
            InstrumentQuotes,
            "quotes",
        ),
        *margin_subscriptions(),
    )


RPCS: dict[str, RpcSpec[Any, Any]] = {spec.name: spec for spec in _rpcs()}
SUBSCRIPTIONS: dict[str, SubscriptionSpec[Any]] = {}
for _spec in _subscriptions():
    SUBSCRIPTIONS[_spec.name] = _spec
    for _alias in _spec.aliases:
        SUBSCRIPTIONS.setdefault(_alias, _spec)

#: Push name → payload type. Both spellings of a push map to the same type; the
#: balance push from the marginal service shares its name with the billing one, so
#: the typed (billing) shape wins and the session falls back to plain JSON on mismatch.
PUSHES: dict[str, Any] = {
    "candle-generated": Candle,
    "position-changed": Position,
    "portfolio.position-changed": Position,
    "order-changed": Order,
    "portfolio.order-changed": Order,
    "traders-mood-changed": TradersMood,
    "balance-changed": BalanceChanged,
    "subscription-balance-changed": BalanceChanged,
    "currency-updated": Currency,
    "instruments-list": InstrumentsList,
    "active": Active,
    "quote-generated": Quote,
    "positions-state": PositionsState,
    "underlying-list-changed": DigitalUnderlyingList,
    "instrument-generated": DigitalInstrument,
    "digital-option-client-price-generated": DigitalClientPrices,
    "instrument-quotes-generated": InstrumentQuotes,
    "margin-call": MarginCall,
    "exchange-rate-generated": ExchangeRate,
}

#: (microservice, push name) → payload type, for a push whose name another service also
#: uses with another shape (the session decodes these by service before :data:`PUSHES`).
SERVICE_PUSHES: dict[tuple[str, str], Any] = {
    (spec.microservice_name, spec.push_name): spec.payload_type for spec in (MARGINAL_BALANCE_CHANGED,)
}
#: The push names of :data:`SERVICE_PUSHES` (a cheap test on the session's hot path).
SERVICE_PUSH_NAMES: frozenset[str] = frozenset(name for _, name in SERVICE_PUSHES)

#: Calls only the community Python client makes: a connection that makes one speaks its
#: dialect (unsubscribed pushes ``listInfoData`` and ``option-closed``).
COMMUNITY_CALLS: frozenset[tuple[str, str]] = frozenset(
    {
        ("binary-options.open-option", "1.0"),
        ("sell-options", "2.0"),
        ("get-balances", "1.0"),
        ("get-initialization-data", "3.0"),
        ("get-underlying-list", "2.0"),
        ("get-strike-list", "4.0"),
        ("get-instruments", "4.0"),
        ("digital-options.place-digital-option", "1.0"),
        ("digital-options.place-digital-option", "2.0"),
    }
)
#: Top-level frames of the community client's dialect, and the name of their reply.
COMMUNITY_FRAMES: dict[str, str] = {"api_option_init_all": "api_option_init_all_result"}
#: Replies preceded by a ``result`` ACK even without ``setOptions {sendResults: true}``.
ACK_FIRST_ALWAYS: frozenset[tuple[str, str]] = frozenset({("binary-options.open-option", "1.0")})

#: Pushes of the community client's dialect, sent without a subscription to the
#: connections that speak it (``microserviceName`` as noted in protocol-notes).
LEGACY_PUSHES: dict[str, Any] = {
    "listInfoData": list[ListInfoItem],
    "option-closed": OptionClosed,
}


#: Other spellings of a push name (the SDK's and older clients') → the name the
#: subscriptions above give it (their ``push_name``).
_PUSH_ALIASES: dict[str, str] = {
    "portfolio.position-changed": "position-changed",
    "portfolio.order-changed": "order-changed",
    "subscription-balance-changed": "balance-changed",
}


def canonical_push(name: str) -> str:
    """The one spelling of a push name: the ``push_name`` of the subscription that produces it.

    >>> canonical_push("portfolio.position-changed")
    'position-changed'
    """
    return _PUSH_ALIASES.get(name, name)


_PUSH_SERVICES: dict[str, frozenset[str]] = {}
for _push, _type in PUSHES.items():
    _PUSH_SERVICES[_push] = frozenset(
        spec.microservice_name for spec in SUBSCRIPTIONS.values() if spec.payload_type is _type
    )


def push_microservices(name: str) -> frozenset[str]:
    """The services whose push of this name has the typed shape of :data:`PUSHES`."""
    return _PUSH_SERVICES.get(name, frozenset())


def rpc(name: str) -> RpcSpec[Any, Any] | None:
    """The catalog entry of an RPC, or ``None`` for an uncatalogued name."""
    return RPCS.get(name)


def subscription(name: str) -> SubscriptionSpec[Any] | None:
    """The catalog entry of a subscription (any spelling), or ``None``."""
    return SUBSCRIPTIONS.get(name)


def push_type(name: str) -> Any:
    """The payload type of a push name, or ``None`` when unknown (keep plain JSON)."""
    return PUSHES.get(name)
