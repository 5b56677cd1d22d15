"""Blitz options on the raw wire: placement, rejections, settlement, the ledger, positions."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from sim_wire import (
    DEMO_BALANCES,
    DEMO_USER_ID,
    TRADER2_BALANCES,
    RawClient,
    login,
    open_body,
)

from iqwire.models import CommissionChangedError, HistoryPositions, Option, Position, PositionsResponse
from iqwire.sim import ManualClock, Simulator

NOW = 1_770_899_100
DEMO, REAL = DEMO_BALANCES["demo"], DEMO_BALANCES["real"]
#: Wednesday 2026-02-11 21:30 UTC (EUR/USD's daily break) and Saturday 2026-02-14 12:00 UTC.
WED_2130, SATURDAY = 1_770_845_400, 1_771_070_400
OPEN_OPTION = "binary-options.open-option"
POSITION_FIELDS = {
    "id",
    "external_id",
    "instrument_type",
    "instrument_id",
    "active_id",
    "direction",
    "status",
    "result",
    "investment",
    "invest",
    "pnl",
    "close_profit",
    "profit_amount",
    "close_reason",
    "open_time",
    "expiration_time",
    "expiration_size",
    "expiration_value",
    "user_id",
    "user_balance_id",
    "version",
    "raw_event",
}


@pytest.fixture
async def watched(raw: RawClient) -> RawClient:
    """The demo connection, subscribed to its balance and position pushes."""
    await raw.subscribe("balance-changed", "1.0")
    await raw.subscribe("portfolio.position-changed", "3.0", {"user_id": DEMO_USER_ID})
    return raw


async def place(raw: RawClient, body: dict[str, Any], request_id: str | None = None) -> dict[str, Any]:
    return await raw.request(OPEN_OPTION, "2.0", body, request_id)


async def balance(raw: RawClient, balance_id: int = DEMO) -> float:
    reply = await raw.request("internal-billing.get-balances", "1.0", {"types_ids": [1, 4, 2]})
    amount: float = next(b["amount"] for b in reply["msg"] if b["id"] == balance_id)
    return amount


def reference_body(now: int, size: int = 30, **kwargs: Any) -> dict[str, Any]:
    """The web client's body (reference §7.1): expired = server time + size, value, refund_value."""
    body = open_body(DEMO, size=size, expired=now + size, **kwargs)
    body.update(value=1_028_369, refund_value=0)
    return body


# -- placement ------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["reference", "sdk"])
async def test_open_option_reply(watched: RawClient, sim: Simulator, form: str) -> None:
    body = reference_body(NOW, price=100) if form == "reference" else open_body(DEMO, price=100, size=30)
    assert ("value" in body) is (form == "reference")
    mark = watched.mark()
    reply = await place(watched, body, "buy")
    assert reply["name"] == "option"
    assert reply["status"] == 2000
    assert reply["request_id"] == "buy"
    msg = reply["msg"]
    option = msgspec.convert(msg, Option)
    assert option.act == 76
    assert option.direction == "call"
    assert option.price == 100
    assert option.created == option.time_rate == NOW
    assert option.exp == NOW + 30
    assert option.type == "blitz"
    assert option.user_id == DEMO_USER_ID
    assert option.profit_income == 100 + 88
    assert msg["profit_return"] == 0
    assert msg["rollover_params"] == {"amount_multiplier": 2, "max_count": 1, "offset": 0, "deadtime": 7}
    # The open quote is a float price: the open of the second it was bought in.
    assert isinstance(msg["value"], float)
    await sim.advance(1)
    second = await watched.request("get-candles", "2.0", {"active_id": 76, "size": 1, "from": NOW, "to": NOW})
    assert msg["value"] == second["msg"]["candles"][0]["open"]

    assert await balance(watched) == 10_000 - 100
    changed = await watched.push("balance-changed", after=mark)
    assert changed["msg"]["current_balance"]["id"] == DEMO
    assert changed["msg"]["current_balance"]["amount"] == 9_900
    opened = await watched.push("position-changed", after=mark)
    position = opened["msg"]
    assert set(position) >= POSITION_FIELDS
    assert position["id"] == position["external_id"] == option.id
    assert position["status"] == "open"
    assert position["result"] == "opened"
    assert position["instrument_type"] == "blitz-option"
    assert position["instrument_id"] == "blitz_EURUSD_OTC"
    assert position["investment"] == position["invest"] == 100
    assert position["pnl"] is None
    assert position["close_profit"] is None
    assert position["profit_amount"] is None
    assert position["close_reason"] is None
    assert position["expiration_value"] is None
    assert position["open_time"] == NOW
    assert position["expiration_time"] == NOW + 30
    assert position["expiration_size"] == 30
    assert position["user_balance_id"] == DEMO
    assert position["raw_event"]["binary_options_option_changed1"] == {
        "order_ids": [option.id],
        "direction": "call",
        "expiration_time": NOW + 30,
    }


