"""Lock-step paper runs: the runner owns the simulator's clock, so a seed gives the same run.

On a real clock, machine load decides which stretch of simulated time a bot sees and
when its orders reach the server relative to the prices. In lock-step, the runner moves
an embedded simulator's manual clock one step at a time and, before the next step,
waits until the bot has taken in everything the step produced: the pushes delivered,
the strategy's callbacks done (an order it places is answered inside its callback).
Simulated time then stands still while the bot thinks, and a run with the same seed and
origin trades the same way every time. A run against a real server or a separate
``iqwire sim`` process stays on wall time: only an embedded simulator can be stepped.

Example::

    async with Simulator(seed=3, clock=ManualClock(REPRODUCIBLE_START)) as sim:
        async with Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client:
            lockstep = LockStep(client, sim)
            result = await run_live(client, MyStrategy(), duration=300, lockstep=lockstep)
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from iqwire.client import Client
from iqwire.client.clock import ServerClock

__all__ = ["LockStep", "SteppableServer"]

#: How often the loop yields after a round trip, so the feeds move what arrived into the mailbox.
_YIELDS = 5


class SteppableServer(Protocol):
    """A server whose clock the runner moves (an embedded ``iqwire.sim.Simulator`` on a ManualClock)."""

    def now(self) -> float:
        """Simulated time, unix seconds."""
        ...

    async def advance(self, seconds: float) -> None:
        """Move the clock forward, run everything due and send the frames."""
        ...


class _SteppedClock(ServerClock):
    """The client's view of server time in lock-step: exactly the simulator's clock.

    It never reports a silent heartbeat: time stands still while the runner waits for
    the bot, which is not a dead connection.
    """

    def __init__(self, server: SteppableServer) -> None:
        super().__init__()
        self._server = server

    def now(self) -> float:
        return self._server.now()

    def seconds_since_sync(self) -> float | None:
        return 0.0


class LockStep:
    """Moves ``server``'s clock ``step`` simulated seconds at a time for a run on ``client``.

    Creating it puts the client on the simulator's clock (``client.server_time()`` is the
    simulated time, with no wall-clock drift between ``timeSync`` pushes).
    """

    def __init__(self, client: Client, server: SteppableServer, *, step: float = 1.0) -> None:
        if not step > 0:
            raise ValueError(f"step must be positive, got {step}")
        self.client = client
        self.server = server
        self.step = step
        client.clock = _SteppedClock(server)

    def now(self) -> float:
        """Simulated time, unix seconds."""
        return self.server.now()

    async def advance(self) -> None:
        """One step of simulated time, then :meth:`barrier`."""
        await self.server.advance(self.step)
        await self.barrier()

    async def barrier(self) -> None:
        """Return once every frame the server sent so far has reached the client's streams.

        A request's answer comes after every frame sent before it on the same socket, so
        one round trip proves the pushes read; a few yields let the feeds pass them on.
        """
        await self.client.get_profile()
        for _ in range(_YIELDS):
            await asyncio.sleep(0)
