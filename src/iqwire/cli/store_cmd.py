"""``iqwire candles download|info|export`` (the candle store) and ``iqwire record`` (a frame recording).

Registration, in :mod:`iqwire.cli.main`::

    store_cmd.register(app, candles_cmd.app)

which is ``candles_cmd.app.add_typer(store_cmd.candles_store_app)`` (the three
commands join the ``candles`` group) plus ``app.command("record")(store_cmd.record)``.

Example::

    $ iqwire candles download EURUSD --size 60 --days 30 --db candles.sqlite --sim
    $ iqwire candles info --db candles.sqlite
    $ iqwire candles export --db candles.sqlite --format parquet --out eurusd.parquet --active EURUSD
    $ iqwire record --out session.jsonl --sim --seconds 5
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

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

from iqwire import actives
from iqwire.cli.common import (
    EXIT_USAGE,
    EmailOpt,
    LoginUrlOpt,
    PasswordOpt,
    SimOpt,
    WsUrlOpt,
    cli_errors,
    fail,
    stderr_console,
    stdout_console,
)
from iqwire.client import Client
from iqwire.errors import IqwireError, UnknownAsset
from iqwire.sim import Simulator, SystemClock
from iqwire.sim.actives import find_active, is_open
from iqwire.store.candles import CandleStore, SeriesInfo
from iqwire.store.dataset import export_dataset
from iqwire.store.download import DownloadReport, download

__all__ = ["candles_store_app", "download_cmd", "export_cmd", "info_cmd", "record", "register"]

candles_store_app = typer.Typer(help="The candle store: download, inspect, export.", no_args_is_help=True)

DbOpt = Annotated[Path, typer.Option("--db", help="The SQLite candle store (created if absent).")]


def register(app: typer.Typer, candles_app: typer.Typer) -> None:
    """Add ``download``/``info``/``export`` to the ``candles`` group and ``record`` to ``app``."""
    candles_app.add_typer(candles_store_app)
    app.command("record")(record)


# -- helpers ----------------------------------------------------------------------------------


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


def _active_id(text: str) -> int | None:
    spec = find_active(text)
    if spec is not None:
        return spec.id
    wanted = text.strip()
    return int(wanted) if wanted.isdigit() else None


def _active_name(active_id: int) -> str:
    spec = find_active(active_id)
    return spec.name if spec is not None else str(active_id)


async def _server_active_id(client: Client, text: str) -> int:
    """The server's active of this name or id (an id it does not list is used as given)."""
    try:
        return actives.resolve(text, await client.get_initialization_data(refresh=False)).id
    except UnknownAsset:
        if text.strip().isdigit():
            return int(text)
        fail(f"unknown asset {text!r}: try a name like EURUSD-OTC or an id like 76", EXIT_USAGE)


@contextlib.asynccontextmanager
async def _connect(
    sim: bool,
    ws_url: str | None,
    login_url: str | None,
    email: str | None,
    password: str | None,
    *,
    record_to: Path | None = None,
) -> AsyncIterator[tuple[Client, Simulator | None]]:
    async with contextlib.AsyncExitStack() as stack:
        simulator: Simulator | None = None
        if sim:
            simulator = await stack.enter_async_context(Simulator(clock=SystemClock()))
            client = Client(
                email if email is not None else simulator.credentials.email,
                password if password is not None else simulator.credentials.password,
                ws_url=simulator.ws_url,
                login_url=simulator.login_url,
                record_to=record_to,
            )
        else:
            client = Client(email, password, ws_url=ws_url, login_url=login_url, record_to=record_to)
        await stack.enter_async_context(client)
        yield client, simulator


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


