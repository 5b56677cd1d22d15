"""Fixtures of every suite: a clean IQWIRE_* environment, and simulators with a client.

``sim`` runs on a manual clock (time moves only with ``await sim.advance(s)``) and
``client`` is logged in to it over ``transport`` (``websockets`` unless a test
parametrizes it); ``tsim`` runs on a real clock, 50x fast, served from an
event loop in a thread of its own (``sim_thread``), for blocking code: the sync facade
and the command line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from iqwire.client import Client
from iqwire.sim import ManualClock, Simulator, SystemClock
from iqwire.sim.actives import find_active
from iqwire.sim.prices import PriceModel
from iqwire.store.candles import CandleStore, StoredActive
from iqwire.sync import EventLoopThread
from iqwire.trading import Trader

#: A Thursday, 2026-02-12 12:25 UTC: the forex and OTC actives are open (AMZN opens at 13:30).
START = 1_770_899_100

#: 2026-02-10 00:00 UTC: where ``candles_2h`` begins.
DAY0 = 1_770_681_600

#: What the client and the command line read from the environment.
IQWIRE_ENV = (
    "IQWIRE_EMAIL",
    "IQWIRE_PASSWORD",
    "IQWIRE_SSID",
    "IQWIRE_WS_URL",
    "IQWIRE_LOGIN_URL",
    "IQWIRE_SIM_SPEED",
)


@pytest.fixture(autouse=True)
def _no_iqwire_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The developer's own IQWIRE_* variables must not leak into a test: none may reach the real platform.

    Journals and other data go to a temporary data directory, never the user's, and the
    state file of ``iqwire sim`` moves to a fresh folder too, so a simulator the developer
    runs is never the one a ``--sim`` test talks to.
    """
    for name in IQWIRE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IQWIRE_DATA_DIR", str(tmp_path_factory.getbasetemp() / "iqwire-data"))
    monkeypatch.setenv("IQWIRE_SIM_STATE", str(tmp_path_factory.mktemp("sim-state") / "sim.json"))


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A simulator on a manual clock: time moves only with ``await sim.advance(s)``."""
    async with Simulator(seed=7, clock=ManualClock(START)) as simulator:
        yield simulator


@pytest.fixture
def transport() -> str:
    """The client's WebSocket transport (the client tests' ``both_transports`` modules parametrize it)."""
    return "websockets"


@pytest.fixture
async def client(sim: Simulator, transport: str) -> AsyncIterator[Client]:
    """A connected client logged in as the demo user, on the test's transport."""
    async with Client(
        email=sim.credentials.email,
        password=sim.credentials.password,
        ws_url=sim.ws_url,
        login_url=sim.login_url,
        request_timeout=5.0,
        reconnect_delay=(0.01, 0.2),
        transport=transport,
    ) as connected:
        yield connected


@pytest.fixture
def sim_thread() -> Iterator[EventLoopThread]:
    """An event loop in a thread of its own, which serves ``tsim``."""
    runner = EventLoopThread(name="test-sim")
    try:
        yield runner
    finally:
        runner.close()


@pytest.fixture
def tsim(sim_thread: EventLoopThread) -> Iterator[Simulator]:
    """A simulator on a real clock 50x fast, served from ``sim_thread``."""

    async def start() -> Simulator:
        simulator = Simulator(seed=7, clock=SystemClock(speed=50, start=START))
        await simulator.start()
        return simulator

    simulator = sim_thread.run(start)
    try:
        yield simulator
    finally:
        sim_thread.run(simulator.stop)


def write_candles(path: Path, active_id: int, sizes: tuple[int, ...], start: int, end: int) -> Path:
    """A candle store with the simulator's prices of ``active_id``, described as a download would."""
    spec = find_active(active_id)
    assert spec is not None
    with CandleStore(path) as store:
        for size in sizes:
            store.write(PriceModel(5).candles(active_id, size, start, end))
        store.describe_active(StoredActive(spec.id, spec.name, 100 - spec.commission, spec.precision))
    return path


@pytest.fixture(scope="session")
def candle_writer() -> Callable[[Path, int, tuple[int, ...], int, int], Path]:
    """:func:`write_candles`, for tests that need other data than ``candles_2h``."""
    return write_candles


@pytest.fixture(scope="session")
def candles_2h(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of two hours (from ``DAY0``) of EURUSD-OTC 5-second candles: 1,440 of them."""
    return write_candles(tmp_path_factory.mktemp("candles") / "candles.sqlite", 76, (5,), DAY0, DAY0 + 7200)


@pytest.fixture
async def trader(client: Client) -> AsyncIterator[Trader]:
    """A trader over ``client`` (it stops following positions at the end)."""
    async with Trader(client) as trading:
        yield trading
