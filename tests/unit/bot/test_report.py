"""The run report: hand-computed statistics, rendering and exports."""

from __future__ import annotations

import csv
import dataclasses
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from iqwire.bot.records import RunState, TradeRecord
from iqwire.bot.report import TRADE_COLUMNS, Report, trade_ref
from iqwire.models import Outcome


def trade(i: int, outcome: Outcome, amount: float, payout: float, pnl: float) -> TradeRecord:
    return TradeRecord(
        id=i,
        active_id=76,
        direction="call" if i % 2 else "put",
        amount=amount,
        payout=payout,
        opened_at=1_770_000_000.0 + 60 * i,
        expires_at=1_770_000_030.0 + 60 * i,
        open_price=1.085,
        close_price=None if outcome is Outcome.EQUAL else 1.0851,
        outcome=outcome,
        pnl=pnl,
    )


# Equity: 100 → 108.5 → 98.5 → 78.5 → 78.5 → 96.5 (peak 108.5, trough 78.5).
FIVE = [
    trade(1, Outcome.WIN, 10, 85, 8.5),
    trade(2, Outcome.LOSS, 10, 85, -10.0),
    trade(3, Outcome.LOSS, 20, 80, -20.0),
    trade(4, Outcome.EQUAL, 10, 80, 0.0),
    trade(5, Outcome.WIN, 20, 90, 18.0),
]


@pytest.fixture
def report() -> Report:
    return Report(FIVE, starting_balance=100.0, refusals={"max_stake": 2, "cooldown": 1})


def test_hand_computed_statistics(report: Report) -> None:
    assert (report.trades, report.wins, report.losses, report.equals, report.other) == (5, 2, 2, 1, 0)
    assert report.win_rate == 0.5  # the refund is not a decided trade
    assert report.pnl == -3.5
    assert report.final_balance == 96.5
    assert report.equity == [100.0, 108.5, 98.5, 78.5, 78.5, 96.5]
    assert report.max_drawdown == 30.0
    assert report.max_drawdown_pct == pytest.approx(100 * 30 / 108.5, rel=1e-12)
    assert report.average_payout == 84.0
    assert report.average_pnl == pytest.approx(-0.7, rel=1e-12)
    assert (report.gross_profit, report.gross_loss) == (26.5, 30.0)
    assert report.profit_factor == pytest.approx(26.5 / 30, rel=1e-12)
    # mean -0.7; squared deviations 84.64 + 86.49 + 372.49 + 0.49 + 349.69 = 893.8; / 5 = 178.76
    assert report.sharpe == pytest.approx(-0.7 / math.sqrt(178.76), rel=1e-12)
    assert report.return_pct == pytest.approx(-3.5, rel=1e-12)
    assert report.refused == 3 and list(report.refusals) == ["cooldown", "max_stake"]
    stats = report.as_dict()
    assert stats["max_drawdown"] == 30.0 and stats["refusals"] == {"cooldown": 1, "max_stake": 2}


def test_drawdown_percent_is_the_deepest_relative_fall() -> None:
    # 100 → 50 (-50 %, 50) → 1050 → 980 (-70, but only -6.67 %)
    trades = [
        trade(i, o, 10, 80, p)
        for i, (o, p) in enumerate([(Outcome.LOSS, -50.0), (Outcome.WIN, 1000.0), (Outcome.LOSS, -70.0)])
    ]
    report = Report(trades, 100.0)
    assert report.max_drawdown == 70.0
    assert report.max_drawdown_pct == 50.0


