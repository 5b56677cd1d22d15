"""Parameter sweeps: one backtest per combination of parameter values, in parallel processes.

A sweep is the cartesian product of a *grid* (``{"period": [10, 20, 30], "low": [25, 30]}``
is six backtests). Each combination becomes a :class:`SweepJob`: plain, picklable data (the
strategy *reference*, not the class; the store *path*, not an open store). :func:`run_job`
is the worker: it loads the strategy, opens the candles itself (a store file, a Parquet
dataset directory or a dataset URL: :func:`~iqwire.store.dataset.open_candles`), reads the
series and runs :func:`~iqwire.bot.backtest.run_backtest` with :func:`asyncio.run`.
:func:`run_sweep` runs the jobs in local ``spawn`` processes, or on a Ray cluster with
``backend="ray"`` (:func:`~iqwire.bot.workers.job_pool`; see ``docs/scaling.md``), and
returns ``(params, summary)`` pairs sorted by P&L, best first.

Example::

    from iqwire.bot.sweep import parse_grid, run_sweep

    grid = parse_grid(["period=10,20,30", "low=25,30"])
    for params, summary in run_sweep("examples/mean_reversion.py", grid, "candles.sqlite",
                                     start, end, workers=4):
        print(params, summary["trades"], summary["pnl"])

The helpers :func:`strategy_actives`, :func:`read_series` and :func:`make_resolver` are
what a single backtest from a store needs too (``iqwire backtest`` uses them).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iqwire.bot.backtest import run_backtest
from iqwire.bot.loader import load_strategy
from iqwire.bot.risk import RiskLimits
from iqwire.bot.strategy import Strategy
from iqwire.bot.workers import BACKENDS, job_pool
from iqwire.models import Candle
from iqwire.store.candles import StoredActive
from iqwire.store.dataset import CandleReader, is_url, open_candles

__all__ = [
    "BACKENDS",
    "SweepJob",
    "SweepRow",
    "absolute_reference",
    "backtest_job",
    "check_params",
    "coerce_params",
    "expand_grid",
    "make_resolver",
    "parse_assignment",
    "parse_grid",
    "parse_value",
    "portable_source",
    "read_series",
    "run_job",
    "run_jobs",
    "run_sweep",
    "strategy_actives",
]

#: One result of a sweep: the combination's parameters and its report summary.
SweepRow = tuple[dict[str, Any], dict[str, Any]]

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")


# -- parameters ----------------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """A command-line value as ``int``, ``float``, ``bool`` (``true``/``false``) or ``str``.

    Quotes force a string.

    >>> [parse_value(v) for v in ("14", "2.5", "1e-3", "true", "False", "EURUSD-OTC", '"10"')]
    [14, 2.5, 0.001, True, False, 'EURUSD-OTC', '10']
    """
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        return stripped[1:-1]
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT.fullmatch(stripped):
        return int(stripped)
    if _FLOAT.fullmatch(stripped):
        return float(stripped)
    return stripped


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``"key=value"`` into its stripped key and (raw) value.

    Raises:
        ValueError: no ``=``, or an empty key.
    """
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"expected key=value, got {text!r}")
    return key, value


def parse_grid(specs: Iterable[str]) -> dict[str, list[Any]]:
    """``["period=10,20,30", "low=25,30"]`` → ``{"period": [10, 20, 30], "low": [25, 30]}``.

    Raises:
        ValueError: a malformed spec, a parameter given twice, or an empty value.
    """
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        key, raw = parse_assignment(spec)
        if key in grid:
            raise ValueError(f"parameter {key!r} is swept twice; give all its values in one spec")
        values = [part.strip() for part in raw.split(",")]
        if not values or any(not part for part in values):
            raise ValueError(f"{spec!r}: give comma-separated values, like {key}=10,20,30")
        grid[key] = [parse_value(part) for part in values]
    return grid


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, first key varying slowest.

    >>> expand_grid({"a": [1, 2], "b": ["x", "y"]})
    [{'a': 1, 'b': 'x'}, {'a': 1, 'b': 'y'}, {'a': 2, 'b': 'x'}, {'a': 2, 'b': 'y'}]
    >>> expand_grid({})
    [{}]
    """
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]


def coerce_params(strategy: type[Strategy], params: Mapping[str, Any]) -> dict[str, Any]:
    """Turn an ``int`` into a ``float`` where the strategy's default is a float (``low=25`` → 25.0)."""
    defaults = strategy.params
    out: dict[str, Any] = {}
    for key, value in params.items():
        default = defaults.get(key)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        out[key] = value
    return out


