"""Hostile clients against the simulator: the server stays up and other clients are unaffected.

While attackers send malformed and oversized frames, flood requests, storm
subscriptions and call RPCs without authenticating, a well-behaved client keeps
its candle stream at full rate: exactly as many pushes as in a quiet window of
the same simulated length (four a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from iqwire.client import Client
from iqwire.models import Candle
from iqwire.sim import Simulator

WINDOW = 20  # simulated seconds per measuring window


async def _login(sim: Simulator) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            sim.login_url, json={"identifier": "trader2@example.com", "password": "trader2"}
        )
    ssid: str = response.json()["ssid"]
    return ssid


@contextlib.asynccontextmanager
async def _raw(sim: Simulator) -> AsyncIterator[ClientConnection]:
    """A raw connection whose incoming frames are read and discarded (so the server never waits on it)."""
    ws = await connect(sim.ws_url, max_size=None)

    async def drain() -> None:
        with contextlib.suppress(Exception):
            async for _ in ws:
                pass

    reader = asyncio.create_task(drain())
    try:
        yield ws
    finally:
        await ws.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _malformed(sim: Simulator, count: int) -> None:
    garbage = [
        b"",
        b"{",
        b"[]",
        b"null",
        b'{"name": 5}',
        b'{"msg": {}}',
        b"\xff\xfe\x00",
        b'{"name":"x"' * 100,
    ]
    async with _raw(sim) as ws:
        for i in range(count):
            data = garbage[i % len(garbage)]
            await ws.send(data.decode("utf-8", "replace"))


async def _unauthenticated(sim: Simulator, count: int) -> None:
    async with _raw(sim) as ws:
        for i in range(count):
            frame = {
                "name": "sendMessage",
                "request_id": str(i),
                "msg": {"name": "core.get-profile", "version": "1.0"},
            }
            if i % 2:
                frame = {
                    "name": "subscribeMessage",
                    "request_id": f"s_{i}",
                    "msg": {"name": "balance-changed"},
                }
            await ws.send(json.dumps(frame))


async def _flood(sim: Simulator, ssid: str, count: int) -> None:
    async with _raw(sim) as ws:
        await ws.send(
            json.dumps({"name": "authenticate", "request_id": "a", "msg": {"ssid": ssid, "protocol": 3}})
        )
        for i in range(count):
            body = {
                "name": "get-candles",
                "version": "2.0",
                "body": {"active_id": 76, "size": 60, "count": 100},
            }
            await ws.send(json.dumps({"name": "sendMessage", "request_id": str(i), "msg": body}))


async def _subscribe_storm(sim: Simulator, ssid: str, count: int) -> None:
    sizes = (1, 5, 10, 15, 30, 60, 120, 300)
    async with _raw(sim) as ws:
        await ws.send(
            json.dumps({"name": "authenticate", "request_id": "a", "msg": {"ssid": ssid, "protocol": 3}})
        )
        for i in range(count):
            verb = "subscribeMessage" if i % 3 != 2 else "unsubscribeMessage"
            filters = {"active_id": (76, 81, 85, 1938)[i % 4], "size": sizes[i % len(sizes)]}
            msg = {"name": "candle-generated", "params": {"routingFilters": filters}}
            await ws.send(json.dumps({"name": verb, "request_id": f"s_{i}", "msg": msg}))
            if i % 50 == 0:
                await asyncio.sleep(0)


async def _oversized(sim: Simulator) -> int | None:
    async with _raw(sim) as ws:
        await ws.send("x" * (1024 * 1024 + 10))
        await ws.wait_closed()
        return ws.close_code


async def _count_pushes(sim: Simulator, received: list[Candle], seconds: int) -> int:
    before = len(received)
    for _ in range(seconds):
        await sim.advance(1)
    await sim.settle()
    await asyncio.sleep(0.05)
    return len(received) - before


@pytest.mark.parametrize("attack", ["malformed", "oversized", "flood", "storm", "unauthenticated", "all"])
async def test_an_attack_leaves_the_server_up_and_another_client_at_full_rate(
    sim: Simulator, client: Client, attack: str
) -> None:
    received: list[Candle] = []
    async with client.candles(76, 1) as stream:

        async def consume() -> None:
            async for candle in stream:
                received.append(candle)

        consumer = asyncio.create_task(consume())
        try:
            await sim.advance(1)
            quiet = await _count_pushes(sim, received, WINDOW)
            ssid = await _login(sim)
            attacks = []
            if attack in ("malformed", "all"):
                attacks.append(_malformed(sim, 3000))
            if attack in ("flood", "all"):
                attacks.append(_flood(sim, ssid, 3000))
            if attack in ("storm", "all"):
                attacks.append(_subscribe_storm(sim, ssid, 2000))
            if attack in ("unauthenticated", "all"):
                attacks.append(_unauthenticated(sim, 2000))
            closes: list[int | None] = []
            if attack in ("oversized", "all"):

                async def big() -> None:
                    closes.append(await _oversized(sim))

                attacks.append(big())
            attacking = asyncio.gather(*attacks)
            during = await _count_pushes(sim, received, WINDOW)
            await asyncio.wait_for(attacking, 30)
            after = await _count_pushes(sim, received, WINDOW)
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer

    assert quiet == 4 * WINDOW  # a push every 0.25 s (the last of each second is the complete candle)
    assert during == quiet, f"pushes: quiet {quiet}, during the {attack} attack {during}"
    assert after == quiet
    if attack in ("oversized", "all"):
        assert closes == [1009]
    # The victim never noticed, and the server still serves new clients.
    assert client.reconnects == 0
    assert (await client.get_profile()).user_id == 141_527_657
    async with Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as fresh:
        assert len(await fresh.get_balances()) == 4  # real, demo, tournament, marginal demo
    if attack in ("malformed", "all"):
        assert sim.engine.stats["malformed_in"] >= 3000
