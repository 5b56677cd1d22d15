"""Fault injection seen from a raw client: drops, swallowed replies, delays, garbage, silence, refusals."""

from __future__ import annotations

import logging
import re

import pytest
from sim_wire import DEMO_BALANCES, DEMO_USER_ID, TRADER2_USER_ID, RawClient, login, open_body
from websockets.exceptions import InvalidStatus

from iqwire.sim import ManualClock, SimConfig, Simulator

NOW = 1_770_899_100
DEMO = DEMO_BALANCES["demo"]


async def test_drop_connections_closes_without_a_close_frame(raw: RawClient, sim: Simulator) -> None:
    assert await sim.drop_connections() == 1
    closed = await raw.wait_closed()
    assert closed.rcvd is None  # no close frame: an abrupt loss, as a network failure looks
    await sim.settle()
    assert sim.server.connection_count == 0
    # The server is fine: a new connection works.
    async with RawClient.open(sim.ws_url) as again:
        assert (await again.authenticate(await login(sim.http_url)))["msg"] is True


async def test_drop_connections_of_one_user(raw: RawClient, sim: Simulator) -> None:
    async with RawClient.open(sim.ws_url) as other:
        await other.authenticate(await login(sim.http_url, "trader2@example.com", "trader2"))
        assert await sim.drop_connections(TRADER2_USER_ID) == 1
        await other.wait_closed()
    assert (await raw.request("core.get-profile", "1.0", {}))["status"] == 2000
    assert await sim.drop_connections(DEMO_USER_ID) == 1
    await raw.wait_closed()


async def test_a_dropped_reply_still_executes_the_trade(raw: RawClient, sim: Simulator) -> None:
    await raw.subscribe("portfolio.position-changed", "3.0", {"user_id": DEMO_USER_ID})
    sim.drop_responses("binary-options.open-option")
    mark = raw.mark()
    await raw.send_request("binary-options.open-option", "2.0", open_body(DEMO, price=50), "lost")
    # The position-changed push still comes; the reply never does.
    pushed = await raw.push("position-changed", after=mark)
    await raw.settle()
    assert [f for f in raw.inbox[mark:] if f.get("request_id") == "lost"] == []
    assert sim.balances()[1].amount == 10_000 - 50
    positions = await raw.request(
        "portfolio.get-positions", "4.0", {"instrument_types": ["blitz-option"], "limit": 30, "offset": 0}
    )
    assert [p["id"] for p in positions["msg"]["positions"]] == [pushed["msg"]["id"]]
    # Only one reply was swallowed.
    assert (await raw.request("binary-options.open-option", "2.0", open_body(DEMO)))["status"] == 2000


async def test_dropped_replies_of_any_rpc(raw: RawClient, sim: Simulator) -> None:
    sim.drop_responses(count=2)
    mark = raw.mark()
    for rid in ("a", "b"):
        await raw.send_request("core.get-profile", "1.0", {}, rid)
    assert (await raw.request("core.get-profile", "1.0", {}, "c"))["status"] == 2000
    assert {f.get("request_id") for f in raw.inbox[mark:]} == {"c"}


async def test_delayed_frames_are_held_until_time_passes(raw: RawClient, sim: Simulator) -> None:
    sim.delay_frames(1, 2.0)
    mark = raw.mark()
    await raw.send_request("core.get-profile", "1.0", {}, "slow")
    # A later reply overtakes the held one.
    assert (await raw.request("core.get-profile", "1.0", {}, "fast"))["status"] == 2000
    await sim.advance(1)
    await raw.settle()
    assert [f for f in raw.inbox[mark:] if f.get("request_id") == "slow"] == []
    await sim.advance(1.5)
    held = await raw.reply("slow", after=mark)
    assert held["status"] == 2000
    order = [f.get("request_id") for f in raw.inbox[mark:] if f.get("request_id")]
    assert order == ["fast", "slow"]


