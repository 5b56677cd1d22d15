"""The portfolio tracker: open positions, realised P&L, balances, kept current by pushes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from iqwire.errors import IqwireError
from iqwire.models import Balance, BalanceChanged, Position
from iqwire.trading.client import TradingClient

__all__ = ["Portfolio"]

log = logging.getLogger("iqwire.trading.portfolio")


class Portfolio:
    """What the account holds, from pushes, re-synchronised after every reconnect.

    It follows the positions of the instrument types given (and of any added later
    with :meth:`follow`). ``trader.portfolio`` starts itself before the first trade.
    It also records which positions a trade of this process *claimed*, so that a
    reconciliation never mistakes one trade's position for another's.

    Example::

        await trader.portfolio.start()
        print(trader.portfolio.open_positions, trader.portfolio.realised_pnl_today())
    """

    def __init__(self, client: TradingClient, instrument_types: Iterable[str] = ("blitz-option",)) -> None:
        self._client = client
        self._types: list[str] = list(dict.fromkeys(instrument_types))
        self.open: dict[int, Position] = {}
        self.closed: dict[int, Position] = {}
        self.balances: dict[int, Balance] = {}
        self._versions: dict[int, int] = {}
        self._waiters: dict[int, list[asyncio.Future[Position]]] = defaultdict(list)
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._start_lock = asyncio.Lock()
        self._hooked = False
        self._claimed: set[int] = set()
        self._listeners: list[Callable[[Position], None]] = []

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to position and balance pushes and load the current state. Idempotent."""
        async with self._start_lock:
            if self._started:
                return
            balances = self._client.balance_changes()
            await balances.__aenter__()
            self._tasks = [
                asyncio.create_task(
                    self._consume(balances, self._on_balance), name="iqwire-portfolio-balances"
                )
            ]
            try:
                for instrument_type in self._types:
                    await self._follow_pushes(instrument_type)
            except BaseException:
                await self.stop()
                raise
            if not self._hooked:
                self._client.on_reconnect(self.resync)
                self._hooked = True
            self._started = True
        await self.resync()

    async def follow(self, instrument_type: str) -> None:
        """Also follow the positions of this instrument type (a product's first trade does it).

        Example::

            await trader.portfolio.follow("turbo-option")
        """
        async with self._start_lock:
            if instrument_type in self._types:
                return
            self._types.append(instrument_type)
            if self._started:
                await self._follow_pushes(instrument_type)

    async def _follow_pushes(self, instrument_type: str) -> None:
        positions = self._client.positions_changed(instrument_type=instrument_type)
        await positions.__aenter__()
        self._tasks.append(
            asyncio.create_task(
                self._consume(positions, self._on_position), name=f"iqwire-portfolio-{instrument_type}"
            )
        )

    @property
    def instrument_types(self) -> list[str]:
        """The instrument types whose positions are followed."""
        return list(self._types)

    # -- claims -----------------------------------------------------------------------------

    def claim(self, option_id: int) -> None:
        """Record that a trade of this process owns this position."""
        self._claimed.add(option_id)

    def is_claimed(self, option_id: int) -> bool:
        """Whether a trade of this process already owns this position."""
        return option_id in self._claimed

    async def stop(self) -> None:
        """Stop following pushes."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._started = False

    @staticmethod
    async def _consume(stream: Any, handler: Any) -> None:
        try:
            async for item in stream:
                handler(item)
        finally:
            await stream.aclose()

    # -- pushes ----------------------------------------------------------------------------

    def _on_balance(self, change: BalanceChanged) -> None:
        self.balances[change.current_balance.id] = change.current_balance

    def _on_position(self, position: Position) -> None:
        self.apply(position)

    def apply(self, position: Position) -> None:
        """Take a position event (push, positions or history reply); stale versions are ignored."""
        option_id = position.option_id
        if option_id is None:
            return
        version = position.version
        if version is not None:
            if version < self._versions.get(option_id, 0):
                return
            self._versions[option_id] = version
        if position.is_closed:
            self.open.pop(option_id, None)
            self.closed[option_id] = position
            for waiter in self._waiters.pop(option_id, []):
                if not waiter.done():
                    waiter.set_result(position)
        elif option_id not in self.closed:
            self.open[option_id] = position
        for listener in self._listeners:
            listener(position)

    def listen(self, listener: Callable[[Position], None]) -> None:
        """Call ``listener`` with every position event applied (a product's own bookkeeping).

        Example::

            trader.portfolio.listen(lambda p: print(p.option_id, p.status))
        """
        if listener not in self._listeners:
            self._listeners.append(listener)

    # -- queries ---------------------------------------------------------------------------

    @property
    def open_positions(self) -> list[Position]:
        """Open positions, oldest first."""
        return sorted(self.open.values(), key=lambda p: (p.open_time_s or 0, p.option_id or 0))

    def realised_pnl_today(self, balance_id: int | None = None, *, now: float | None = None) -> float:
        """Realised P&L of positions closed today (UTC), for one balance or all."""
        day = datetime.fromtimestamp(now if now is not None else self._client.server_time(), tz=UTC).date()
        total = 0.0
        for position in self.closed.values():
            if balance_id is not None and position.user_balance_id != balance_id:
                continue
            closed_at = position.close_time_s or position.expiration_time_s or 0
            if datetime.fromtimestamp(closed_at, tz=UTC).date() == day:
                total += position.pnl or 0.0
        return round(total, 2)

    def wait_closed(self, option_id: int) -> asyncio.Future[Position]:
        """A future resolved with the closed position (at once if it already closed)."""
        future: asyncio.Future[Position] = asyncio.get_running_loop().create_future()
        closed = self.closed.get(option_id)
        if closed is not None:
            future.set_result(closed)
        else:
            self._waiters[option_id].append(future)
        return future

    # -- resync ----------------------------------------------------------------------------

    async def resync(self) -> None:
        """Reload balances and open positions; fetch from history any that closed unseen."""
        try:
            for balance in await self._client.get_balances():
                self.balances[balance.id] = balance
            current = await self._client.get_positions(instrument_types=list(self._types))
        except IqwireError as exc:
            log.warning("portfolio resync failed: %s", exc)
            return
        current_ids = set()
        for position in current:
            self.apply(position)
            if position.option_id is not None:
                current_ids.add(position.option_id)
        vanished = [option_id for option_id in list(self.open) if option_id not in current_ids]
        vanished += [
            option_id
            for option_id in self._waiters
            if option_id not in current_ids and option_id not in vanished
        ]
        for option_id in vanished:
            await self.fetch_closed(option_id)

    async def fetch_closed(self, option_id: int) -> Position | None:
        """Look a position up in history by option id; apply it if it closed."""
        try:
            found = await self._client.get_history_positions(
                external_id=option_id, instrument_types=list(self._types)
            )
        except IqwireError as exc:
            log.warning("history lookup of option %s failed: %s", option_id, exc)
            return None
        for position in found:
            if position.option_id == option_id and position.is_closed:
                self.apply(position)
                return position
        return None
