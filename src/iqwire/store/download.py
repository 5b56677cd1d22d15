"""Download candle history into a :class:`~iqwire.store.CandleStore`: parallel, resumable, gap-aware.

Theory of operation.

1. **Cold start.** ``get-first-candles`` says where the history of ``size`` begins
   (its ``from`` and id); the range is clamped to it and to the last *complete*
   candle (``from + size <= server time``), on the candle grid.
2. **Resume.** Only the parts of the range that no earlier download fetched in
   full (the store's ``coverage``) are fetched. Pages' candles and their coverage
   are committed in one transaction (at least ``batch`` candles, plus every page
   fetched while the previous write ran), so an interrupted download loses at most
   the pages not yet committed, and fetching them again inserts no duplicate.
3. **Pages.** Up to 1000 candle slots each, ``concurrency`` in flight. A page is
   asked by id range: ids are sequential in time, so the candle starting at ``t``
   has ``id = (t - first.start) // size + first.id``. The first reply whose ids do
   not follow that rule switches the rest of the download to time ranges
   (``from``/``to``), re-fetching that page.
4. **Gaps.** Every absent slot of the range is classified as a **market** gap or
   **missing** data by the rules of :mod:`iqwire.store.gaps`, strongest first:
   ``is_open`` if given; the active's ``schedule`` from ``get-initialization-data``
   (blitz, turbo, then binary; on the simulator it spans ``now - 1 day … now + 7
   days``) and its ``is_suspended``; the ids of the stored candles around the run
   (the simulator's ids jump with time across closures, so there that rule cannot
   tell: pass ``is_open`` for old history).

   Missing runs are fetched once more by time range; what is still absent is
   reported, and left out of the coverage so the next download tries it again.
   Market gaps are recorded in the store for :meth:`CandleStore.info`.

Example::

    async with Client(...) as client, ... :
        report = await download(store, client, 76, 60, now - 30 * 86_400, now)
        print(report.fetched, report.market_gaps, report.missing)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import operator
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from iqwire.errors import IqwireError
from iqwire.models import Candle, FirstCandles
from iqwire.store.candles import CandleStore, Gap, StoredActive, subtract_intervals
from iqwire.store.gaps import Schedule, classify_gaps

__all__ = ["PAGE_SLOTS", "CandleSource", "DownloadReport", "Schedule", "classify_gaps", "download"]

log = logging.getLogger("iqwire.store")

#: Candles per page: the server's cap per ``get-candles`` reply.
PAGE_SLOTS = 1000

Progress = Callable[[int, int], None]


class CandleSource(Protocol):
    """What :func:`download` needs of a client (:class:`iqwire.Client` has it all)."""

    async def get_candles(
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
    ) -> list[Candle]: ...

    async def get_first_candles(self, active_id: int) -> FirstCandles: ...

    def server_time(self) -> float: ...


@dataclass(frozen=True)
class DownloadReport:
    """What one :func:`download` did and what the range looks like afterwards.

    ``slots`` counts candle slots of ``[start, end)`` (after clamping); ``skipped``
    the slots an earlier download had fetched already.
    """

    active_id: int
    size: int
    start: int
    end: int
    slots: int
    skipped: int
    pages: int
    fetched: int
    written: int
    refetched: int
    market_gaps: tuple[Gap, ...] = field(default=())
    missing: tuple[Gap, ...] = field(default=())
    gap_rule: str = "none"
    paging: str = "id"
    elapsed: float = 0.0

    @property
    def complete(self) -> bool:
        """No expected candle is absent from the range."""
        return not self.missing

    @property
    def market_candles(self) -> int:
        """Slots inside market gaps."""
        return sum(gap.candles for gap in self.market_gaps)

    @property
    def missing_candles(self) -> int:
        """Expected candles still absent."""
        return sum(gap.candles for gap in self.missing)

    @property
    def candles_per_second(self) -> float:
        """Candles fetched per second of wall time."""
        return self.fetched / self.elapsed if self.elapsed > 0 else 0.0


async def _init_active(client: Any, active_id: int) -> Any:
    """The active's entry in the client's initialization data, or ``None`` (no data, not listed)."""
    getter = getattr(client, "get_initialization_data", None)
    if getter is None:
        return None
    try:
        init = await getter(refresh=False)
    except IqwireError as exc:
        log.info("no initialization data for active %s: %s", active_id, exc)
        return None
    finder = getattr(init, "find_active", None)
    for group in ("blitz", "turbo", "binary"):
        active = finder(active_id, group) if finder is not None else None
        if active is not None:
            return active
    return None


async def _schedule_of(client: Any, active_id: int) -> Schedule | None:
    active = await _init_active(client, active_id)
    if active is not None and active.schedule:
        return Schedule.from_wire(active.schedule, suspended=bool(active.is_suspended))
    return None


async def _describe(store: CandleStore, client: Any, active_id: int) -> None:
    """Record the active's name, payout and precision, so a backtest of the store needs no server."""
    active = await _init_active(client, active_id)
    if active is None:
        return
    name = active.ticker or str(active.name).removeprefix("front.")
    described = StoredActive(active_id, name, float(active.payout), active.precision)
    await asyncio.to_thread(store.describe_active, described)


