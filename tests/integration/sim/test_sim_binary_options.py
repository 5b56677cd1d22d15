"""Turbo and binary options on the raw wire: the grid, the deadline, settlement, early sale,
positions-state, and the community client's 1.0 dialect (result + option, listInfoData, sold-options)."""

from __future__ import annotations

from typing import Any

import pytest
from sim_wire import DEMO_BALANCES, DEMO_USER_ID, RawClient

from iqwire.pricing import buyback_price
from iqwire.sim import Simulator

NOW = 1_770_899_100  # a minute boundary, Thursday 12:25 UTC
DEMO, REAL = DEMO_BALANCES["demo"], DEMO_BALANCES["real"]
OPEN = "binary-options.open-option"


def body(
    expired: int, *, option_type_id: int = 3, direction: str = "call", price: float = 10, **extra: Any
) -> dict[str, Any]:
    """The SDK's turbo/binary body (2.0): no expiration_size, the expiry from the grid."""
    out: dict[str, Any] = {
        "user_balance_id": DEMO,
        "active_id": 76,
        "option_type_id": option_type_id,
        "direction": direction,
        "expired": expired,
        "price": price,
        "profit_percent": 88,
    }
    out.update(extra)
    return out


@pytest.fixture
async def watched(raw: RawClient) -> RawClient:
    await raw.subscribe("balance-changed", "1.0")
    await raw.subscribe("portfolio.position-changed", "3.0", {"user_id": DEMO_USER_ID})
    return raw


async def balance(raw: RawClient) -> float:
    reply = await raw.request("internal-billing.get-balances", "1.0", {"types_ids": [4]})
    amount: float = reply["msg"][0]["amount"]
    return amount


def expected(sim: Simulator, direction: str, opened: float, expires: int) -> str:
    open_price, close_price = sim.engine.model.tick(76, opened), sim.engine.model.tick(76, expires)
    if close_price == open_price:
        return "equal"
    return "win" if (close_price > open_price) == (direction == "call") else "loose"


async def test_init_data_lists_turbo_and_binary_with_their_deadlines(raw: RawClient) -> None:
    reply = await raw.request("binary-options.get-initialization-data", "3.0", {})
    turbo = reply["msg"]["turbo"]["actives"]["76"]
    binary = reply["msg"]["binary"]["actives"]["76"]
    assert (turbo["deadtime"], turbo["buyback_deadtime"], turbo["is_buyback"]) == (30, 15, True)
    assert (turbo["option"]["expiration_times"], turbo["option"]["count"]) == ([60], 5)
    assert turbo["option"]["profit"]["commission"] == 12
    assert (binary["deadtime"], binary["option"]["expiration_times"]) == (300, [900, 1800, 3600])
    special = binary["option"]["special"]
    assert [v["title"] for v in special.values()] == ["front.End of month"]
    assert all(a["name"].startswith("front.") for a in reply["msg"]["turbo"]["actives"].values())


@pytest.mark.parametrize(("option_type_id", "expires"), [(3, NOW + 120), (1, NOW + 1200)])
async def test_turbo_and_binary_settle_by_the_last_price(
    watched: RawClient, sim: Simulator, option_type_id: int, expires: int
) -> None:
    reply = await watched.request(OPEN, "2.0", body(expires, option_type_id=option_type_id, price=20))
    assert reply["status"] == 2000, reply
    option = reply["msg"]
    kind = "turbo" if option_type_id == 3 else "binary"
    assert (option["type"], option["exp"], option["profit_income"]) == (kind, expires, 188)
    assert option["created"] == option["time_rate"] == NOW
    assert await balance(watched) == 10_000 - 20
    opened = await watched.push("position-changed", id=option["id"], status="open")
    raw_event = opened["msg"]["raw_event"]["binary_options_option_changed1"]
    assert raw_event == {"order_ids": [option["id"]], "direction": "call", "expiration_time": expires}
    assert opened["msg"]["instrument_type"] == f"{kind}-option"
    mark = watched.mark()
    await sim.advance(expires - NOW)
    closed = (await watched.push("position-changed", after=mark, id=option["id"], status="closed"))["msg"]
    result = expected(sim, "call", NOW, expires)
    assert closed["close_reason"] == result
    pnl = {"win": 17.6, "loose": -20, "equal": 0}[result]
    assert (closed["pnl"], closed["close_profit"]) == (pnl, round(20 + pnl, 2))
    assert await balance(watched) == round(10_000 + pnl, 2)


