"""``iqwire candles download|info|export`` and ``iqwire record`` on an embedded simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from iqwire import cli
from iqwire.sim.config import DEMO_PASSWORD
from iqwire.store import CandleStore, load_recording


@pytest.fixture
def app() -> typer.Typer:
    """The ``iqwire`` application."""
    return cli.app


def run(app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


def test_download_info_export(app: typer.Typer, tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    result = run(
        app, "candles", "download", "EURUSD-OTC", "--size", "60", "--days", "0.5", "--db", str(db), "--sim"
    )
    assert result.exit_code == 0, result.output
    assert "EURUSD-OTC (76), 60s candles" in result.output
    assert "fetched" in result.output
    with CandleStore(db) as store:
        first = store.count(76, 60)
    assert first in (719, 720)  # half a day of complete candles, on the real clock

    again = run(app, "candles", "download", "76", "--days", "0.5", "--db", str(db), "--sim", "--json", "-q")
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert (
        report["slots"] in (719, 720) and report["skipped"] >= report["slots"] - 2 and report["missing"] == []
    )

    info = run(app, "candles", "info", "--db", str(db), "--json")
    assert info.exit_code == 0, info.output
    (line,) = [json.loads(text) for text in info.stdout.splitlines()]
    assert (line["active"], line["size"], line["missing_candles"]) == ("EURUSD-OTC", 60, 0)
    assert line["count"] >= first

    table = run(app, "candles", "info", "--db", str(db))
    assert "EURUSD-OTC (76)" in table.output and "market gaps" in table.output

    out = tmp_path / "out.csv"
    exported = run(
        app, "candles", "export", "--db", str(db), "--format", "csv", "--out", str(out), "--active", "76"
    )
    assert exported.exit_code == 0, exported.output
    assert out.read_text().splitlines()[0].startswith("active_id,size,id,start,end,open")


def test_download_classifies_the_simulators_closures(app: typer.Typer, tmp_path: Path) -> None:
    db = tmp_path / "eurusd.sqlite"
    result = run(
        app,
        "candles",
        "download",
        "eurusd",
        "--size",
        "300",
        "--start",
        "2026-02-05T18:00",
        "--end",
        "2026-02-09T23:00Z",
        "--db",
        str(db),
        "--sim",
        "--json",
        "-q",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["gap_rule"] == "is_open" and report["missing"] == []
    assert len(report["market_gaps"]) == 3


def test_parquet_export_reads_back(app: typer.Typer, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    db = tmp_path / "c.sqlite"
    assert (
        run(
            app, "candles", "download", "76", "--size", "300", "--days", "1", "--db", str(db), "--sim", "-q"
        ).exit_code
        == 0
    )
    out = tmp_path / "out.parquet"
    assert run(app, "candles", "export", "--db", str(db), "--out", str(out)).exit_code == 0
    with CandleStore(db) as store:
        expected = store.to_pandas()
    back = pd.read_parquet(out)
    back["at"] = back["at"].astype("Int64")
    assert back.equals(expected)


def test_usage_errors(app: typer.Typer, tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    assert run(app, "candles", "info", "--db", str(missing)).exit_code == 2
    assert run(app, "candles", "export", "--db", str(missing), "--out", "x", "--format", "xml").exit_code == 2
    db = tmp_path / "c.sqlite"
    CandleStore(db).close()
    assert run(app, "candles", "export", "--db", str(db), "--out", "x", "--active", "NOPE").exit_code == 2
    bad_time = run(app, "candles", "download", "76", "--start", "yesterday", "--db", str(db), "--sim")
    assert bad_time.exit_code == 2


def test_record_a_short_session(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "session.jsonl"
    result = run(app, "record", "--out", str(out), "--sim", "--seconds", "1.2", "--active", "EURUSD-OTC")
    assert result.exit_code == 0, result.output
    assert "recorded" in result.output
    frames = load_recording(out)
    names = {json.loads(f.frame).get("name") for f in frames}
    assert {"authenticate", "sendMessage", "subscribeMessage", "candle-generated"} <= names
    text = out.read_text()
    assert f'"{DEMO_PASSWORD}"' not in text.replace('\\"', '"')