@pytest.mark.parametrize("offset", [-2, -1, 1, 2])
async def test_expired_within_tolerance_is_accepted(raw: RawClient, offset: int) -> None:
    reply = await place(raw, open_body(DEMO, size=60, expired=NOW + 60 + offset))
    assert reply["status"] == 2000
    assert reply["msg"]["exp"] == NOW + 60  # the server's expiry, not the client's


@pytest.mark.parametrize("offset", [-3, 3, -60])
async def test_expired_off_by_more_than_the_tolerance_is_rejected(raw: RawClient, offset: int) -> None:
    reply = await place(raw, open_body(DEMO, size=60, expired=NOW + 60 + offset))
    assert reply["status"] == 4008
    assert await balance(raw) == 10_000


async def test_send_results_acknowledges_before_the_option(raw: RawClient) -> None:
    await raw.call("setOptions", {"sendResults": True})
    mark = raw.mark()
    await raw.send_request(OPEN_OPTION, "2.0", open_body(DEMO), "buy")
    ack, option = await raw.replies("buy", 2, after=mark)
    assert ack == {"name": "result", "msg": {"success": True}, "request_id": "buy", "status": 2000}
    assert option["name"] == "option"
    assert option["status"] == 2000


async def test_send_results_acknowledges_before_a_refusal_too(raw: RawClient) -> None:
    await raw.call("setOptions", {"sendResults": True})
    mark = raw.mark()
    await raw.send_request(OPEN_OPTION, "2.0", open_body(DEMO, payout=50), "buy")
    ack, error = await raw.replies("buy", 2, after=mark)
    assert ack["name"] == "result"
    assert ack["msg"] == {"success": True}
    assert error["status"] == 4117
    await raw.call("setOptions", {"sendResults": False})
    assert (await place(raw, open_body(DEMO), "again"))["name"] == "option"


async def test_without_send_results_only_the_option_comes(raw: RawClient) -> None:
    mark = raw.mark()
    reply = await place(raw, open_body(DEMO), "buy")
    assert reply["name"] == "option"
    await raw.settle()
    assert len([f for f in raw.inbox[mark:] if f.get("request_id") == "buy"]) == 1


# -- rejections -----------------------------------------------------------------------------


async def test_payout_change_gets_4117_with_the_actual_commission(raw: RawClient, sim: Simulator) -> None:
    reply = await place(raw, open_body(DEMO, payout=89), "p")
    assert reply["status"] == 4117
    assert reply["request_id"] == "p"
    assert reply["msg"] == {
        "message": "The option has not been purchased because of the profit rate change.",
        "result": {"actual_commission": {"active_id": 76, "commission": 12, "option_type": 12}},
    }
    msgspec.convert(reply["msg"], CommissionChangedError)

    sim.set_commission(76, 20)
    stale = await place(raw, open_body(DEMO, payout=88))
    assert stale["status"] == 4117
    assert stale["msg"]["result"]["actual_commission"] == {
        "active_id": 76,
        "commission": 20,
        "option_type": 12,
    }
    init = await raw.request("get-initialization-data", "4.0", {})
    assert init["msg"]["blitz"]["actives"]["76"]["option"]["profit"]["commission"] == 20
    assert await balance(raw) == 10_000
    fresh = await place(raw, open_body(DEMO, payout=80))
    assert fresh["status"] == 2000
    assert fresh["msg"]["profit_income"] == 180


@pytest.mark.parametrize("start", [WED_2130, SATURDAY], ids=["daily-break", "weekend"])
async def test_a_closed_market_is_rejected(start: int) -> None:
    async with Simulator(seed=7, clock=ManualClock(start)) as sim, RawClient.open(sim.ws_url) as raw:
        await raw.authenticate(await login(sim.http_url))
        reply = await place(raw, open_body(DEMO, active_id=1, payout=92), "c")
        assert reply["status"] == 4008
        assert reply["request_id"] == "c"
        assert "closed" in reply["msg"]["message"]
        otc = await place(raw, open_body(DEMO, active_id=76, payout=88))
        assert otc["status"] == 2000  # OTC trades around the clock
        assert await balance(raw) == 10_000 - 10