async def test_both_directions_win_and_lose(watched: RawClient, sim: Simulator) -> None:
    expires = NOW + 60
    ids = {}
    for direction in ("call", "put"):
        ids[direction] = (await watched.request(OPEN, "2.0", body(expires, direction=direction)))["msg"]["id"]
    mark = watched.mark()
    await sim.advance(60)
    results = {}
    for direction, option_id in ids.items():
        push = await watched.push("position-changed", after=mark, id=option_id, status="closed")
        results[direction] = push["msg"]["close_reason"]
    assert sorted(results.values()) in (["loose", "win"], ["equal", "equal"])


async def test_equal_refunds_the_stake(watched: RawClient, sim: Simulator) -> None:
    model = sim.engine.model  # USD/JPY (3 decimals): find a minute whose price ends where it began
    start = next(t for t in range(NOW, NOW + 86_400, 60) if model.tick(85, t) == model.tick(85, t + 60))
    await sim.advance(start - NOW)
    reply = await watched.request(OPEN, "2.0", body(start + 60, active_id=85, profit_percent=85))
    mark = watched.mark()
    await sim.advance(60)
    push = await watched.push("position-changed", after=mark, id=reply["msg"]["id"], status="closed")
    assert (push["msg"]["close_reason"], push["msg"]["pnl"], push["msg"]["close_profit"]) == ("equal", 0, 10)
    assert await balance(watched) == 10_000


@pytest.mark.parametrize(
    ("expired", "option_type_id", "message"),
    [
        (NOW + 30, 3, "not a turbo expiry"),  # off the minute grid
        (NOW + 60 * 7, 3, "not a turbo expiry"),  # beyond five minutes
        (NOW + 600, 1, "not a binary expiry"),  # not a quarter hour
        (NOW + 900 + 3600 * 5, 1, "not a binary expiry"),  # beyond the hourly grid
    ],
)
async def test_expiries_off_the_grid_are_refused(
    raw: RawClient, expired: int, option_type_id: int, message: str
) -> None:
    reply = await raw.request(OPEN, "2.0", body(expired, option_type_id=option_type_id))
    assert (reply["status"], reply["name"]) == (4008, "option")
    assert message in reply["msg"]["message"]


async def test_purchase_after_expiry_minus_deadtime_is_refused(raw: RawClient, sim: Simulator) -> None:
    await sim.advance(30)  # 30 s before NOW + 60: turbo's deadtime
    reply = await raw.request(OPEN, "2.0", body(NOW + 60))
    assert reply["status"] == 4008
    assert "purchase time is over" in reply["msg"]["message"]
    assert (await raw.request(OPEN, "2.0", body(NOW + 120)))["status"] == 2000
    await sim.advance(871)  # binary, 12:45: its deadline (deadtime 300) was 12:40, NOW + 900
    late = await raw.request(OPEN, "2.0", body(NOW + 1200, option_type_id=1))
    assert "purchase time is over" in late["msg"]["message"]


async def test_insufficient_funds_on_the_real_balance(raw: RawClient) -> None:
    reply = await raw.request(OPEN, "2.0", body(NOW + 60, user_balance_id=REAL, price=500))
    assert (reply["status"], reply["msg"]["message"]) == (4008, "Insufficient funds for this transaction.")


async def test_early_sale_pays_the_model_price_and_closes_sold(watched: RawClient, sim: Simulator) -> None:
    await watched.subscribe("portfolio.positions-state", "1.0")
    option = (await watched.request(OPEN, "2.0", body(NOW + 300, price=50)))["msg"]
    ack = await watched.request(
        "portfolio.subscribe-positions", "1.0", {"frequency": "frequent", "ids": [option["id"]]}
    )
    assert ack["msg"]["success"] is True
    await sim.advance(40)
    state = (await watched.push("positions-state"))["msg"]
    [entry] = state["positions"]
    assert entry["id"] == option["id"] and entry["instrument_type"] == "turbo-option"
    model = sim.engine.model
    spot = model.tick(76, NOW + 40)
    price = buyback_price("call", 50, 88, option["value"], spot, model.spec(76).volatility, 260, 12)
    mark = watched.mark()
    reply = await watched.request("binary-options.sell-options", "3.0", {"options_ids": [option["id"]]})
    assert reply["msg"] == {"success": True}
    closed = (await watched.push("position-changed", after=mark, id=option["id"], status="closed"))["msg"]
    assert (closed["close_reason"], closed["close_profit"]) == ("sold", price)
    assert closed["pnl"] == round(price - 50, 2)
    assert closed["version"] == 2
    assert await balance(watched) == round(10_000 - 50 + price, 2)
    again = await watched.request("binary-options.sell-options", "3.0", {"options_ids": [option["id"]]})
    assert again["msg"]["success"] is False and "already closed" in again["msg"]["reason"]
    await sim.advance(300)  # nothing settles a sold option
    await watched.settle()
    assert [p for p in watched.named("position-changed", after=mark) if p["msg"]["version"] == 3] == []


