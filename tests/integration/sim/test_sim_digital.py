"""Digital options on the raw wire: instruments and strikes, live prices, orders (filled, or
accepted then rejected), settlement against the strike, early close, and the community dialect."""

from __future__ import annotations

from typing import Any

import pytest
from sim_wire import DEMO_BALANCES, DEMO_USER_ID, RawClient

from iqwire.pricing import digital_quote
from iqwire.sim import Simulator
from iqwire.sim.digital_instruments import symbol

NOW = 1_770_899_100  # 12:25:00 UTC: a minute and a five-minute boundary
DEMO, REAL = DEMO_BALANCES["demo"], DEMO_BALANCES["real"]
PLACE = "digital-options.place-digital-option"


@pytest.fixture
async def watched(raw: RawClient) -> RawClient:
    await raw.subscribe("balance-changed", "1.0")
    await raw.subscribe("portfolio.position-changed", "3.0", {"user_id": DEMO_USER_ID})
    await raw.subscribe(
        "portfolio.order-changed", "2.0", {"user_id": DEMO_USER_ID, "instrument_type": "digital-option"}
    )
    return raw


async def instruments(raw: RawClient, asset_id: int = 76) -> list[dict[str, Any]]:
    reply = await raw.request("digital-option-instruments.get-instruments", "3.0", {"asset_id": asset_id})
    assert reply["status"] == 2000, reply
    found: list[dict[str, Any]] = reply["msg"]["instruments"]
    return found


def spot_symbol(instrument: dict[str, Any], direction: str) -> str:
    return next(
        d["symbol"] for d in instrument["data"] if d["strike"] == "SPT" and d["direction"] == direction
    )


async def balance(raw: RawClient, balance_id: int = DEMO) -> float:
    reply = await raw.request("internal-billing.get-balances", "1.0", {"types_ids": [1, 4]})
    amount: float = next(b["amount"] for b in reply["msg"] if b["id"] == balance_id)
    return amount


async def buy(
    raw: RawClient, instrument: dict[str, Any], symbol_: str, amount: str = "10", **extra: Any
) -> dict[str, Any]:
    body = {
        "amount": amount,
        "asset_id": instrument["asset_id"],
        "instrument_id": symbol_,
        "instrument_index": instrument["index"],
        "user_balance_id": DEMO,
    }
    body.update(extra)
    return await raw.request(PLACE, "3.0", body)


async def test_underlyings_and_instruments(raw: RawClient) -> None:
    listed = await raw.request(
        "digital-option-instruments.get-underlying-list", "3.0", {"filter_suspended": True}
    )
    assert listed["msg"]["type"] == "digital-option"
    eurusd = next(u for u in listed["msg"]["underlying"] if u["active_id"] == 76)
    assert eurusd["name"] == "EURUSD-OTC" and eurusd["is_suspended"] is False
    assert eurusd["schedule"][0]["open"] <= NOW < eurusd["schedule"][0]["close"]
    found = await instruments(raw)
    assert sorted((i["period"], i["expiration"] - NOW) for i in found) == [
        (60, 60),
        (60, 120),
        (300, 300),
        (300, 600),
        (900, 300),  # 12:30
        (900, 1200),
    ]
    first = next(i for i in found if i["period"] == 60 and i["expiration"] == NOW + 60)
    assert first["deadtime"] == 10 and first["instrument_type"] == "digital-option"
    assert spot_symbol(first, "call") == "doEURUSD-OTC202602121226PT1MCSPT"
    strikes = {d["strike"] for d in first["data"]}
    assert "SPT" in strikes and len(strikes) == 9
    assert {d["direction"] for d in first["data"]} == {"call", "put"}


async def test_strike_prices_are_pushed_and_the_spot_pays_100_minus_commission(
    raw: RawClient, sim: Simulator
) -> None:
    first = next(i for i in await instruments(raw) if i["period"] == 300)
    filters = {"asset_id": 76, "instrument_index": first["index"], "instrument_type": "digital-option"}
    assert (await raw.subscribe("trading-settings.digital-option-client-price-generated", "1.0", filters))[
        "msg"
    ]["success"]
    mark = raw.mark()
    await sim.advance(1)
    pushes = raw.named("digital-option-client-price-generated", after=mark)
    assert len(pushes) >= 3  # several times a second
    assert pushes[0]["microserviceName"] == "trading-settings"
    prices = pushes[-1]["msg"]["prices"]
    spot = next(p for p in prices if p["strike"] == "SPT")
    assert spot["call"]["ask"] == spot["put"]["ask"] == 53.19  # (100 - 53.19) / 53.19 = 88.005 %
    ladder = sorted(
        (float(p["strike"]), p["call"]["ask"], p["put"]["ask"]) for p in prices if p["strike"] != "SPT"
    )
    assert [c for _, c, _ in ladder] == sorted((c for _, c, _ in ladder), reverse=True)
    assert [p for _, _, p in ladder] == sorted(p for _, _, p in ladder)


