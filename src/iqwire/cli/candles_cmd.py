"""``iqwire candles``: candles from the server (``show``) and the candle store (``download``, ``info``, ``export``).

Example::

    $ iqwire candles show EURUSD-OTC --size 60 --count 20 --sim
    $ iqwire candles download EURUSD-OTC --size 5 --days 2 --db candles.sqlite --sim
    $ iqwire candles info --db candles.sqlite
    $ iqwire candles export --db candles.sqlite --format parquet --out eurusd.parquet --active EURUSD-OTC
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from iqwire.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    ConnectionOptions,
    EmailOpt,
    LoginUrlOpt,
    PasswordOpt,
    ResolvedActive,
    SimOpt,
    WsUrlOpt,
    cli_errors,
    fail,
    resolve_active,
    resolve_in,
    stderr_console,
    stdout_console,
)
from iqwire.cli.connect import connect, open_client
from iqwire.models import Candle
from iqwire.sim.actives import find_active, is_open
from iqwire.store.candles import CandleStore, SeriesInfo
from iqwire.store.dataset import export_dataset
from iqwire.store.download import DownloadReport, download

__all__ = ["CANDLE_FIELDS", "app", "candle_record", "download_cmd", "export_cmd", "info_cmd", "show"]

app = typer.Typer(
    name="candles",
    help="Candles: from the server (show) and in the candle store (download, info, export).",
    no_args_is_help=True,
)

DbOpt = Annotated[Path, typer.Option("--db", help="The SQLite candle store (it must exist).")]

#: The columns of ``--json`` objects and ``--csv`` rows, in order.
CANDLE_FIELDS = ("id", "time", "start", "end", "open", "high", "low", "close", "volume")


def candle_record(candle: Candle) -> dict[str, Any]:
    """A candle as a flat dict with Python names and an ISO-8601 UTC ``time``."""
    return {
        "id": candle.id,
        "time": candle.datetime.isoformat().replace("+00:00", "Z"),
        "start": candle.start,
        "end": candle.end,
        "open": candle.open,
        "high": candle.high,
        "low": candle.low,
        "close": candle.close,
        "volume": candle.volume,
    }


def _table(title: str, candles: list[Candle]) -> Table:
    table = Table(title=title)
    table.add_column("time (UTC)")
    for name in ("open", "high", "low", "close", "volume"):
        table.add_column(name, justify="right")
    for candle in candles:
        table.add_row(
            candle.datetime.strftime("%Y-%m-%d %H:%M:%S"),
            str(candle.open),
            str(candle.high),
            str(candle.low),
            str(candle.close),
            "" if candle.volume is None else f"{candle.volume:g}",
        )
    return table


@app.command("show")
def show(
    active: Annotated[str, typer.Argument(help="Asset name (EURUSD-OTC, case-insensitive) or id (76).")],
    size: Annotated[int, typer.Option(min=1, help="Candle size in seconds.")] = 60,
    count: Annotated[int, typer.Option(min=1, help="How many candles, ending now.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array to stdout.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV with a header row to stdout.")] = False,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Show the last COUNT candles of SIZE seconds of an asset."""
    if as_json and as_csv:
        fail("choose one of --json and --csv", EXIT_USAGE)
    options = ConnectionOptions(sim, ws_url, login_url, email, password)
    with cli_errors(), open_client(options) as client:
        resolved = resolve_active(active, client)
        candles = client.get_candles(resolved.id, size, count=count)
    if as_json:
        json.dump([candle_record(c) for c in candles], sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=CANDLE_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(candle_record(c) for c in candles)
    else:
        title = f"{resolved.name} ({resolved.id}), {size}s candles"
        stdout_console().print(_table(title, candles))


# -- the candle store ---------------------------------------------------------------------------


def _utc(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _parse_time(text: str) -> int:
    """Unix seconds from ``1770000000`` or an ISO date/time (UTC unless it says otherwise)."""
    if text.strip().lstrip("-").isdigit():
        return int(text)
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"not a time: {text!r} (use unix seconds or ISO 8601 like 2026-02-01T00:00)", EXIT_USAGE)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp())


def _stored_name(store: CandleStore, active_id: int) -> str:
    known = store.actives().get(active_id)
    return known.name if known is not None else str(active_id)


def _store_active_id(store: CandleStore, text: str) -> int:
    """An active of the store by the name its download recorded, or by id; else a usage error."""
    wanted = text.strip().lower().removeprefix("front.")
    if wanted.isdigit():
        return int(wanted)
    for active in store.actives().values():
        if active.name.lower() == wanted:
            return active.id
    fail(f"unknown asset {text!r}: the store has no candles of it; name one it has, or an id", EXIT_USAGE)


