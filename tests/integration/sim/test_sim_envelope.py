"""The envelope on the raw wire: request ids echoed verbatim, error statuses, a connection that survives."""

from __future__ import annotations

import uuid

import pytest
from sim_wire import RawClient

REQUEST_IDS = ["1", "s_212", "", "buy", str(uuid.uuid4()), "x" * 200, "ünïcödé"]


async def _still_up(raw: RawClient) -> None:
    reply = await raw.request("core.get-profile", "1.0", {}, "alive?")
    assert reply["status"] == 2000
    assert reply["name"] == "profile"


@pytest.mark.parametrize("request_id", REQUEST_IDS)
async def test_every_kind_of_request_echoes_the_request_id(raw: RawClient, request_id: str) -> None:
    rpc = await raw.request("core.get-profile", "1.0", {}, request_id)
    assert rpc["request_id"] == request_id
    assert rpc["status"] == 2000
    options = await raw.call("setOptions", {"sendResults": True}, request_id)
    assert options["request_id"] == request_id
    assert options["status"] == 2000
    subscribed = await raw.subscribe("balance-changed", "1.0", request_id=request_id)
    assert subscribed["name"] == "result"
    assert subscribed["status"] == 2000
    unsubscribed = await raw.unsubscribe("balance-changed", "1.0", request_id=request_id)
    assert unsubscribed["request_id"] == request_id
    assert unsubscribed["msg"] == {"success": True}


async def test_a_request_without_request_id_is_answered_without_one(raw: RawClient) -> None:
    mark = raw.mark()
    await raw.send_request("core.get-profile", "1.0", {})
    reply = await raw.wait_for(lambda f: f.get("name") == "profile", after=mark)
    assert reply["status"] == 2000
    assert "request_id" not in reply


async def test_local_time_is_accepted(raw: RawClient) -> None:
    await raw.send(
        {
            "name": "sendMessage",
            "request_id": "lt",
            "local_time": 8392,
            "msg": {"name": "core.get-profile", "version": "1.0", "body": {}},
        }
    )
    assert (await raw.reply("lt"))["status"] == 2000


@pytest.mark.parametrize(
    ("name", "version", "body", "status"),
    [
        ("no-such.rpc", "1.0", {}, 4004),
        ("get-candles", "9.0", {"active_id": 76, "size": 60, "count": 1}, 4005),
        ("get-candles", None, {"active_id": 76, "size": 60, "count": 1}, 4005),
        ("get-candles", "2.0", {"size": 60}, 4000),
        ("get-candles", "2.0", {"active_id": "seventy-six", "size": 60}, 4000),
        ("get-candles", "2.0", [1, 2, 3], 4000),
        ("internal-billing.get-balances", "1.0", {"types_ids": "all"}, 4000),
        ("marginal-portfolio.get-marginal-balance", "1.0", {"user_balance_id": 1}, 4003),
        ("marginal-forex.place-market-order", "1.0", {}, 4000),
        ("marginal-forex.get-position-swap-history", "1.0", {}, 4501),
        ("digital-options.place-digital-option", "3.0", {}, 4000),  # a body without its fields
        ("tech-instruments.get-templates", "1.0", {}, 4501),
    ],
)
async def test_bad_requests_get_an_error_status_and_the_connection_stays_up(
    raw: RawClient, name: str, version: str | None, body: object, status: int
) -> None:
    reply = await raw.request(name, version, body, "bad")
    assert reply["status"] == status
    assert reply["request_id"] == "bad"
    assert isinstance(reply["msg"]["message"], str)
    assert reply["msg"]["message"]
    await _still_up(raw)


@pytest.mark.parametrize(
    "msg", [None, "core.get-profile", {"version": "1.0", "body": {}}, {"name": 5, "body": {}}]
)
async def test_a_send_message_without_a_name_gets_4000(raw: RawClient, msg: object) -> None:
    reply = await raw.call("sendMessage", msg, "m")
    assert reply["status"] == 4000
    await _still_up(raw)


@pytest.mark.parametrize(
    "data",
    [
        "not json at all",
        "{truncated",
        b"\xff\xfe binary garbage",
        "[1, 2, 3]",
        '{"msg": {}}',
        '{"name": 7, "msg": {}}',
        "",
    ],
)
async def test_a_frame_that_is_not_a_message_gets_an_error_frame(raw: RawClient, data: str | bytes) -> None:
    mark = raw.mark()
    await raw.send(data)
    error = await raw.wait_for(lambda f: f.get("status") == 4000, after=mark)
    assert error["name"] == "error"
    assert error["msg"]["message"]
    await _still_up(raw)


async def test_an_unknown_top_level_name_gets_4004(raw: RawClient) -> None:
    reply = await raw.call("doSomething", {}, "top")
    assert reply["status"] == 4004
    await _still_up(raw)


async def test_an_unknown_subscription_gets_4004(raw: RawClient) -> None:
    reply = await raw.subscribe("no-such-event", "1.0", request_id="s_9")
    assert reply["status"] == 4004
    assert reply["request_id"] == "s_9"
    await _still_up(raw)


async def test_bad_routing_filters_get_4000(raw: RawClient) -> None:
    await raw.send(
        {
            "name": "subscribeMessage",
            "request_id": "s_10",
            "msg": {"name": "candle-generated", "params": {"routingFilters": [76, 60]}},
        }
    )
    assert (await raw.reply("s_10"))["status"] == 4000
    await _still_up(raw)


async def test_the_web_client_heartbeat_needs_no_answer(raw: RawClient) -> None:
    mark = raw.mark()
    await raw.send({"name": "heartbeat", "request_id": "hb", "msg": {"userTime": 1, "heartbeatTime": 2}})
    await _still_up(raw)
    assert not [f for f in raw.inbox[mark:] if f.get("request_id") == "hb"]


async def test_replies_come_in_request_order_when_pipelined(raw: RawClient) -> None:
    ids = [f"p{i}" for i in range(20)]
    mark = raw.mark()
    for rid in ids:
        await raw.send_request("core.get-profile", "1.0", {}, rid)
    await raw.reply(ids[-1], after=mark)
    seen = [f["request_id"] for f in raw.inbox[mark:] if f.get("request_id", "").startswith("p")]
    assert seen == ids
