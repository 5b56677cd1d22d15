"""Candle history on the raw wire: selectors, limits, wire names, gaps, and consistency across sizes."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_wire import RawClient, login

from iqwire.models import Candle, FirstCandles
from iqwire.sim import ManualClock, Simulator
from iqwire.sim.actives import DEFAULT_ACTIVES
from iqwire.sim.rpc import CANDLE_SIZES

#: The integration fixture's clock start: Thursday 2026-02-12 12:25:00 UTC.
NOW = 1_770_899_100
#: EUR/USD (id 1) is closed Wednesday 2026-02-11 21:00-22:00 UTC.
WED_21, WED_22 = 1_770_843_600, 1_770_847_200
CANDLE_NAMES = ["get-candles", "quotes-history.get-candles"]
WIRE_KEYS = {"id", "from", "to", "open", "close", "min", "max", "volume", "at", "active_id", "size"}


async def candles(raw: RawClient, body: dict[str, Any], name: str = "get-candles") -> list[dict[str, Any]]:
    reply = await raw.request(name, "2.0", body)
    assert reply["status"] == 2000, reply
    assert reply["name"] == "candles"
    result: list[dict[str, Any]] = reply["msg"]["candles"]
    return result


def assert_wire_candles(found: list[dict[str, Any]], active_id: int, size: int) -> None:
    """Wire names (min/max, never low/high), ns ``at``, one size, ids +1 ascending."""
    for candle in found:
        assert set(candle) >= WIRE_KEYS, candle
        assert "low" not in candle
        assert "high" not in candle
        assert candle["active_id"] == active_id
        assert candle["size"] == size
        assert candle["to"] - candle["from"] == size
        assert candle["from"] % size == 0
        assert candle["from"] * 10**9 < candle["at"] <= candle["to"] * 10**9
        assert candle["min"] <= min(candle["open"], candle["close"])
        assert candle["max"] >= max(candle["open"], candle["close"])
        assert candle["phase"] == "T"
    starts = [c["from"] for c in found]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)


def assert_contiguous(found: list[dict[str, Any]]) -> None:
    ids = [c["id"] for c in found]
    assert ids == list(range(ids[0], ids[0] + len(ids)))


@pytest.mark.parametrize("name", CANDLE_NAMES)
async def test_by_id_range_is_inclusive_and_contiguous(raw: RawClient, name: str) -> None:
    latest = await candles(raw, {"active_id": 76, "size": 60, "count": 1, "only_closed": True}, name)
    last_id = latest[-1]["id"]
    found = await candles(raw, {"active_id": 76, "size": 60, "from_id": last_id - 9, "to_id": last_id}, name)
    assert [c["id"] for c in found] == list(range(last_id - 9, last_id + 1))
    assert_wire_candles(found, 76, 60)
    assert found[-1] == latest[-1]
    single = await candles(raw, {"active_id": 76, "size": 60, "from_id": last_id, "to_id": last_id}, name)
    assert single == [latest[-1]]


@pytest.mark.parametrize("name", CANDLE_NAMES)
async def test_by_from_and_to(raw: RawClient, name: str) -> None:
    start = NOW - 3600 + 7  # not aligned: the first candle starts at the next boundary
    found = await candles(raw, {"active_id": 76, "size": 300, "from": start, "to": NOW - 1}, name)
    assert found[0]["from"] == (start // 300 + 1) * 300
    assert found[-1]["from"] <= NOW - 1
    assert len(found) == 11
    assert_contiguous(found)
    assert_wire_candles(found, 76, 300)


async def test_by_from_and_count(raw: RawClient) -> None:
    found = await candles(raw, {"active_id": 76, "size": 60, "from": NOW - 86_400 + 30, "count": 3})
    assert [c["from"] for c in found] == [NOW - 86_400 + 60 * k for k in (1, 2, 3)]
    # A far ``from`` still gives at most 1000 candles, and fast.
    far = await candles(raw, {"active_id": 76, "size": 1, "from": 0, "count": 1000})
    assert len(far) == 1000
    assert far[0]["id"] == 1
    assert_contiguous(far)


@pytest.mark.parametrize("name", CANDLE_NAMES)
async def test_by_to_and_count(raw: RawClient, name: str) -> None:
    found = await candles(raw, {"active_id": 2276, "size": 5, "to": NOW - 100, "count": 50}, name)
    assert len(found) == 50
    assert found[-1]["from"] <= NOW - 100 < found[-1]["to"] + 5
    assert_contiguous(found)
    assert_wire_candles(found, 2276, 5)


async def test_the_latest_candles_include_the_forming_one_unless_only_closed(
    raw: RawClient, sim: Simulator
) -> None:
    await sim.advance(12.5)
    now = sim.now()
    found = await candles(raw, {"active_id": 76, "size": 60, "to": int(now) + 1, "count": 5})
    forming = found[-1]
    assert forming["from"] == NOW
    assert forming["at"] == int(now * 10**9)  # the last tick so far, in ns
    assert forming["at"] < forming["to"] * 10**9
    # only_closed leaves the forming candle out before counting: still 5 candles.
    closed = await candles(raw, {"active_id": 76, "size": 60, "count": 5, "only_closed": True})
    assert len(closed) == 5
    assert closed[1:] == found[:-1]
    assert closed[-1]["id"] == forming["id"] - 1
    assert all(c["at"] == c["to"] * 10**9 for c in closed)
    by_id = await candles(
        raw, {"active_id": 76, "size": 60, "from_id": forming["id"] - 1, "to_id": forming["id"]}
    )
    assert by_id == found[-2:]
    by_id_closed = await candles(
        raw,
        {
            "active_id": 76,
            "size": 60,
            "from_id": forming["id"] - 1,
            "to_id": forming["id"],
            "only_closed": True,
        },
    )
    assert by_id_closed == found[-2:-1]


async def test_a_future_from_gets_4220(raw: RawClient) -> None:
    reply = await raw.request("get-candles", "2.0", {"active_id": 76, "size": 60, "from": NOW + 3600})
    assert reply["status"] == 4220
    assert reply["name"] == "candles"
    assert reply["msg"]["from"] == ["from must not be in the future"]
    assert reply["msg"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"to": NOW, "count": 1001},
        {"to": NOW, "count": 0},
        {"from_id": 1, "to_id": 1001},
        {"from_id": 10, "to_id": 9},
        {"from_id": 10},
    ],
)
async def test_out_of_range_requests_get_4220(raw: RawClient, body: dict[str, Any]) -> None:
    reply = await raw.request("quotes-history.get-candles", "2.0", {"active_id": 76, "size": 60, **body})
    assert reply["status"] == 4220
    assert reply["msg"]["message"]


async def test_unknown_size_or_active(raw: RawClient) -> None:
    size = await raw.request("get-candles", "2.0", {"active_id": 76, "size": 7, "count": 1})
    assert size["status"] == 4220
    active = await raw.request("get-candles", "2.0", {"active_id": 999_999, "size": 60, "count": 1})
    assert active["status"] == 4004


@pytest.mark.parametrize(
    "body",
    [
        {"from": NOW - 600, "to": NOW - 6000},  # to before from
        {"to": 1_000_000, "count": 5},  # before the listing
        {"to": -(2**62), "count": 5},
    ],
)
async def test_empty_selections_are_empty(raw: RawClient, body: dict[str, Any]) -> None:
    assert await candles(raw, {"active_id": 76, "size": 60, **body}) == []


async def test_at_most_1000_candles_per_reply(raw: RawClient) -> None:
    found = await candles(raw, {"active_id": 81, "size": 1, "from": NOW - 5000, "to": NOW})
    assert len(found) == 1000
    assert found[0]["from"] == NOW - 5000
    default = await candles(raw, {"active_id": 81, "size": 1})
    assert len(default) == 1000
    assert default[-1]["to"] >= NOW


async def test_a_closure_leaves_a_gap_in_the_ids(raw: RawClient) -> None:
    found = await candles(raw, {"active_id": 1, "size": 60, "from": WED_21 - 600, "to": WED_22 + 540})
    starts = [c["from"] for c in found]
    assert not [s for s in starts if WED_21 <= s < WED_22]
    assert len(found) == 20
    before, after = found[9], found[10]
    assert (before["from"], after["from"]) == (WED_21 - 60, WED_22)
    assert after["id"] - before["id"] == 61  # 60 ids missing, one per closed minute
    assert after["open"] == before["close"]  # the reopening opens at the last close
    by_id = await candles(raw, {"active_id": 1, "size": 60, "from_id": before["id"], "to_id": after["id"]})
    assert by_id == [before, after]


async def test_first_candles_has_every_size_keyed_by_string(raw: RawClient) -> None:
    reply = await raw.request("get-first-candles", "1.0", {"active_id": 1, "split_normalization": False})
    assert reply["name"] == "first-candles"
    by_size = reply["msg"]["candles_by_size"]
    assert set(by_size) == {str(size) for size in CANDLE_SIZES}
    for key, candle in by_size.items():
        assert candle["size"] == int(key)
        assert candle["id"] == 1
        assert_wire_candles([candle], 1, int(key))
    typed = msgspec.convert(reply["msg"], FirstCandles, strict=False)
    assert set(typed.candles_by_size) == set(CANDLE_SIZES)
    # The first candle is the first one history returns.
    first_minute = by_size["60"]
    history = await candles(raw, {"active_id": 1, "size": 60, "from_id": 1, "to_id": 1})
    assert history == [first_minute]


async def test_first_candles_start_at_the_first_session(raw: RawClient) -> None:
    reply = await raw.request("get-first-candles", "1.0", {"active_id": 31})
    minute = reply["msg"]["candles_by_size"]["60"]
    assert minute["from"] == 1_735_738_200  # AMZN: 2025-01-01 13:30 UTC, the first session
    assert minute["id"] == 13 * 60 + 30 + 1
    day = reply["msg"]["candles_by_size"]["86400"]
    assert (day["from"], day["id"]) == (1_735_689_600, 1)


async def test_pushed_candles_match_history(raw: RawClient, sim: Simulator) -> None:
    await raw.subscribe("candle-generated", "1.0", {"active_id": 76, "size": 5})
    mark = raw.mark()
    await sim.advance(11)
    await raw.settle()
    pushed = [f["msg"] for f in raw.named("candle-generated", after=mark)]
    complete = {c["id"]: c for c in pushed if c["at"] == c["to"] * 10**9}
    assert len(complete) == 2
    history = await candles(
        raw, {"active_id": 76, "size": 5, "from_id": min(complete), "to_id": max(complete)}
    )
    assert history == [complete[i] for i in sorted(complete)]


# -- consistency across sizes -------------------------------------------------------------

#: (small, big) sizes with at most 1000 small candles in a big one.
SIZE_PAIRS = [(1, 60), (1, 300), (5, 900), (60, 3600), (300, 86_400), (900, 14_400)]


def _aggregate(parts: list[dict[str, Any]]) -> tuple[Any, ...]:
    return (
        parts[0]["open"],
        parts[-1]["close"],
        min(p["min"] for p in parts),
        max(p["max"] for p in parts),
        sum(p["volume"] for p in parts),
    )


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    active_id=st.sampled_from([spec.id for spec in DEFAULT_ACTIVES]),
    sizes=st.sampled_from(SIZE_PAIRS),
    back=st.integers(1, 3 * 86_400),
)
async def test_a_big_candle_aggregates_the_small_ones(
    raw: RawClient, active_id: int, sizes: tuple[int, int], back: int
) -> None:
    small, big = sizes
    start = (NOW - back) // big * big
    if start + big > NOW:
        start -= big
    whole = await candles(raw, {"active_id": active_id, "size": big, "from": start, "to": start})
    parts = await candles(raw, {"active_id": active_id, "size": small, "from": start, "to": start + big - 1})
    assert len(parts) <= big // small
    if not whole:  # the market was closed throughout
        assert parts == []
        return
    (candle,) = whole
    assert parts
    assert (candle["open"], candle["close"], candle["min"], candle["max"], candle["volume"]) == _aggregate(
        parts
    )
    low_at = next(p for p in parts if p["min"] == candle["min"])
    assert low_at["from"] <= candle["min_at"] < low_at["to"]


# -- determinism ----------------------------------------------------------------------------


async def _history(seed: int) -> list[dict[str, Any]]:
    async with Simulator(seed=seed, clock=ManualClock(NOW)) as sim, RawClient.open(sim.ws_url) as raw:
        await raw.authenticate(await login(sim.http_url))
        result = []
        for active_id, size in [(76, 60), (1, 300), (1938, 5)]:
            result += await candles(raw, {"active_id": active_id, "size": size, "to": NOW, "count": 200})
        return result


async def test_the_same_seed_gives_the_same_candles() -> None:
    first, again, other = await _history(3), await _history(3), await _history(4)
    assert first == again
    assert len(first) == 600
    assert [c["id"] for c in other] == [c["id"] for c in first]
    assert [c["close"] for c in other] != [c["close"] for c in first]


async def test_candles_decode_with_the_model(raw: RawClient) -> None:
    found = await candles(raw, {"active_id": 31, "size": 60, "to": NOW, "count": 30})
    typed = msgspec.convert(found, list[Candle])
    assert all(c.is_closed for c in typed)
    assert all((c.volume or 0) > 0 for c in typed)  # stocks have volume
