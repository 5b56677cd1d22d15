"""Candles that travel: a Parquet dataset partitioned by active, size and day, local or remote.

A worker on another machine cannot open the user's SQLite file, but it can read a
directory of Parquet files on shared storage. :func:`export_dataset` writes one from
a :class:`~iqwire.store.candles.CandleStore` in the hive layout every columnar tool
reads::

    ROOT/active_id=76/size=5/day=2026-02-10/part-0.parquet

Each file holds one UTC day of one series with the columns ``id, start, end, open,
high, low, close, volume, ask, bid, at`` (the partition keys live in the path).
Exporting a series again replaces exactly the days it writes. What the store knows
of its actives (names, payouts: :meth:`CandleStore.actives`) goes to
``ROOT/_actives.json``, which dataset readers skip (a leading ``_``).

:class:`CandleDataset` reads it back with the store's reading methods (``read``,
``count``, ``series``, ``ranges``), pruning partitions by active, size and day, and
:func:`open_candles` opens whichever a location names: a store file, a dataset
directory, or an fsspec URL (``file://``, ``s3://``, ``gs://``, … with the
``fsspec`` extra and the file system's package).

Example::

    with CandleStore("candles.sqlite") as store:
        export_dataset(store, "s3://bucket/candles")        # or a local directory
    with open_candles("s3://bucket/candles") as candles:
        series = candles.read(76, 5, start, end)

    # elsewhere: pyarrow.dataset.dataset(ROOT, partitioning="hive"), pandas.read_parquet(ROOT),
    # polars.scan_parquet(f"{ROOT}/**/*.parquet", hive_partitioning=True),
    # duckdb: SELECT * FROM read_parquet('ROOT/**/*.parquet', hive_partitioning = true)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from iqwire.models import Candle
from iqwire.store.candles import CandleStore, SeriesRange, StoredActive
from iqwire.store.sql import candles_from_rows

if TYPE_CHECKING:
    import pyarrow  # type: ignore[import-untyped,import-not-found,unused-ignore]

__all__ = [
    "ACTIVES_FILE",
    "PARTITION_KEYS",
    "CandleDataset",
    "CandleReader",
    "export_dataset",
    "is_url",
    "open_candles",
]

#: The actives' names and payouts, beside the partitions (readers skip names starting with ``_``).
ACTIVES_FILE = "_actives.json"
#: The hive partition keys, outermost first.
PARTITION_KEYS = ("active_id", "size", "day")
_DAY = 86_400
#: The columns inside each file (the partition keys are in its path).
_FILE_COLUMNS = ("id", "start", "end", "open", "high", "low", "close", "volume", "ask", "bid", "at")


class CandleReader(Protocol):
    """What a backtest reads candles from: a :class:`CandleStore` or a :class:`CandleDataset`."""

    @property
    def path(self) -> str:
        """Where the candles are (for messages)."""
        ...

    def read(
        self, active_id: int, size: int, start: int | None = None, end: int | None = None
    ) -> list[Candle]: ...

    def count(
        self,
        active_id: int | None = None,
        size: int | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> int: ...

    def series(self) -> list[tuple[int, int]]: ...

    def ranges(self) -> list[SeriesRange]: ...

    def actives(self) -> dict[int, StoredActive]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def is_url(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a URL (``scheme://…``) rather than a local path."""
    return "://" in str(location)


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]
        import pyarrow.dataset as ds  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise ImportError(
            "Parquet datasets need pyarrow, which is not installed: pip install 'iqwire[parquet]'"
        ) from None
    return pa, ds


def _filesystem(location: str | os.PathLike[str]) -> tuple[Any, str]:
    """``(filesystem, path)``: fsspec's for a URL, ``None`` (pyarrow's local one) for a path."""
    if not is_url(location):
        return None, str(Path(location).resolve())
    try:
        import fsspec  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise ImportError(
            f"reading {location} needs fsspec, which is not installed: pip install 'iqwire[fsspec]'"
        ) from None
    try:
        fs, path = fsspec.core.url_to_fs(str(location))
    except (ImportError, ValueError) as exc:  # e.g. s3:// without s3fs
        raise ImportError(f"cannot open {location}: {exc}") from exc
    return fs, str(path)


