"""Fixtures for the simulator's wire tests: raw WebSocket clients and plain HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sim_wire import RawClient, login

from iqwire.sim import Simulator


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the simulator's login endpoints."""
    async with httpx.AsyncClient(base_url=sim.http_url) as client:
        yield client


@pytest.fixture
async def ssid(sim: Simulator) -> str:
    """A live SSID of the demo user, from the HTTP login."""
    return await login(sim.http_url)


@pytest.fixture
async def anon(sim: Simulator) -> AsyncIterator[RawClient]:
    """A raw connection that has not authenticated."""
    async with RawClient.open(sim.ws_url) as client:
        yield client


@pytest.fixture
async def raw(sim: Simulator, ssid: str) -> AsyncIterator[RawClient]:
    """A raw connection authenticated as the demo user."""
    async with RawClient.open(sim.ws_url) as client:
        reply = await client.authenticate(ssid)
        assert reply["msg"] is True
        yield client
