"""A sweep and a search on a real local Ray cluster (2 CPUs, loopback only) equal the process ones."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

from iqwire.bot.optimize import optimize
from iqwire.bot.search_space import parse_space
from iqwire.bot.sweep import run_sweep
from iqwire.store.candles import CandleStore
from iqwire.store.dataset import export_dataset

EXAMPLE = str(Path(__file__).resolve().parents[3] / "examples" / "mean_reversion.py")
#: 2026-02-10 00:00 UTC.
START = 1_770_681_600
END = START + 2 * 3600
GRID = {"period": [10, 20], "low": [25, 30]}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One local Ray runtime for the module: 2 CPUs, no dashboard, no usage report, on 127.0.0.1."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # inherited by the raylet and the workers
    started = time.perf_counter()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=80 * 1024 * 1024,
        log_to_driver=False,
    )
    print(f"ray.init: {time.perf_counter() - started:.1f}s")
    yield ray
    ray.shutdown()
    os.environ.pop("RAY_USAGE_STATS_ENABLED", None)


@pytest.fixture(scope="module")
def data(candles_2h: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two hours of EURUSD-OTC 5-second candles, as a store and as a Parquet dataset."""
    dataset = tmp_path_factory.mktemp("ray") / "dataset"
    with CandleStore(candles_2h) as store:
        export_dataset(store, dataset)
    return candles_2h, dataset


def test_a_ray_sweep_returns_exactly_the_process_sweep(cluster: Any, data: tuple[Path, Path]) -> None:
    store, dataset = data
    timings = {}
    started = time.perf_counter()
    by_process = run_sweep(EXAMPLE, GRID, store, START, END, workers=2)
    timings["process"] = time.perf_counter() - started
    started = time.perf_counter()
    by_ray = run_sweep(EXAMPLE, GRID, store, START, END, backend="ray")
    timings["ray"] = time.perf_counter() - started
    # The workers read the dataset through a URL, as nodes of a cluster read shared storage.
    started = time.perf_counter()
    by_ray_from_dataset = run_sweep(EXAMPLE, GRID, f"file://{dataset}", START, END, backend="ray")
    timings["ray, dataset"] = time.perf_counter() - started
    print(", ".join(f"{name} {seconds:.2f}s" for name, seconds in timings.items()))

    assert len(by_process) == 4 and all(summary["trades"] > 0 for _, summary in by_process)
    assert by_ray == by_process
    assert by_ray_from_dataset == by_process
    assert ray.is_initialized()  # run_sweep joined the runtime; it shuts down only one it started


def test_a_search_on_ray_equals_the_search_in_processes(
    cluster: Any, data: tuple[Path, Path], tmp_path: Path
) -> None:
    space = parse_space(["period=5..30,low=20..40"])
    runs = {
        backend: optimize(
            EXAMPLE,
            space,
            data[0],
            START,
            END,
            trials=4,
            holdout=0.25,
            workers=1,
            seed=5,
            backend=backend,
            storage=tmp_path / f"{backend}.sqlite",
        )
        for backend in ("process", "ray")
    }
    by_process, by_ray = runs["process"].rows, runs["ray"].rows
    assert len(by_ray) == 4 and [row.state for row in by_ray] == [row.state for row in by_process]
    assert by_ray == by_process  # parameters, scores, summaries and holdout scores
