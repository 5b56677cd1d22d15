"""Trading above the client: a :class:`Trader` with one module per product.

Example::

    trader = Trader(client)
    trade = await trader.buy_blitz("EURUSD-OTC", "call", 10, expiration=30)
"""

from iqwire.trading.blitz import blitz_expiry
from iqwire.trading.client import TradingClient
from iqwire.trading.desk import Desk
from iqwire.trading.payouts import Payouts
from iqwire.trading.portfolio import Portfolio
from iqwire.trading.trade import Trade, TradeResult
from iqwire.trading.trader import Trader

__all__ = [
    "Desk",
    "Payouts",
    "Portfolio",
    "Trade",
    "TradeResult",
    "Trader",
    "TradingClient",
    "blitz_expiry",
]