# -- the downloader ----------------------------------------------------------------------


def _pages(intervals: Sequence[tuple[int, int]], size: int, slots: int) -> list[tuple[int, int]]:
    span = slots * size
    return [(a, min(end, a + span)) for start, end in intervals for a in range(start, end, span)]


_START = operator.attrgetter("start")


def _absent_runs(
    store: CandleStore, active_id: int, size: int, start: int, end: int, full: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """``store.gap_runs(active_id, size, start, end)``, without scanning the ``full`` ranges.

    ``full``: ranges on the grid whose every slot this download has just stored. The
    rest is asked of the store range by range; a full range holds a candle at both
    ends, so no run crosses it and the runs of the parts are the runs of the whole.
    """
    runs: list[tuple[int, int]] = []
    for part_start, part_end in subtract_intervals([(start, end)], full):
        runs += store.gap_runs(active_id, size, part_start, part_end)
    return runs


def _within(candles: list[Candle], start: int, end: int) -> list[Candle]:
    """The candles with ``start <= from < end`` (the list itself when all of them are)."""
    if not candles or (start <= candles[0].start and candles[-1].start < end):
        return candles
    return [c for c in candles if start <= c.start < end]


class _Downloader:
    def __init__(
        self,
        store: CandleStore,
        client: CandleSource,
        active_id: int,
        size: int,
        *,
        first: Candle | None,
        concurrency: int,
        batch: int,
        progress: Progress | None,
    ) -> None:
        self.store = store
        self.client = client
        self.active_id = active_id
        self.size = size
        self.first = first
        self.concurrency = concurrency
        self.batch = batch
        self.progress = progress
        self.by_id = first is not None
        self.pages = 0
        self.fetched = 0
        self.written = 0
        self.done = 0
        self.total = 0
        #: Pages whose reply held every slot (stored once the writer has committed them).
        self.full: list[tuple[int, int]] = []

    def id_of(self, start: int) -> int:
        assert self.first is not None
        return (start - self.first.start) // self.size + self.first.id

    async def fetch(self, page: tuple[int, int]) -> list[Candle]:
        candles = await self._fetch(page)
        if list(map(_START, candles)) == list(range(page[0], page[1], self.size)):
            self.full.append(page)
        return candles

    async def _fetch(self, page: tuple[int, int]) -> list[Candle]:
        start, end = page
        self.pages += 1
        if self.by_id:
            candles = await self.client.get_candles(
                self.active_id,
                self.size,
                from_id=self.id_of(start),
                to_id=self.id_of(end - self.size),
                only_closed=True,
            )
            # Replies are ascending: ids that follow time at both ends follow it throughout.
            if not candles or (
                candles[0].id == self.id_of(candles[0].start)
                and candles[-1].id == self.id_of(candles[-1].start)
            ):
                return _within(candles, start, end)
            log.warning(
                "candle ids of %d/%d do not follow time; paging by time from now on",
                self.active_id,
                self.size,
            )
            self.by_id = False
            self.pages += 1
        candles = await self.client.get_candles(
            self.active_id, self.size, start=start, end=end - 1, only_closed=True
        )
        return _within(candles, start, end)

    async def run(self, pages: list[tuple[int, int]]) -> None:
        self.total = sum((b - a) // self.size for a, b in pages)
        if self.progress is not None:
            self.progress(0, self.total)
        todo = iter(pages)
        results: asyncio.Queue[tuple[tuple[int, int], list[Candle]] | None] = asyncio.Queue(
            maxsize=2 * self.concurrency
        )

        async def worker() -> None:
            for page in todo:
                candles = await self.fetch(page)
                await results.put((page, candles))

        async def writer() -> None:
            covered: list[tuple[int, int]] = []
            buffered: list[Candle] = []
            while True:
                item = await results.get()
                while item is not None:
                    page, candles = item
                    covered.append(page)
                    buffered += candles
                    self.fetched += len(candles)
                    if len(buffered) < self.batch:
                        item = await results.get()
                    elif not results.empty():  # group commit: pages fetched during the last write join in
                        item = results.get_nowait()
                    else:
                        break
                if covered:
                    self.written += await self.store.write_async(
                        buffered, active_id=self.active_id, size=self.size, covered=covered
                    )
                    self.done += sum((b - a) // self.size for a, b in covered)
                    covered, buffered = [], []
                    if self.progress is not None:
                        self.progress(self.done, self.total)
                if item is None:
                    return

        workers = {
            asyncio.create_task(worker(), name=f"iqwire-download-{i}")
            for i in range(max(1, min(self.concurrency, len(pages))))
        }
        writing = asyncio.create_task(writer(), name="iqwire-download-writer")
        try:
            while workers:
                done, _ = await asyncio.wait({*workers, writing}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    error = task.exception()
                    if error is not None:
                        raise error
                if writing in done:
                    raise RuntimeError("the download's writer stopped early")
                workers -= done
            await results.put(None)
            await writing
        except BaseException:
            # Stop fetching, but keep what was fetched: the writer commits its buffer, then
            # stops. A second cancellation meanwhile does not cut this short.
            for task in workers:
                task.cancel()
            await _settle(workers)
            if not writing.done():
                put = asyncio.create_task(results.put(None))
                while not put.done() and not writing.done():
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.wait({put, writing}, return_when=asyncio.FIRST_COMPLETED)
                put.cancel()
                await _settle({put})
            await _settle({writing})
            raise


async def _settle(tasks: set[asyncio.Task[None]]) -> None:
    """Wait until every task is done, whatever happens to the caller meanwhile; never raises."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        with contextlib.suppress(asyncio.CancelledError):
            _, pending = await asyncio.wait(pending)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" warning


async def download(
    store: CandleStore,
    client: CandleSource,
    active_id: int,
    size: int,
    start: int,
    end: int,
    *,
    concurrency: int = 4,
    batch: int = 1000,
    progress: Progress | None = None,
    is_open: Callable[[int], bool] | None = None,
    use_schedule: bool = True,
    refetch: bool = True,
) -> DownloadReport:
    """Download the candles of ``active_id``/``size`` with ``start <= from < end`` into ``store``.

    Args:
        concurrency: requests in flight at once.
        batch: candles per write transaction (pages are whole: a batch holds at
            least one page).
        progress: called as ``progress(done_slots, total_slots)`` after each write.
        is_open: whether the active trades at a unix second; the strongest gap rule.
        use_schedule: read the schedule of ``get-initialization-data`` for the gap rules.
        refetch: fetch missing runs once more by time range.

    Raises:
        ValueError: ``size``, ``concurrency`` or ``batch`` is not positive.
        IqwireError: a request failed; what was committed stays, and running the
            same download again resumes.
    """
    if size <= 0 or concurrency <= 0 or batch <= 0:
        raise ValueError("size, concurrency and batch must be positive")
    began = time.perf_counter()
    first = (await client.get_first_candles(active_id)).candles_by_size.get(size)
    origin = first.start if first is not None else 0
    if first is not None:
        start = max(start, first.start)
    start = origin + math.ceil((start - origin) / size) * size
    end = origin + math.ceil((end - origin) / size) * size
    complete_until = int(client.server_time()) - size  # the last complete candle starts at or before this
    end = min(end, origin + ((complete_until - origin) // size + 1) * size)
    if end <= start:
        return DownloadReport(active_id, size, start, max(start, end), 0, 0, 0, 0, 0, 0, elapsed=0.0)
    slots = (end - start) // size
    todo = store.uncovered(active_id, size, start, end)
    skipped = slots - sum((b - a) // size for a, b in todo)
    runner = _Downloader(
        store, client, active_id, size, first=first, concurrency=concurrency, batch=batch, progress=progress
    )
    await runner.run(_pages(todo, size, PAGE_SLOTS))
    await _describe(store, client, active_id)

    runs = await asyncio.to_thread(_absent_runs, store, active_id, size, start, end, runner.full)
    schedule = None
    if runs and use_schedule and is_open is None:
        schedule = await _schedule_of(client, active_id)

    def neighbours(run_start: int, run_end: int) -> tuple[int | None, int | None]:
        before = store.read(active_id, size, run_start - size, run_start)
        after = store.read(active_id, size, run_end, run_end + size)
        return (before[0].id if before else None, after[0].id if after else None)

    def classify(runs: list[tuple[int, int]]) -> tuple[list[Gap], str]:
        return classify_gaps(
            runs, size, is_open=is_open, schedule=schedule, range_end=end, neighbour_ids=neighbours
        )

    gaps, rule = await asyncio.to_thread(classify, runs)
    refetched = 0
    missing = [g for g in gaps if g.kind == "missing"]
    if refetch and missing:
        limit = asyncio.Semaphore(concurrency)

        async def again(gap: Gap) -> int:
            async with limit:
                runner.pages += 1
                candles = await client.get_candles(
                    active_id, size, start=gap.start, end=gap.end - 1, only_closed=True
                )
            wanted = [c for c in candles if gap.start <= c.start < gap.end]
            if not wanted:
                return 0
            return await store.write_async(wanted, active_id=active_id, size=size)

        refetched = sum(await asyncio.gather(*(again(gap) for gap in missing)))
        runner.fetched += refetched
        runner.written += refetched
        if refetched:
            runs = await asyncio.to_thread(store.gap_runs, active_id, size, start, end)
            gaps, rule = await asyncio.to_thread(classify, runs)
    market = [g for g in gaps if g.kind == "market"]
    missing = [g for g in gaps if g.kind == "missing"]
    store.set_market_closed(active_id, size, start, end, [(g.start, g.end) for g in market])
    if missing:
        store.uncover(active_id, size, [(g.start, g.end) for g in missing])
    if missing:
        log.warning(
            "%d/%d: %d candles missing after re-fetching",
            active_id,
            size,
            sum(g.candles for g in missing),
        )
    return DownloadReport(
        active_id=active_id,
        size=size,
        start=start,
        end=end,
        slots=slots,
        skipped=skipped,
        pages=runner.pages,
        fetched=runner.fetched,
        written=runner.written,
        refetched=refetched,
        market_gaps=tuple(market),
        missing=tuple(missing),
        gap_rule=rule,
        paging="id" if runner.by_id else "time",
        elapsed=time.perf_counter() - began,
    )
