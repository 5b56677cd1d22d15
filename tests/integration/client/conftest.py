"""Fixtures for the client's integration tests (``sim``, ``client``, ``transport``: tests/conftest.py).

Modules marked ``pytestmark = pytest.mark.both_transports`` run every test that
uses ``client`` or ``make_client`` once per WebSocket transport: ``websockets``
and ``picows`` (skipped when picows is not installed: ``pip install 'iqwire[fast]'``).
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import AsyncIterator
from typing import Any

import pytest
from client_helpers import MakeClient, Wiretap

from iqwire.client import Client
from iqwire.sim import Simulator

TRANSPORTS = [
    pytest.param("websockets", id="websockets"),
    pytest.param(
        "picows",
        id="picows",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("picows") is None, reason="picows is not installed (iqwire[fast])"
        ),
    ),
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_transports: run the module's client tests on every transport")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "transport" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_transports"):
        metafunc.parametrize("transport", TRANSPORTS)


@pytest.fixture
def wiretap(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Wiretap:
    """Records the frames the simulator receives and sends."""
    return Wiretap(sim, monkeypatch)


@pytest.fixture
async def make_client(sim: Simulator, transport: str) -> AsyncIterator[MakeClient]:
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
                "transport": transport,
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