def test_edge_cases() -> None:
    empty = Report([], 1000.0)
    assert empty.trades == 0 and empty.win_rate is None and empty.sharpe is None
    assert empty.profit_factor is None and empty.average_payout is None and empty.average_pnl is None
    assert empty.max_drawdown == 0.0 and empty.max_drawdown_pct == 0.0 and empty.equity == [1000.0]
    only_wins = Report([trade(1, Outcome.WIN, 10, 80, 8.0), trade(2, Outcome.WIN, 10, 80, 8.0)], 0.0)
    assert only_wins.profit_factor == math.inf and only_wins.sharpe is None  # no spread
    assert only_wins.return_pct is None  # no starting balance to compare with
    single = Report([trade(1, Outcome.SOLD, 10, 80, -2.0)], 50.0)
    assert single.sharpe is None and single.other == 1 and single.win_rate is None
    assert single.profit_factor == 0.0


def test_from_state() -> None:
    state = RunState(currency="EUR")
    state.closed.extend(FIVE)
    state.refusals["min_payout"] = 4
    report = Report.from_state(state, 100.0)
    assert report.currency == "EUR" and report.refused == 4 and report.pnl == state.pnl


def test_summary_line_and_render(report: Report) -> None:
    assert report.summary_line() == (
        "5 trades (2W/2L/1E), win rate 50.0%, P&L -3.50 USD, max drawdown 30.00 (27.65%), "
        "Sharpe/trade -0.052, profit factor 0.883, refused 3"
    )
    console = Console(record=True, width=100, force_terminal=True)
    report.print(console)
    text = console.export_text()
    for piece in (
        "Run report",
        "Win rate",
        "50.0%",
        "-3.50 USD",
        "30.00 (27.65%)",
        "84.0%",
        "max_stake",
        "100.00 → 96.50",
    ):
        assert piece in text
    assert "Report(5 trades" in repr(report)


