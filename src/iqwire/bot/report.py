"""The end-of-run report: counts, P&L, drawdown, per-trade Sharpe, exports.

Example::

    report = Report(state.closed, starting_balance=10_000.0, refusals=guard.refusals)
    report.print(console)
    print(report.summary_line())
    report.to_csv("trades.csv")
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from operator import attrgetter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from iqwire.bot.journal.schema import is_margin
from iqwire.bot.records import RunState, TradeRecord
from iqwire.models import Outcome

__all__ = ["TRADE_COLUMNS", "Report", "trade_ref"]

#: A record's outcome (what the report counts, in C).
_OUTCOME_OF = attrgetter("outcome")

#: The CSV/Parquet columns: the fields of :class:`TradeRecord`, in order, then ``ref``: the
#: trade's server reference, ``option:<id>`` or ``order:<id>`` (a margin order), unique within an
#: account. ``id`` alone is the server's number, and an option and a margin order may share one.
TRADE_COLUMNS: tuple[str, ...] = (*(f.name for f in dataclasses.fields(TradeRecord)), "ref")


def trade_ref(trade: TradeRecord) -> str:
    """The trade's server reference, as the journal keys it: ``option:<id>`` or ``order:<id>``.

    >>> trade_ref(TradeRecord(7, 76, "call", 1.0, 0.8, 0.0, 60.0, 1.1, 1.2, Outcome.WIN, 0.8))
    'option:7'
    """
    return f"{'order' if is_margin(trade.product) else 'option'}:{trade.id}"


StrPath = str | os.PathLike[str]


def _row(trade: TradeRecord) -> dict[str, Any]:
    row = dataclasses.asdict(trade)
    row["outcome"] = trade.outcome.value
    row["ref"] = trade_ref(trade)
    return row


class Report:
    """Statistics of a run's closed trades, in the order they closed.

    * ``win_rate`` is wins over decided trades (wins + losses; refunds and
      sold trades excluded), ``None`` before any.
    * ``max_drawdown`` is the largest fall of the equity curve (starting
      balance, then after each trade) from its running peak, as an amount;
      ``max_drawdown_pct`` the largest such fall in percent of that peak.
    * ``sharpe`` is per trade: mean pnl / population std of pnl (``None`` with
      fewer than 2 trades or no spread).
    * ``profit_factor`` is gross profit / gross loss: ``inf`` with profits and
      no losses, ``None`` with neither.
    * ``by_product`` splits the trades by option product (blitz, turbo, binary,
      digital): trades, wins, losses, equal, sold and P&L of each.

    Example::

        report = Report(trades, starting_balance=1000.0, refusals={"max_stake": 2})
        assert report.trades == len(trades)
        Console().print(report.render())
        report.to_csv("out/trades.csv")
    """

    def __init__(
        self,
        trades: Iterable[TradeRecord],
        starting_balance: float,
        refusals: Mapping[str, int] | None = None,
        *,
        currency: str = "USD",
    ) -> None:
        self.records: list[TradeRecord] = list(trades)
        self.starting_balance = float(starting_balance)
        self.refusals: dict[str, int] = dict(sorted((refusals or {}).items()))
        self.currency = currency

        records = self.records
        pnls = [t.pnl for t in records]
        self.trades = len(records)
        # One pass per product (the outcomes counted in C), not one per statistic: a
        # report of a long backtest walks thousands of trades.
        groups: dict[str, list[TradeRecord]] = {}
        for t in records:
            group = groups.get(t.product)
            if group is None:
                group = groups[t.product] = []
            group.append(t)
        outcomes: Counter[Outcome] = Counter()
        self.by_product: dict[str, dict[str, float]] = {}
        for product, group in groups.items():
            counted = Counter(map(_OUTCOME_OF, group))
            outcomes += counted
            total = 0.0
            for t in group:
                total = round(total + t.pnl, 2)  # (rounded after every trade, as it always was)
            self.by_product[product] = {
                "trades": len(group),
                "wins": counted[Outcome.WIN],
                "losses": counted[Outcome.LOSS],
                "equals": counted[Outcome.EQUAL],
                "sold": counted[Outcome.SOLD],
                "pnl": total,
            }
        self.wins = outcomes[Outcome.WIN]
        self.losses = outcomes[Outcome.LOSS]
        self.equals = outcomes[Outcome.EQUAL]
        self.other = self.trades - self.wins - self.losses - self.equals
        decided = self.wins + self.losses
        self.win_rate: float | None = self.wins / decided if decided else None
        self.pnl = math.fsum(pnls)
        self.gross_profit = math.fsum(p for p in pnls if p > 0)
        self.gross_loss = -math.fsum(p for p in pnls if p < 0)
        self.final_balance = self.starting_balance + self.pnl
        self.return_pct: float | None = (
            100.0 * self.pnl / self.starting_balance if self.starting_balance > 0 else None
        )
        self.average_pnl: float | None = self.pnl / self.trades if self.trades else None
        # Over the options only: a margin position has no payout (its record carries 0).
        payouts = [t.payout for product, group in groups.items() if not is_margin(product) for t in group]
        self.average_payout: float | None = math.fsum(payouts) / len(payouts) if payouts else None
        self.profit_factor: float | None
        if self.gross_loss > 0:
            self.profit_factor = self.gross_profit / self.gross_loss
        else:
            self.profit_factor = math.inf if self.gross_profit > 0 else None

        self.sharpe: float | None = None
        if self.trades >= 2:
            mean = self.pnl / self.trades
            std = math.sqrt(math.fsum((p - mean) ** 2 for p in pnls) / self.trades)
            if std > 0:
                self.sharpe = mean / std

        # The equity curve and its drawdown in one pass (comparisons rather than max():
        # a report of a long backtest walks thousands of trades).
        start = self.starting_balance
        equities = self.equity = [start]
        peak = start
        max_drawdown = max_drawdown_pct = 0.0
        running = 0.0
        for p in pnls:
            running += p
            equity = start + running
            equities.append(equity)
            if equity > peak:
                peak = equity
            drawdown = peak - equity
            if drawdown > max_drawdown:
                max_drawdown = drawdown
            if peak > 0:
                drawdown_pct = 100.0 * drawdown / peak
                if drawdown_pct > max_drawdown_pct:
                    max_drawdown_pct = drawdown_pct
        self.max_drawdown = max_drawdown
        self.max_drawdown_pct = max_drawdown_pct

    @classmethod
    def from_state(cls, state: RunState, starting_balance: float) -> Report:
        """A report of a run's closed trades, refusals and currency."""
        return cls(state.closed, starting_balance, state.refusals, currency=state.currency)

    @property
    def refused(self) -> int:
        """Trades the risk guards refused, all reasons together."""
        return sum(self.refusals.values())

    # -- text --------------------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """The statistics as plain values (for JSON, a sweep table, assertions)."""
        return {
            "trades": self.trades,
            "wins": self.wins,
            "losses": self.losses,
            "equals": self.equals,
            "other": self.other,
            "win_rate": self.win_rate,
            "pnl": self.pnl,
            "gross_profit": self.gross_profit,
            "gross_loss": self.gross_loss,
            "starting_balance": self.starting_balance,
            "final_balance": self.final_balance,
            "return_pct": self.return_pct,
            "max_drawdown": self.max_drawdown,
            "max_drawdown_pct": self.max_drawdown_pct,
            "average_pnl": self.average_pnl,
            "average_payout": self.average_payout,
            "sharpe": self.sharpe,
            "profit_factor": self.profit_factor,
            "refused": self.refused,
            "refusals": dict(self.refusals),
            "by_product": {k: dict(v) for k, v in self.by_product.items()},
        }

    def summary_line(self) -> str:
        """One line: counts, win rate, P&L, drawdown, Sharpe, refusals."""
        return (
            f"{self.trades} trades ({self.wins}W/{self.losses}L/{self.equals}E), "
            f"win rate {_pct(self.win_rate)}, P&L {self.pnl:+.2f} {self.currency}, "
            f"max drawdown {self.max_drawdown:.2f} ({self.max_drawdown_pct:.2f}%), "
            f"Sharpe/trade {_num(self.sharpe)}, profit factor {_num(self.profit_factor)}, "
            f"refused {self.refused}"
        )

    def render(self) -> Table:
        """A rich table of the statistics and the refusals."""
        table = Table(title="Run report", show_header=False, title_justify="left")
        table.add_column("metric", style="bold")
        table.add_column("value", justify="right")
        pnl_style = "green" if self.pnl > 0 else "red" if self.pnl < 0 else ""
        rows: list[tuple[str, str, str]] = [
            ("Trades", str(self.trades), ""),
            ("Wins / losses / equal", f"{self.wins} / {self.losses} / {self.equals}", ""),
            ("Win rate", _pct(self.win_rate), ""),
            ("P&L", f"{self.pnl:+,.2f} {self.currency}", pnl_style),
            ("Return", _pct(None if self.return_pct is None else self.return_pct / 100), pnl_style),
            ("Balance", f"{self.starting_balance:,.2f} → {self.final_balance:,.2f}", ""),
            ("Max drawdown", f"{self.max_drawdown:,.2f} ({self.max_drawdown_pct:.2f}%)", ""),
            ("Average payout", "—" if self.average_payout is None else f"{self.average_payout:.1f}%", ""),
            ("Sharpe per trade", _num(self.sharpe), ""),
            ("Profit factor", _num(self.profit_factor), ""),
            ("Refused", str(self.refused), ""),
        ]
        if self.other:
            rows.insert(2, ("Sold / unknown", str(self.other), ""))
        for name, value, style in rows:
            table.add_row(name, value, style=style or None)
        for reason, count in self.refusals.items():
            table.add_row(f"  {reason}", str(count), style="dim")
        if set(self.by_product) - {"blitz"}:
            for product, row in sorted(self.by_product.items()):
                table.add_row(
                    f"  {product}",
                    f"{row['trades']:g} trades ({row['wins']:g}W/{row['losses']:g}L/{row['equals']:g}E/"
                    f"{row['sold']:g}S), P&L {row['pnl']:+,.2f}",
                )
        return table

    def print(self, console: Console | None = None) -> None:
        """Print :meth:`render` to ``console`` (a new one on stdout by default)."""
        (console or Console()).print(self.render())

    def __repr__(self) -> str:
        return f"Report({self.summary_line()})"

    # -- exports -----------------------------------------------------------------------------------

    def to_csv(self, path: StrPath) -> Path:
        """Write the trades as CSV (columns :data:`TRADE_COLUMNS`, outcome as its value).

        Key rows by ``ref`` (``option:<id>`` / ``order:<id>``), not by ``id``: an option and a
        margin order may have the same server number.
        """
        target = Path(path)
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=TRADE_COLUMNS)
            writer.writeheader()
            for trade in self.records:
                writer.writerow(_row(trade))
        return target

    def to_parquet(self, path: StrPath) -> Path:
        """Write the trades as Parquet, the columns of :meth:`to_csv` (needs pyarrow: ``pip install iqwire[parquet]``)."""
        try:
            import pyarrow as pa  # type: ignore[import-untyped, import-not-found, unused-ignore]
            import pyarrow.parquet as pq  # type: ignore[import-untyped, import-not-found, unused-ignore]
        except ImportError as exc:
            raise ImportError(
                "Report.to_parquet needs pyarrow: pip install iqwire[parquet] (or pip install pyarrow)"
            ) from exc
        types = {
            "int": pa.int64(),
            "float": pa.float64(),
            "str": pa.string(),
            "bool": pa.bool_(),
            "Outcome": pa.string(),
        }
        rows = [_row(t) for t in self.records]
        arrays = []
        for field in dataclasses.fields(TradeRecord):
            annotation = str(field.type).replace(" | None", "").replace("None | ", "")
            values = [row[field.name] for row in rows]
            arrays.append(pa.array(values, type=types.get(annotation, pa.string() if not values else None)))
        arrays.append(pa.array([row["ref"] for row in rows], type=pa.string()))
        target = Path(path)
        pq.write_table(pa.Table.from_arrays(arrays, names=list(TRADE_COLUMNS)), str(target))
        return target

    def equity_png(self, path: StrPath, *, title: str | None = None) -> Path:
        """Draw the equity curve to a PNG (needs matplotlib: ``pip install iqwire[plot]``).

        Renders with the Agg canvas directly: pyplot is never imported, no window
        opens and the process's matplotlib backend is left alone.
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg  # type: ignore[import-not-found, unused-ignore]
            from matplotlib.figure import Figure  # type: ignore[import-not-found, unused-ignore]
        except ImportError as exc:
            raise ImportError(
                "Report.equity_png needs matplotlib: pip install iqwire[plot] (or pip install matplotlib)"
            ) from exc
        figure = Figure(figsize=(8, 4), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.plot(range(len(self.equity)), self.equity, color="tab:blue", linewidth=1.5)
        axes.axhline(self.starting_balance, color="grey", linewidth=0.8, linestyle="--")
        axes.set_xlabel("trade")
        axes.set_ylabel(f"equity ({self.currency})")
        default_title = (
            f"Equity: {self.trades} trades, win rate {_pct(self.win_rate)}, "
            f"P&L {self.pnl:+.2f} {self.currency}, max drawdown {self.max_drawdown_pct:.2f}%"
        )
        axes.set_title(title or default_title, fontsize=9)
        axes.grid(alpha=0.3)
        figure.tight_layout()
        target = Path(path)
        figure.savefig(str(target), format="png")
        return target


def _pct(ratio: float | None) -> str:
    return "—" if ratio is None else f"{100 * ratio:.1f}%"


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    if math.isinf(value):
        return "∞"
    return f"{value:.3f}"
