"""Warm-up from history: fill a live run's windows before its first live candle.

After ``on_start`` has attached its indicators, each (active, size) window gets
the closed candles it needs from ``get-candles`` — the strategy's ``warmup``
when it declares one, else the largest ``Indicator.warmup`` of the window — so
a live or paper run can trade on its first live candle. History candles feed
the windows and their indicators only: the strategy is not called for them
(it must not trade on the past).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from iqwire.bot.context import Context
from iqwire.bot.records import RunState
from iqwire.models import Candle

__all__ = ["CandleHistory", "warm_up", "warmup_needs", "warmup_progress"]

log = logging.getLogger("iqwire.bot.warmup")


class CandleHistory(Protocol):
    """What warming up needs of a client."""

    def server_time(self) -> float:
        """Server time, unix seconds."""
        ...

    async def get_candles(self, active_id: int, size: int, *, count: int | None = None) -> list[Candle]:
        """The last ``count`` candles of an active and size, ascending."""
        ...


def warmup_needs(
    ctx: Context, actives: Sequence[int], sizes: Sequence[int], declared: int | None
) -> dict[tuple[int, int], int]:
    """Closed candles each (active, size) window needs; windows needing none are left out."""
    needs: dict[tuple[int, int], int] = {}
    for active_id in actives:
        for size in sizes:
            if declared is not None:
                need = declared
            else:
                window = ctx.windows.get((active_id, size))
                indicators = window.indicators.values() if window is not None else ()
                need = max((indicator.warmup for indicator in indicators), default=0)
            if need > 0:
                needs[(active_id, size)] = need
    return needs


def warmup_progress(ctx: Context, needs: dict[tuple[int, int], int], state: RunState) -> None:
    """Set ``state.warmup_have``/``warmup_needed`` from the windows (the dashboard shows them)."""
    if not needs:
        state.warmup_needed = state.warmup_have = 0
        return
    # n/N: N the most any window needs, n what is left of it after the largest shortfall.
    shortfall = max(
        max(0, need - len(ctx.window_of(active_id, size))) for (active_id, size), need in needs.items()
    )
    state.warmup_needed = max(needs.values())
    state.warmup_have = state.warmup_needed - shortfall


async def warm_up(
    ctx: Context, history: CandleHistory, needs: dict[tuple[int, int], int], state: RunState
) -> int:
    """Load the needed closed candles into the windows; return how many were loaded."""
    loaded = 0
    for (active_id, size), need in needs.items():
        window = ctx.window_of(active_id, size)
        missing = need - len(window)
        if missing <= 0:
            continue
        # One more than needed: the newest may still be forming.
        candles = await history.get_candles(active_id, size, count=missing + 1)
        now = history.server_time()
        closed = [c for c in candles if c.end <= now]
        for candle in closed[-missing:]:
            window.update(candle)
            loaded += 1
        warmup_progress(ctx, needs, state)
    log.info("warm-up: %d candles loaded for %d window(s)", loaded, len(needs))
    return loaded
