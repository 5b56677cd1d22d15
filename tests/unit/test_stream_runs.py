"""Runs of pushes reach the streams exactly as one push at a time would.

``Router.route_many`` (a ``Pushes`` event from one read) must leave every stream
as ``Router.route`` called per push would: the same queued items in the same
order, the same coalescing under backpressure, the same back-fill bookkeeping of
candle streams (newest candle per key, unfinished candles, held pushes). And an
open stream's ``async for`` (an async generator) must end and fail as
``__anext__`` does.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iqwire.client.backfill import CandleStream
from iqwire.client.streams import Stream
from iqwire.client.subscriptions import Router
from iqwire.errors import ConnectionLost
from iqwire.models import Candle, TradersMood
from iqwire.protocol import Push, Pushes, catalog

START = 1_770_899_100


async def _nothing(stream: Any) -> None:
    return None


def _candle(active_id: int, size: int, number: int, closed: bool, version: int) -> Candle:
    start = START + number * size
    at = (start + size if closed else start) * 1_000_000_000
    return Candle(
        id=1000 + number, start=start, end=start + size, open=1.0, close=1.0 + version / 1e4,
        low=1.0, high=1.1, active_id=active_id, size=size, at=at,
    )  # fmt: skip


def _state(stream: Stream[Any]) -> tuple[Any, ...]:
    state: tuple[Any, ...] = (list(stream._items), stream.coalesced)
    if isinstance(stream, CandleStream):
        state += (stream._last, stream._unfinished, stream._held)
    return state


candles = st.builds(
    _candle,
    active_id=st.sampled_from([76, 1]),
    size=st.sampled_from([1, 5]),
    number=st.integers(0, 20) | st.integers(0, 3),  # late, repeated and skipped ids
    closed=st.booleans(),
    version=st.integers(0, 3),  # several versions of one candle
)


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(candles, max_size=40),
    cuts=st.lists(st.integers(1, 8), max_size=10),
    maxsize=st.integers(1, 12),
    hold_at=st.none() | st.integers(0, 40),
    candle_stream=st.booleans(),
)
def test_put_many_equals_put_per_item(
    items: list[Candle], cuts: list[int], maxsize: int, hold_at: int | None, candle_stream: bool
) -> None:
    def make() -> Stream[Candle]:
        kind = CandleStream if candle_stream else Stream
        return kind(
            open=_nothing, close=_nothing, maxsize=maxsize, coalesce_key=lambda c: (c.active_id, c.size)
        )

    one, each = make(), make()
    position = 0
    for cut in [*cuts, len(items)]:
        chunk = items[position : position + cut]
        if hold_at is not None and position >= hold_at and isinstance(one, CandleStream):
            one.hold()
            assert isinstance(each, CandleStream)
            each.hold()
        keys = {(c.active_id, c.size) for c in chunk}
        if isinstance(one, CandleStream) and len(keys) == 1 and cut % 2:
            one.put_many(chunk, keys.pop())  # as the router calls it
        else:
            one.put_many(chunk)
        for item in chunk:
            each.put(item)
        assert _state(one) == _state(each)
        position += cut


def _router() -> Router:
    async def subscribe(name: str, version: str | None, filters: dict[str, Any] | None) -> str:
        return "s_1"

    async def unsubscribe(sub_id: str) -> None:
        return None

    return Router(subscribe, unsubscribe)


async def _wired() -> tuple[Router, list[Stream[Any]]]:
    router = _router()
    multi = CandleStream(
        open=_nothing, close=_nothing, maxsize=8, coalesce_key=lambda c: (c.active_id, c.size)
    )
    one = CandleStream(open=_nothing, close=_nothing, maxsize=8, coalesce_key=lambda c: (c.active_id, c.size))
    plain: Stream[Any] = Stream(open=_nothing, close=_nothing, maxsize=8)
    mood: Stream[Any] = Stream(open=_nothing, close=_nothing, maxsize=8)
    spec = catalog.CANDLE_GENERATED
    for size in (1, 5):
        await router.acquire(spec, spec.name, None, {"active_id": 76, "size": size}, multi)
    await router.acquire(spec, spec.name, None, {"active_id": 76, "size": 1}, one)
    await router.acquire(spec, spec.name, None, {"active_id": 1, "size": 1}, plain)
    mood_spec = catalog.TRADERS_MOOD_CHANGED
    await router.acquire(mood_spec, mood_spec.name, None, {"asset_id": 76}, mood)
    return router, [multi, one, plain, mood]


pushes = st.one_of(
    candles.map(lambda c: ("candle-generated", c)),
    st.builds(TradersMood, asset_id=st.sampled_from([76, 1]), value=st.floats(0, 1)).map(
        lambda m: ("traders-mood-changed", m)
    ),
)


@settings(max_examples=200, deadline=None)
@given(runs=st.lists(st.lists(pushes, min_size=1, max_size=12), max_size=6))
def test_route_many_equals_route_per_push(runs: list[list[tuple[str, Any]]]) -> None:
    async def check() -> None:
        (one, streams_one), (each, streams_each) = await _wired(), await _wired()
        for run in runs:
            # A run of one name, as the session groups them (other names: their own runs).
            for name in dict.fromkeys(name for name, _ in run):
                payloads = [payload for n, payload in run if n == name]
                one.route_many(Pushes(name=name, payloads=payloads, microservice_name="quotes"))
                for payload in payloads:
                    each.route(Push(name=name, payload=payload, microservice_name="quotes"))
            assert [_state(s) for s in streams_one] == [_state(s) for s in streams_each]
            assert one.latest == each.latest

    asyncio.run(check())


async def test_an_open_streams_async_for_ends_and_fails_as_anext_does() -> None:
    stream: Stream[int] = Stream(open=_nothing, close=_nothing)
    async with stream:
        stream.put_many([1, 2, 3])
        seen = []
        async for item in stream:
            seen.append(item)
            if item == 2:
                await stream.aclose()  # closing inside the loop ends it after this item
        assert seen == [1, 2]
    failing: Stream[int] = Stream(open=_nothing, close=_nothing)
    async with failing:
        failing.put(1)
        failing.fail(ConnectionLost("gone"))
        got: list[int] = []

        async def consume() -> None:
            async for item in failing:
                got.append(item)

        with pytest.raises(ConnectionLost, match="gone"):
            await consume()
        assert got == [1]
    ending: Stream[int] = Stream(open=_nothing, close=_nothing)
    async with ending:
        asyncio.get_running_loop().call_soon(ending.put_many, [7, 8])
        asyncio.get_running_loop().call_soon(ending.end)
        assert [item async for item in ending] == [7, 8]
