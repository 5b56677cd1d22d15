"""Where a command connects, in one place: the running ``iqwire sim``, an embedded simulator, or a server.

``--sim`` means *the local simulator*. ``iqwire sim`` writes where it listens to a small
state file (:func:`state_path`: ``$IQWIRE_SIM_STATE``, else ``$XDG_RUNTIME_DIR/iqwire/sim.json``,
else ``~/.cache/iqwire/sim.json``) and removes it when it stops; every ``--sim`` command
reads it and logs in to that simulator with its demo account, so ``trade --sim``,
``positions --sim`` and ``bot run --sim`` see the same account. When no simulator runs,
the command starts an embedded one for itself and says so on stderr.

Without ``--sim``, unset options fall back to the environment (:class:`iqwire.client.Client`
reads ``$IQWIRE_EMAIL``, ``$IQWIRE_PASSWORD``, ``$IQWIRE_SSID``, ``$IQWIRE_WS_URL``,
``$IQWIRE_LOGIN_URL``).

Example::

    with open_client(ConnectionOptions(sim=True)) as client:        # blocking commands
        client.get_balances()

    async with connect(ConnectionOptions(sim=True)) as connected:          # async commands
        client = connected.client
        await client.get_balances()
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from iqwire.cli.common import ConnectionOptions, note
from iqwire.client import Client as AsyncClient
from iqwire.sim import Clock, ManualClock, Simulator, SystemClock
from iqwire.sim.clock import REPRODUCIBLE_START
from iqwire.sim.config import DEMO_EMAIL, DEMO_PASSWORD, SimConfig
from iqwire.sync import Client, EventLoopThread

__all__ = [
    "STATE_ENV",
    "Connected",
    "RunningSim",
    "clear_state",
    "connect",
    "embedded_simulator",
    "open_client",
    "read_state",
    "state_path",
    "write_state",
]

#: The environment variable that moves the state file (tests point it at a temporary file).
STATE_ENV = "IQWIRE_SIM_STATE"


def state_path() -> Path:
    """Where ``iqwire sim`` says where it listens."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(runtime) / "iqwire" if runtime else Path.home() / ".cache" / "iqwire"
    return folder / "sim.json"


@dataclass(frozen=True)
class RunningSim:
    """A running ``iqwire sim`` as its state file describes it (the password is the public demo one)."""

    pid: int
    ws_url: str
    login_url: str
    seed: int
    email: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return f"RunningSim(pid={self.pid}, ws_url={self.ws_url!r}, login_url={self.login_url!r}, seed={self.seed})"


def write_state(simulator: Simulator, config: SimConfig) -> Path:
    """Record where ``simulator`` listens; its demo login only when the built-in demo account exists."""
    demo = any(a.email == DEMO_EMAIL and a.password == DEMO_PASSWORD for a in config.accounts)
    data: dict[str, Any] = {
        "pid": os.getpid(),
        "ws_url": simulator.ws_url,
        "login_url": simulator.login_url,
        "seed": simulator.seed,
        "email": DEMO_EMAIL if demo else None,
        "password": DEMO_PASSWORD if demo else None,  # public: iqwire.sim.config.DEMO_PASSWORD
    }
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(data) + "\n", encoding="utf-8")
    temporary.replace(path)  # a reader never sees half a file
    return path


def clear_state() -> None:
    """Remove the state file if this process wrote it (another simulator may have replaced it)."""
    path = state_path()
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=0.5):
            return True
    except OSError:
        return False


