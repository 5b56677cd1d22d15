"""The candle store in columnar form: Arrow, pandas, polars, and Parquet/CSV files.

Every function reads through a :class:`ColumnarSource` (what it needs of a store:
:class:`~iqwire.store.candles.CandleStore` has it all), so this module never opens
SQLite itself except through ADBC's driver, which reads the file straight into Arrow.
pandas, polars and pyarrow are optional extras: a missing one raises an
``ImportError`` that names the extra to install.

Example::

    with CandleStore("candles.sqlite") as store:
        table = to_arrow(store, 76, 60)        # store.to_arrow(76, 60) is the same call
        export(store, "candles.parquet")
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from iqwire.store.sql import ADBC_FIRST_ROW, COLUMNS, INT_COLUMNS, NULLABLE, SELECT_ARROW, where

if TYPE_CHECKING:
    import pandas  # type: ignore[import-untyped,import-not-found,unused-ignore]
    import polars  # type: ignore[import-untyped,import-not-found,unused-ignore]
    import pyarrow  # type: ignore[import-untyped,import-not-found,unused-ignore]

__all__ = [
    "ColumnarSource",
    "Engine",
    "export",
    "export_csv_stdlib",
    "iter_arrow",
    "to_arrow",
    "to_pandas",
    "to_polars",
]

log = logging.getLogger("iqwire.store")

Engine = Literal["auto", "adbc", "sqlite3"]

_ADBC_BATCH_ROWS = 1 << 24


class ColumnarSource(Protocol):
    """What the columnar reads need of a candle store."""

    #: The database file (``":memory:"`` or a ``file:`` URI rule out ADBC).
    path: str

    def numpy_columns(
        self, active_id: int | None, size: int | None, start: int | None, end: int | None
    ) -> dict[str, np.ndarray[Any, Any]]: ...

    def series(self) -> list[tuple[int, int]]: ...

    def count(
        self,
        active_id: int | None = None,
        size: int | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> int: ...

    def snapshot(self) -> contextlib.AbstractContextManager[sqlite3.Connection]: ...


def _sorted(active: np.ndarray[Any, Any], size: np.ndarray[Any, Any], start: np.ndarray[Any, Any]) -> bool:
    """Whether rows are in ``(active_id, size, start)`` order (vectorised)."""
    if len(start) < 2:
        return True
    a0, a1, s0, s1, t0, t1 = active[:-1], active[1:], size[:-1], size[1:], start[:-1], start[1:]
    ordered = (a1 > a0) | ((a1 == a0) & ((s1 > s0) | ((s1 == s0) & (t1 > t0))))
    return bool(ordered.all())


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _missing_extra(module: str, extra: str) -> ImportError:
    return ImportError(f"this needs {module}: pip install 'iqwire[{extra}]' (or pip install {module})")


@contextlib.contextmanager
def _needs(module: str, extra: str) -> Iterator[None]:
    """Turn a failed import of ``module`` into an ImportError that names the extra to install."""
    try:
        yield
    except ImportError:
        raise _missing_extra(module, extra) from None


def _through_arrow(engine: Engine) -> bool:
    """Whether a DataFrame read goes through :func:`to_arrow` (pyarrow installed).

    Raises:
        ImportError: ``engine="adbc"`` without pyarrow.
    """
    if engine == "sqlite3":
        return False
    if _installed("pyarrow"):
        return True
    if engine == "adbc":
        raise _missing_extra("pyarrow", "parquet")
    return False


def _adbc_table(
    path: str, active_id: int | None, size: int | None, start: int | None, end: int | None
) -> pyarrow.Table | None:
    """The rows as Arrow through ADBC's SQLite driver, or ``None`` when it cannot be used."""
    if path == ":memory:" or path.startswith("file:"):
        return None
    try:
        import adbc_driver_sqlite.dbapi as adbc  # type: ignore[import-untyped,import-not-found,unused-ignore]
        import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    clause, params = where(active_id, size, start, end)
    # The driver infers each column's type from the first rows it sees; a first row
    # with no NULL (dropped below) pins every type, whatever the data holds.
    query = (
        f'{ADBC_FIRST_ROW} UNION ALL SELECT * FROM ({SELECT_ARROW}{clause} ORDER BY active_id, size, "from")'
    )
    try:
        with adbc.connect(path) as conn, conn.cursor() as cursor:
            # One big batch: a table of one chunk per column converts to pandas without a copy.
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_ADBC_BATCH_ROWS)})
            cursor.execute(query, params)
            table = cursor.fetch_arrow_table().slice(1)
        table = table.cast(_arrow_schema(pa))
    except Exception as exc:  # a driver quirk: the stdlib path still works
        log.debug("ADBC read failed, using sqlite3: %s", exc)
        return None
    if not _sorted(*(table.column(name).to_numpy() for name in ("active_id", "size", "start"))):
        table = table.sort_by([("active_id", "ascending"), ("size", "ascending"), ("start", "ascending")])
    return table


