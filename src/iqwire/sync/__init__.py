"""A blocking facade over the asyncio client and trader, for scripts, notebooks and the CLI.

Each :class:`Client` owns a private event loop running in a daemon thread; every
method hands the matching coroutine of :class:`iqwire.client.Client` to that loop
and waits for its result. The methods are generated from the async ones
(:mod:`iqwire.sync.facade`), so they cannot drift. Streams become plain
iterators (:class:`SyncStream`); trades go through :class:`Trader`.

Example::

    from iqwire.sync import Client, Trader

    with Client(email="demo@example.com", password="demo",
                ws_url=sim_ws_url, login_url=sim_login_url) as client:
        print(client.get_balance().amount)
        for candle in client.candles(76, 1):
            print(candle.close)
            break
        trade = Trader(client).buy_blitz("EURUSD-OTC", "call", 10, expiration=30)
        print(trade.outcome().pnl)
"""

from iqwire.sync.client import Client
from iqwire.sync.loop import EventLoopThread
from iqwire.sync.margin import SyncMarginOrder, SyncMarginPosition
from iqwire.sync.streams import SyncStream
from iqwire.sync.trading import SyncPortfolio, SyncTrade, Trader

__all__ = [
    "Client",
    "EventLoopThread",
    "SyncMarginOrder",
    "SyncMarginPosition",
    "SyncPortfolio",
    "SyncStream",
    "SyncTrade",
    "Trader",
]
