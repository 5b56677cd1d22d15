"""Subscriptions on the raw wire: the ACK, the pushes (name, service, filters), and silence after unsubscribe."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from sim_wire import (
    DEMO_BALANCES,
    DEMO_USER_ID,
    TRADER2_USER_ID,
    RawClient,
    login,
    open_body,
)

from iqwire.models import Active, BalanceChanged, Candle, InstrumentsList, Order, Position, Quote, TradersMood
from iqwire.sim import ManualClock, Simulator

DEMO = DEMO_BALANCES["demo"]
#: Wednesday 2026-02-11 21:00 UTC: EUR/USD (id 1) closes for an hour.
WED_21 = 1_770_843_600


def assert_ack(reply: dict[str, Any], request_id: str) -> None:
    assert reply == {"name": "result", "msg": {"success": True}, "request_id": request_id, "status": 2000}


def assert_push(frame: dict[str, Any], name: str, service: str) -> None:
    assert frame["name"] == name
    assert frame["microserviceName"] == service
    assert "request_id" not in frame
    assert "status" not in frame


async def trade(raw: RawClient, size: int = 5, **kwargs: Any) -> dict[str, Any]:
    reply = await raw.request("binary-options.open-option", "2.0", open_body(DEMO, size=size, **kwargs))
    assert reply["status"] == 2000, reply
    return reply


async def check_subscription_cycle(
    raw: RawClient,
    sim: Simulator,
    name: str,
    version: str | None,
    filters: dict[str, Any] | None,
    push_name: str,
    service: str,
    advance: float,
    payload_type: Any,
) -> list[dict[str, Any]]:
    """Subscribe, see pushes while advancing, unsubscribe, see none. Returns the pushes."""
    assert_ack(await raw.subscribe(name, version, filters, request_id="s_212"), "s_212")
    mark = raw.mark()
    await sim.advance(advance)
    await raw.settle()
    pushes = raw.named(push_name, after=mark)
    assert pushes, f"no {push_name} push in {advance} s"
    for push in pushes:
        assert_push(push, push_name, service)
        msgspec.convert(push["msg"], payload_type, strict=False)
    assert_ack(await raw.unsubscribe(name, version, filters, request_id="s_213"), "s_213")
    await raw.settle()
    mark = raw.mark()
    await sim.advance(advance)
    await raw.settle()
    assert raw.named(push_name, after=mark) == []
    return pushes


@pytest.mark.parametrize(
    "active_id", [76, "76"], ids=["int", "str"]
)  # the Python client sends the id as a string
async def test_candle_generated(raw: RawClient, sim: Simulator, active_id: int | str) -> None:
    pushes = await check_subscription_cycle(
        raw,
        sim,
        "candle-generated",
        "1.0",
        {"active_id": active_id, "size": 1},
        "candle-generated",
        "quotes",
        2,
        Candle,
    )
    assert {p["msg"]["active_id"] for p in pushes} == {76}
    assert {p["msg"]["size"] for p in pushes} == {1}
    # Four ticks a second: the forming candle is pushed at each, ``at`` in ns.
    ats = [p["msg"]["at"] for p in pushes]
    assert ats == sorted(ats)
    assert len(set(ats)) == len(ats)  # no tick pushed twice, a completed candle included
    assert ats[0] == 1_770_899_100_250_000_000
    assert {p["msg"]["id"] for p in pushes} == {pushes[0]["msg"]["id"], pushes[0]["msg"]["id"] + 1}


async def test_candle_generated_without_version(raw: RawClient, sim: Simulator) -> None:
    assert_ack(await raw.subscribe("candle-generated", None, {"active_id": 2276, "size": 60}, "s"), "s")
    mark = raw.mark()
    await sim.advance(1)
    push = await raw.push("candle-generated", after=mark)
    assert push["msg"]["active_id"] == 2276
    assert push["msg"]["size"] == 60
    assert push["msg"]["from"] == 1_770_899_100


async def test_candle_pushes_follow_the_filters(raw: RawClient, sim: Simulator) -> None:
    await raw.subscribe("candle-generated", "1.0", {"active_id": 76, "size": 5})
    await raw.subscribe("candle-generated", "1.0", {"active_id": 81, "size": 60})
    await raw.subscribe("candle-generated", "1.0", {"active_id": 81, "size": 60})  # twice is once
    mark = raw.mark()
    await sim.advance(1)
    await raw.settle()
    seen = [(p["msg"]["active_id"], p["msg"]["size"]) for p in raw.named("candle-generated", after=mark)]
    assert sorted(set(seen)) == [(76, 5), (81, 60)]
    assert seen.count((81, 60)) == seen.count((76, 5)) == 4


async def test_a_closed_market_stops_its_candle_pushes() -> None:
    async with Simulator(seed=7, clock=ManualClock(WED_21 - 2)) as sim, RawClient.open(sim.ws_url) as raw:
        await raw.authenticate(await login(sim.http_url))
        await raw.subscribe("candle-generated", "1.0", {"active_id": 1, "size": 60})
        mark = raw.mark()
        await sim.advance(10)
        await raw.settle()
        pushes = [p["msg"] for p in raw.named("candle-generated", after=mark)]
        assert pushes
        assert max(p["to"] for p in pushes) == WED_21
        assert pushes[-1]["at"] == WED_21 * 10**9  # the last minute, complete


async def test_position_changed(raw: RawClient, sim: Simulator) -> None:
    filters = {"user_id": DEMO_USER_ID}
    assert_ack(await raw.subscribe("portfolio.position-changed", "3.0", filters, "s_1"), "s_1")
    mark = raw.mark()
    option = (await trade(raw))["msg"]
    opened = await raw.push("position-changed", after=mark)
    assert_push(opened, "position-changed", "portfolio")
    assert opened["msg"]["id"] == option["id"]
    assert opened["msg"]["status"] == "open"
    await sim.advance(6)
    closed = await raw.push("position-changed", after=mark, status="closed")
    assert_push(closed, "position-changed", "portfolio")
    msgspec.convert(closed["msg"], Position, strict=False)
    assert_ack(await raw.unsubscribe("portfolio.position-changed", "3.0", filters, "s_2"), "s_2")
    mark = raw.mark()
    await trade(raw)
    await sim.advance(6)
    await raw.settle()
    assert raw.named("position-changed", after=mark) == []
    assert raw.named("portfolio.position-changed", after=mark) == []


@pytest.mark.parametrize(
    ("name", "version", "filters"),
    [
        (
            "portfolio.position-changed",
            "3.0",
            {"user_id": DEMO_USER_ID, "user_balance_id": DEMO, "instrument_type": "blitz-option"},
        ),
        ("portfolio.position-changed", "3.0", {"user_id": str(DEMO_USER_ID)}),
        ("portfolio.position-changed", "2.0", {"instrument_type": "blitz-option", "user_balance_id": DEMO}),
        ("position-changed", "1.0", {"instrument_type": "blitz-option"}),
    ],
)
async def test_position_changed_variants(
    raw: RawClient, name: str, version: str, filters: dict[str, Any]
) -> None:
    assert_ack(await raw.subscribe(name, version, filters, "s"), "s")
    mark = raw.mark()
    await trade(raw)
    push = await raw.push("position-changed", after=mark)
    assert_push(push, "position-changed", "portfolio")


async def test_position_changed_filters_by_balance(raw: RawClient) -> None:
    filters = {"user_id": DEMO_USER_ID, "user_balance_id": DEMO_BALANCES["tournament"]}
    await raw.subscribe("portfolio.position-changed", "3.0", filters)
    mark = raw.mark()
    await trade(raw)
    await raw.settle()
    assert raw.named("position-changed", after=mark) == []


@pytest.mark.parametrize(
    ("name", "filters"),
    [
        ("portfolio.position-changed", {"user_id": TRADER2_USER_ID}),
        ("portfolio.position-changed", {"user_id": str(TRADER2_USER_ID)}),
        ("portfolio.order-changed", {"user_id": TRADER2_USER_ID, "instrument_type": "blitz-option"}),
        ("portfolio.position-changed", {"user_id": DEMO_USER_ID, "user_balance_id": 1_090_667_717}),
    ],
)
async def test_another_users_stream_is_forbidden(raw: RawClient, name: str, filters: dict[str, Any]) -> None:
    reply = await raw.subscribe(name, "3.0" if "position" in name else "2.0", filters, "s_x")
    assert reply["status"] == 4003
    assert reply["request_id"] == "s_x"
    assert (await raw.request("core.get-profile", "1.0", {}))["status"] == 2000


async def test_order_changed(raw: RawClient, sim: Simulator) -> None:
    blitz = {"user_id": DEMO_USER_ID, "instrument_type": "blitz-option"}
    digital = {"user_id": DEMO_USER_ID, "instrument_type": "digital-option"}
    assert_ack(await raw.subscribe("portfolio.order-changed", "2.0", blitz, "o1"), "o1")
    assert_ack(await raw.subscribe("portfolio.order-changed", "2.0", digital, "o2"), "o2")
    mark = raw.mark()
    option = (await trade(raw))["msg"]
    push = await raw.push("order-changed", after=mark)
    assert_push(push, "order-changed", "portfolio")
    order = msgspec.convert(push["msg"], Order, strict=False)
    assert (order.id, order.instrument_type, order.status) == (option["id"], "blitz-option", "filled")
    await raw.settle()
    assert len(raw.named("order-changed", after=mark)) == 1  # the digital one does not match
    assert_ack(await raw.unsubscribe("portfolio.order-changed", "2.0", blitz, "o3"), "o3")
    mark = raw.mark()
    await trade(raw)
    await raw.settle()
    assert raw.named("order-changed", after=mark) == []


async def test_traders_mood_changed(raw: RawClient, sim: Simulator) -> None:
    filters = {"asset_id": 76, "instrument_type": "turbo-option"}
    pushes = await check_subscription_cycle(
        raw,
        sim,
        "traders-mood-changed",
        None,
        filters,
        "traders-mood-changed",
        "traders-mood",
        60,
        TradersMood,
    )
    assert {p["msg"]["asset_id"] for p in pushes} == {76}
    assert all(0.2 <= p["msg"]["value"] <= 0.8 for p in pushes)
    values = [p["msg"]["value"] for p in pushes]
    assert all(a != b for a, b in itertools.pairwise(values))  # pushed on change only


@pytest.mark.parametrize("name", ["balance-changed", "balances.balance-changed"])
async def test_balance_changed(raw: RawClient, name: str) -> None:
    assert_ack(await raw.subscribe(name, "1.0", None, "b1"), "b1")
    mark = raw.mark()
    await trade(raw, price=25)
    push = await raw.push("balance-changed", after=mark)
    assert_push(push, "balance-changed", "balances")
    changed = msgspec.convert(push["msg"], BalanceChanged, strict=False)
    assert changed.current_balance.id == DEMO
    assert changed.current_balance.amount == 10_000 - 25
    assert changed.user_id == DEMO_USER_ID
    assert_ack(await raw.unsubscribe(name, "1.0", None, "b2"), "b2")
    mark = raw.mark()
    await trade(raw)
    await raw.settle()
    assert raw.named("balance-changed", after=mark) == []


async def test_private_pushes_reach_only_their_user(raw: RawClient, sim: Simulator) -> None:
    async with RawClient.open(sim.ws_url) as other:
        await other.authenticate(await login(sim.http_url, "trader2@example.com", "trader2"))
        await other.subscribe("balance-changed", "1.0")
        await other.subscribe("portfolio.position-changed", "3.0", {"user_id": TRADER2_USER_ID})
        await other.subscribe("portfolio.order-changed", "2.0", {"instrument_type": "blitz-option"})
        await raw.subscribe("balance-changed", "1.0")
        mark = other.mark()
        await trade(raw)
        await raw.push("balance-changed")
        await sim.advance(6)
        await other.settle()
        names = {f["name"] for f in other.inbox[mark:]}
        assert names <= {"timeSync"}


async def test_instruments_list_pushes_a_closing() -> None:
    async with Simulator(seed=7, clock=ManualClock(WED_21 - 5)) as sim, RawClient.open(sim.ws_url) as raw:
        await raw.authenticate(await login(sim.http_url))
        assert_ack(await raw.subscribe("instruments-list", None, {"type": "blitz-option"}, "i1"), "i1")
        assert_ack(await raw.subscribe("active", None, {"id": 1}, "a1"), "a1")
        mark = raw.mark()
        await sim.advance(4)
        await raw.settle()
        assert raw.named("instruments-list", after=mark) == []  # nothing changed yet
        await sim.advance(2)
        push = await raw.push("instruments-list", after=mark)
        assert_push(push, "instruments-list", "instruments")
        statuses = {i.active_id: i for i in msgspec.convert(push["msg"], InstrumentsList, strict=False).items}
        assert statuses[1].is_open is False
        assert statuses[2].is_open is False  # GBP/USD closes too
        assert statuses[76].is_open is True  # OTC trades on
        active = await raw.push("active", after=mark)
        assert_push(active, "active", "actives")
        assert msgspec.convert(active["msg"], Active, strict=False).is_suspended is True
        await raw.settle()
        assert {p["msg"]["id"] for p in raw.named("active", after=mark)} == {1}  # only the active asked for
        assert_ack(await raw.unsubscribe("instruments-list", None, {"type": "blitz-option"}, "i2"), "i2")
        assert_ack(await raw.unsubscribe("active", None, {"id": 1}, "a2"), "a2")
        mark = raw.mark()
        await sim.advance(3600)  # reopens at 22:00
        await raw.settle()
        assert raw.named("instruments-list", after=mark) == []
        assert raw.named("active", after=mark) == []


async def test_instruments_list_reopening() -> None:
    async with (
        Simulator(seed=7, clock=ManualClock(WED_21 + 3600 - 3)) as sim,
        RawClient.open(sim.ws_url) as r,
    ):
        await r.authenticate(await login(sim.http_url))
        await r.subscribe("instruments-list")
        await sim.advance(5)
        push = await r.push("instruments-list")
        statuses = {i["active_id"]: i for i in push["msg"]["items"]}
        assert statuses[1]["is_open"] is True


async def test_quote_generated(raw: RawClient, sim: Simulator) -> None:
    pushes = await check_subscription_cycle(
        raw, sim, "quote-generated", "2.0", {"active_id": 1938}, "quote-generated", "quotes", 1, Quote
    )
    quotes = [msgspec.convert(p["msg"], Quote) for p in pushes]
    assert [q.time for q in quotes] == [
        1_770_899_100_250,
        1_770_899_100_500,
        1_770_899_100_750,
        1_770_899_101_000,
    ]
    assert all(q.active_id == 1938 and q.phase == "T" for q in quotes)
    assert all(q.bid is not None and q.ask is not None and q.bid < q.ask for q in quotes)
    assert all(q.value is not None and q.bid <= q.value <= q.ask for q in quotes if q.bid and q.ask)


@pytest.mark.parametrize(
    ("name", "version", "filters"),
    [
        ("currency-updated", "5.0", {"name": "USD"}),
        ("active", None, {"id": 76}),
        ("profile-changed", "1.0", None),
        ("portfolio.positions-state", "1.0", None),
        ("subscription-balance-changed", "1.0", None),
    ],
)
async def test_subscriptions_without_regular_pushes_are_acknowledged(
    raw: RawClient, sim: Simulator, name: str, version: str | None, filters: dict[str, Any] | None
) -> None:
    assert_ack(await raw.subscribe(name, version, filters, "s_5"), "s_5")
    assert_ack(await raw.unsubscribe(name, version, filters, "s_6"), "s_6")
    mark = raw.mark()
    await sim.advance(3)
    await raw.settle()
    assert {f["name"] for f in raw.inbox[mark:]} == {"timeSync"}


async def test_unsubscribing_what_was_never_subscribed_is_acknowledged(raw: RawClient) -> None:
    assert_ack(await raw.unsubscribe("candle-generated", "1.0", {"active_id": 1, "size": 60}, "u"), "u")


@pytest.fixture
async def two(sim: Simulator) -> AsyncIterator[tuple[RawClient, RawClient]]:
    ssid = await login(sim.http_url)
    async with RawClient.open(sim.ws_url) as a, RawClient.open(sim.ws_url) as b:
        await a.authenticate(ssid)
        await b.authenticate(ssid)
        yield a, b


async def test_subscriptions_belong_to_their_connection(
    two: tuple[RawClient, RawClient], sim: Simulator
) -> None:
    a, b = two
    await a.subscribe("candle-generated", "1.0", {"active_id": 76, "size": 60})
    await b.subscribe("candle-generated", "1.0", {"active_id": 76, "size": 60})
    await a.unsubscribe("candle-generated", "1.0", {"active_id": 76, "size": 60})
    mark_a, mark_b = a.mark(), b.mark()
    await sim.advance(1)
    await a.settle()
    await b.settle()
    assert a.named("candle-generated", after=mark_a) == []
    assert len(b.named("candle-generated", after=mark_b)) == 4


async def test_the_marginal_balance_stream_is_not_the_billing_one(
    two: tuple[RawClient, RawClient], sim: Simulator
) -> None:
    # Both pushes are named balance-changed; only the microservice tells them apart.
    marginal, billing = two
    assert_ack(await marginal.subscribe("marginal-portfolio.balance-changed", "1.0", None, "m"), "m")
    assert_ack(await billing.subscribe("balance-changed", "1.0", None, "b"), "b")
    mark_m, mark_b = marginal.mark(), billing.mark()
    await trade(billing)
    push = await billing.push("balance-changed", after=mark_b)
    assert_push(push, "balance-changed", "balances")
    await marginal.settle()
    assert marginal.named("balance-changed", after=mark_m) == []
