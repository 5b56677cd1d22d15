"""Candle history paged past the server's 1,000-candle limit.

``get-candles`` answers at most :data:`MAX_CANDLES_PER_REQUEST` candles; these
functions ask page after page and stitch the pages, in ascending order, for the
three ways of naming a range (ids, a forward range from ``start``, the last
``count`` up to ``end``). They need only a page fetcher and the server clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from iqwire.models import Candle
from iqwire.models.requests import GetCandlesBody

__all__ = ["MAX_CANDLES_PER_REQUEST", "CandlePager"]

#: The most candles one ``get-candles`` reply holds.
MAX_CANDLES_PER_REQUEST = 1000

FetchPage = Callable[[GetCandlesBody], Awaitable[list[Candle]]]


class CandlePager:
    """Pages ``get-candles`` for :meth:`iqwire.Client.get_candles`.

    Example::

        pager = CandlePager(fetch_page, client.server_time)
        candles = await pager.candles(76, 60, count=2500)
    """

    def __init__(self, fetch_page: FetchPage, server_time: Callable[[], float]) -> None:
        self._page = fetch_page
        self._now = server_time

    async def candles(
        self,
        active_id: int,
        size: int,
        *,
        count: int | None = None,
        start: int | None = None,
        end: int | None = None,
        from_id: int | None = None,
        to_id: int | None = None,
        only_closed: bool = False,
    ) -> list[Candle]:
        """Candles, ascending: by id range, forward from ``start``, or the last ``count``.

        Raises:
            ValueError: only one of ``from_id`` / ``to_id`` was given.
        """
        if from_id is not None or to_id is not None:
            if from_id is None or to_id is None:
                raise ValueError("from_id and to_id go together")
            return await self._by_id(active_id, size, from_id, to_id, only_closed)
        if start is not None:
            return await self._forward(active_id, size, start, end, count, only_closed)
        return await self._backward(active_id, size, count or 100, end, only_closed)

    async def _by_id(
        self, active_id: int, size: int, from_id: int, to_id: int, only_closed: bool
    ) -> list[Candle]:
        out: list[Candle] = []
        cursor = from_id
        while cursor <= to_id:
            last = min(to_id, cursor + MAX_CANDLES_PER_REQUEST - 1)
            body = GetCandlesBody(
                active_id=active_id, size=size, from_id=cursor, to_id=last, only_closed=only_closed or None
            )
            out.extend(await self._page(body))
            cursor = last + 1
        return out

    async def _forward(
        self, active_id: int, size: int, start: int, end: int | None, count: int | None, only_closed: bool
    ) -> list[Candle]:
        out: list[Candle] = []
        cursor = start
        while count is None or len(out) < count:
            wanted = (
                MAX_CANDLES_PER_REQUEST if count is None else min(MAX_CANDLES_PER_REQUEST, count - len(out))
            )
            body = GetCandlesBody(
                active_id=active_id,
                size=size,
                start=cursor,
                end=end,
                count=wanted if count is not None else None,
                only_closed=only_closed or None,
            )
            page = [
                c for c in await self._page(body) if c.start >= cursor and (end is None or c.start <= end)
            ]
            if not page:
                break
            out.extend(page)
            cursor = page[-1].start + size
            if end is not None and cursor > end:
                break
            if len(page) < wanted or page[-1].end > self._now():
                break  # a short page, or the forming candle: nothing after it exists yet
        return out if count is None else out[:count]

    async def _backward(
        self, active_id: int, size: int, count: int, end: int | None, only_closed: bool
    ) -> list[Candle]:
        pages: list[list[Candle]] = []
        remaining = count
        cursor = end if end is not None else int(self._now())
        while remaining > 0:
            wanted = min(MAX_CANDLES_PER_REQUEST, remaining)
            body = GetCandlesBody(
                active_id=active_id, size=size, end=cursor, count=wanted, only_closed=only_closed or None
            )
            page = [c for c in await self._page(body) if c.start <= cursor]
            if not page:
                break
            pages.append(page)
            remaining -= len(page)
            cursor = page[0].start - 1
            if len(page) < wanted:
                break
        return [candle for page in reversed(pages) for candle in page][-count:]