def to_arrow(
    store: ColumnarSource,
    active_id: int | None = None,
    size: int | None = None,
    start: int | None = None,
    end: int | None = None,
    *,
    engine: Engine = "auto",
) -> pyarrow.Table:
    """The candles as a ``pyarrow.Table`` with :data:`~iqwire.store.sql.COLUMNS` (NULLs stay null).

    ``engine="auto"`` reads through ADBC's SQLite driver (``adbc-driver-sqlite``)
    when it is installed: straight into Arrow memory, no Python object per value.
    Otherwise (or with ``engine="sqlite3"``) the stdlib cursor fills numpy
    arrays in C, chunk-free, with no Python loop per row.

    Raises:
        ImportError: pyarrow is not installed (``pip install 'iqwire[parquet]'``).
    """
    with _needs("pyarrow", "parquet"):
        import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]
    if engine != "sqlite3":
        table = _adbc_table(store.path, active_id, size, start, end)
        if table is not None:
            return table
        if engine == "adbc":
            raise ImportError("engine='adbc' needs adbc-driver-sqlite and a database file")
    columns = store.numpy_columns(active_id, size, start, end)
    arrays = []
    for name in COLUMNS:
        values = columns[name]
        mask: np.ndarray[Any, Any] | None = None
        if name in NULLABLE:
            mask = values == -1 if name == "at" else np.isnan(values)
            if not mask.any():
                mask = None
        arrays.append(pa.array(values, mask=mask, type=pa.int64() if name in INT_COLUMNS else pa.float64()))
    return pa.Table.from_arrays(arrays, schema=_arrow_schema(pa))


def to_pandas(
    store: ColumnarSource,
    active_id: int | None = None,
    size: int | None = None,
    start: int | None = None,
    end: int | None = None,
    *,
    engine: Engine = "auto",
) -> pandas.DataFrame:
    """The candles as a ``pandas.DataFrame`` with :data:`~iqwire.store.sql.COLUMNS`, by series and time.

    Integer columns are ``int64``; ``volume``/``ask``/``bid`` are ``float64``
    (NaN where absent); ``at`` (nanoseconds) is a nullable ``Int64``.

    Raises:
        ImportError: pandas is not installed (``pip install 'iqwire[pandas]'``).
    """
    with _needs("pandas", "pandas"):
        import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]
    if _through_arrow(engine):
        return _arrow_to_pandas(to_arrow(store, active_id, size, start, end, engine=engine), pd)
    columns = store.numpy_columns(active_id, size, start, end)
    at = columns.pop("at")
    frame = pd.DataFrame(columns, copy=False)
    frame["at"] = pd.arrays.IntegerArray(at, at == -1)
    return frame


def to_polars(
    store: ColumnarSource,
    active_id: int | None = None,
    size: int | None = None,
    start: int | None = None,
    end: int | None = None,
    *,
    engine: Engine = "auto",
) -> polars.DataFrame:
    """The candles as a ``polars.DataFrame`` with :data:`~iqwire.store.sql.COLUMNS` (NULLs are null).

    Raises:
        ImportError: polars is not installed (``pip install 'iqwire[polars]'``).
    """
    with _needs("polars", "polars"):
        import polars as pl  # type: ignore[import-untyped,import-not-found,unused-ignore]
    if _through_arrow(engine):
        result = pl.from_arrow(to_arrow(store, active_id, size, start, end, engine=engine))
        assert isinstance(result, pl.DataFrame)
        return result
    columns = store.numpy_columns(active_id, size, start, end)
    series = []
    for name in COLUMNS:
        values = columns[name]
        if name == "at":
            column = pl.Series(name, values).set(pl.Series(values == -1), None)  # type: ignore[arg-type,unused-ignore]
        elif name in NULLABLE:
            column = pl.Series(name, values, nan_to_null=True)
        else:
            column = pl.Series(name, values)
        series.append(column)
    return pl.DataFrame(series)