def absolute_reference(reference: str) -> str:
    """A strategy reference whose file part (if any) is absolute, so another process finds it."""
    target, sep, class_name = reference.partition(":")
    if target.endswith(".py") or Path(target).is_file():
        return f"{Path(target).resolve()}{sep}{class_name}"
    return reference


# -- data ------------------------------------------------------------------------------------------


def _label(text: str) -> str:
    return text.strip().lower().removeprefix("front.")


def strategy_actives(
    strategy: type[Strategy], payout: float | None = None, known: Mapping[int, StoredActive] | None = None
) -> tuple[dict[int, str], dict[int, float]]:
    """The strategy's actives as ``({id: name}, {id: payout})``.

    Names, ids and payouts come from ``known``: what the candle store recorded when
    it downloaded them (:meth:`CandleStore.actives <iqwire.store.candles.CandleStore.actives>`).
    ``payout`` replaces every active's payout. An id outside ``known`` is accepted
    when ``payout`` is given.

    Raises:
        ValueError: no actives, an unknown name, or an id without a payout.
    """
    by_name = {_label(active.name): active for active in (known or {}).values()}
    names: dict[int, str] = {}
    payouts: dict[int, float] = {}
    for active in strategy.actives:
        text = str(active).strip()
        found = (known or {}).get(int(text)) if text.isdigit() else by_name.get(_label(text))
        if found is None and not text.isdigit():
            held = ", ".join(sorted(a.name for a in (known or {}).values())) or "none"
            raise ValueError(
                f"unknown active {active!r} in {strategy.__name__}: the candle store has no candles of it "
                f"(it has: {held}); download them with: iqwire candles download {text} --db FILE"
            )
        active_id = found.id if found is not None else int(text)
        names[active_id] = found.name if found is not None else text
        chosen = payout if payout is not None else (found.payout if found is not None else None)
        if chosen is None:
            raise ValueError(f"no payout known for active {active!r}: give one (--payout 85)")
        payouts[active_id] = chosen
    if not names:
        raise ValueError(f"{strategy.__name__} names no actives")
    return names, payouts


def make_resolver(names: Mapping[int, str]) -> Callable[[str | int], int]:
    """A name-or-id → id function over ``names`` (for ``run_backtest``)."""
    by_name = {_label(name): active_id for active_id, name in names.items()}

    def resolve(active: str | int) -> int:
        text = str(active).strip()
        if text.isdigit():
            return int(text)
        found = by_name.get(_label(text))
        if found is None:
            raise ValueError(f"unknown active {active!r}")
        return found

    return resolve


def read_series(
    store: CandleReader,
    active_ids: Iterable[int],
    sizes: Iterable[int],
    start: int | None,
    end: int | None,
) -> dict[tuple[int, int], list[Candle]]:
    """The candles of every ``(active, size)`` with ``start <= from < end`` (may be empty).

    ``store`` is a :class:`~iqwire.store.candles.CandleStore` or a
    :class:`~iqwire.store.dataset.CandleDataset`.
    """
    size_list = list(sizes)
    return {
        (active_id, size): store.read(active_id, size, start, end)
        for active_id in active_ids
        for size in size_list
    }


def portable_source(source: str | os.PathLike[str]) -> str:
    """A candle location another process finds: a URL as given, a path made absolute."""
    return str(source) if is_url(source) else str(Path(source).resolve())


def check_params(strategy: type[Strategy], params: Mapping[str, Any]) -> None:
    """Build the strategy once with ``params`` so a typo fails here, before any worker starts.

    Raises:
        ValueError: a parameter the strategy does not have.
    """
    try:
        strategy(**coerce_params(strategy, params))
    except TypeError as exc:  # Strategy.__init__: an unknown parameter name
        raise ValueError(str(exc)) from exc


# -- jobs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepJob:
    """One backtest of a sweep, as plain data a worker process (or a Ray task) can unpickle.

    ``params`` is the combination being tried (reported back); ``base_params`` the fixed
    overrides under it (config file, ``--param``); ``source`` where the candles are (a
    store file, a dataset directory or URL, as every worker must see it); ``start``/``end``
    unix seconds (``None``: all of it); ``payout`` overrides every active's payout.
    """

    strategy_ref: str
    params: dict[str, Any]
    source: str
    start: int | None
    end: int | None
    base_params: dict[str, Any] = field(default_factory=dict)
    payout: float | None = None
    balance: float = 10_000.0
    limits: RiskLimits | None = None