async def test_malformed_frames_reach_the_client_and_the_connection_survives(
    raw: RawClient, sim: Simulator
) -> None:
    mark = raw.mark()
    await sim.send_malformed()
    garbage = await raw.wait_for(lambda f: "_raw" in f, after=mark)
    assert garbage["_raw"].startswith("{")  # a truncated JSON object
    assert (await raw.request("core.get-profile", "1.0", {}))["status"] == 2000


async def test_silence_stops_time_sync_for_a_while(raw: RawClient, sim: Simulator) -> None:
    await sim.advance(3)
    await raw.settle()
    assert len(raw.named("timeSync")) >= 4  # the greeting and one a second
    sim.silence(10)
    mark = raw.mark()
    await sim.advance(9)
    await raw.settle()
    assert raw.named("timeSync", after=mark) == []
    assert (await raw.request("core.get-profile", "1.0", {}))["status"] == 2000  # replies still come
    await sim.advance(3)
    resumed = await raw.wait_for(lambda f: f.get("name") == "timeSync", after=mark)
    assert resumed["msg"] >= (NOW + 3 + 10) * 1000


async def test_refused_connections_get_503_until_time_passes(sim: Simulator) -> None:
    sim.refuse_connections(5)
    with pytest.raises(InvalidStatus) as refused:
        async with RawClient.open(sim.ws_url):
            pass
    assert refused.value.response.status_code == 503
    await sim.advance(4)
    with pytest.raises(InvalidStatus):
        async with RawClient.open(sim.ws_url):
            pass
    await sim.advance(1)
    async with RawClient.open(sim.ws_url) as raw:
        assert (await raw.wait_for(lambda f: True))["name"] == "timeSync"


async def test_random_faults_are_logged_with_the_seed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="iqwire.sim")
    config = SimConfig(faults="disconnect=0.5")
    async with Simulator(seed=42, clock=ManualClock(NOW), config=config) as sim:
        async with RawClient.open(sim.ws_url) as raw:
            await raw.authenticate(await login(sim.http_url))
            await sim.advance(2)
            closed = await raw.wait_closed()
            assert closed.rcvd is None
    faults = [r.getMessage() for r in caplog.records if r.getMessage().startswith("fault ")]
    assert faults
    assert all(re.search(r"fault disconnect: .*\(seed=42, t=\d+\.\d{3}\)", f) for f in faults)
    assert sim.engine.stats["faults"] == len(faults)


async def test_random_faults_replay_with_the_same_seed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="iqwire.sim.faults")
    spec = "disconnect=0.05,delay=0.05,malformed=0.05,silence=0.01,refuse=0.02,drop_response=0.05"
    runs = []
    for seed in (5, 5, 6):
        caplog.clear()
        async with Simulator(seed=seed, clock=ManualClock(NOW), config=SimConfig(faults=spec)) as sim:
            await sim.advance(30)
        runs.append([r.getMessage() for r in caplog.records if r.getMessage().startswith("fault ")])
    assert runs[0]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


async def test_an_oversized_frame_closes_with_1009_and_others_are_served(
    raw: RawClient, sim: Simulator
) -> None:
    async with RawClient.open(sim.ws_url) as big:
        await big.authenticate(await login(sim.http_url))
        payload = "x" * (1024 * 1024 + 1)
        await big.send_request("core.get-profile", "1.0", {"pad": payload}, "huge")
        closed = await big.wait_closed()
        assert closed.rcvd is not None
        assert closed.rcvd.code == 1009
    assert (await raw.request("core.get-profile", "1.0", {}))["status"] == 2000
    mark = raw.mark()
    await sim.advance(1)
    await raw.wait_for(lambda f: f.get("name") == "timeSync", after=mark)
    # Just under the limit is fine.
    async with RawClient.open(sim.ws_url) as fits:
        await fits.authenticate(await login(sim.http_url))
        reply = await fits.request("core.get-profile", "1.0", {"pad": "x" * (1024 * 1024 - 200)})
        assert reply["status"] == 2000