def iter_arrow(
    store: ColumnarSource, active_id: int | None = None, size: int | None = None, *, engine: Engine = "auto"
) -> Iterator[pyarrow.Table]:
    """One Arrow table per stored series (bounded memory for exports)."""
    for series_active, series_size in store.series():
        if (active_id is None or series_active == active_id) and (size is None or series_size == size):
            yield to_arrow(store, series_active, series_size, engine=engine)


def export(
    store: ColumnarSource,
    out: str | Path,
    fmt: Literal["parquet", "csv"] = "parquet",
    *,
    active_id: int | None = None,
    size: int | None = None,
    on_series: Callable[[int], None] | None = None,
) -> int:
    """Write the candles (all, or one active/size) to a Parquet or CSV file; returns the rows.

    Parquet needs pyarrow; CSV uses pyarrow when present, else the stdlib ``csv``
    writer fed straight from the cursor.

    Raises:
        ImportError: Parquet without pyarrow (``pip install 'iqwire[parquet]'``).
        ValueError: an unknown format.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"unknown export format {fmt!r}: use 'parquet' or 'csv'")
    try:
        import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        if fmt == "parquet":
            raise _missing_extra("pyarrow", "parquet") from None
        return export_csv_stdlib(store, Path(out), active_id, size)
    schema = _arrow_schema(pa)
    if fmt == "parquet":
        import pyarrow.parquet as pq  # type: ignore[import-untyped,import-not-found,unused-ignore]

        writer = pq.ParquetWriter(str(out), schema)
    else:
        import pyarrow.csv as pacsv  # type: ignore[import-untyped,import-not-found,unused-ignore]

        try:  # plain header names, like the stdlib writer's (quoting_header needs pyarrow 15+)
            options = pacsv.WriteOptions(quoting_header="none")
        except TypeError:
            options = pacsv.WriteOptions()
        writer = pacsv.CSVWriter(str(out), schema, write_options=options)
    rows = 0
    with writer:
        for table in iter_arrow(store, active_id, size):
            writer.write_table(table)
            rows += table.num_rows
            if on_series is not None:
                on_series(table.num_rows)
    return rows


def export_csv_stdlib(store: ColumnarSource, out: Path, active_id: int | None, size: int | None) -> int:
    """CSV without pyarrow: the stdlib writer fed straight from the cursor; returns the rows."""
    import csv

    clause, params = where(active_id, size, None, None)
    with store.snapshot() as db, out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        # writerows consumes the cursor in C: no Python loop per row.
        writer.writerows(db.execute(f'{SELECT_ARROW}{clause} ORDER BY active_id, size, "from"', params))
        (rows,) = db.execute(f"SELECT count(*) FROM candles{clause}", params).fetchone()
        return int(rows)


def _arrow_schema(pa: Any) -> pyarrow.Schema:
    fields = [
        pa.field(name, pa.int64() if name in INT_COLUMNS else pa.float64(), nullable=name in NULLABLE)
        for name in COLUMNS
    ]
    schema: pyarrow.Schema = pa.schema(fields)
    return schema


def _arrow_to_pandas(table: pyarrow.Table, pd: Any) -> pandas.DataFrame:
    import pyarrow.compute as pc  # type: ignore[import-untyped,import-not-found,unused-ignore]

    index = table.schema.get_field_index("at")
    at = table.column(index)
    mask = at.is_null().to_numpy(zero_copy_only=False)
    table = table.set_column(index, "at", pc.fill_null(at, -1))
    frame: pandas.DataFrame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    frame["at"] = pd.arrays.IntegerArray(frame["at"].to_numpy(dtype=np.int64), mask)
    return frame
