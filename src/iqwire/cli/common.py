"""What every networked command shares: connection options, error handling, asset names."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from iqwire import actives
from iqwire.errors import IqwireError, UnknownAsset
from iqwire.sim import Simulator
from iqwire.sim.actives import find_active
from iqwire.sync import Client, EventLoopThread

__all__ = [
    "EXIT_ERROR",
    "EXIT_USAGE",
    "SIM_SPEED_ENV",
    "ConnectionOptions",
    "EmailOpt",
    "LoginUrlOpt",
    "PasswordOpt",
    "RealOpt",
    "ResolvedActive",
    "SimOpt",
    "SimSpeedOpt",
    "UnknownAsset",
    "WsUrlOpt",
    "cli_errors",
    "fail",
    "open_client",
    "resolve_active",
    "stderr_console",
    "stdout_console",
]

#: An error from the server, the network or the credentials.
EXIT_ERROR = 1
#: A usage error: a bad option value or an unknown asset.
EXIT_USAGE = 2
#: The environment variable of the hidden ``--sim-speed`` option.
SIM_SPEED_ENV = "IQWIRE_SIM_SPEED"

_CONNECTION = "Connection"

SimOpt = Annotated[
    bool,
    typer.Option(
        "--sim",
        help="Start an embedded simulator on a free port and log in with its demo account.",
        rich_help_panel=_CONNECTION,
    ),
]
WsUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--ws-url",
        help="WebSocket URL (default: $IQWIRE_WS_URL, else the real platform).",
        show_default=False,
        rich_help_panel=_CONNECTION,
    ),
]
LoginUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--login-url",
        help="HTTP login URL (default: $IQWIRE_LOGIN_URL, else the real platform).",
        show_default=False,
        rich_help_panel=_CONNECTION,
    ),
]
EmailOpt = Annotated[
    str | None,
    typer.Option(
        "--email",
        help="Account e-mail (default: $IQWIRE_EMAIL; with --sim, the demo account).",
        show_default=False,
        rich_help_panel=_CONNECTION,
    ),
]
PasswordOpt = Annotated[
    str | None,
    typer.Option(
        "--password",
        help="Account password (default: $IQWIRE_PASSWORD); $IQWIRE_SSID may replace both.",
        show_default=False,
        rich_help_panel=_CONNECTION,
    ),
]
SimSpeedOpt = Annotated[
    float,
    typer.Option(
        "--sim-speed",
        envvar=SIM_SPEED_ENV,
        min=0.001,
        hidden=True,
        help="With --sim: simulated seconds per real second.",
    ),
]
RealOpt = Annotated[
    bool,
    typer.Option(
        "--real",
        help="Unlock real money: trading on --balance real needs this flag as well.",
    ),
]


@dataclass(frozen=True)
class ConnectionOptions:
    """The connection options of one command line (the password never shows in ``repr``)."""

    sim: bool = False
    ws_url: str | None = None
    login_url: str | None = None
    email: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return (
            f"ConnectionOptions(sim={self.sim}, ws_url={self.ws_url!r}, login_url={self.login_url!r}, "
            f"email={self.email!r}, password={'***' if self.password is not None else None})"
        )


def stdout_console() -> Console:
    """A console on the current ``sys.stdout`` (tables, live views)."""
    return Console(file=sys.stdout, highlight=False)


def stderr_console() -> Console:
    """A console on the current ``sys.stderr`` (errors, hints)."""
    return Console(file=sys.stderr, highlight=False)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print one red line on stderr and exit with ``code``."""
    stderr_console().print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Turn iqwire's errors into one red line and an exit code, never a traceback.

    :class:`~iqwire.errors.IqwireError` (``AuthError``, ``ConnectionLost``,
    ``ServerError``...) exits 1, :class:`UnknownAsset` exits 2.
    """
    try:
        yield
    except UnknownAsset as exc:
        fail(str(exc), EXIT_USAGE)
    except IqwireError as exc:
        fail(f"{type(exc).__name__}: {exc}", EXIT_ERROR)


async def _start_simulator(speed: float) -> Simulator:
    simulator = Simulator(speed=speed)
    await simulator.start()
    return simulator


@contextlib.contextmanager
def open_client(
    options: ConnectionOptions, *, allow_real_money: bool = False, sim_speed: float = 1.0
) -> Iterator[Client]:
    """A connected :class:`iqwire.sync.Client`, closed (with its embedded simulator) at the end.

    With ``--sim`` a simulator on the real clock (``sim_speed`` times as fast) starts on
    127.0.0.1 in a thread of its own, and the client logs in with its demo account unless
    ``--email`` / ``--password`` say otherwise; the ``IQWIRE_*`` environment is then ignored.
    Without it, unset options fall back to the environment (``iqwire.client.Client``
    reads it).

    ``allow_real_money`` is passed to the client as is: give it ``True`` only for ``--real``.
    """
    with contextlib.ExitStack() as stack:
        if options.sim:
            runner = EventLoopThread(name="iqwire-embedded-sim")
            stack.callback(runner.close)
            simulator = runner.run(_start_simulator, sim_speed)
            stack.callback(runner.run, simulator.stop)
            client = Client(
                options.email if options.email is not None else simulator.credentials.email,
                options.password if options.password is not None else simulator.credentials.password,
                ws_url=simulator.ws_url,
                login_url=simulator.login_url,
                allow_real_money=allow_real_money,
            )
        else:
            client = Client(
                options.email,
                options.password,
                ws_url=options.ws_url,
                login_url=options.login_url,
                allow_real_money=allow_real_money,
            )
        yield stack.enter_context(client)


@dataclass(frozen=True)
class ResolvedActive:
    """An asset as the command line named it, resolved to an active id."""

    id: int
    name: str


def _strip_front(name: str) -> str:
    lowered = name.strip().lower()
    return lowered.removeprefix("front.")


def resolve_active(text: str, client: Client | None = None) -> ResolvedActive:
    """An asset by name (``EURUSD``, ``eurusd-otc``, ``front.EURUSD-OTC``) or id (``76``).

    With a connected client only the server's initialization data counts
    (:func:`iqwire.actives.resolve`: ticker or name, with or without the ``front.``
    prefix); without one (offline commands) the built-in list of the simulator's
    actives (:func:`iqwire.sim.actives.find_active`). An id that neither knows is
    used as given: the platform has actives outside the initialization data.

    Example::

        resolve_active("eurusd-otc")        # ResolvedActive(id=76, name='EURUSD-OTC')

    Raises:
        UnknownAsset: a name nobody knows.
    """
    wanted = _strip_front(text)
    number = int(wanted) if wanted.isdigit() else None
    if client is not None:
        try:
            active = actives.resolve(text, client.get_initialization_data(refresh=False))
            return ResolvedActive(active.id, actives.label(active))
        except UnknownAsset:
            pass
    else:
        spec = find_active(text)
        if spec is not None:
            return ResolvedActive(spec.id, spec.name)
    if number is not None:
        return ResolvedActive(number, str(number))
    where = "the built-in list or the server's actives" if client is not None else "the built-in list"
    raise UnknownAsset(f"unknown asset {text!r}: not in {where}; try a name like EURUSD-OTC or an id like 76")