def test_to_csv_round_trip(report: Report, tmp_path: Path) -> None:
    path = report.to_csv(tmp_path / "trades.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == TRADE_COLUMNS
    assert [r["outcome"] for r in rows] == ["win", "loss", "loss", "equal", "win"]
    assert [float(r["pnl"]) for r in rows] == [t.pnl for t in FIVE]
    assert rows[3]["close_price"] == "" and rows[0]["close_price"] == "1.0851"
    assert Outcome(rows[1]["outcome"]) is Outcome.LOSS


def test_to_parquet_round_trip(report: Report, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(report.to_parquet(tmp_path / "trades.parquet"))
    assert tuple(table.column_names) == TRADE_COLUMNS
    assert table.column("outcome").to_pylist() == ["win", "loss", "loss", "equal", "win"]
    assert table.column("close_price").to_pylist()[3] is None
    assert table.column("pnl").to_pylist() == [t.pnl for t in FIVE]
    types = {field.name: str(field.type) for field in table.schema}
    assert types["id"] == "int64" and types["amount"] == "double" and types["close_price"] == "double"
    assert types["outcome"] == "string" and types["direction"] == "string"
    empty = pq.read_table(Report([], 0.0).to_parquet(tmp_path / "empty.parquet"))
    assert empty.num_rows == 0 and str(empty.schema.field("pnl").type) == "double"


def test_optional_dependencies_missing(
    report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "pyarrow",
        "pyarrow.parquet",
        "matplotlib",
        "matplotlib.figure",
        "matplotlib.backends.backend_agg",
    ):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install iqwire\[parquet\]"):
        report.to_parquet(tmp_path / "x.parquet")
    with pytest.raises(ImportError, match=r"pip install iqwire\[plot\]"):
        report.equity_png(tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


def test_equity_png(report: Report, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = report.equity_png(tmp_path / "equity.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_average_payout_is_over_the_options_only() -> None:
    # A margin position has no payout: its record's 0 must not pull the options' average down.
    option = trade(1, Outcome.WIN, 10, 88, 8.8)
    margin = dataclasses.replace(trade(2, Outcome.LOSS, 100, 0, -4.0), product="marginal-forex")
    mixed = Report([option, margin], 1000.0)
    assert mixed.trades == 2 and mixed.pnl == pytest.approx(4.8)
    assert mixed.average_payout == 88.0
    assert Report([margin], 1000.0).average_payout is None


def test_rows_are_keyed_by_ref_not_by_the_server_number(tmp_path: Path) -> None:
    # An option and a margin order with the same server number: ``id`` collides, ``ref`` does not.
    option = trade(42, Outcome.WIN, 10, 85, 8.5)
    order = dataclasses.replace(option, product="marginal-forex", payout=0.0, pnl=-3.0, outcome=Outcome.LOSS)
    report = Report([option, order], starting_balance=100.0)
    assert TRADE_COLUMNS[-1] == "ref" and TRADE_COLUMNS[:-1] == tuple(
        f.name for f in dataclasses.fields(TradeRecord)
    )  # the earlier columns keep their names and places
    assert [trade_ref(t) for t in (option, order)] == ["option:42", "order:42"]
    with report.to_csv(tmp_path / "trades.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["id"], r["product"], r["ref"]) for r in rows] == [
        ("42", "blitz", "option:42"),
        ("42", "marginal-forex", "order:42"),
    ]
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(report.to_parquet(tmp_path / "trades.parquet"))
    assert table.column("ref").to_pylist() == ["option:42", "order:42"]


# -- the one-pass statistics against the per-statistic passes they replaced ----------------------

_COLUMN = {Outcome.WIN: "wins", Outcome.LOSS: "losses", Outcome.EQUAL: "equals", Outcome.SOLD: "sold"}


def _per_statistic(records: list[TradeRecord]) -> dict[str, Any]:
    """Counts, by-product rows and the average payout, one pass per statistic (the old code)."""
    by_product: dict[str, dict[str, float]] = {}
    for t in records:
        row = by_product.get(t.product)
        if row is None:
            row = by_product[t.product] = {
                "trades": 0,
                "wins": 0,
                "losses": 0,
                "equals": 0,
                "sold": 0,
                "pnl": 0.0,
            }
        row["trades"] += 1
        column = _COLUMN.get(t.outcome)
        if column is not None:
            row[column] += 1
        row["pnl"] = round(row["pnl"] + t.pnl, 2)
    payouts = [t.payout for t in records if not t.product.startswith("marginal")]
    return {
        "wins": sum(1 for t in records if t.outcome is Outcome.WIN),
        "losses": sum(1 for t in records if t.outcome is Outcome.LOSS),
        "equals": sum(1 for t in records if t.outcome is Outcome.EQUAL),
        "by_product": by_product,
        "average_payout": math.fsum(payouts) / len(payouts) if payouts else None,
    }


_records = st.lists(
    st.builds(
        TradeRecord,
        id=st.integers(1, 10**6),
        active_id=st.just(76),
        direction=st.sampled_from(["call", "put"]),
        amount=st.floats(0.01, 1000),
        payout=st.floats(0, 100),
        opened_at=st.just(0.0),
        expires_at=st.just(1.0),
        open_price=st.just(1.0),
        close_price=st.just(1.0),
        outcome=st.sampled_from(list(Outcome)),
        pnl=st.floats(-1000, 1000).map(lambda p: round(p, 3)),
        product=st.sampled_from(["blitz", "turbo", "binary", "digital", "marginal-forex"]),
    ),
    max_size=60,
)


@given(records=_records)
def test_one_pass_statistics_match_the_per_statistic_passes(records: list[TradeRecord]) -> None:
    report = Report(records, 1000.0)
    expected = _per_statistic(records)
    assert (report.wins, report.losses, report.equals) == (
        expected["wins"],
        expected["losses"],
        expected["equals"],
    )
    assert report.by_product == expected["by_product"]
    assert list(report.by_product) == list(expected["by_product"])  # first-seen order
    for product, row in report.by_product.items():
        assert list(row) == list(expected["by_product"][product])
        assert all(type(row[k]) is int for k in ("trades", "wins", "losses", "equals", "sold"))
    assert report.average_payout == expected["average_payout"]
