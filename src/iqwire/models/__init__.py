"""Typed payloads of the IQ Option protocol, decoded straight from bytes by msgspec.

Wire names stay on the wire; Python names are clean: a :class:`Candle` has
``low``/``high`` (``min``/``max`` on the wire), a closed :class:`Position` has an
:class:`Outcome` (``"loose"`` on the wire is ``Outcome.LOSS``).

Example::

    import msgspec
    from iqwire.models import Candle
    candle = msgspec.json.decode(b'{"id":1,"from":0,"to":60,"open":1,"close":2,"min":0.5,"max":2}',
                                 type=Candle)
    assert candle.low == 0.5
"""

from iqwire.models.account import Balance, BalanceChanged, Profile, ProfileResponse, UserSettings
from iqwire.models.common import (
    BINARY_OPTION_TYPE_ID,
    BLITZ_OPTION_TYPE_ID,
    PRICE_SCALE,
    STATUS_OK,
    STATUS_PAYOUT_CHANGED,
    TURBO_OPTION_TYPE_ID,
    BalanceType,
    Direction,
    Outcome,
    ns_to_datetime,
    price_to_value,
    seconds_to_datetime,
    value_to_price,
)
from iqwire.models.market import (
    Active,
    Candle,
    CandlesResponse,
    Currency,
    FirstCandles,
    InitActive,
    InitializationData,
    InitOption,
    InitProfit,
    InstrumentGroup,
    InstrumentsList,
    InstrumentStatus,
    Quote,
    TradersMood,
)
from iqwire.models.system import ErrorBody, Feature, Features, Result
from iqwire.models.trading import (
    ActualCommission,
    CommissionChangedError,
    CommissionChangedResult,
    HistoryPositions,
    OpenOptionRequest,
    Option,
    OptionInsurance,
    Order,
    OrdersResponse,
    Position,
    PositionsResponse,
    TradingGroupParams,
    TradingLimits,
    TradingVolume,
    timestamp_seconds,
)

__all__ = [
    "BINARY_OPTION_TYPE_ID",
    "BLITZ_OPTION_TYPE_ID",
    "PRICE_SCALE",
    "STATUS_OK",
    "STATUS_PAYOUT_CHANGED",
    "TURBO_OPTION_TYPE_ID",
    "Active",
    "ActualCommission",
    "Balance",
    "BalanceChanged",
    "BalanceType",
    "Candle",
    "CandlesResponse",
    "CommissionChangedError",
    "CommissionChangedResult",
    "Currency",
    "Direction",
    "ErrorBody",
    "Feature",
    "Features",
    "FirstCandles",
    "HistoryPositions",
    "InitActive",
    "InitOption",
    "InitProfit",
    "InitializationData",
    "InstrumentGroup",
    "InstrumentStatus",
    "InstrumentsList",
    "OpenOptionRequest",
    "Option",
    "OptionInsurance",
    "Order",
    "OrdersResponse",
    "Outcome",
    "Position",
    "PositionsResponse",
    "Profile",
    "ProfileResponse",
    "Quote",
    "Result",
    "TradersMood",
    "TradingGroupParams",
    "TradingLimits",
    "TradingVolume",
    "UserSettings",
    "ns_to_datetime",
    "price_to_value",
    "seconds_to_datetime",
    "timestamp_seconds",
    "value_to_price",
]
