"""Fixtures of the reliability and security suite: a manual-clock simulator and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from iqwire.client import Client
from iqwire.sim import ManualClock, Simulator

#: A Thursday, 2026-02-12 12:25 UTC: the forex and OTC actives are open.
START = 1_770_899_100

_ENV = ("IQWIRE_EMAIL", "IQWIRE_PASSWORD", "IQWIRE_SSID", "IQWIRE_WS_URL", "IQWIRE_LOGIN_URL")


@pytest.fixture(autouse=True)
def _no_iqwire_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own IQWIRE_* variables must not leak into a test's client."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A simulator on a manual clock: time moves only with ``await sim.advance(s)``."""
    async with Simulator(seed=7, clock=ManualClock(START)) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[Client]:
    """A connected client logged in as the demo user."""
    async with Client(
        email=sim.credentials.email,
        password=sim.credentials.password,
        ws_url=sim.ws_url,
        login_url=sim.login_url,
        request_timeout=5.0,
        reconnect_delay=(0.01, 0.2),
    ) as connected:
        yield connected