async def test_sale_inside_the_buyback_deadtime_is_refused(raw: RawClient, sim: Simulator) -> None:
    option = (await raw.request(OPEN, "2.0", body(NOW + 60)))["msg"]
    await sim.advance(45)  # 15 s left: turbo's buyback deadtime
    reply = await raw.request("binary-options.sell-options", "3.0", {"options_ids": [option["id"]]})
    assert reply["msg"]["success"] is False
    assert "sale time is over" in reply["msg"]["reason"]


# -- the community client's dialect ---------------------------------------------------------


async def test_community_buy_sell_and_check_win(raw: RawClient, sim: Simulator) -> None:
    await raw.call("setOptions", {"sendResults": True}, "1")
    balances = await raw.request("get-balances", "1.0", None, "")
    assert balances["name"] == "balances" and {b["id"] for b in balances["msg"]} >= {DEMO}
    # Its turbo body: no profit_percent, no expiration_size; request_id "buy".
    legacy = {k: v for k, v in body(NOW + 120).items() if k != "profit_percent"}
    mark = raw.mark()
    await raw.send_request(OPEN, "1.0", legacy, "buy")
    result, option = await raw.replies("buy", 2, after=mark)
    assert (result["name"], result["msg"]["success"]) == ("result", True)
    assert option["name"] == "option" and option["msg"]["id"] > 0
    # A failing buy: the ACK, then an option frame with a message.
    mark = raw.mark()
    await raw.send_request(OPEN, "1.0", {**legacy, "expired": NOW + 7}, "buy")
    _, refused = await raw.replies("buy", 2, after=mark)
    assert refused["name"] == "option" and "message" in refused["msg"]
    # Sale: sell-options 2.0 answers sold-options.
    second = await raw.request(OPEN, "1.0", {**legacy, "expired": NOW + 180}, "buy2")
    second_option = (await raw.replies("buy2", 2))[1]["msg"]
    assert second["name"] == "result"
    sold = await raw.request("sell-options", "2.0", {"options_ids": [second_option["id"]]}, "")
    assert sold["name"] == "sold-options" and sold["msg"]["success"] is True
    # check_win: listInfoData when the option closes (win/loose/equal, game_state 1).
    mark = raw.mark()
    await sim.advance(120)
    info = await raw.wait_for(
        lambda f: f.get("name") == "listInfoData" and f["msg"][0]["id"] == option["msg"]["id"], after=mark
    )
    assert info["msg"][0]["game_state"] == 1
    assert info["msg"][0]["win"] == expected(sim, "call", NOW, NOW + 120)
    closed = await raw.push("option-closed", after=mark, option_id=option["msg"]["id"])
    assert closed["msg"]["amount"] == 10


async def test_api_option_init_all(raw: RawClient) -> None:
    reply = await raw.call("api_option_init_all", "", "")
    assert reply["name"] == "api_option_init_all_result"
    assert reply["msg"]["isSuccessful"] is True
    turbo = reply["msg"]["result"]["turbo"]["actives"]["76"]
    assert turbo["name"] == "front.EURUSD-OTC" and turbo["option"]["profit"]["commission"] == 12
    v3 = await raw.request("get-initialization-data", "3.0", {}, "")
    assert v3["name"] == "initialization-data" and "binary" in v3["msg"]
    # get_all_open_time reads enabled and is_suspended of every active, and splits the name at '.'.
    for group in ("turbo", "binary"):
        for active in v3["msg"][group]["actives"].values():
            assert active["enabled"] is True and active["is_suspended"] in (True, False)
            assert "." in active["name"]
