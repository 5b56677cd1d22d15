"""A protocol-faithful local IQ Option server: HTTP login and WebSocket on one port.

Example::

    from iqwire.sim import Simulator, ManualClock

    async with Simulator(seed=1, clock=ManualClock(1_770_000_000)) as sim:
        print(sim.ws_url, sim.login_url, sim.credentials)
        await sim.advance(30)      # every push, close and settlement due in 30 s
"""

from iqwire.sim.clock import Clock, ManualClock, SystemClock
from iqwire.sim.config import AccountConfig, SimConfig
from iqwire.sim.simulator import Simulator

__all__ = ["AccountConfig", "Clock", "ManualClock", "SimConfig", "Simulator", "SystemClock"]