def _open_file(fs: Any, path: str, mode: str) -> Any:
    if fs is None:
        return Path(path).open(mode + "b")
    return fs.open(path, mode + "b")


def _read_actives(fs: Any, root: str) -> dict[int, StoredActive]:
    try:
        with _open_file(fs, f"{root}/{ACTIVES_FILE}", "r") as handle:
            rows = json.loads(handle.read())
    except FileNotFoundError:
        return {}
    return {
        int(row["id"]): StoredActive(int(row["id"]), str(row["name"]), row["payout"], row["precision"])
        for row in rows
    }


def _write_actives(fs: Any, root: str, actives: dict[int, StoredActive]) -> None:
    merged = {**_read_actives(fs, root), **actives}
    rows = [
        {"id": a.id, "name": a.name, "payout": a.payout, "precision": a.precision}
        for _, a in sorted(merged.items())
    ]
    if fs is None:
        Path(root).mkdir(parents=True, exist_ok=True)
    else:
        fs.makedirs(root, exist_ok=True)
    with _open_file(fs, f"{root}/{ACTIVES_FILE}", "w") as handle:
        handle.write(json.dumps(rows, indent=1).encode())


def _partitioning(pa: Any, ds: Any) -> Any:
    schema = pa.schema([("active_id", pa.int64()), ("size", pa.int64()), ("day", pa.date32())])
    return ds.partitioning(schema, flavor="hive")


