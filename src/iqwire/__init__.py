"""iqwire: a typed asyncio toolkit for the IQ Option WebSocket API.

Example::

    import iqwire

    async with iqwire.Client(email="demo@example.com", password="demo",
                             ws_url=sim.ws_url, login_url=sim.login_url) as client:
        print(await client.get_balances())

``iqwire.Client`` and the I/O layers load on first use, so importing
``iqwire.protocol`` alone never pulls in asyncio, websockets or httpx.
"""

from typing import TYPE_CHECKING, Any

from iqwire import errors, models, protocol
from iqwire.errors import (
    AuthError,
    ConnectionLost,
    InsufficientBalance,
    InvalidOrder,
    IqwireError,
    LocalProtocolError,
    MarketClosed,
    NotConnected,
    OrderNotFilled,
    OrderRejected,
    OutcomeUnknown,
    PayoutChanged,
    ProtocolError,
    RealMoneyLocked,
    RemoteProtocolError,
    RequestTimeout,
    RiskLimitExceeded,
    ServerError,
    TLSError,
    TradeError,
    TradeNotPlaced,
    TradeStateUnknown,
    UnknownAsset,
    UnknownBalance,
)
from iqwire.models import Balance, BalanceType, Candle, Direction, Outcome, Position

__version__ = "0.1.0"

if TYPE_CHECKING:
    from iqwire.client import Client, ConnectionState
    from iqwire.trading import Trade, Trader, TradeResult

_LAZY = {
    "Client": ("iqwire.client", "Client"),
    "ConnectionState": ("iqwire.client", "ConnectionState"),
    "Trade": ("iqwire.trading", "Trade"),
    "Trader": ("iqwire.trading", "Trader"),
    "TradeResult": ("iqwire.trading", "TradeResult"),
}


def __getattr__(name: str) -> Any:
    # I/O-bound parts load on first use (see the module docstring).
    if name in _LAZY:
        import importlib

        module_name, attribute = _LAZY[name]
        return getattr(importlib.import_module(module_name), attribute)
    if name in ("bot", "client", "sim", "store", "sync", "trading", "transport"):
        import importlib

        return importlib.import_module(f"iqwire.{name}")
    raise AttributeError(f"module 'iqwire' has no attribute {name!r}")


__all__ = [
    "AuthError",
    "Balance",
    "BalanceType",
    "Candle",
    "Client",
    "ConnectionLost",
    "ConnectionState",
    "Direction",
    "InsufficientBalance",
    "InvalidOrder",
    "IqwireError",
    "LocalProtocolError",
    "MarketClosed",
    "NotConnected",
    "Outcome",
    "OrderRejected",
    "OrderNotFilled",
    "OutcomeUnknown",
    "PayoutChanged",
    "Position",
    "ProtocolError",
    "RealMoneyLocked",
    "RemoteProtocolError",
    "RequestTimeout",
    "RiskLimitExceeded",
    "ServerError",
    "TLSError",
    "Trade",
    "TradeError",
    "TradeNotPlaced",
    "TradeResult",
    "TradeStateUnknown",
    "Trader",
    "UnknownAsset",
    "UnknownBalance",
    "errors",
    "models",
    "protocol",
    "__version__",
]
