"""What every command shares: the exit codes, the connection options, error handling, asset names.

Exit codes (the one table; ``iqwire --help`` and the README show it too):

====  ==========================================================================
code  meaning
====  ==========================================================================
0     done
1     an error from the server or the network (login refused, connection lost…)
2     a usage error or bad input (an option out of range, an unknown asset, an
      invalid amount or expiry, a strategy that cannot load or that raised)
130   interrupted (Ctrl-C)
====  ==========================================================================
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from iqwire import actives
from iqwire.errors import InvalidOrder, IqwireError, RealMoneyLocked, UnknownAsset
from iqwire.models import BalanceType, InitializationData
from iqwire.sim.actives import find_active
from iqwire.sync import Client

__all__ = [
    "EXIT_CODES_TEXT",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "ExitCode",
    "SIM_SPEED_ENV",
    "BalanceChoice",
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
    "debug_enabled",
    "fail",
    "format_price",
    "note",
    "resolve_active",
    "resolve_in",
    "set_debug",
    "stderr_console",
    "stdout_console",
    "strategy_failure",
]


class ExitCode(enum.IntEnum):
    """The exit codes of every ``iqwire`` command (the table in this module's docstring)."""

    #: Done.
    OK = 0
    #: An error from the server or the network.
    ERROR = 1
    #: A usage error or bad input.
    USAGE = 2
    #: Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
    INTERRUPTED = 130


#: The exit-code table as the help and the README show it.
EXIT_CODES_TEXT = (
    "Exit codes: 0 done, 1 server or network error, 2 usage error or bad input, 130 interrupted."
)

EXIT_OK = ExitCode.OK
EXIT_ERROR = ExitCode.ERROR
EXIT_USAGE = ExitCode.USAGE
EXIT_INTERRUPTED = ExitCode.INTERRUPTED
#: The environment variable of the hidden ``--sim-speed`` option.
SIM_SPEED_ENV = "IQWIRE_SIM_SPEED"

_CONNECTION = "Connection"

SimOpt = Annotated[
    bool,
    typer.Option(
        "--sim",
        help=(
            "Use the local simulator: the running 'iqwire sim' (found through its state file), "
            "else an embedded one started for this command, with its demo account."
        ),
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


class BalanceChoice(enum.StrEnum):
    """A balance of the account, by type (``--balance`` of every command)."""

    DEMO = "demo"
    TOURNAMENT = "tournament"
    REAL = "real"

    @property
    def balance_type(self) -> BalanceType:
        """The matching :class:`~iqwire.models.BalanceType`."""
        return BalanceType[self.name]


@dataclass(frozen=True)
class ConnectionOptions:
    """The connection options of one command line (the password never shows in ``repr``).

    ``seed``, ``speed`` and ``now`` shape an embedded simulator (``--sim`` when no
    ``iqwire sim`` runs): its prices and moods, its clock rate, and whether its clock
    starts at the wall-clock time (``now``) or at the fixed origin that makes runs
    reproducible.
    """

    sim: bool = False
    ws_url: str | None = None
    login_url: str | None = None
    email: str | None = None
    password: str | None = None
    seed: int = 0
    speed: float = 1.0
    now: bool = False

    def __repr__(self) -> str:
        return (
            f"ConnectionOptions(sim={self.sim}, ws_url={self.ws_url!r}, login_url={self.login_url!r}, "
            f"email={self.email!r}, password={'***' if self.password is not None else None}, "
            f"seed={self.seed}, speed={self.speed:g}, now={self.now})"
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


def note(message: str) -> None:
    """Print one dim line on stderr: something the user should know, not an error."""
    stderr_console().print(f"[dim]note: {escape(message)}[/]", soft_wrap=True)


#: ``iqwire --debug`` of the command line being run (the root callback sets it, every run).
_DEBUG: contextvars.ContextVar[bool] = contextvars.ContextVar("iqwire_cli_debug", default=False)


def set_debug(enabled: bool) -> None:
    """Record ``--debug`` for this command line (called by the root callback)."""
    _DEBUG.set(enabled)


def debug_enabled() -> bool:
    """Whether ``iqwire --debug`` was given (full tracebacks instead of one line)."""
    return _DEBUG.get()


#: Errors the user caused and can fix by changing the command: exit 2, not 1.
_USAGE_ERRORS: tuple[type[BaseException], ...] = (UnknownAsset, InvalidOrder, RealMoneyLocked)


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Turn iqwire's errors into one red line and an exit code, never a traceback.

    Bad input (:class:`UnknownAsset`, :class:`~iqwire.errors.InvalidOrder`,
    :class:`~iqwire.errors.RealMoneyLocked`) exits 2; any other
    :class:`~iqwire.errors.IqwireError` (``AuthError``, ``ConnectionLost``,
    ``ServerError``...) exits 1; Ctrl-C exits 130. With ``iqwire --debug`` the
    traceback is printed too.
    """
    try:
        yield
    except _USAGE_ERRORS as exc:
        _traceback_if_debug()
        fail(str(exc) if isinstance(exc, UnknownAsset) else f"{type(exc).__name__}: {exc}", EXIT_USAGE)
    except IqwireError as exc:
        _traceback_if_debug()
        fail(f"{type(exc).__name__}: {exc}", EXIT_ERROR)
    except KeyboardInterrupt:
        stderr_console().print("interrupted", soft_wrap=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _traceback_if_debug() -> None:
    if debug_enabled():
        traceback.print_exc(file=sys.stderr)


def strategy_failure(exc: Exception, strategy_file: str | None) -> NoReturn:
    """Report an exception from a run: the strategy's file, line and message when it came from there.

    Raised in the strategy's own code (a frame in ``strategy_file``): one line naming
    the innermost such frame, exit 2. Otherwise a ``ValueError``/``LookupError`` (a
    strategy naming an unknown active, say) is one line too; anything else is a bug
    in iqwire and keeps its traceback. With ``--debug`` the traceback comes first.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    own = [frame for frame in frames if strategy_file is not None and frame.filename == strategy_file]
    if not own and not isinstance(exc, ValueError | LookupError):
        raise exc
    if debug_enabled():
        traceback.print_exception(exc, file=sys.stderr)
    if not own:
        fail(str(exc), EXIT_USAGE)
    frame = own[-1]
    fail(
        f"the strategy raised {type(exc).__name__}: {exc} ({frame.filename}:{frame.lineno}, in {frame.name}; "
        "--debug shows the traceback)",
        EXIT_USAGE,
    )


@dataclass(frozen=True)
class ResolvedActive:
    """An asset as the command line named it, resolved to an active id.

    ``precision`` is the decimals of its prices (the server's initialization data), when known.
    """

    id: int
    name: str
    precision: int | None = None

    def price(self, value: float | None) -> str:
        """A price at the active's precision (``-`` for none)."""
        return format_price(value, self.precision)


def format_price(value: float | None, precision: int | None) -> str:
    """A price with ``precision`` decimals, or its shortest form when the precision is unknown."""
    if value is None:
        return "-"
    return f"{value:.{precision}f}" if precision is not None else f"{value:.10g}"


def _strip_front(name: str) -> str:
    lowered = name.strip().lower()
    return lowered.removeprefix("front.")


def resolve_active(text: str, client: Client | None = None) -> ResolvedActive:
    """An asset by name (``EURUSD``, ``eurusd-otc``, ``front.EURUSD-OTC``) or id (``76``).

    With a connected client only the server's initialization data counts
    (:func:`iqwire.actives.resolve`: ticker or name, with or without the ``front.``
    prefix), which also gives the precision; without one (offline commands) the built-in
    list of the simulator's actives (:func:`iqwire.sim.actives.find_active`). An id that
    neither knows is used as given: the platform has actives outside the initialization
    data. (Async commands: :func:`resolve_in` with the data they fetched.)

    Example::

        resolve_active("eurusd-otc")        # ResolvedActive(id=76, name='EURUSD-OTC')

    Raises:
        UnknownAsset: a name nobody knows.
    """
    return resolve_in(text, client.get_initialization_data(refresh=False) if client is not None else None)


def resolve_in(text: str, init: InitializationData | None) -> ResolvedActive:
    """:func:`resolve_active` over initialization data already fetched (or none).

    Raises:
        UnknownAsset: a name nobody knows.
    """
    wanted = _strip_front(text)
    number = int(wanted) if wanted.isdigit() else None
    if init is not None:
        try:
            active = actives.resolve(text, init)
            return ResolvedActive(active.id, actives.label(active), active.precision)
        except UnknownAsset:
            pass
    else:
        spec = find_active(text)
        if spec is not None:
            return ResolvedActive(spec.id, spec.name)
    if number is not None:
        return ResolvedActive(number, str(number))
    where = "the built-in list or the server's actives" if init is not None else "the built-in list"
    raise UnknownAsset(f"unknown asset {text!r}: not in {where}; try a name like EURUSD-OTC or an id like 76")