def read_state() -> RunningSim | None:
    """The running ``iqwire sim``, or ``None`` (no state file, or a stale one: nothing listens there)."""
    try:
        data = json.loads(state_path().read_text(encoding="utf-8"))
        running = RunningSim(
            pid=int(data["pid"]),
            ws_url=str(data["ws_url"]),
            login_url=str(data["login_url"]),
            seed=int(data.get("seed", 0)),
            email=data.get("email"),
            password=data.get("password"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return running if _listening(running.login_url) else None


def embedded_simulator(options: ConnectionOptions, *, manual: bool = False, **kwargs: Any) -> Simulator:
    """A simulator for this command alone: ``options.seed``, its clock ×``options.speed``.

    Its clock starts at :data:`~iqwire.sim.clock.REPRODUCIBLE_START`, so a seed gives the
    same prices on every run, unless ``options.now`` asks for the wall-clock time.
    ``manual``: a :class:`~iqwire.sim.ManualClock` at that origin instead, for a caller
    that moves time itself (a lock-step paper run); ``options.now`` overrides it.
    """
    clock: Clock
    if manual and not options.now:
        clock = ManualClock(REPRODUCIBLE_START)
    else:
        clock = SystemClock(speed=options.speed, start=None if options.now else REPRODUCIBLE_START)
    return Simulator(seed=options.seed, clock=clock, **kwargs)


@dataclass(frozen=True)
class _Target:
    ws_url: str | None
    login_url: str | None
    email: str | None
    password: str | None
    where: str


def _target(options: ConnectionOptions, simulator: Simulator | None = None) -> _Target | None:
    """Where to log in; ``None``: start an embedded simulator first (and call again with it)."""
    if not options.sim:
        where = options.ws_url or "the server"
        return _Target(options.ws_url, options.login_url, options.email, options.password, where)
    if simulator is not None:
        credentials = simulator.credentials
        if isinstance(simulator.clock, ManualClock):
            clock = "in lock-step"
        else:
            clock = f"clock ×{options.speed:g}" + (", from the wall-clock time" if options.now else "")
        return _Target(
            simulator.ws_url,
            simulator.login_url,
            options.email if options.email is not None else credentials.email,
            options.password if options.password is not None else credentials.password,
            f"the embedded simulator (seed {options.seed}, {clock})",
        )
    running = read_state()
    if running is None:
        note(
            f"no 'iqwire sim' is running (no live state in {state_path()}): "
            f"started an embedded simulator (seed {options.seed}) for this command"
        )
        return None
    return _Target(
        running.ws_url,
        running.login_url,
        options.email if options.email is not None else running.email,
        options.password if options.password is not None else running.password,
        f"the running iqwire sim at {running.ws_url}",
    )


@contextlib.contextmanager
def open_client(options: ConnectionOptions, *, allow_real_money: bool = False) -> Iterator[Client]:
    """A connected blocking :class:`iqwire.sync.Client`, closed (with an embedded simulator) at the end.

    ``allow_real_money`` is passed to the client as is: give it ``True`` only for ``--real``.
    """
    with contextlib.ExitStack() as stack:
        target = _target(options)
        if target is None:
            runner = EventLoopThread(name="iqwire-embedded-sim")
            stack.callback(runner.close)
            simulator = embedded_simulator(options)
            runner.run(simulator.start)
            stack.callback(runner.run, simulator.stop)
            target = _target(options, simulator)
            assert target is not None
        client = Client(
            target.email,
            target.password,
            ws_url=target.ws_url,
            login_url=target.login_url,
            allow_real_money=allow_real_money,
        )
        yield stack.enter_context(client)


class Connected(NamedTuple):
    """What :func:`connect` yields."""

    #: The logged-in client.
    client: AsyncClient
    #: Where it is connected, as a phrase ("the running iqwire sim at ws://…").
    where: str
    #: Whether it is an embedded simulator started for this command (it knows no earlier trade).
    embedded: bool
    #: The embedded simulator when its clock is manual (``connect(manual_clock=True)``): the caller moves time.
    stepped: Simulator | None = None


@contextlib.asynccontextmanager
async def connect(
    options: ConnectionOptions,
    *,
    allow_real_money: bool = False,
    manual_clock: bool = False,
    **client_options: Any,
) -> AsyncIterator[Connected]:
    """A connected :class:`iqwire.client.Client`, where it is connected, and whether that is embedded.

    ``manual_clock``: an embedded simulator runs on a manual clock (not with ``--now``),
    yielded as ``Connected.stepped`` for the caller to move. ``client_options`` go to the
    client as they are (``record_to=``, ``reconnect_delay=``).
    """
    async with contextlib.AsyncExitStack() as stack:
        target = _target(options)
        embedded = target is None
        stepped = None
        if target is None:
            simulator = await stack.enter_async_context(embedded_simulator(options, manual=manual_clock))
            stepped = simulator if isinstance(simulator.clock, ManualClock) else None
            target = _target(options, simulator)
            assert target is not None
        client = AsyncClient(
            target.email,
            target.password,
            ws_url=target.ws_url,
            login_url=target.login_url,
            allow_real_money=allow_real_money,
            **client_options,
        )
        await stack.enter_async_context(client)
        where = target.where if options.sim else client.server_name or target.where
        yield Connected(client, where, embedded, stepped)