async def test_an_expiry_inside_the_closure_is_rejected() -> None:
    async with (
        Simulator(seed=7, clock=ManualClock(WED_2130 - 1800 - 20)) as sim,
        RawClient.open(sim.ws_url) as raw,
    ):
        await raw.authenticate(await login(sim.http_url))
        assert (await place(raw, open_body(DEMO, active_id=1, payout=92, size=15)))["status"] == 2000
        assert (await place(raw, open_body(DEMO, active_id=1, payout=92, size=30)))["status"] == 4008


async def test_insufficient_funds(raw: RawClient) -> None:
    reply = await place(raw, open_body(REAL, price=150), "f")
    assert reply["status"] == 4008
    assert reply["msg"]["message"] == "Insufficient funds for this transaction."
    assert await balance(raw, REAL) == 100
    assert (await place(raw, open_body(REAL, price=100)))["status"] == 2000
    assert await balance(raw, REAL) == 0
    assert (await place(raw, open_body(REAL, price=1)))["msg"][
        "message"
    ] == "Insufficient funds for this transaction."


@pytest.mark.parametrize("price", [0, 0.99, -5, 20_000.01, 1e9])
async def test_amount_out_of_range(raw: RawClient, price: float) -> None:
    reply = await place(raw, open_body(DEMO, price=price))
    assert reply["status"] == 4008
    assert "amount" in reply["msg"]["message"]
    assert await balance(raw) == 10_000


@pytest.mark.parametrize("price", [1, 20_000])
async def test_amount_limits_are_inclusive(raw: RawClient, sim: Simulator, price: float) -> None:
    sim.engine.accounts.users[DEMO_USER_ID].balances[DEMO].amount = 20_000
    assert (await place(raw, open_body(DEMO, price=price)))["status"] == 2000
    assert await balance(raw) == 20_000 - price


@pytest.mark.parametrize("size", [7, 3600, 0, -5, None])
async def test_an_expiration_size_not_offered_is_rejected(raw: RawClient, size: int | None) -> None:
    body = open_body(DEMO)
    body["expiration_size"] = size
    reply = await place(raw, body)
    assert reply["status"] == 4008
    assert "expiration_size" in reply["msg"]["message"]


async def test_another_users_balance_is_forbidden(raw: RawClient, sim: Simulator) -> None:
    before = sim.balances("trader2@example.com")
    reply = await place(raw, open_body(TRADER2_BALANCES["demo"]), "forged")
    assert reply["status"] == 4003
    assert reply["request_id"] == "forged"
    assert sim.balances("trader2@example.com") == before
    assert await balance(raw) == 10_000
    assert sim.positions() == []
    assert sim.positions("trader2@example.com") == []


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"option_type_id": 7}, 4501),  # no product trades this option type
        ({"option_type_id": 3}, 4008),  # turbo, with expired 0: not an expiry of its grid
        ({"option_type_id": 1}, 4008),
        ({"direction": "up"}, 4008),
        ({"active_id": 424242}, 4004),
        ({"price": "ten"}, 4000),
        ({"user_balance_id": None}, 4000),
    ],
)
async def test_other_bad_orders(raw: RawClient, change: dict[str, Any], status: int) -> None:
    reply = await place(raw, {**open_body(DEMO), **change})
    assert reply["status"] == status
    assert await balance(raw) == 10_000


async def test_an_unserved_version_is_refused(raw: RawClient) -> None:
    # 2.0 (the SDK) and 1.0 (the community client) are served; nothing else.
    reply = await raw.request(OPEN_OPTION, "9.0", open_body(DEMO))
    assert reply["status"] == 4005


# -- settlement -----------------------------------------------------------------------------


def _check_closed(position: dict[str, Any], amount: float, payout: float) -> None:
    result = position["result"]
    assert position["status"] == "closed"
    assert position["close_reason"] == result
    assert position["version"] == 2
    if result == "win":
        pnl = round(amount * payout / 100, 2)
        assert (position["pnl"], position["close_profit"], position["profit_amount"]) == (
            pnl,
            amount + pnl,
            pnl,
        )
    elif result == "loose":
        assert (position["pnl"], position["close_profit"], position["profit_amount"]) == (-amount, 0, -amount)
    else:
        assert result == "equal"
        assert (position["pnl"], position["close_profit"], position["profit_amount"]) == (0, amount, 0)


