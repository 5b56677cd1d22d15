"""The real-money lock: the one check every money-moving request passes.

Every RPC that opens, sells, closes or cancels a position or an order is marked
in the catalog (``RpcSpec.money``); the connection hands each of them to
:meth:`RealMoneyLock.check_request` before sending, whoever sends it — a product
module of :mod:`iqwire.trading`, the bot, the CLI, or a raw ``client.request``.
Without the opt-in, a request for a REAL balance, or one whose balance cannot be
told, is refused with :class:`~iqwire.errors.RealMoneyLocked` and nothing is sent.
With the opt-in the check costs nothing: no lookup, no round trip.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from iqwire.errors import RealMoneyLocked
from iqwire.models import Balance, BalanceType, Order, Position
from iqwire.protocol.catalog import MoneyMove, RpcSpec

__all__ = ["RealMoneyLock"]

_OPT_IN = "create the client with allow_real_money=True (or Trader(client, allow_real_money=True))"


def _field(body: Any, name: str) -> Any:
    return body.get(name) if isinstance(body, dict) else getattr(body, name, None)


def _as_id(raw: Any) -> int | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


class RealMoneyLock:
    """Refuses to move money on a REAL balance unless the user opted in.

    ``balances`` fetches every balance (the lock learns their types from it);
    ``positions`` the open positions and ``orders(balance_id)`` a balance's orders,
    to find the balance of a sell, close or cancel that names only ids.

    Example::

        lock = RealMoneyLock(allowed=False, balances=client.get_balances,
                             positions=client.get_positions, orders=client.get_orders)
        await lock.check("open", balance_id)      # raises RealMoneyLocked for a REAL balance
    """

    def __init__(
        self,
        *,
        allowed: bool,
        balances: Callable[[], Awaitable[list[Balance]]],
        positions: Callable[[], Awaitable[list[Position]]],
        orders: Callable[[int], Awaitable[list[Order]]],
    ) -> None:
        self.allowed = allowed
        self._balances = balances
        self._positions = positions
        self._orders = orders
        self._types: dict[int, BalanceType] = {}

    def learn(self, balances: Iterable[Balance]) -> None:
        """Remember the type of each balance (every ``get_balances`` reply passes here)."""
        self._types.update((balance.id, balance.type) for balance in balances)

    async def check(self, action: str, balance_id: int | None) -> None:
        """The one real-money check: may ``action`` move money on this balance?

        Raises:
            RealMoneyLocked: no opt-in, and the balance is REAL or not named.
        """
        if self.allowed:
            return
        if balance_id is None:
            raise RealMoneyLocked(
                f"refusing to {action}: the request names no balance, so it could be a REAL one; {_OPT_IN}"
            )
        if balance_id not in self._types:
            self.learn(await self._balances())  # a balance not seen yet: learn its type first
        if self._types.get(balance_id) == BalanceType.REAL:
            raise RealMoneyLocked(f"refusing to {action} on a REAL balance ({balance_id}): {_OPT_IN}")

    async def check_request(self, spec: RpcSpec[Any, Any], body: Any) -> None:
        """Check a money-moving RPC before it is sent (the connection's guard).

        Raises:
            RealMoneyLocked: as :meth:`check`, for the balance the body names or,
                for a body of position or order ids, the balance each belongs to.
        """
        move = spec.money
        if self.allowed or move is None:
            return
        if move.balance_field is not None:
            await self.check(move.action, _as_id(_field(body, move.balance_field)))
            return
        raw = _field(body, move.ids_field) if move.ids_field is not None else None
        ids = [_as_id(item) for item in (raw if isinstance(raw, list | tuple) else [raw])]
        if not ids or None in ids:
            await self.check(move.action, None)
        for balance_id in await self._balances_of(move, [i for i in ids if i is not None]):
            await self.check(move.action, balance_id)

    async def _balances_of(self, move: MoneyMove, ids: list[int]) -> list[int | None]:
        """The balance of each position or order id (``None`` where it cannot be found)."""
        found: dict[int, int | None] = {}
        if move.ids_kind == "order":
            if not self._types:
                self.learn(await self._balances())
            for balance_id in list(self._types):
                for order in await self._orders(balance_id):
                    order_id = _as_id(order.id)
                    if order_id in ids:
                        found[order_id] = order.user_balance_id or balance_id
        else:
            for position in await self._positions():
                for key in (position.option_id, _as_id(position.id)):
                    if key in ids:
                        found[key] = position.user_balance_id
        return [found.get(i) for i in ids]