@candles_store_app.command("download")
def download_cmd(
    active: Annotated[str, typer.Argument(help="Asset name (EURUSD, EURUSD-OTC, case-insensitive) or id.")],
    db: DbOpt = Path("candles.sqlite"),
    size: Annotated[int, typer.Option(min=1, help="Candle size in seconds.")] = 60,
    days: Annotated[float, typer.Option(min=0, help="How many days back from --end (or now).")] = 30,
    start: Annotated[
        str | None, typer.Option(help="Start (unix seconds or ISO 8601, UTC); overrides --days.")
    ] = None,
    end: Annotated[str | None, typer.Option(help="End, excluded (default: now).")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Requests in flight.")] = 4,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Download candle history into the store: resumable, parallel, gap-aware."""

    async def run() -> tuple[str, DownloadReport]:
        async with _connect(sim, ws_url, login_url, email, password) as (client, simulator):
            active_id = await _server_active_id(client, active)
            now = int(client.server_time())
            stop = _parse_time(end) if end is not None else now
            begin = _parse_time(start) if start is not None else stop - int(days * 86_400)
            spec = find_active(active_id) if simulator is not None else None
            predicate: Callable[[int], bool] | None = None
            if spec is not None:
                found = spec

                def predicate(t: int) -> bool:
                    return is_open(found, t)

            name = _active_name(active_id)
            with CandleStore(db) as store, contextlib.ExitStack() as stack:
                callback = None
                if not quiet:
                    bar = stack.enter_context(_progress())
                    task = bar.add_task(f"{name}/{size}s", total=None)

                    def callback(done: int, total: int) -> None:
                        bar.update(task, completed=done, total=total)

                report = await download(
                    store,
                    client,
                    active_id,
                    size,
                    begin,
                    stop,
                    concurrency=concurrency,
                    progress=callback,
                    is_open=predicate,
                )
            return name, report

    with cli_errors():
        name, report = asyncio.run(run())
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


# -- info ----------------------------------------------------------------------------------------


def _info_record(series: SeriesInfo) -> dict[str, Any]:
    return {
        "active_id": series.active_id,
        "active": _active_name(series.active_id),
        "size": series.size,
        "first": series.first,
        "last": series.last,
        "count": series.count,
        "market_gaps": [[g.start, g.end] for g in series.market_gaps],
        "missing": [[g.start, g.end] for g in series.missing_gaps],
        "market_candles": series.market_candles,
        "missing_candles": series.missing_candles,
    }


@candles_store_app.command("info")
def info_cmd(
    db: DbOpt = Path("candles.sqlite"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines, one per series.")] = False,
) -> None:
    """Per active and size: stored range, count, and gaps split into market gaps and missing data."""
    if not db.exists():
        fail(f"no candle store at {db}", EXIT_USAGE)
    with CandleStore(db) as store:
        infos = store.info()
    if as_json:
        for series in infos:
            sys.stdout.write(json.dumps(_info_record(series)) + "\n")
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
            f"{_active_name(series.active_id)} ({series.active_id})",
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


@candles_store_app.command("export")
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
    active_id = None
    if active is not None:
        active_id = _active_id(active)
        if active_id is None:
            fail(f"unknown asset {active!r}: use a built-in name like EURUSD-OTC or an id", EXIT_USAGE)
    with CandleStore(db) as store:
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


# -- record -------------------------------------------------------------------------------------


def record(
    out: Annotated[Path, typer.Option("--out", help="The JSONL file to write.")] = Path("session.jsonl"),
    seconds: Annotated[float, typer.Option(min=0, help="How long to record the candle stream.")] = 5.0,
    active: Annotated[str, typer.Option(help="The asset whose candles are streamed.")] = "EURUSD-OTC",
    size: Annotated[int, typer.Option(min=1, help="Candle size of the stream.")] = 1,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Record a short session (profile, balances, a candle stream) as JSON lines, secrets redacted."""

    async def run() -> tuple[int, int]:
        candles = 0
        async with _connect(sim, ws_url, login_url, email, password, record_to=out) as (client, _):
            active_id = await _server_active_id(client, active)
            await client.get_profile()
            await client.get_balances()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            async with client.candles(active_id, size) as stream:
                while (left := deadline - loop.time()) > 0:
                    try:
                        await asyncio.wait_for(stream.get(), left)
                    except TimeoutError:
                        break
                    candles += 1
            recorder = client.recorder
            frames = recorder.frames if recorder is not None else 0
        return frames, candles

    with cli_errors():
        try:
            frames, candles = asyncio.run(run())
        except OSError as exc:
            raise IqwireError(f"cannot write {out}: {exc.strerror}") from exc
    stdout_console().print(f"recorded {frames} frames ({candles} candle updates) to {escape(str(out))}")