async def test_win_and_loose_settle_at_expiry(watched: RawClient, sim: Simulator) -> None:
    call = (await place(watched, open_body(DEMO, direction="call", price=40, size=5)))["msg"]
    put = (await place(watched, open_body(DEMO, direction="put", price=60, size=5)))["msg"]
    assert await balance(watched) == 10_000 - 100
    mark = watched.mark()
    await sim.advance(4)
    await watched.settle()
    assert [p for p in watched.named("position-changed", after=mark) if p["msg"]["status"] == "closed"] == []
    await sim.advance(1)
    closed = {}
    for option in (call, put):
        push = await watched.push("position-changed", after=mark, id=option["id"], status="closed")
        closed[option["direction"]] = push["msg"]
        _check_closed(push["msg"], option["price"], 88)
        assert push["msg"]["close_time"] == option["exp"]
    # The settlement price is the close of the 1-second candle that ends at expiry.
    last = await watched.request(
        "get-candles", "2.0", {"active_id": 76, "size": 1, "from": NOW + 4, "to": NOW + 4}
    )
    close = last["msg"]["candles"][0]["close"]
    assert closed["call"]["expiration_value"] == closed["put"]["expiration_value"] == close
    went_up = close > call["value"]
    assert closed["call"]["result"] == ("win" if went_up else "loose")
    assert closed["put"]["result"] == ("loose" if went_up else "win")
    credited = sum(p["close_profit"] for p in closed.values())
    assert await balance(watched) == round(10_000 - 100 + credited, 2)
    # The credit was pushed, after the debit.
    amounts = [p["msg"]["current_balance"]["amount"] for p in watched.named("balance-changed")]
    assert amounts[-1] == round(10_000 - 100 + credited, 2)


async def test_equal(watched: RawClient, sim: Simulator) -> None:
    # USD/JPY (OTC) has 3 decimals: an unchanged price after 5 s is common. Find one with the model.
    model, size = sim.engine.model, 5
    when = next(t for t in range(NOW + 1, NOW + 600) if model.tick(85, t) == model.tick(85, t + size))
    await sim.advance(when - NOW)
    option = (await place(watched, open_body(DEMO, active_id=85, payout=85, price=20, size=size)))["msg"]
    mark = watched.mark()
    await sim.advance(size)
    push = await watched.push("position-changed", after=mark, status="closed")
    assert push["msg"]["result"] == "equal"
    _check_closed(push["msg"], 20, 85)
    assert push["msg"]["expiration_value"] == option["value"]
    assert await balance(watched) == 10_000  # the stake came back


async def test_the_ledger_balances_and_nothing_settles_twice(watched: RawClient, sim: Simulator) -> None:
    start = await balance(watched)
    placed = []
    for index in range(12):
        body = open_body(
            DEMO,
            active_id=(76, 85, 1938)[index % 3],
            payout=(88, 85, 84)[index % 3],
            direction=("call", "put")[index % 2],
            price=5 + index,
            size=(5, 10, 15)[index % 3],
        )
        reply = await place(watched, body)
        assert reply["status"] == 2000
        placed.append(reply["msg"])
        await sim.advance(1)
    mark = watched.mark()
    await sim.advance(20)
    await watched.settle()
    await sim.advance(60)  # more time: nothing more to settle
    await watched.settle()
    closed = [p["msg"] for p in watched.named("position-changed") if p["msg"]["status"] == "closed"]
    assert sorted(p["id"] for p in closed) == sorted(o["id"] for o in placed)  # each exactly once
    assert {p["result"] for p in closed} <= {"win", "loose", "equal"}
    assert "win" in {p["result"] for p in closed} and "loose" in {p["result"] for p in closed}
    expected = round(start - sum(o["price"] for o in placed) + sum(p["close_profit"] for p in closed), 2)
    assert await balance(watched) == expected
    assert sim.balances()[1].amount == expected
    assert (
        len([p for p in watched.named("position-changed", after=mark) if p["msg"]["status"] == "open"]) == 0
    )


# -- positions and history ------------------------------------------------------------------

POSITIONS = {"instrument_types": ["blitz-option"], "limit": 30, "offset": 0}


