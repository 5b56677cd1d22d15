"""Isolation in the simulator: one account's SSID can never read or trade another's balances or
positions, and SSIDs are long random tokens that die on logout."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from iqwire.client import Client
from iqwire.errors import AuthError, ServerError
from iqwire.models import BalanceChanged, Position
from iqwire.sim import Simulator
from iqwire.trading import Trader

TRADER2 = "trader2@example.com"
DEMO_USER = 141_527_657
DEMO_BALANCES = (1_090_667_706, 1_090_667_707, 1_090_667_708)


@pytest.fixture
async def intruder(sim: Simulator) -> AsyncIterator[Client]:
    """A client of the second account."""
    async with Client(ssid=sim.issue_ssid(TRADER2), ws_url=sim.ws_url, login_url=sim.login_url) as other:
        yield other


def _open_body(balance_id: int, amount: float = 10) -> dict[str, Any]:
    return {
        "user_balance_id": balance_id,
        "active_id": 76,
        "option_type_id": 12,
        "direction": "call",
        "expired": 0,
        "price": amount,
        "profit_percent": 88,
        "expiration_size": 30,
    }


@pytest.mark.parametrize("balance_id", DEMO_BALANCES)
async def test_another_accounts_balance_id_can_not_be_traded(
    sim: Simulator, intruder: Client, balance_id: int
) -> None:
    before = [b.amount for b in sim.balances()] + [b.amount for b in sim.balances(TRADER2)]
    with pytest.raises(ServerError) as refused:
        await intruder.request("binary-options.open-option", "2.0", _open_body(balance_id))
    assert refused.value.status == 4003
    after = [b.amount for b in sim.balances()] + [b.amount for b in sim.balances(TRADER2)]
    assert after == before
    assert sim.positions() == [] and sim.positions(TRADER2) == []


async def test_another_accounts_positions_orders_history_and_balances_can_not_be_read(
    sim: Simulator, client: Client, trader: Trader, intruder: Client
) -> None:
    trade = await trader.buy_blitz(76, "call", 10, expiration=5)
    await sim.advance(6)
    demo = DEMO_BALANCES[1]
    refused = [
        (
            "portfolio.get-positions",
            "4.0",
            {"user_balance_id": demo, "instrument_types": ["blitz-option"], "limit": 30, "offset": 0},
        ),
        ("portfolio.get-orders", "2.0", {"user_balance_id": demo, "kind": "deferred"}),
        ("portfolio.get-history-positions", "1.0", {"user_balance_id": demo}),
        ("portfolio.get-history-positions", "2.0", {"user_id": DEMO_USER}),
        ("internal-billing.reset-training-balance", "4.0", {"user_balance_id": demo}),
    ]
    for name, version, body in refused:
        with pytest.raises(ServerError) as error:
            await intruder.request(name, version, body)
        assert error.value.status == 4003, name
    # What the intruder may read is its own, and nothing of the first account's.
    assert {b.user_id for b in await intruder.get_balances()} == {141_527_658}
    assert all(b.id not in DEMO_BALANCES for b in await intruder.get_balances())
    assert await intruder.get_positions() == []
    assert all(p.option_id != trade.id for p in await intruder.get_history_positions(limit=100))
    assert (await intruder.get_profile()).user_id == 141_527_658


async def test_another_accounts_pushes_can_not_be_subscribed_or_received(
    sim: Simulator, client: Client, trader: Trader, intruder: Client
) -> None:
    for name, filters in [
        ("portfolio.position-changed", {"user_id": DEMO_USER, "instrument_type": "blitz-option"}),
        ("portfolio.position-changed", {"user_balance_id": DEMO_BALANCES[1]}),
        ("portfolio.order-changed", {"user_id": DEMO_USER, "instrument_type": "blitz-option"}),
    ]:
        with pytest.raises(ServerError) as error:
            await intruder.connection.subscribe(name, "3.0", filters)
        assert error.value.status == 4003
    seen: list[BalanceChanged | Position] = []
    async with intruder.balance_changes() as balances, intruder.positions_changed() as positions:

        async def watch(stream: Any) -> None:
            async for item in stream:
                seen.append(item)

        watchers = [asyncio.create_task(watch(balances)), asyncio.create_task(watch(positions))]
        trade = await trader.buy_blitz(76, "call", 10, expiration=5)
        await sim.advance(6)
        await asyncio.sleep(0.05)
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    assert trade.id
    assert seen == [], "the second account received the first account's pushes"


async def test_ssids_are_long_random_tokens(sim: Simulator) -> None:
    ssids = [sim.issue_ssid() for _ in range(2000)]
    assert len(set(ssids)) == len(ssids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", s) for s in ssids)  # 128 bits
    # Every hex digit shows up in every position: no fixed prefix, counter or timestamp.
    for position in range(32):
        assert len({s[position] for s in ssids}) == 16


async def test_an_ssid_dies_on_logout(sim: Simulator) -> None:
    async with httpx.AsyncClient() as http:
        login = await http.post(sim.login_url, json={"identifier": TRADER2, "password": "trader2"})
        ssid = login.json()["ssid"]
        async with Client(ssid=ssid, ws_url=sim.ws_url, login_url=sim.login_url) as before:
            assert (await before.get_profile()).user_id == 141_527_658
        http.cookies.set("ssid", ssid)
        logout = await http.post(sim.login_url.replace("/login", "/logout"))
        assert logout.status_code == 200
        again = await http.post(sim.login_url.replace("/login", "/logout"))
        assert again.status_code == 401
    client = Client(ssid=ssid, ws_url=sim.ws_url, login_url=sim.login_url)
    with pytest.raises(AuthError):
        await client.connect()
    await client.close()
