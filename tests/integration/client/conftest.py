"""Fixtures for the client's integration tests (``sim`` and ``client`` come from the parent)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from client_helpers import MakeClient, Wiretap

from iqwire.client import Client
from iqwire.sim import Simulator

_ENV = ("IQWIRE_EMAIL", "IQWIRE_PASSWORD", "IQWIRE_SSID", "IQWIRE_WS_URL", "IQWIRE_LOGIN_URL")


@pytest.fixture(autouse=True)
def _no_iqwire_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own IQWIRE_* variables must not leak into a test's client."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def wiretap(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Wiretap:
    """Records the frames the simulator receives and sends."""
    return Wiretap(sim, monkeypatch)


@pytest.fixture
async def make_client(sim: Simulator) -> AsyncIterator[MakeClient]:
    """Build (and by default connect) a client with the test's own settings; closed at teardown.

    Defaults: the demo user, the simulator's URLs, ``request_timeout=5``,
    ``reconnect_delay=(0.01, 0.2)``. ``credentials=False`` leaves email/password out.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def make(*, connect: bool = True, credentials: bool = True, **overrides: Any) -> Client:
            kwargs: dict[str, Any] = {
                "ws_url": sim.ws_url,
                "login_url": sim.login_url,
                "request_timeout": 5.0,
                "reconnect_delay": (0.01, 0.2),
            }
            if credentials:
                kwargs["email"] = sim.credentials.email
                kwargs["password"] = sim.credentials.password
            kwargs.update(overrides)
            client = Client(**kwargs)
            stack.push_async_callback(client.close)
            if connect:
                await client.connect()
            return client

        yield make
