"""Trading: blitz options placed once and awaited, the portfolio tracker."""

from iqwire.trading.blitz import blitz_expiry, buy_blitz, resolve_active
from iqwire.trading.portfolio import Portfolio
from iqwire.trading.trade import Trade, TradeResult

__all__ = ["Portfolio", "Trade", "TradeResult", "blitz_expiry", "buy_blitz", "resolve_active"]