class _RateColumn(ProgressColumn):
    """Candles per second."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed
        if not elapsed or not task.completed:
            return Text("-- candles/s", style="cyan")
        return Text(f"{task.completed / elapsed:,.0f} candles/s", style="cyan")


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=stderr_console(),
        transient=False,
    )


def _gap_summary(gaps: Any) -> str:
    gaps = list(gaps)
    if not gaps:
        return "none"
    return f"{len(gaps)} ({sum(g.candles for g in gaps):,} candles)"


def _report_table(name: str, report: DownloadReport) -> Table:
    table = Table(title=f"{name} ({report.active_id}), {report.size}s candles", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = [
        ("range (UTC)", f"{_utc(report.start)} .. {_utc(report.end)} (end excluded)"),
        ("candle slots", f"{report.slots:,}"),
        ("already stored", f"{report.skipped:,}"),
        ("fetched", f"{report.fetched:,} in {report.pages} requests ({report.paging} ranges)"),
        ("written", f"{report.written:,}"),
        ("re-fetched", f"{report.refetched:,}"),
        ("market gaps", _gap_summary(report.market_gaps)),
        ("missing", _gap_summary(report.missing)),
        ("gap rule", report.gap_rule),
        ("time", f"{report.elapsed:.2f}s ({report.candles_per_second:,.0f} candles/s)"),
    ]
    for field, value in rows:
        table.add_row(field, value)
    return table


# -- download -----------------------------------------------------------------------------------


@dataclass
class _Saving:
    """What an interrupted download reports: which series, which range, which file."""

    db: Path
    active: ResolvedActive | None = None
    size: int = 0
    start: int = 0
    end: int = 0


@app.command("download")
def download_cmd(
    active: Annotated[str, typer.Argument(help="Asset name (EURUSD-OTC, case-insensitive) or id (76).")],
    db: Annotated[Path, typer.Option("--db", help="The SQLite candle store (created if absent).")] = Path(
        "candles.sqlite"
    ),
    size: Annotated[int, typer.Option(min=1, help="Candle size in seconds.")] = 60,
    days: Annotated[
        float, typer.Option(help="How many days back from --end (or now); more than 0.", show_default=True)
    ] = 30,
    start: Annotated[
        str | None,
        typer.Option(help="Start (unix seconds or ISO 8601, UTC); overrides --days.", show_default=False),
    ] = None,
    end: Annotated[str | None, typer.Option(help="End, excluded (default: now).", show_default=False)] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Requests in flight.")] = 4,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Download candle history into the store: resumable, parallel, gap-aware.

    Ctrl-C stops it: what was fetched is saved, and the same command resumes.
    """
    if not days > 0:
        fail(f"--days must be more than 0, got {days:g}", EXIT_USAGE)
    options = ConnectionOptions(sim, ws_url, login_url, email, password)
    saving = _Saving(db)

    async def run() -> tuple[str, DownloadReport]:
        async with connect(options) as connected:
            client = connected.client
            resolved = resolve_in(active, await client.get_initialization_data(refresh=False))
            now = int(client.server_time())
            stop = _parse_time(end) if end is not None else now
            begin = _parse_time(start) if start is not None else stop - int(days * 86_400)
            if begin >= stop:
                fail(f"the range is empty: {_utc(begin)} is not before {_utc(stop)}", EXIT_USAGE)
            spec = find_active(resolved.id) if sim else None  # the simulator's closures, exactly
            predicate: Callable[[int], bool] | None = None
            if spec is not None:
                found = spec

                def predicate(t: int) -> bool:
                    return is_open(found, t)

            saving.active, saving.size, saving.start, saving.end = resolved, size, begin, stop
            with CandleStore(db) as store, contextlib.ExitStack() as stack:
                callback = None
                if not quiet:
                    bar = stack.enter_context(_progress())
                    task = bar.add_task(f"{resolved.name}/{size}s", total=None)

                    def callback(done: int, total: int) -> None:
                        bar.update(task, completed=done, total=total)

                report = await download(
                    store,
                    client,
                    resolved.id,
                    size,
                    begin,
                    stop,
                    concurrency=concurrency,
                    progress=callback,
                    is_open=predicate,
                )
            return resolved.name, report

    with cli_errors():
        try:
            name, report = asyncio.run(run())
        except KeyboardInterrupt:
            _interrupted(saving)
    if as_json:
        data = {
            "active_id": report.active_id,
            "size": report.size,
            "start": report.start,
            "end": report.end,
            "slots": report.slots,
            "skipped": report.skipped,
            "fetched": report.fetched,
            "written": report.written,
            "refetched": report.refetched,
            "pages": report.pages,
            "market_gaps": [[g.start, g.end] for g in report.market_gaps],
            "missing": [[g.start, g.end] for g in report.missing],
            "gap_rule": report.gap_rule,
            "seconds": round(report.elapsed, 3),
        }
        sys.stdout.write(json.dumps(data) + "\n")
    else:
        stdout_console().print(_report_table(name, report))
    if report.missing:
        stderr_console().print(
            f"[yellow]{report.missing_candles:,} expected candles are still missing; "
            "run the same command again to retry them[/]"
        )