async def test_a_spot_call_settles_against_its_strike(watched: RawClient, sim: Simulator) -> None:
    first = next(i for i in await instruments(watched) if i["period"] == 60)
    reply = await buy(watched, first, spot_symbol(first, "call"))
    assert (reply["name"], reply["status"]) == ("digital-option-placed", 2000)
    order_id = reply["msg"]["id"]
    order = await watched.push("order-changed", id=order_id)
    assert order["msg"]["status"] == "filled"
    opened = (await watched.push("position-changed", status="open"))["msg"]
    assert opened["id"] == order["msg"]["position_id"]
    changed = opened["raw_event"]["digital_options_position_changed1"]
    assert changed["order_ids"] == [order_id] and changed["instrument_dir"] == "call"
    assert changed["instrument_expiration"] == first["expiration"] * 1000
    strike = sim.engine.model.tick(76, NOW)
    assert opened["raw_event"]["instrument_strike_value"] == round(strike * 1e6)
    assert await balance(watched) == 9_990
    mark = watched.mark()
    await sim.advance(60)
    closed = (await watched.push("position-changed", after=mark, id=opened["id"], status="closed"))["msg"]
    close = sim.engine.model.tick(76, NOW + 60)
    assert closed["close_reason"] == "expired"
    count = 10 / 53.19
    paid = round(count * 100, 2) if close > strike else (10 if close == strike else 0)
    assert (closed["close_profit"], closed["pnl"]) == (paid, round(paid - 10, 2))
    assert closed["result"] == ("win" if close > strike else "equal" if close == strike else "loose")
    assert await balance(watched) == round(9_990 + paid, 2)


async def test_early_close_pays_the_bid(watched: RawClient, sim: Simulator) -> None:
    await watched.subscribe("portfolio.positions-state", "1.0")
    first = next(i for i in await instruments(watched) if i["period"] == 300)
    await buy(watched, first, spot_symbol(first, "put"), amount="20")
    opened = (await watched.push("position-changed", status="open"))["msg"]
    await watched.request(
        "portfolio.subscribe-positions", "1.0", {"frequency": "frequent", "ids": [str(opened["id"])]}
    )
    await sim.advance(30)
    state = (await watched.push("positions-state"))["msg"]["positions"][0]
    assert state["instrument_type"] == "digital-option" and state["sell_profit"] > 0
    model = sim.engine.model
    strike, spot = model.tick(76, NOW), model.tick(76, NOW + 30)
    bid = digital_quote("put", spot, strike, model.spec(76).volatility, 270, 12).bid
    mark = watched.mark()
    reply = await watched.request("digital-options.close-position", "1.0", {"position_id": opened["id"]})
    assert reply["msg"] == {"success": True}
    closed = (await watched.push("position-changed", after=mark, id=opened["id"], status="closed"))["msg"]
    paid = round(20 / 53.19 * bid, 2)
    assert (closed["close_reason"], closed["close_profit"], closed["pnl_realized"]) == (
        "default",
        paid,
        round(paid - 20, 2),
    )
    assert closed["raw_event"]["sell_amount"] == paid
    assert await balance(watched) == round(10_000 - 20 + paid, 2)
    again = await watched.request("digital-options.close-position", "1.0", {"position_id": opened["id"]})
    assert again["msg"]["success"] is False


async def test_insufficient_funds_is_accepted_then_rejected(watched: RawClient, sim: Simulator) -> None:
    first = next(i for i in await instruments(watched) if i["period"] == 60)
    reply = await buy(watched, first, spot_symbol(first, "call"), amount="500", user_balance_id=REAL)
    assert reply["status"] == 2000
    order_id = reply["msg"]["id"]
    await sim.advance(0.25)
    order = await watched.push("order-changed", id=order_id)
    assert order["msg"]["status"] == "rejected"
    await watched.settle()
    assert watched.named("position-changed") == []
    assert await balance(watched, REAL) == 100


async def test_purchase_after_the_deadline_is_refused(raw: RawClient, sim: Simulator) -> None:
    first = next(i for i in await instruments(raw) if i["period"] == 60 and i["expiration"] == NOW + 60)
    await sim.advance(50)  # 10 s left: the deadtime
    reply = await buy(raw, first, spot_symbol(first, "call"))
    assert reply["status"] == 4008 and "purchase time is over" in reply["msg"]["message"]
    unknown = await buy(raw, first, "doNOPE202602121226PT1MCSPT")
    assert unknown["status"] == 4004


