"""iqwire: a typed asyncio toolkit for the IQ Option WebSocket API.

Example::

    import iqwire
    frame = iqwire.protocol.decode_frame(b'{"name":"timeSync","msg":1770899115227}')
"""

from iqwire import errors, models, protocol
from iqwire.errors import (
    AuthError,
    ConnectionLost,
    InsufficientBalance,
    InvalidOrder,
    IqwireError,
    MarketClosed,
    OutcomeUnknown,
    PayoutChanged,
    ProtocolError,
    RealMoneyLocked,
    RequestTimeout,
    RiskLimitExceeded,
    ServerError,
    TradeError,
    TradeNotPlaced,
    TradeStateUnknown,
)
from iqwire.models import Balance, BalanceType, Candle, Direction, Outcome, Position

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "Balance",
    "BalanceType",
    "Candle",
    "ConnectionLost",
    "Direction",
    "InsufficientBalance",
    "InvalidOrder",
    "IqwireError",
    "MarketClosed",
    "Outcome",
    "OutcomeUnknown",
    "PayoutChanged",
    "Position",
    "ProtocolError",
    "RealMoneyLocked",
    "RequestTimeout",
    "RiskLimitExceeded",
    "ServerError",
    "TradeError",
    "TradeNotPlaced",
    "TradeStateUnknown",
    "__version__",
    "errors",
    "models",
    "protocol",
]