async def test_positions_and_history(raw: RawClient, sim: Simulator) -> None:
    first = (await place(raw, open_body(DEMO, size=5)))["msg"]
    second = (await place(raw, open_body(DEMO, size=60, direction="put")))["msg"]
    reply = await raw.request("portfolio.get-positions", "4.0", {**POSITIONS, "user_balance_id": DEMO})
    positions = msgspec.convert(reply["msg"], PositionsResponse)
    assert positions.limit == 30
    assert positions.total == 2
    assert [p.id for p in positions.positions] == [first["id"], second["id"]]
    assert all(p.status == "open" for p in positions.positions)
    # The SDK's form: no user_balance_id, every instrument type.
    sdk = await raw.request(
        "portfolio.get-positions",
        "4.0",
        {
            "instrument_types": [
                "binary-option",
                "turbo-option",
                "blitz-option",
                "digital-option",
                "marginal-forex",
                "marginal-cfd",
                "marginal-crypto",
            ],
            "limit": 30,
            "offset": 0,
        },
    )
    assert sdk["msg"]["total"] == 2
    page = await raw.request("portfolio.get-positions", "4.0", {**POSITIONS, "limit": 1, "offset": 1})
    assert [p["id"] for p in page["msg"]["positions"]] == [second["id"]]
    assert page["msg"]["total"] == 2
    other = await raw.request("portfolio.get-positions", "4.0", {**POSITIONS, "user_balance_id": REAL})
    assert other["msg"]["positions"] == []

    await sim.advance(6)
    still = await raw.request("portfolio.get-positions", "4.0", POSITIONS)
    assert [p["id"] for p in still["msg"]["positions"]] == [second["id"]]
    history = await raw.request(
        "portfolio.get-history-positions",
        "1.0",
        {"user_balance_id": DEMO, "instrument_types": ["blitz-option"], "limit": 30, "offset": 0},
    )
    assert history["name"] == "history-positions"
    closed = msgspec.convert(history["msg"], HistoryPositions)
    assert [p.id for p in closed.positions] == [first["id"]]
    assert closed.positions[0].status == "closed"
    assert closed.positions[0].pnl is not None
    by_external = await raw.request(
        "portfolio.get-history-positions",
        "2.0",
        {"instrument_types": ["blitz-option"], "external_id": first["id"]},
    )
    assert [p["external_id"] for p in by_external["msg"]["positions"]] == [first["id"]]


async def test_history_pages(raw: RawClient, sim: Simulator) -> None:
    ids = []
    for _ in range(7):
        ids.append((await place(raw, open_body(DEMO, size=5)))["msg"]["id"])
        await sim.advance(1)
    await sim.advance(10)
    body = {"instrument_types": ["blitz-option"], "user_id": DEMO_USER_ID}
    pages = []
    for offset in range(0, 9, 3):
        reply = await raw.request(
            "portfolio.get-history-positions", "2.0", {**body, "limit": 3, "offset": offset}
        )
        assert reply["msg"]["limit"] == 3
        assert reply["msg"]["total"] == 7
        pages.append([p["id"] for p in reply["msg"]["positions"]])
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for page in pages for i in page] == ids[::-1]  # most recently closed first
    ended = await raw.request("portfolio.get-history-positions", "2.0", {**body, "limit": 30, "end": NOW + 7})
    assert [p["id"] for p in ended["msg"]["positions"]] == ids[2::-1]  # closed by NOW + 7
    orders = await raw.request("portfolio.get-orders", "2.0", {"user_balance_id": DEMO, "kind": "deferred"})
    assert orders["msg"]["orders"] == orders["msg"]["items"] == []  # blitz orders fill at once


async def test_a_reconnecting_client_sees_its_open_positions(raw: RawClient, sim: Simulator) -> None:
    option = (await place(raw, open_body(DEMO, size=120)))["msg"]
    await raw.close()
    await sim.advance(30)
    async with RawClient.open(sim.ws_url) as again:
        assert (await again.authenticate(await login(sim.http_url)))["msg"] is True
        reply = await again.request("portfolio.get-positions", "4.0", POSITIONS)
        (position,) = msgspec.convert(reply["msg"], PositionsResponse).positions
        assert isinstance(position, Position)
        assert position.id == option["id"]
        assert position.status == "open"
        await again.subscribe("portfolio.position-changed", "3.0", {"user_id": DEMO_USER_ID})
        await sim.advance(90)
        closed = await again.push("position-changed", id=option["id"], status="closed")
        assert closed["msg"]["result"] in {"win", "loose", "equal"}