async def test_instrument_generated_when_a_period_turns(raw: RawClient, sim: Simulator) -> None:
    await raw.subscribe("digital-option-instruments.instrument-generated", "3.0", {"asset_id": 76})
    mark = raw.mark()
    await sim.advance(60)
    generated = await raw.push("instrument-generated", after=mark, period=60)
    assert generated["msg"]["expiration"] == NOW + 60 + 120
    assert generated["microserviceName"] == "digital-option-instruments"


# -- the community client's dialect ---------------------------------------------------------


async def test_community_digital_spot_buy_quotes_and_check_win(raw: RawClient, sim: Simulator) -> None:
    await raw.subscribe(
        "portfolio.position-changed", "2.0", {"instrument_type": "digital-option", "user_balance_id": DEMO}
    )
    listed = await raw.request("get-underlying-list", "2.0", {"type": "digital-option"}, "")
    assert any(u["underlying"] == "EURUSD-OTC" for u in listed["msg"]["underlying"])
    await raw.subscribe(
        "instrument-quotes-generated",
        "1.0",
        {"active": 76, "expiration_period": 60, "kind": "digital-option"},
    )
    await sim.advance(0.25)
    quotes = (await raw.push("instrument-quotes-generated"))["msg"]
    assert quotes["expiration"] == {"period": 60, "timestamp": NOW + 60}
    by_symbol = {q["symbols"][0]: q["price"] for q in quotes["quotes"]}
    spot_call = symbol("EURUSD-OTC", NOW + 60, 60, "call", "SPT")
    assert round((100 - by_symbol[spot_call]["ask"]) * 100 / by_symbol[spot_call]["ask"]) == 88
    strikes = await raw.request(
        "get-strike-list",
        "4.0",
        {"type": "digital-option", "underlying": "EURUSD-OTC", "expiration": (NOW + 60) * 1000, "period": 60},
        "",
    )
    assert (
        strikes["name"] == "strike-list" and strikes["msg"]["expiration"] == quotes["expiration"]["timestamp"]
    )
    assert all(entry["call"]["id"] in by_symbol for entry in strikes["msg"]["strike"])
    # buy_digital_spot: the instrument id alone, amount as text; the reply is named digital-option-placed.
    placed = await raw.request(
        PLACE, "1.0", {"user_balance_id": DEMO, "instrument_id": spot_call, "amount": "1"}, ""
    )
    assert placed["name"] == "digital-option-placed" and isinstance(placed["msg"]["id"], int)
    opened = await raw.push("position-changed", status="open")
    assert opened["msg"]["source"] == "digital-options"
    assert opened["msg"]["raw_event"]["order_ids"] == [placed["msg"]["id"]]
    extra = opened["msg"]["raw_event"]["extra_data"]
    assert extra["lower_instrument_id"] in by_symbol and extra["upper_instrument_id"] in by_symbol
    assert opened["msg"]["instrument_id"] == spot_call
    mark = raw.mark()
    await sim.advance(60)
    closed = (await raw.push("position-changed", after=mark, status="closed"))["msg"]
    # check_win_digital_v2: close_reason "expired" -> close_profit - invest.
    assert closed["close_reason"] == "expired"
    assert round(closed["close_profit"] - closed["invest"], 2) == closed["pnl"]


async def test_every_product_feature_is_enabled(raw: RawClient) -> None:
    reply = await raw.request("features.get-features", "2.0", {"category": "client-sdk-js"})
    status = {f["name"]: f["status"] for f in reply["msg"]["features"]}
    assert all(status[f"{p}-instrument"] == "enabled" for p in ("blitz", "turbo", "binary", "digital"))


async def test_community_open_times_and_error_results(raw: RawClient) -> None:
    # get_all_open_time: get-instruments 4.0 for forex, cfd and crypto, each with its sessions.
    for kind, active in (("forex", "EURUSD"), ("cfd", "AMZN"), ("crypto", "XRPUSD-OTC")):
        reply = await raw.request("get-instruments", "4.0", {"type": kind}, "")
        assert reply["name"] == "instruments"
        names = {i["name"] for i in reply["msg"]["instruments"]}
        assert active in names
        assert all({"open", "close"} <= set(s) for i in reply["msg"]["instruments"] for s in i["schedule"])
    # An error named result still carries success (the client reads it unconditionally).
    refused = await raw.subscribe("no-such-stream", "1.0")
    assert refused["name"] == "result" and refused["msg"]["success"] is False
