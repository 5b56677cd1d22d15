"""The :class:`Simulator`: the engine, the server and the clock, as one async context manager."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass, replace

from iqwire._aiohttp_server import AiohttpServer
from iqwire.models import Balance, Position
from iqwire.sim.clock import Clock, ManualClock, SystemClock
from iqwire.sim.config import DEMO_EMAIL, SimConfig
from iqwire.sim.engine import Engine
from iqwire.sim.server import SimServer

__all__ = ["Credentials", "Simulator"]

log = logging.getLogger("iqwire.sim")


@dataclass(frozen=True)
class Credentials:
    """Login credentials of a simulator account (the password never shows in ``repr``)."""

    email: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(email={self.email!r}, password='***')"


class Simulator(AiohttpServer):
    """A local IQ Option server on a free port.

    Args:
        seed: makes prices, moods and random faults reproducible.
        speed: how many simulated seconds pass per real second (real clock only).
        clock: a :class:`ManualClock` to move time only with :meth:`advance`.
        host, port: where to listen; port 0 picks a free one.
        config: accounts, cadences and switches (:class:`SimConfig`).

    Example::

        async with Simulator(clock=ManualClock(1_770_000_000)) as sim:
            ...  # connect a client to sim.ws_url, log in at sim.login_url
            await sim.advance(30)
    """

    def __init__(
        self,
        seed: int = 0,
        speed: float = 1.0,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        config: SimConfig | None = None,
    ) -> None:
        self.seed = seed
        self.clock: Clock = clock if clock is not None else SystemClock(speed=speed)
        self.config = _scaled_tolerance(config or SimConfig(), getattr(self.clock, "speed", 1.0))
        self.engine = Engine(seed, self.config, self.clock.now())
        self.server = SimServer(self.engine, self.clock.now)
        super().__init__(self.server.app, host, port)
        self._ticker: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Listen and, on a real clock, start moving time."""
        await super().start()
        if not isinstance(self.clock, ManualClock):
            self._ticker = asyncio.create_task(self._tick())
        log.info("simulator listening on %s (seed=%s)", self.ws_url, self.seed)

    async def stop(self) -> None:
        """Close every connection with a close frame and stop listening."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self.server.close_all()
        await super().stop()

    async def _tick(self) -> None:
        speed = getattr(self.clock, "speed", 1.0)
        push = self.config.push_interval
        while True:
            await asyncio.sleep(_until_next_step(self.clock.now(), push, speed))
            try:
                self.engine.advance_to(self.clock.now(), exact=False)
            except Exception:  # the server must outlive a bug in one step
                log.exception("simulator step failed (seed=%s)", self.seed)

    # -- addresses (http_url, ws_url, login_url: AiohttpServer's) -------------------------------

    @property
    def credentials(self) -> Credentials:
        """Login credentials: the demo account's, or the first configured account's.

        Raises:
            LookupError: the configuration has no account at all.
        """
        accounts = self.config.accounts
        if not accounts:
            raise LookupError("the simulator's configuration has no account")
        chosen = next((a for a in accounts if a.email == DEMO_EMAIL), accounts[0])
        return Credentials(chosen.email, chosen.password)

    # -- time ------------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated time, unix seconds."""
        return self.clock.now()

    async def advance(self, seconds: float) -> None:
        """Move a manual clock forward and run everything due, then deliver the frames.

        Raises:
            TypeError: the simulator runs on a real clock.
        """
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs Simulator(clock=ManualClock(...))")
        target = self.clock.now() + seconds
        step = 1.0
        while self.clock.now() < target:
            self.clock.set(min(target, self.clock.now() + step))
            self.engine.advance_to(self.clock.now())
            await self.server.flush()
        await self.settle()

    async def settle(self) -> None:
        """Let queued frames reach the sockets and the clients read them."""
        await self.server.flush()
        for _ in range(3):
            await asyncio.sleep(0)

    # -- faults and controls (see docs/simulator.md) ---------------------------------

    async def drop_connections(self, user_id: int | None = None) -> int:
        """Drop every connection (or one user's) abruptly; returns how many."""
        count = self.engine.drop_connections(user_id)
        await asyncio.sleep(0)
        return count

    def delay_frames(self, count: int, seconds: float) -> None:
        """Hold the next ``count`` outgoing frames for ``seconds`` of simulated time."""
        self.engine.delay_frames(count, seconds)

    def drop_responses(self, rpc: str | None = None, count: int = 1) -> None:
        """Execute the next ``count`` requests but swallow their replies."""
        self.engine.drop_responses(rpc, count)

    def ignore_requests(self, rpc: str | None = None, count: int = 1) -> None:
        """Ignore the next ``count`` requests entirely: neither executed nor answered."""
        self.engine.ignore_requests(rpc, count)

    async def send_malformed(self) -> None:
        """Send a frame that is not valid JSON to every connection."""
        self.engine.send_malformed()
        await self.server.flush()

    def silence(self, seconds: float) -> None:
        """Stop ``timeSync`` for ``seconds`` of simulated time."""
        self.engine.silence(seconds)

    def refuse_connections(self, seconds: float) -> None:
        """Refuse new WebSocket connections for ``seconds`` of simulated time."""
        self.engine.refuse_connections(seconds)

    def set_commission(self, active_id: int, commission: float) -> None:
        """Change an active's commission (payout = 100 - commission)."""
        self.engine.set_commission(active_id, commission)

    # -- inspection -------------------------------------------------------------------------

    def issue_ssid(self, email: str | None = None) -> str:
        """An SSID for an account (default: :attr:`credentials`) without the HTTP login (for tests)."""
        email = email if email is not None else self.credentials.email
        user = self.engine.accounts.by_email(email)
        if user is None:
            raise KeyError(f"no simulator account {email!r}")
        return self.engine.accounts.issue_ssid(user.user_id)

    def balances(self, email: str = DEMO_EMAIL) -> list[Balance]:
        """An account's balances as the server holds them."""
        user = self.engine.accounts.by_email(email)
        if user is None:
            raise KeyError(f"no simulator account {email!r}")
        return user.balance_models()

    def positions(self, email: str = DEMO_EMAIL) -> list[Position]:
        """Every position of an account, open and closed."""
        user = self.engine.accounts.by_email(email)
        if user is None:
            raise KeyError(f"no simulator account {email!r}")
        return self.engine.ledger.open_positions(user) + self.engine.ledger.closed_positions(user)