def _interrupted(saving: _Saving) -> NoReturn:
    """Ctrl-C: say what is saved and that a rerun resumes, then exit 130."""
    console = stderr_console()
    if saving.active is None or not saving.db.is_file():
        console.print("interrupted before any candle was fetched", soft_wrap=True)
    else:
        with CandleStore(saving.db) as store:
            stored = store.count(saving.active.id, saving.size, saving.start, saving.end)
        slots = max(1, (saving.end - saving.start) // saving.size)
        console.print(
            escape(
                f"interrupted: {stored:,} of {slots:,} {saving.active.name}/{saving.size}s candles of "
                f"{_utc(saving.start)} .. {_utc(saving.end)} are saved in {saving.db}; "
                "run the same command again to resume"
            ),
            soft_wrap=True,
        )
    raise typer.Exit(EXIT_INTERRUPTED)


# -- info ----------------------------------------------------------------------------------------


def _info_record(series: SeriesInfo, name: str) -> dict[str, Any]:
    return {
        "active_id": series.active_id,
        "active": name,
        "size": series.size,
        "first": series.first,
        "last": series.last,
        "count": series.count,
        "market_gaps": [[g.start, g.end] for g in series.market_gaps],
        "missing": [[g.start, g.end] for g in series.missing_gaps],
        "market_candles": series.market_candles,
        "missing_candles": series.missing_candles,
    }


@app.command("info")
def info_cmd(
    db: DbOpt = Path("candles.sqlite"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines, one per series.")] = False,
) -> None:
    """Per active and size: stored range, count, and gaps split into market gaps and missing data."""
    if not db.exists():
        fail(f"no candle store at {db}", EXIT_USAGE)
    with CandleStore(db) as store:
        infos = store.info()
        names = {series.active_id: _stored_name(store, series.active_id) for series in infos}
    if as_json:
        for series in infos:
            sys.stdout.write(json.dumps(_info_record(series, names[series.active_id])) + "\n")
        return
    table = Table(title=f"Candle store {escape(str(db))}")
    for column, justify in (
        ("active", "left"),
        ("size", "right"),
        ("first (UTC)", "left"),
        ("last (UTC)", "left"),
        ("candles", "right"),
        ("market gaps", "right"),
        ("missing", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for series in infos:
        table.add_row(
            f"{names[series.active_id]} ({series.active_id})",
            f"{series.size}s",
            _utc(series.first),
            _utc(series.last),
            f"{series.count:,}",
            _gap_summary(series.market_gaps),
            _gap_summary(series.missing_gaps),
        )
    stdout_console().print(table)
    if not infos:
        stderr_console().print("the store is empty")


# -- export -------------------------------------------------------------------------------------


@app.command("export")
def export_cmd(
    out: Annotated[Path | None, typer.Option("--out", help="The file to write.", show_default=False)] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Write a Parquet dataset partitioned by active/size/day to this directory or URL "
            "(s3://…: pip install 'iqwire[fsspec]').",
            show_default=False,
        ),
    ] = None,
    db: DbOpt = Path("candles.sqlite"),
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    active: Annotated[str | None, typer.Option(help="Only this asset (name or id).")] = None,
    size: Annotated[int | None, typer.Option(min=1, help="Only this candle size.")] = None,
) -> None:
    """Export stored candles to one Parquet (needs pyarrow) or CSV file, or to a Parquet dataset."""
    if fmt not in ("parquet", "csv"):
        fail(f"--format must be parquet or csv, not {fmt!r}", EXIT_USAGE)
    if (out is None) == (dataset is None):
        fail("give one of --out FILE and --dataset DIR", EXIT_USAGE)
    if dataset is not None and fmt != "parquet":
        fail("--dataset writes Parquet: use --format parquet (or --out for CSV)", EXIT_USAGE)
    if not db.exists():
        fail(f"no candle store at {db}", EXIT_USAGE)
    with CandleStore(db) as store:
        active_id = None if active is None else _store_active_id(store, active)
        try:
            if dataset is not None:
                rows = export_dataset(store, dataset, active_id=active_id, size=size)
            else:
                assert out is not None
                rows = store.export(out, fmt, active_id=active_id, size=size)  # type: ignore[arg-type]
        except ImportError as exc:
            fail(str(exc), EXIT_USAGE)
        except OSError as exc:
            fail(f"cannot write {dataset or out}: {exc}")
    target = f"the dataset {dataset}" if dataset is not None else str(out)
    stdout_console().print(f"wrote {rows:,} candles to {escape(target)}", soft_wrap=True)
