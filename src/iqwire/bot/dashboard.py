"""A live terminal dashboard of a run (rich), or plain log lines when not on a terminal.

Example::

    state = RunState(mode="paper")
    with Dashboard(state) as dashboard:
        ...                                   # the runner updates ``state``
        dashboard.log("opened #1 EURUSD call 10")
        dashboard.refresh()                   # cheap: throttled to refresh_per_second
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from iqwire.bot.records import RunState
from iqwire.models import Outcome

__all__ = ["SPARK_BARS", "Dashboard", "sparkline"]

#: The eight bar heights of a sparkline, lowest first.
SPARK_BARS = "▁▂▃▄▅▆▇█"

_CONNECTION_STYLES = {"connected": "bold green", "connecting": "yellow", "reconnecting": "yellow"}


def sparkline(values: Iterable[float], width: int) -> str:
    """The newest ``width`` values as bars scaled between their min and max.

    A flat series draws mid-height bars; fewer values than ``width`` give a
    shorter string; no values (or ``width <= 0``) give ``""``.

    >>> sparkline([1, 2, 3, 4, 5, 6, 7, 8], 8)
    '▁▂▃▄▅▆▇█'
    >>> sparkline([5, 5, 5], 10)
    '▄▄▄'
    """
    if width <= 0:
        return ""
    series = list(values)[-width:]
    if not series:
        return ""
    low, high = min(series), max(series)
    span = high - low
    top = len(SPARK_BARS) - 1
    if not span > 0:  # flat (or NaN): mid-height
        return SPARK_BARS[top // 2] * len(series)
    return "".join(SPARK_BARS[min(top, max(0, int((v - low) / span * top + 0.5)))] for v in series)


def _clock(seconds: float, fmt: str = "%Y-%m-%d %H:%M:%S UTC") -> str:
    if seconds <= 0:
        return "—"
    return datetime.fromtimestamp(seconds, tz=UTC).strftime(fmt)


class Dashboard:
    """Draws a :class:`RunState` in place with rich ``Live``; logs plain lines off a terminal.

    On a terminal (``console.is_terminal``) entering the context starts a live
    view: a header (mode, server time, connection, balance, "warming up (n/N)"
    while the indicators wait for candles), the actives with
    their last price and a sparkline of ``state.prices``, the open trades with
    the seconds to expiry, the results (P&L, win rate, counts), the risk
    guards' state and refusals, and the last messages. :meth:`refresh` redraws
    (throttled to ``refresh_per_second`` unless ``force``); nothing redraws in
    the background, so the runner owns every read of ``state``. :meth:`log`
    adds a line to ``state.messages``.

    Off a terminal (CI, ``| cat``, a file) nothing is drawn: :meth:`log` prints
    each line plainly (and still adds it to ``state.messages``).

    Example::

        with Dashboard(state, console=Console()) as dashboard:
            state.record_price(76, 1.0851)
            dashboard.log("opened #1 EURUSD-OTC call 10.00")
            dashboard.refresh()
    """

    def __init__(
        self,
        state: RunState,
        *,
        console: Console | None = None,
        refresh_per_second: float = 4,
        spark_width: int = 30,
    ) -> None:
        if refresh_per_second <= 0:
            raise ValueError("refresh_per_second must be positive")
        self.state = state
        self.console = console or Console()
        self.refresh_per_second = refresh_per_second
        self.spark_width = spark_width
        self._live: Live | None = None
        self._last_draw = float("-inf")
        self._last_key: str | None = None  # the last message, up to its first ";"
        self._repeats = 0

    @property
    def interactive(self) -> bool:
        """Whether the console is a terminal (a live view) rather than a log."""
        return self.console.is_terminal

    @property
    def running(self) -> bool:
        """Whether the live view is on screen."""
        return self._live is not None

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Show the live view (does nothing off a terminal or when already shown)."""
        if self._live is not None or not self.interactive:
            return
        live = Live(
            self.render(),
            console=self.console,
            auto_refresh=False,
            refresh_per_second=self.refresh_per_second,
            transient=False,
        )
        live.start(refresh=True)
        self._live = live
        self._last_draw = time.monotonic()

    def stop(self) -> None:
        """Draw a last frame and leave it on screen."""
        live, self._live = self._live, None
        if live is not None:
            live.update(self.render(), refresh=True)
            live.stop()

    def __enter__(self) -> Dashboard:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def refresh(self, *, force: bool = False) -> None:
        """Redraw from ``state``; skipped when the last draw is younger than 1/refresh_per_second."""
        live = self._live
        if live is None:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < 1.0 / self.refresh_per_second:
            return
        self._last_draw = now
        live.update(self.render(), refresh=True)

    def log(self, line: str) -> None:
        """Record an event: printed as a plain line off a terminal, shown under "messages" on one.

        A message that repeats the previous one (the same text up to its first ``;``, such
        as a guard refusing again) replaces it with a count: ``refused ×8: cooldown: …``.
        """
        stamp = _clock(self.state.server_time, "%H:%M:%S")
        key = line.partition(";")[0]
        if self.state.messages and key == self._last_key:
            self._repeats += 1
            self.state.messages.pop()
            head, sep, tail = line.partition(": ")
            shown = f"{head} ×{self._repeats}{sep}{tail}" if sep else f"{line} ×{self._repeats}"
        else:
            self._last_key, self._repeats, shown = key, 1, line
        self.state.messages.append(shown if stamp == "—" else f"{stamp} {shown}")
        if not self.interactive:
            text = line if stamp == "—" else f"{stamp} {line}"
            self.console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)

    # -- rendering ----------------------------------------------------------------------------------

    def render(self) -> RenderableType:
        """The whole view as one renderable (what the live display shows)."""
        top = Table.grid(expand=True, padding=(0, 2))
        top.add_column(ratio=3)
        top.add_column(ratio=2)
        top.add_row(self._actives(), self._results())
        bottom = Table.grid(expand=True, padding=(0, 2))
        bottom.add_column(ratio=3)
        bottom.add_column(ratio=2)
        bottom.add_row(self._open_trades(), self._risk())
        return Group(self._header(), top, bottom, self._messages())

    def _header(self) -> RenderableType:
        state = self.state
        connection = state.connection
        balance = "—" if state.balance is None else f"{state.balance:,.2f} {state.currency}"
        header = Text.assemble(
            ("iqwire bot", "bold"),
            "  mode ",
            (state.mode.upper(), "bold magenta" if state.mode == "live" else "bold cyan"),
            "  ",
            _clock(state.server_time),
            "  ● ",
            (connection, _CONNECTION_STYLES.get(connection, "bold red")),
            "  balance ",
            (balance, "bold"),
        )
        if state.warming_up:
            header.append(f"  warming up ({state.warmup_have}/{state.warmup_needed})", style="bold yellow")
        return Panel(header, padding=(0, 1))

    def _actives(self) -> Table:
        state = self.state
        table = Table(title="Actives", title_justify="left", expand=True, box=None, pad_edge=False)
        table.add_column("active")
        table.add_column("last", justify="right")
        table.add_column("trend", no_wrap=True)
        for active_id in sorted(set(state.prices) | set(state.names)):
            prices = state.prices.get(active_id)
            last = f"{prices[-1]:.10g}" if prices else "—"
            spark = sparkline(prices or (), self.spark_width)
            table.add_row(state.names.get(active_id, str(active_id)), last, Text(spark, style="cyan"))
        return table

    def _results(self) -> Table:
        state = self.state
        closed = state.closed
        losses = sum(1 for t in closed if t.outcome is Outcome.LOSS)
        equals = sum(1 for t in closed if t.outcome is Outcome.EQUAL)
        pnl = state.pnl
        win_rate = state.win_rate
        table = Table(
            title="Results", title_justify="left", show_header=False, expand=True, box=None, pad_edge=False
        )
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_row(
            "P&L",
            Text(f"{pnl:+,.2f} {state.currency}", style="green" if pnl > 0 else "red" if pnl < 0 else ""),
        )
        table.add_row("win rate", "—" if win_rate is None else f"{100 * win_rate:.1f}%")
        table.add_row("trades", f"{len(closed)} closed, {len(state.open_trades)} open")
        table.add_row("W / L / E", f"{state.wins} / {losses} / {equals}")
        return table

    def _open_trades(self) -> Table:
        state = self.state
        table = Table(title="Open trades", title_justify="left", expand=True, box=None, pad_edge=False)
        table.add_column("#", justify="right")
        table.add_column("active")
        table.add_column("dir")
        table.add_column("amount", justify="right")
        table.add_column("open", justify="right")
        table.add_column("expires in", justify="right")
        trades = sorted(state.open_trades.values(), key=lambda t: (t.expires_at, t.id))
        for trade in trades:
            remaining = max(0.0, trade.expires_at - state.server_time)
            table.add_row(
                str(trade.id),
                state.names.get(trade.active_id, str(trade.active_id)),
                Text(trade.direction, style="green" if trade.direction == "call" else "red"),
                f"{trade.amount:,.2f}",
                f"{trade.open_price:.10g}",
                f"{remaining:.0f}s",
            )
        if not trades:
            table.add_row("", Text("none", style="dim"), "", "", "", "")
        return table

    def _risk(self) -> Table:
        state = self.state
        table = Table(
            title="Risk", title_justify="left", show_header=False, expand=True, box=None, pad_edge=False
        )
        table.add_column("guard")
        table.add_column("state", justify="right")
        for key, value in state.guard_state.items():
            table.add_row(key, value, style="yellow" if key == "cooldown" else None)
        refused = sum(state.refusals.values())
        table.add_row("refused", str(refused), style="bold" if refused else "dim")
        for reason, count in sorted(state.refusals.items()):
            table.add_row(f"  {reason}", str(count), style="dim")
        return table

    def _messages(self) -> RenderableType:
        lines = [Text(line, overflow="ellipsis", no_wrap=True) for line in self.state.messages]
        body: RenderableType = Group(*lines) if lines else Text("no messages yet", style="dim")
        return Panel(body, title="messages", title_align="left", padding=(0, 1))