#: Real seconds between steps of a real clock, at least (a fast clock skips push instants).
_MIN_STEP = 0.01
#: Real seconds a step waits past its push instant, so that instant's tick is in it.
_PAST_INSTANT = 0.001


def _until_next_step(now: float, push_interval: float, speed: float) -> float:
    """Real seconds until the real clock's next step: just past the next push instant.

    Steps on the push instants (every ``push_interval`` of simulated time, as on the
    manual clock) push each tick as soon as it exists, four pushes a simulated second
    however long a step takes. When the instants are closer than ``_MIN_STEP`` real
    seconds, a step comes every ``_MIN_STEP`` and covers the instants in between.
    """
    if push_interval / speed < _MIN_STEP:
        return _MIN_STEP
    following = (math.floor(now / push_interval) + 1) * push_interval
    return (following - now) / speed + _PAST_INSTANT


#: Real seconds of latency a sped-up simulator still grants a client's ``expired``.
_REAL_LATENCY_BUDGET = 0.5


def _scaled_tolerance(config: SimConfig, speed: float) -> SimConfig:
    """Widen the expiry tolerance of a clock faster than real time.

    The tolerance stands for network and scheduling latency, which is spent in
    real seconds: at 50x, the 2 simulated seconds of the default are 40 ms of real
    time, which a loaded machine overruns. A sped-up clock keeps at least
    ``_REAL_LATENCY_BUDGET`` real seconds (25 simulated seconds at 50x).
    """
    if speed <= 1.0:
        return config
    widened = math.ceil(speed * _REAL_LATENCY_BUDGET)
    if widened <= config.expiry_tolerance:
        return config
    return replace(config, expiry_tolerance=widened)
