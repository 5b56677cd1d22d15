"""Recording a live session (secrets never reach the file) and replaying it to a client."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from iqwire.client import Client
from iqwire.errors import ServerError
from iqwire.models import Candle
from iqwire.replay import DUMMY_SSID, ReplayServer
from iqwire.sim import ManualClock, SimConfig, Simulator
from iqwire.sim.config import AccountConfig, default_accounts
from iqwire.store import CandleStore, download, load_recording

START = 1_770_899_100
PASSWORD = "correct-horse-battery-staple-42"
EMAIL = "recorder@example.com"


@pytest.fixture
async def private_sim() -> AsyncIterator[Simulator]:
    """A simulator with an account whose password is long and unique."""
    accounts = (*default_accounts(), AccountConfig(EMAIL, PASSWORD, 141_527_700, first_name="Rec"))
    async with Simulator(seed=3, clock=ManualClock(START), config=SimConfig(accounts=accounts)) as simulator:
        yield simulator


async def session(client: Client, advance: Any) -> dict[str, Any]:
    """What the test session does: profile, balances, history, three live candles."""
    profile = await client.get_profile()
    balances = await client.get_balances()
    history = await client.get_candles(76, 60, count=30)
    live: list[Candle] = []
    async with client.candles(76, 1) as stream:
        while len(live) < 3:
            await advance()
            live.append(await asyncio.wait_for(stream.get(), 5))
    return {"profile": profile, "balances": balances, "history": history, "live": live}


async def test_the_recording_holds_neither_the_ssid_nor_the_password(
    private_sim: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "session.jsonl"
    async with Client(
        email=EMAIL,
        password=PASSWORD,
        ws_url=private_sim.ws_url,
        login_url=private_sim.login_url,
        record_to=path,
    ) as client:
        ssid = client.ssid
        assert ssid is not None and len(ssid) >= 8
        await session(client, lambda: private_sim.advance(1))
    raw = path.read_bytes()
    assert ssid.encode() not in raw
    assert PASSWORD.encode() not in raw
    frames = load_recording(path)
    auth = [json.loads(f.frame) for f in frames if f.dir == "out" and '"authenticate"' in f.frame]
    assert auth == [{"name": "authenticate", "request_id": "1", "msg": {"ssid": "***"}}]
    assert {f.dir for f in frames} == {"in", "out"}
    assert any('"candle-generated"' in f.frame for f in frames)
    assert all(a.t <= b.t for a, b in itertools.pairwise(frames))


async def test_a_client_given_an_ssid_keeps_it_out_of_the_recording(sim: Simulator, tmp_path: Path) -> None:
    ssid = sim.issue_ssid()
    path = tmp_path / "ssid.jsonl"
    async with Client(ssid=ssid, ws_url=sim.ws_url, login_url=sim.login_url, record_to=path) as client:
        await client.get_profile()
    assert ssid not in path.read_text()


async def test_a_replayed_session_gives_the_client_the_same_results(
    private_sim: Simulator, tmp_path: Path
) -> None:
    # The private account: the demo account's password "demo" is also its nickname, and a
    # secret is redacted wherever it is a whole value, so that replay would differ there.
    path = tmp_path / "session.jsonl"
    sim = private_sim
    async with Client(
        email=EMAIL, password=PASSWORD, ws_url=sim.ws_url, login_url=sim.login_url, record_to=path
    ) as client:
        recorded = await session(client, lambda: sim.advance(1))

    async def nothing() -> None:
        await asyncio.sleep(0)

    for _ in range(2):  # twice: a replay is deterministic
        async with ReplayServer(path) as server:
            async with Client(
                email="anyone@example.com",
                password="anything",
                ws_url=server.ws_url,
                login_url=server.login_url,
                request_timeout=5.0,
            ) as replayed:
                assert replayed.ssid == DUMMY_SSID
                again = await session(replayed, nothing)
            assert server.unmatched == []
        assert again == recorded


async def test_an_unrecorded_request_fails_fast(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "short.jsonl"
    async with Client(
        ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url, record_to=path
    ) as client:
        await client.get_profile()
    async with ReplayServer(path) as server:
        async with Client(ssid="whatever", ws_url=server.ws_url, login_url=server.login_url) as replayed:
            await replayed.get_profile()
            with pytest.raises(ServerError, match="nothing recorded"):
                await replayed.get_balances()
        assert len(server.unmatched) == 1


async def test_realtime_replay_keeps_the_recorded_delays(tmp_path: Path) -> None:
    path = tmp_path / "slow.jsonl"
    lines = [
        {"t": 0.0, "dir": "out", "frame": '{"name":"authenticate","request_id":"1","msg":{"ssid":"***"}}'},
        {"t": 0.01, "dir": "in", "frame": '{"name":"timeSync","msg":1770899100000}'},
        {"t": 0.02, "dir": "in", "frame": '{"name":"authenticated","request_id":"1","msg":true}'},
        {
            "t": 0.03,
            "dir": "out",
            "frame": '{"name":"setOptions","request_id":"2","msg":{"sendResults":true}}',
        },
        {"t": 0.33, "dir": "in", "frame": '{"name":"result","request_id":"2","msg":{"success":true}}'},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    loop = asyncio.get_running_loop()
    async with ReplayServer(path, realtime=True) as server:
        began = loop.time()
        async with Client(ssid="x", ws_url=server.ws_url, login_url=server.login_url):
            elapsed = loop.time() - began
    assert elapsed >= 0.3
    assert server.remaining == 0


async def test_a_replayed_parallel_download_fills_a_store_the_same(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "download.jsonl"
    async with Client(
        ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url, record_to=path
    ) as client:
        with CandleStore(tmp_path / "live.sqlite") as live:
            report = await download(live, client, 76, 60, START - 3 * 86_400, START, concurrency=4)
            expected = live.read(76, 60)
    assert report.fetched == 4320
    async with ReplayServer(path) as server:
        async with Client(ssid="x", ws_url=server.ws_url, login_url=server.login_url) as replayed:
            with CandleStore(tmp_path / "replayed.sqlite") as again:
                replay_report = await download(
                    again, replayed, 76, 60, START - 3 * 86_400, START, concurrency=4
                )
                assert again.read(76, 60) == expected
        assert server.unmatched == [] and server.remaining == 0
    assert (replay_report.start, replay_report.end, replay_report.fetched) == (report.start, report.end, 4320)


async def test_replies_are_rewritten_to_the_clients_ids_and_held_until_asked(tmp_path: Path) -> None:
    from websockets.asyncio.client import connect

    def out(rid: str, rpc: str) -> str:
        return json.dumps(
            {"name": "sendMessage", "request_id": rid, "msg": {"name": rpc, "version": "1.0", "body": {}}}
        )

    path = tmp_path / "crossed.jsonl"
    lines = [
        {"t": 0.0, "dir": "out", "frame": out("2", "core.get-profile")},
        {"t": 0.1, "dir": "out", "frame": out("3", "internal-billing.get-balances")},
        {"t": 0.2, "dir": "in", "frame": '{"name":"balances","request_id":"3","msg":[]}'},
        {"t": 0.3, "dir": "in", "frame": '{"name":"profile","request_id":"2","msg":{"result":{}}}'},
        {"t": 0.4, "dir": "in", "frame": '{"name":"timeSync","msg":1}'},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    async with ReplayServer(path) as server, connect(server.ws_url) as ws:
        await ws.send(out("b", "internal-billing.get-balances"))  # the other order than recorded
        assert json.loads(await ws.recv()) == {"name": "balances", "request_id": "b", "msg": []}
        # The profile reply waits for its request; the push after it does not.
        assert json.loads(await ws.recv()) == {"name": "timeSync", "msg": 1}
        await ws.send(out("p", "core.get-profile"))
        assert json.loads(await ws.recv()) == {"name": "profile", "request_id": "p", "msg": {"result": {}}}
        assert server.remaining == 0
