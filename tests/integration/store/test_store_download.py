"""download() against the simulator: cold start, resume, gaps, idempotence, export."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iqwire.client import Client
from iqwire.errors import ConnectionLost
from iqwire.models import Candle, FirstCandles
from iqwire.sim import Simulator
from iqwire.sim.actives import find_active, is_open
from iqwire.store import CandleStore, Gap, download

#: The fixtures' clock: Thursday 2026-02-12 12:25 UTC.
NOW = 1_770_899_100
DAY = 86_400
HOUR = 3600
#: Thursday 2026-02-05 00:00 UTC, a week before.
THU = 1_770_249_600


def eurusd_open(t: int) -> bool:
    spec = find_active(1)
    assert spec is not None
    return is_open(spec, t)


def fields(candles: list[Candle]) -> list[tuple[Any, ...]]:
    return [
        (c.id, c.start, c.end, c.open, c.high, c.low, c.close, c.volume, c.ask, c.bid, c.at) for c in candles
    ]


class Wrapped:
    """A client whose candle pages can fail or lose candles (the rest is passed through)."""

    def __init__(
        self,
        client: Client,
        *,
        fail_after: int | None = None,
        drop: set[int] | None = None,
        drop_once: bool = True,
    ) -> None:
        self.client = client
        self.fail_after = fail_after
        self.drop = drop or set()
        self.drop_once = drop_once
        self.calls = 0

    async def get_candles(self, active_id: int, size: int, **kwargs: Any) -> list[Candle]:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise ConnectionLost("injected: the connection dropped")
        self.calls += 1
        candles = await self.client.get_candles(active_id, size, **kwargs)
        if self.drop:
            kept = [c for c in candles if c.start not in self.drop]
            if self.drop_once and len(kept) < len(candles):
                self.drop = set()
            return kept
        return candles

    async def get_first_candles(self, active_id: int) -> FirstCandles:
        return await self.client.get_first_candles(active_id)

    def server_time(self) -> float:
        return self.client.server_time()

    async def get_initialization_data(self, *, refresh: bool = True) -> Any:
        return await self.client.get_initialization_data(refresh=refresh)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CandleStore]:
    with CandleStore(tmp_path / "candles.sqlite") as opened:
        yield opened


def assert_no_duplicates(store: CandleStore) -> None:
    with store._lock:
        total, distinct = store._db.execute(
            "SELECT count(*), count(DISTINCT active_id || '/' || size || '/' || \"from\") FROM candles"
        ).fetchone()
    assert total == distinct


async def test_two_days_of_an_otc_active_arrive_whole(store: CandleStore, client: Client) -> None:
    seen: list[tuple[int, int]] = []
    report = await download(
        store, client, 76, 60, NOW - 2 * DAY, NOW, progress=lambda done, total: seen.append((done, total))
    )
    end = NOW // 60 * 60
    assert (report.start, report.end, report.slots) == (NOW - 2 * DAY, end, 2880)
    assert (report.fetched, report.written, report.skipped, report.pages) == (2880, 2880, 0, 3)
    assert report.paging == "id" and report.complete and report.market_gaps == ()
    assert store.count(76, 60) == 2880
    assert seen[0] == (0, 2880) and seen[-1] == (2880, 2880)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    live = await client.get_candles(76, 60, start=end - 1500 * 60, end=end - 1, only_closed=True)
    assert fields(store.read(76, 60, end - 1500 * 60, end)) == fields(live)
    assert store.coverage(76, 60) == [(NOW - 2 * DAY, end)]


async def test_the_range_is_clamped_to_history_and_to_complete_candles(
    store: CandleStore, client: Client
) -> None:
    first = (await client.get_first_candles(76)).candles_by_size[3600]
    report = await download(store, client, 76, 3600, first.start - 10 * DAY, first.start + 5 * HOUR + 17)
    assert (report.start, report.end, report.fetched) == (first.start, first.start + 6 * HOUR, 6)
    assert store.read(76, 3600)[0].id == first.id
    future = await download(store, client, 76, 3600, NOW + HOUR, NOW + DAY)
    assert future.slots == 0 and future.fetched == 0


async def test_a_download_that_fails_midway_resumes_without_duplicates_or_gaps(
    store: CandleStore, client: Client
) -> None:
    flaky = Wrapped(client, fail_after=2)
    with pytest.raises(ConnectionLost, match="injected"):
        await download(store, flaky, 76, 60, NOW - 3 * DAY, NOW, concurrency=2)  # type: ignore[arg-type]
    partial = store.count(76, 60)
    assert 0 < partial < 4320
    covered = sum(b - a for a, b in store.coverage(76, 60)) // 60
    assert covered == partial  # what is covered is exactly what was committed
    report = await download(store, client, 76, 60, NOW - 3 * DAY, NOW)
    assert report.skipped == partial
    assert report.fetched == 4320 - partial
    assert report.complete
    assert store.count(76, 60) == 4320
    assert store.gap_runs(76, 60) == []
    assert_no_duplicates(store)


async def test_a_cancelled_download_resumes(store: CandleStore, client: Client) -> None:
    tasks: list[asyncio.Task[Any]] = []

    def progress(done: int, total: int) -> None:
        if done > 0:
            tasks[0].cancel()  # cancelled right after its first commit

    days = 20
    tasks.append(
        asyncio.create_task(download(store, client, 76, 60, NOW - days * DAY, NOW, progress=progress))
    )
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    partial = store.count(76, 60)
    assert 0 < partial < days * 1440
    report = await download(store, client, 76, 60, NOW - days * DAY, NOW)
    assert report.skipped == partial
    assert store.count(76, 60) == days * 1440
    assert store.gap_runs(76, 60) == []
    assert_no_duplicates(store)


async def test_eurusd_closures_are_market_gaps_and_nothing_is_missing(
    store: CandleStore, client: Client
) -> None:
    # Thursday 18:00 to Monday 23:00: the daily closes and the weekend.
    start, end = THU + 18 * HOUR, THU + 4 * DAY + 23 * HOUR
    report = await download(store, client, 1, 60, start, end, is_open=eurusd_open)
    assert report.gap_rule == "is_open"
    assert report.missing == ()
    assert report.market_gaps == (
        Gap(THU + 21 * HOUR, THU + 22 * HOUR, 60, "market"),  # Thursday's daily close
        Gap(THU + DAY + 21 * HOUR, THU + 3 * DAY + 22 * HOUR, 60, "market"),  # Friday 21:00 to Sunday 22:00
        Gap(THU + 4 * DAY + 21 * HOUR, THU + 4 * DAY + 22 * HOUR, 60, "market"),  # Monday's daily close
    )
    assert report.slots == 6060 and report.fetched == 3000 and report.market_candles == 3060
    assert store.count(1, 60) == 3000
    (info,) = store.info()
    assert info.missing_gaps == [] and len(info.market_gaps) == 3 and info.market_candles == 3060


async def test_the_init_data_schedule_explains_a_recent_close(store: CandleStore, client: Client) -> None:
    # Wednesday 12:00 to Thursday 12:00: inside the schedule's now - 1 day .. now + 7 days.
    start = THU + 6 * DAY + 12 * HOUR
    report = await download(store, client, 1, 60, start, start + DAY)
    assert report.gap_rule == "schedule"
    assert report.market_gaps == (Gap(start + 9 * HOUR, start + 10 * HOUR, 60, "market"),)
    assert report.missing == ()


async def test_without_a_rule_an_old_weekend_reads_as_missing(store: CandleStore, client: Client) -> None:
    # The simulator's ids jump across closures, so rule c cannot tell: documented behaviour.
    start, end = THU + DAY + 20 * HOUR, THU + 3 * DAY + 23 * HOUR
    report = await download(store, client, 1, 60, start, end)
    assert [g.kind for g in report.market_gaps + report.missing] == ["missing"]
    assert report.refetched == 0
    assert store.uncovered(1, 60, start, end) == [(THU + DAY + 21 * HOUR, THU + 3 * DAY + 22 * HOUR)]


async def test_missing_candles_are_fetched_once_more(store: CandleStore, client: Client) -> None:
    lost = {NOW - DAY + 600, NOW - DAY + 660, NOW - 2 * HOUR}
    lossy = Wrapped(client, drop=set(lost))
    report = await download(store, lossy, 76, 60, NOW - DAY, NOW, concurrency=1)  # type: ignore[arg-type]
    assert report.refetched == 2  # the first page lost two; the second page kept its candle
    assert report.complete and store.count(76, 60) == 1440


async def test_a_candle_absent_twice_is_reported_and_retried_next_time(
    store: CandleStore, client: Client
) -> None:
    hole = NOW - 3 * HOUR // 60 * 60
    lossy = Wrapped(client, drop={hole}, drop_once=False)
    report = await download(store, lossy, 76, 60, NOW - 6 * HOUR, NOW)  # type: ignore[arg-type]
    assert report.missing == (Gap(hole, hole + 60, 60, "missing"),)
    assert not report.complete and report.missing_candles == 1
    assert store.uncovered(76, 60, NOW - 6 * HOUR, NOW // 60 * 60) == [(hole, hole + 60)]
    (info,) = store.info()
    assert info.missing_candles == 1
    again = await download(store, client, 76, 60, NOW - 6 * HOUR, NOW)
    assert (again.fetched, again.written, again.pages) == (1, 1, 1)
    assert again.complete and store.info()[0].gaps == ()


async def test_downloading_again_changes_nothing(store: CandleStore, client: Client) -> None:
    first = await download(store, client, 76, 60, NOW - DAY, NOW)
    rows = store.count()
    again = await download(store, client, 76, 60, NOW - DAY, NOW)
    assert (again.skipped, again.fetched, again.written, again.pages) == (1440, 0, 0, 0)
    store.uncover(76, 60, [(first.start, first.end)])  # forget the coverage: everything is fetched again
    forced = await download(store, client, 76, 60, NOW - DAY, NOW, batch=3000)
    assert (forced.fetched, forced.written) == (1440, 0)
    assert store.count() == rows


async def test_pages_fetched_during_a_write_join_the_next_commit(
    store: CandleStore, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_write_may_end = asyncio.Event()

    class Releasing(Wrapped):
        async def get_candles(self, active_id: int, size: int, **kwargs: Any) -> list[Candle]:
            candles = await super().get_candles(active_id, size, **kwargs)
            if self.calls >= 8:  # the queue is full by now: the fetchers wait for the writer
                first_write_may_end.set()
            return candles

    counting = Releasing(client)
    commits: list[tuple[int, list[tuple[int, int]]]] = []
    progress: list[int] = []
    write_async = store.write_async

    async def slow_first_write(candles: list[Candle], **kwargs: Any) -> int:
        commits.append((len(candles), list(kwargs["covered"])))
        if len(commits) == 1:
            await first_write_may_end.wait()  # meanwhile the fetchers fill the queue
        return await write_async(candles, **kwargs)

    monkeypatch.setattr(store, "write_async", slow_first_write)
    report = await download(
        store,
        counting,  # type: ignore[arg-type]
        76,
        60,
        NOW - 10 * DAY,
        NOW,
        concurrency=4,
        progress=lambda done, total: progress.append(done),
    )
    assert report.pages == 15 and report.complete and report.fetched == report.written == 14_400
    assert len(commits) < report.pages  # pages were grouped
    assert max(len(pages) for _, pages in commits) > 1
    for count, pages in commits:  # each commit holds exactly its pages' candles
        assert count == sum(b - a for a, b in pages) // 60
    assert progress[1:] == list(itertools.accumulate(count for count, _ in commits))
    assert store.coverage(76, 60) == [(report.start, report.end)]
    with CandleStore(tmp_path / "one-page-at-a-time.sqlite") as reference:
        await download(reference, client, 76, 60, NOW - 10 * DAY, NOW, concurrency=1)
        assert fields(store.read(76, 60)) == fields(reference.read(76, 60))
    assert_no_duplicates(store)


async def test_a_batch_larger_than_a_page_gathers_whole_pages(
    store: CandleStore, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    write_async = store.write_async

    async def recording(candles: list[Candle], **kwargs: Any) -> int:
        sizes.append(len(candles))
        return await write_async(candles, **kwargs)

    monkeypatch.setattr(store, "write_async", recording)
    report = await download(store, client, 76, 60, NOW - 5 * DAY, NOW, concurrency=2, batch=2500)
    assert report.complete and sum(sizes) == 7200
    assert all(size >= 2500 and size % 1000 == 0 for size in sizes[:-1])


async def test_ids_that_do_not_follow_time_switch_paging_to_time_ranges(
    store: CandleStore, client: Client
) -> None:
    class Shifted(Wrapped):
        async def get_first_candles(self, active_id: int) -> FirstCandles:
            first = await self.client.get_first_candles(active_id)
            wrong = {
                size: Candle(**{**_as_dict(c), "id": c.id + 7}) for size, c in first.candles_by_size.items()
            }
            return FirstCandles(candles_by_size=wrong)

    report = await download(store, Shifted(client), 76, 60, NOW - DAY, NOW)  # type: ignore[arg-type]
    assert report.paging == "time"
    assert report.complete and store.count(76, 60) == 1440


def _as_dict(candle: Candle) -> dict[str, Any]:
    return {name: getattr(candle, name) for name in candle.__struct_fields__}


async def test_the_parquet_export_equals_the_stores_read(
    store: CandleStore, client: Client, tmp_path: Path
) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    await download(store, client, 1, 300, THU, THU + 5 * DAY, is_open=eurusd_open)
    await download(store, client, 76, 60, NOW - 6 * HOUR, NOW)
    out = tmp_path / "eurusd.parquet"
    assert store.export(out, "parquet", active_id=1) == store.count(1)
    back = pd.read_parquet(out)
    assert fields(store.read(1, 300)) == [
        (r.id, r.start, r.end, r.open, r.high, r.low, r.close, r.volume, r.ask, r.bid, r.at)
        for r in back.itertuples()
    ]
    back["at"] = back["at"].astype("Int64")
    assert back.equals(store.to_pandas(1, 300))


async def test_bad_arguments_are_refused(store: CandleStore, client: Client) -> None:
    with pytest.raises(ValueError, match="positive"):
        await download(store, client, 76, 60, NOW - DAY, NOW, concurrency=0)


async def test_the_simulator_is_left_untouched(sim: Simulator, store: CandleStore, client: Client) -> None:
    await download(store, client, 76, 60, NOW - HOUR, NOW)
    assert sim.now() == NOW
