"""At most once: send a money request once, and settle a lost answer against the server.

Every product uses these. A request that opens (sells, closes, cancels) is sent
by :func:`send_once`, which never re-sends it: when the connection drops or the
answer times out after sending, the position may or may not exist, so it returns
:data:`LOST` and the product reconciles instead. :func:`read_positions` waits for
the connection to come back and reads the open positions and the recent history
(retrying across further losses); :func:`find_placed` picks the one unclaimed
position that matches what was sent, or proves there is none.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from iqwire.client.state import ConnectionState
from iqwire.errors import ConnectionLost, RequestTimeout, TradeNotPlaced, TradeStateUnknown
from iqwire.models import Position
from iqwire.protocol.catalog import RpcSpec
from iqwire.trading.client import TradingClient
from iqwire.trading.portfolio import Portfolio

__all__ = [
    "LOST",
    "RECONCILE_WINDOW",
    "RECONNECT_WAIT",
    "find_placed",
    "opened_near",
    "read_positions",
    "send_once",
]

log = logging.getLogger("iqwire.trading")

#: How far (seconds) a reconciled position's open time may be from the send time.
RECONCILE_WINDOW = 10.0
#: How long to wait for the connection to come back before reconciling.
RECONNECT_WAIT = 30.0
#: Connection states that will not come back by themselves.
_GONE = frozenset({ConnectionState.CLOSED, ConnectionState.AUTH_FAILED, ConnectionState.DISCONNECTED})

Body = TypeVar("Body")
Reply = TypeVar("Reply")


class _Lost(enum.Enum):
    LOST = "lost"


#: What :func:`send_once` returns when the request was sent and its answer lost.
LOST: Literal[_Lost.LOST] = _Lost.LOST


async def send_once(client: TradingClient, spec: RpcSpec[Body, Reply], body: Body) -> Reply | _Lost:
    """Send a money request exactly once; :data:`LOST` if its answer was lost after sending.

    Example::

        option = await send_once(client, catalog.OPEN_OPTION, body)
        if option is LOST:
            ...  # reconcile: read_positions + find_placed

    Raises:
        Whatever the server answered (``ServerError``, ``PayoutChanged``...) or the
        lock refused (``RealMoneyLocked``): in those cases nothing was placed.
    """
    try:
        return await client.call(spec, body)
    except (ConnectionLost, RequestTimeout) as exc:
        log.warning("%s: %s; reconciling, not re-sending", spec.name, exc)
        return LOST


def opened_near(position: Position, sent_at: float, window: float = RECONCILE_WINDOW) -> bool:
    """Whether a position opened within ``window`` seconds of the send (or says no open time)."""
    opened = position.open_time_s
    return opened is None or sent_at - window <= opened <= sent_at + window


async def read_positions(
    client: TradingClient, *, balance_id: int | None, instrument_types: Sequence[str], what: str
) -> list[Position]:
    """Open positions, then the recent history, read once the connection is back.

    Retries across further losses for up to :data:`RECONNECT_WAIT` seconds.

    Raises:
        TradeStateUnknown: the positions could not be read in time (``what`` names the request).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECONNECT_WAIT
    while True:
        try:
            await client.wait_connected(max(0.0, deadline - loop.time()))
            open_now = await client.get_positions(balance_id, instrument_types=list(instrument_types))
            recent = await client.get_history_positions(
                balance_id, instrument_types=list(instrument_types), limit=100
            )
            return open_now + recent
        except (ConnectionLost, RequestTimeout) as exc:
            if loop.time() >= deadline or client.state in _GONE:
                raise TradeStateUnknown(
                    f"the answer to {what} was lost and the positions could not be read ({exc}); "
                    "the trade may or may not exist: check the open positions",
                    [],
                ) from exc
            log.info("reconciliation lookup failed (%s); retrying", exc)
            await asyncio.sleep(0.05)


def find_placed(
    positions: Sequence[Position],
    portfolio: Portfolio,
    matches: Callable[[Position], bool],
    *,
    what: str,
) -> Position:
    """The one position, not claimed by another trade, that ``matches`` what was sent.

    The position is then claimed and applied to the portfolio.

    Raises:
        TradeNotPlaced: none matches: the request was not executed.
        TradeStateUnknown: several match: which one is this trade cannot be told.
    """
    seen: dict[int, Position] = {}
    for position in positions:
        option_id = position.option_id
        if option_id is not None and not portfolio.is_claimed(option_id) and matches(position):
            seen.setdefault(option_id, position)
    candidates: list[Any] = list(seen.values())
    if not candidates:
        raise TradeNotPlaced(
            f"the connection dropped after sending {what} and no matching position exists: "
            "the trade was not placed"
        )
    if len(candidates) > 1:
        raise TradeStateUnknown(
            f"{len(candidates)} positions match the lost {what}; cannot tell which is this trade", candidates
        )
    placed: Position = candidates[0]
    assert placed.option_id is not None
    portfolio.claim(placed.option_id)
    portfolio.apply(placed)
    log.info("reconciled the lost %s: it was placed as %s", what, placed.option_id)
    return placed
