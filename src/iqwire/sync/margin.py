"""Blocking margin orders and positions, generated from their asyncio classes.

:class:`SyncMarginOrder` and :class:`SyncMarginPosition` wrap
:class:`~iqwire.trading.MarginOrder` and :class:`~iqwire.trading.MarginPosition`:
the awaiting methods block (on the client's loop thread), the figures are read
as they are.

Example::

    order = trader.place_order("EURUSD-OTC", "buy", 1000, leverage=100, stop_loss=(20, "pips"))
    position = order.filled(timeout=10)
    print(position.pnl, position.margin)
    position.close()
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from iqwire.sync.facade import blocking, blocking_as, mirrored
from iqwire.sync.loop import EventLoopThread
from iqwire.trading import MarginOrder, MarginPosition

__all__ = ["SyncMarginOrder", "SyncMarginPosition"]

P = ParamSpec("P")
T = TypeVar("T")


class _Wrapped:
    """What both facades share: the async object and the loop thread it lives on."""

    def __init__(self, runner: EventLoopThread, target: Any) -> None:
        self._runner = runner
        self._wrapped = target

    @property
    def _target(self) -> Any:
        return self._wrapped

    def _call(self, fn: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._runner.run(fn, *args, **kwargs)

    def __repr__(self) -> str:
        return repr(self._wrapped)


class SyncMarginPosition(_Wrapped):
    """A margin position; :meth:`close` and :meth:`closed` block.

    It carries the position's facts (``id``, ``order_id``, ``family``,
    ``instrument_id``, ``active_id``, ``side``, ``quantity``, ``leverage``,
    ``open_price``, ``balance_id``, ``opened_at``).

    Example::

        position = trader.margin_position(4711)
        position.modify(take_profit=1.09)
        print(position.close().pnl)
    """

    def __init__(self, runner: EventLoopThread, position: MarginPosition) -> None:
        super().__init__(runner, position)
        self.position = position
        self.id = position.id
        self.order_id = position.order_id
        self.family = position.family
        self.instrument_id = position.instrument_id
        self.active_id = position.active_id
        self.side = position.side
        self.quantity = position.quantity
        self.leverage = position.leverage
        self.open_price = position.open_price
        self.balance_id = position.balance_id
        self.opened_at = position.opened_at

    status = mirrored(MarginPosition.status)
    is_closed = mirrored(MarginPosition.is_closed)
    pnl = mirrored(MarginPosition.pnl)
    margin = mirrored(MarginPosition.margin)
    swap = mirrored(MarginPosition.swap)
    current_price = mirrored(MarginPosition.current_price)
    take_profit = mirrored(MarginPosition.take_profit)
    stop_loss = mirrored(MarginPosition.stop_loss)
    close_reason = mirrored(MarginPosition.close_reason)
    close_price = mirrored(MarginPosition.close_price)
    last = mirrored(MarginPosition.last)
    close = blocking_as(MarginPosition.close, lambda runner, p: SyncMarginPosition(runner, p))
    closed = blocking_as(MarginPosition.closed, lambda runner, p: SyncMarginPosition(runner, p))
    modify = blocking(MarginPosition.modify)


class SyncMarginOrder(_Wrapped):
    """A margin order; :meth:`filled` blocks until it fills.

    It carries the order's facts (``id``, ``instrument``, ``side``, ``quantity``,
    ``leverage``, ``type``, ``price``, ``balance_id``, ``take_profit``,
    ``stop_loss``, ``reconciled``).

    Example::

        order = trader.place_order("EURUSD-OTC", "buy", 1000, type="limit", price=1.02, leverage=100)
        order.cancel()
    """

    def __init__(self, runner: EventLoopThread, order: MarginOrder) -> None:
        super().__init__(runner, order)
        self.order = order
        self.id = order.id
        self.instrument = order.instrument
        self.side = order.side
        self.quantity = order.quantity
        self.leverage = order.leverage
        self.type = order.type
        self.price = order.price
        self.balance_id = order.balance_id
        self.take_profit = order.take_profit
        self.stop_loss = order.stop_loss
        self.reconciled = order.reconciled

    status = mirrored(MarginOrder.status)
    filled = blocking_as(MarginOrder.filled, SyncMarginPosition)
    cancel = blocking(MarginOrder.cancel)

    @property
    def position(self) -> SyncMarginPosition | None:
        """The position it opened, once filled."""
        found = self.order.position
        return None if found is None else SyncMarginPosition(self._runner, found)