def run_job(job: SweepJob) -> SweepRow:
    """Run one backtest of a sweep (the worker function; safe to call in-process too).

    Returns ``(job.params, summary)``: :meth:`Report.as_dict` plus ``candles`` (replayed)
    and ``unsettled`` (trades still open when the data ran out).
    """
    return backtest_job(job)


def backtest_job(job: SweepJob, prepare: Callable[[Strategy], None] | None = None) -> SweepRow:
    """:func:`run_job`, with ``prepare`` called on the strategy object before the replay starts.

    (The optimiser's worker uses ``prepare`` to watch the run and stop a hopeless one.)
    """
    strategy_cls = load_strategy(job.strategy_ref)
    strategy = strategy_cls(**coerce_params(strategy_cls, {**job.base_params, **job.params}))
    if prepare is not None:
        prepare(strategy)
    with open_candles(job.source) as candles:
        names, payouts = strategy_actives(strategy_cls, job.payout, candles.actives())
        series = read_series(candles, names, strategy.sizes, job.start, job.end)
    result = asyncio.run(
        run_backtest(
            strategy,
            list(series.values()),
            payouts=payouts,
            limits=job.limits,
            balance=job.balance,
            resolve=make_resolver(names),
            names=names,
        )
    )
    summary = result.report.as_dict()
    summary["candles"] = result.candles
    summary["unsettled"] = result.unsettled
    return dict(job.params), summary


def run_jobs(
    jobs: Sequence[SweepJob],
    *,
    workers: int | None = None,
    backend: str = "process",
    ray_address: str | None = None,
    on_result: Callable[[SweepRow], None] | None = None,
) -> list[SweepRow]:
    """Run every job on ``backend`` (:func:`~iqwire.bot.workers.job_pool`), in completion order."""
    count = min(len(jobs), workers if workers is not None else (os.cpu_count() or 1))
    rows: list[SweepRow] = []
    with job_pool(backend, workers=max(1, count), ray_address=ray_address) as pool:
        futures = [pool.submit(run_job, job) for job in jobs]
        for future in concurrent.futures.as_completed(futures):
            row = future.result()
            rows.append(row)
            if on_result is not None:
                on_result(row)
    return rows


def run_sweep(
    strategy_ref: str,
    grid: Mapping[str, Sequence[Any]],
    source: str | os.PathLike[str],
    start: int | None,
    end: int | None,
    *,
    base_params: Mapping[str, Any] | None = None,
    payout: float | None = None,
    balance: float = 10_000.0,
    limits: RiskLimits | None = None,
    workers: int | None = None,
    backend: str = "process",
    ray_address: str | None = None,
    on_result: Callable[[SweepRow], None] | None = None,
) -> list[SweepRow]:
    """Backtest every combination of ``grid`` in parallel; ``(params, summary)`` by P&L, best first.

    ``workers`` caps the worker processes (default: the CPU count, at most one per
    combination). ``backend="ray"`` sends the same :func:`run_job` to a Ray cluster
    (``ray_address``; ``None`` starts or joins a local one); every node must reach
    ``source``: a store file, a dataset directory, or a dataset URL such as
    ``s3://bucket/candles``. ``on_result`` is called in this process as each
    combination finishes.

    Raises:
        ValueError: an unknown backend, or a bad parameter (checked here, before any worker starts).
        ImportError: ``backend="ray"`` without Ray installed.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown sweep backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    reference = absolute_reference(strategy_ref)
    strategy_cls = load_strategy(reference)
    base = dict(base_params or {})
    combinations = [coerce_params(strategy_cls, combination) for combination in expand_grid(grid)]
    for combination in combinations:
        check_params(strategy_cls, {**base, **combination})
    with open_candles(source) as candles:
        strategy_actives(strategy_cls, payout, candles.actives())  # ValueError on an unknown active
    jobs = [
        SweepJob(
            strategy_ref=reference,
            params=combination,
            source=portable_source(source),
            start=start,
            end=end,
            base_params=base,
            payout=payout,
            balance=balance,
            limits=limits,
        )
        for combination in combinations
    ]
    rows = run_jobs(jobs, workers=workers, backend=backend, ray_address=ray_address, on_result=on_result)
    return sorted(rows, key=lambda row: float(row[1]["pnl"]), reverse=True)
