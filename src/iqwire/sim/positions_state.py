"""``portfolio.positions-state``: what each open position is worth now, pushed once a second.

The official SDK calls ``portfolio.subscribe-positions`` 1.0 ``{frequency, ids}`` with
the internal ids of its open positions (again every 60 s and on each new
position) and subscribes ``portfolio.positions-state``; the simulator then pushes,
every second of simulated time, the state of those positions that are still
open, valued by their product (:meth:`iqwire.sim.product.Product.value`):
``sell_profit`` is what selling or closing it now pays back.
"""

from __future__ import annotations

import math

from iqwire.models import Result
from iqwire.models.binary import PositionsState, PositionState, SubscribePositionsBody
from iqwire.sim.accounts import User
from iqwire.sim.product import Product, ProductHost, Reply

__all__ = ["PositionsStateFeed"]

_PUSH = "positions-state"


class PositionsStateFeed:
    """The positions each user asked about, and their once-a-second valuation."""

    def __init__(self, host: ProductHost, products: list[Product]) -> None:
        self.host = host
        self._products = {product.name: product for product in products}
        self._tracked: dict[int, set[int]] = {}
        self._users: dict[int, User] = {}
        self._last_second = -1

    def subscribe(self, user: User, body: SubscribePositionsBody, now: float) -> Reply:
        """``portfolio.subscribe-positions``: track these ids (numbers, or numeric strings)."""
        ids = self._tracked.setdefault(user.user_id, set())
        self._users[user.user_id] = user
        for raw in body.ids:
            if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()):
                ids.add(int(raw))
        return "result", Result(success=True)

    def step(self, t: float) -> None:
        """Push every tracked user's open positions, once per whole second."""
        second = math.floor(t)
        if second == self._last_second or not self._tracked:
            return
        self._last_second = second
        watching = {
            conn.user.user_id
            for conn in self.host.hub.connections.values()
            if conn.user is not None and any(e.spec.push_name == _PUSH for e in conn.subscriptions)
        }
        ledger = self.host.state.ledger
        for user_id, ids in list(self._tracked.items()):
            states: list[PositionState] = []
            for position_id in sorted(ids):
                record = ledger.record(position_id)
                if record is None or record.position.status != "open":
                    ids.discard(position_id)
                    continue
                product = self._products.get(record.product)
                state = product.value(record, t) if product is not None and user_id in watching else None
                if state is not None:
                    states.append(state)
            if not ids:
                del self._tracked[user_id]
            if states:
                payload = PositionsState(positions=states, expires_in=60, user_id=user_id, subscription_id=1)
                self.host.push(_PUSH, payload, {}, self._users[user_id])
