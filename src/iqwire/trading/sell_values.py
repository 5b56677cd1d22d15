"""Live sale values: ``trade.sell_profit`` kept current from ``portfolio.positions-state``.

As the official SDK does, the trader asks ``portfolio.subscribe-positions`` 1.0
for the internal ids of its open turbo, binary and digital positions (again on
each new trade and after every reconnect) and follows the ``positions-state``
push; each entry's ``sell_profit`` (what selling or closing the position now pays
back) is written to the matching :class:`~iqwire.trading.Trade`.
"""

from __future__ import annotations

import logging

from iqwire.errors import IqwireError
from iqwire.models.binary import PositionsState, SubscribePositionsBody
from iqwire.protocol import catalog
from iqwire.trading.client import TradingClient
from iqwire.trading.follow import Follower
from iqwire.trading.portfolio import Portfolio
from iqwire.trading.trade import Trade

__all__ = ["SellValues"]

log = logging.getLogger("iqwire.trading")


class SellValues:
    """Keeps ``sell_profit`` of the trader's sellable trades current.

    Example::

        await trader.sell_values.track(trade)
        print(trade.sell_profit)          # updated about once a second
    """

    def __init__(self, client: TradingClient, portfolio: Portfolio) -> None:
        self._client = client
        self._portfolio = portfolio
        self._trades: dict[int, Trade] = {}
        self._follower = Follower(
            lambda: client.subscribe(catalog.POSITIONS_STATE, None, name="positions-state"),
            self.apply,
            "positions-state",
        )
        self._hooked = False

    async def track(self, trade: Trade) -> None:
        """Follow a trade's sale value (a no-op for products that cannot be sold)."""
        if trade.product not in ("turbo", "binary", "digital"):
            return
        self._trades[trade.id] = trade
        if not self._hooked:
            self._client.on_reconnect(self.resubscribe)
            self._hooked = True
        await self.resubscribe()

    def _internal_ids(self) -> list[int | str]:
        ids: list[int | str] = []
        for option_id, trade in list(self._trades.items()):
            if trade.result is not None or option_id in self._portfolio.closed:
                del self._trades[option_id]
                continue
            position = self._portfolio.open.get(option_id)
            ids.append(position.id if position is not None else trade.position_ref or option_id)
        return ids

    async def resubscribe(self) -> None:
        """Ask the server again for the states of every tracked open position.

        Never raises: it runs right after a trade was placed, and a connection lost
        here must not hide the placed trade from its caller. A failure is logged and
        the next call (the next trade's, or a reconnect's) tries again.
        """
        ids = self._internal_ids()
        if not ids:
            return
        try:
            await self._follower.start()  # once; a start a lost connection broke is retried here
            await self._client.call(
                catalog.SUBSCRIBE_POSITIONS, SubscribePositionsBody(frequency="frequent", ids=ids)
            )
        except IqwireError as exc:
            log.warning("following sale values failed (%s); they may be stale", exc)

    def apply(self, state: PositionsState) -> None:
        """Write each entry's ``sell_profit`` to its trade."""
        by_internal = {p.id: option_id for option_id, p in self._portfolio.open.items()}
        for entry in state.positions:
            option_id = by_internal.get(entry.id)
            if option_id is None and isinstance(entry.id, int):
                option_id = entry.id
            trade = self._trades.get(option_id) if option_id is not None else None
            if trade is not None and entry.sell_profit is not None:
                trade.sell_profit = entry.sell_profit

    async def stop(self) -> None:
        """Stop following sale values."""
        await self._follower.stop()