def export_dataset(
    store: CandleStore,
    root: str | os.PathLike[str],
    *,
    active_id: int | None = None,
    size: int | None = None,
    on_series: Callable[[int], None] | None = None,
) -> int:
    """Write the store's candles (all, or one active/size) as a hive-partitioned Parquet dataset.

    ``root`` is a directory or an fsspec URL. The days a series covers are replaced
    (exporting twice gives the same dataset); other days and series are kept.
    Returns the rows written; ``on_series`` gets each series' row count.

    Raises:
        ImportError: pyarrow (or, for a URL, fsspec) is not installed.
    """
    pa, ds = _pyarrow()
    fs, path = _filesystem(root)
    partitioning = _partitioning(pa, ds)
    rows = 0
    for series_active, series_size in store.series():
        if (active_id is not None and series_active != active_id) or (
            size is not None and series_size != size
        ):
            continue
        table = store.to_arrow(series_active, series_size)
        start = table.column("start").to_numpy()
        # date32 counts days since the epoch: the UTC day is start // 86400.
        table = table.append_column("day", pa.array(start // _DAY, pa.int32()).cast(pa.date32()))
        ds.write_dataset(
            table,
            path,
            filesystem=fs,
            format="parquet",
            partitioning=partitioning,
            basename_template="part-{i}.parquet",
            existing_data_behavior="delete_matching",
            max_rows_per_group=1 << 20,
        )
        rows += table.num_rows
        if on_series is not None:
            on_series(table.num_rows)
    _write_actives(fs, path, store.actives())
    return rows


class CandleDataset:
    """A Parquet candle dataset written by :func:`export_dataset`, read like a store.

    Example::

        with CandleDataset("file:///shared/candles") as candles:
            print(candles.series(), candles.count(76, 5))
            window = candles.read(76, 5, start=1_770_681_600, end=1_770_768_000)

    Raises:
        FileNotFoundError: nothing at a local ``location``.
        ImportError: pyarrow (or, for a URL, fsspec) is not installed.
    """

    def __init__(self, location: str | os.PathLike[str]) -> None:
        self.location = str(location)
        if not is_url(location) and not Path(location).is_dir():
            raise FileNotFoundError(f"no candle dataset at {location}")
        pa, ds = _pyarrow()
        self._pa = pa
        self._ds = ds
        self._fs, self._path = _filesystem(location)
        fs = self._fs
        self._dataset = ds.dataset(
            self._path,
            filesystem=fs,
            format="parquet",
            partitioning=_partitioning(pa, ds),
            exclude_invalid_files=False,
        )

    @property
    def path(self) -> str:
        """Where the dataset is (as given)."""
        return self.location

    def __repr__(self) -> str:
        return f"CandleDataset({self.location!r})"

    def close(self) -> None:
        """Nothing to release (files are opened per read); here so a dataset is used like a store."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _filter(self, active_id: int | None, size: int | None, start: int | None, end: int | None) -> Any:
        field = self._ds.field
        conditions = []
        if active_id is not None:
            conditions.append(field("active_id") == active_id)
        if size is not None:
            conditions.append(field("size") == size)
        # The day bounds prune whole partitions; the start bounds cut inside the edge days.
        if start is not None:
            conditions.append(field("day") >= self._day(start))
            conditions.append(field("start") >= start)
        if end is not None:
            conditions.append(field("day") <= self._day(end - 1))
            conditions.append(field("start") < end)
        expression = None
        for condition in conditions:
            expression = condition if expression is None else expression & condition
        return expression

    def _day(self, seconds: int) -> Any:
        return self._pa.scalar(seconds // _DAY, self._pa.int32()).cast(self._pa.date32())

    def to_arrow(
        self,
        active_id: int | None = None,
        size: int | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> pyarrow.Table:
        """The matching candles as an Arrow table (file columns plus ``active_id``, ``size``, ``day``)."""
        table = self._dataset.to_table(filter=self._filter(active_id, size, start, end))
        return table.sort_by([("active_id", "ascending"), ("size", "ascending"), ("start", "ascending")])

    def read(
        self, active_id: int, size: int, start: int | None = None, end: int | None = None
    ) -> list[Candle]:
        """The candles of one series with ``start <= start < end``, ascending (as :meth:`CandleStore.read`)."""
        table = self._dataset.to_table(
            columns=list(_FILE_COLUMNS), filter=self._filter(active_id, size, start, end)
        ).sort_by("start")
        columns = [table.column(name).to_pylist() for name in _FILE_COLUMNS]
        return candles_from_rows(zip(*columns, strict=True), active_id, size)

    def count(
        self,
        active_id: int | None = None,
        size: int | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> int:
        """How many candles match (all of them by default)."""
        return int(self._dataset.count_rows(filter=self._filter(active_id, size, start, end)))

    def _partitions(self) -> Iterator[tuple[int, int]]:
        for fragment in self._dataset.get_fragments():
            keys = self._ds.get_partition_keys(fragment.partition_expression)
            yield int(keys["active_id"]), int(keys["size"])

    def series(self) -> list[tuple[int, int]]:
        """Every ``(active_id, size)`` in the dataset (from the paths: no file is read)."""
        return sorted(set(self._partitions()))

    def ranges(self) -> list[SeriesRange]:
        """First and last ``start`` and the count of every series."""
        import pyarrow.compute as pc  # type: ignore[import-untyped,import-not-found,unused-ignore]

        out = []
        for active_id, size in self.series():
            starts = self._dataset.to_table(
                columns=["start"], filter=self._filter(active_id, size, None, None)
            ).column("start")
            bounds = pc.min_max(starts).as_py()
            out.append(SeriesRange(active_id, size, bounds["min"], bounds["max"], len(starts)))
        return out

    def actives(self) -> dict[int, StoredActive]:
        """The actives' names and payouts the exporting store knew, by id."""
        return _read_actives(self._fs, self._path)


def open_candles(location: str | os.PathLike[str]) -> CandleReader:
    """The candles at ``location``: a store file, a dataset directory or a dataset URL.

    Never creates anything (a :class:`CandleStore` would create a missing file).

    Raises:
        FileNotFoundError: nothing at a local path.
        ImportError: a dataset without pyarrow (or a URL without fsspec).
    """
    if is_url(location):
        return CandleDataset(location)
    path = Path(location)
    if path.is_dir():
        return CandleDataset(path)
    if path.is_file():
        return CandleStore(path)
    raise FileNotFoundError(f"no candle store or dataset at {location}")
