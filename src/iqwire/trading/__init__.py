"""Trading above the client: a :class:`Trader` with one module per product.

Blitz (``blitz.py``), turbo and binary (``fixed_expiry.py``), digital (``digital.py``);
``docs/trading.md`` describes them.

Example::

    trader = Trader(client)
    trade = await trader.buy_blitz("EURUSD-OTC", "call", 10, expiration=30)
    digital = await trader.buy_digital("EURUSD-OTC", "put", 10, 60, strike="spot")
"""

from iqwire.trading.blitz import blitz_expiry
from iqwire.trading.client import TradingClient
from iqwire.trading.desk import Desk
from iqwire.trading.digital import DigitalStrikes, StrikeQuote
from iqwire.trading.margin_balance import MarginFigures
from iqwire.trading.margin_instruments import Instrument, calculate_margin
from iqwire.trading.margin_orders import MarginOrder
from iqwire.trading.margin_positions import MarginBook, MarginPosition
from iqwire.trading.payouts import Payouts
from iqwire.trading.portfolio import Portfolio
from iqwire.trading.trade import Trade, TradeResult
from iqwire.trading.trader import Trader

__all__ = [
    "Desk",
    "DigitalStrikes",
    "Instrument",
    "MarginBook",
    "MarginFigures",
    "MarginOrder",
    "MarginPosition",
    "Payouts",
    "Portfolio",
    "StrikeQuote",
    "Trade",
    "TradeResult",
    "Trader",
    "TradingClient",
    "blitz_expiry",
    "calculate_margin",
]
