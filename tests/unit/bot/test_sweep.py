"""Parameter sweeps: parsing, grids, the worker function, and the process pool (spawn)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from iqwire.bot import Strategy
from iqwire.bot.sweep import (
    SweepJob,
    absolute_reference,
    coerce_params,
    expand_grid,
    make_resolver,
    parse_assignment,
    parse_grid,
    parse_value,
    run_job,
    run_sweep,
    strategy_actives,
)
from iqwire.sim.actives import find_active
from iqwire.sim.prices import PriceModel
from iqwire.store.candles import CandleStore, StoredActive

EXAMPLE = str(Path(__file__).resolve().parents[3] / "examples" / "mean_reversion.py")
#: 2026-02-10 00:00 UTC.
START = 1_770_681_600
END = START + 2 * 3600


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hours of EURUSD-OTC 5-second candles from the simulator's price model."""
    path = tmp_path_factory.mktemp("sweep") / "candles.sqlite"
    with CandleStore(path) as store:
        store.write(PriceModel(5).candles(76, 5, START, END))
        store.describe_active(_known(76))
    return path


def _known(active: str | int) -> StoredActive:
    """The simulator's active as a download from it would record it."""
    spec = find_active(active)
    assert spec is not None
    return StoredActive(spec.id, spec.name, 100 - spec.commission, spec.precision)


KNOWN = {76: _known(76), 81: _known(81)}


class _Plain(Strategy):
    actives: ClassVar[list[str | int]] = ["EURUSD-OTC", 9999]
    sizes: ClassVar[list[int]] = [5]
    params: ClassVar[dict[str, Any]] = {"period": 14, "low": 30.0, "name": "x"}


# -- parsing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14", 14),
        ("-3", -3),
        ("2.5", 2.5),
        (".5", 0.5),
        ("1e-3", 0.001),
        ("true", True),
        ("FALSE", False),
        ("EURUSD-OTC", "EURUSD-OTC"),
        ('"10"', "10"),
        ("'true'", "true"),
        ("nan", "nan"),
        (" 7 ", 7),
    ],
)
def test_parse_value(text: str, expected: Any) -> None:
    value = parse_value(text)
    assert value == expected and type(value) is type(expected)


def test_parse_assignment_and_errors() -> None:
    assert parse_assignment(" period = 10") == ("period", " 10")
    assert parse_assignment("name=a=b") == ("name", "a=b")
    for bad in ("period", "=10", " =1"):
        with pytest.raises(ValueError, match="key=value"):
            parse_assignment(bad)


def test_parse_grid() -> None:
    assert parse_grid(["period=10,20, 30", "low=25.5,30", "flag=true"]) == {
        "period": [10, 20, 30],
        "low": [25.5, 30],
        "flag": [True],
    }
    with pytest.raises(ValueError, match="swept twice"):
        parse_grid(["a=1", "a=2"])
    with pytest.raises(ValueError, match="comma-separated"):
        parse_grid(["a=1,,2"])
    with pytest.raises(ValueError, match="comma-separated"):
        parse_grid(["a="])


def test_expand_grid_is_the_cartesian_product_in_order() -> None:
    combos = expand_grid({"period": [10, 20], "low": [25, 30], "x": ["a"]})
    assert combos == [
        {"period": 10, "low": 25, "x": "a"},
        {"period": 10, "low": 30, "x": "a"},
        {"period": 20, "low": 25, "x": "a"},
        {"period": 20, "low": 30, "x": "a"},
    ]
    assert expand_grid({}) == [{}]
    assert expand_grid({"a": []}) == []


def test_coerce_params_turns_ints_into_floats_where_the_default_is_a_float() -> None:
    coerced = coerce_params(_Plain, {"period": 10, "low": 25, "name": 3, "other": True})
    assert coerced == {"period": 10, "low": 25.0, "name": 3, "other": True}
    assert type(coerced["low"]) is float and type(coerced["period"]) is int
    assert coerce_params(_Plain, {"low": True}) == {"low": True}  # a bool is not an int here


def test_absolute_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "strat.py").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert absolute_reference("strat.py") == str(tmp_path / "strat.py")
    assert absolute_reference("strat.py:Mine") == f"{tmp_path / 'strat.py'}:Mine"
    assert absolute_reference("iqwire.demo:DemoStrategy") == "iqwire.demo:DemoStrategy"


# -- actives ----------------------------------------------------------------------------------------


def test_strategy_actives_from_the_store_and_ids() -> None:
    with pytest.raises(ValueError, match="no payout known for active 9999"):
        strategy_actives(_Plain, known=KNOWN)
    names, payouts = strategy_actives(_Plain, payout=85, known=KNOWN)
    assert names == {76: "EURUSD-OTC", 9999: "9999"}
    assert payouts == {76: 85, 9999: 85}

    class Builtin(Strategy):
        actives: ClassVar[list[str | int]] = ["eurusd-otc", 81]

    assert strategy_actives(Builtin, known=KNOWN) == ({76: "EURUSD-OTC", 81: "GBPUSD-OTC"}, {76: 88, 81: 86})
    with pytest.raises(ValueError, match=r"candle store has no candles of it \(it has: none\)"):
        strategy_actives(Builtin)

    class Unknown(Strategy):
        actives: ClassVar[list[str | int]] = ["NOPE-OTC"]

    with pytest.raises(ValueError, match=r"unknown active 'NOPE-OTC'.*iqwire candles download NOPE-OTC"):
        strategy_actives(Unknown, payout=80, known=KNOWN)

    class Nothing(Strategy):
        pass

    with pytest.raises(ValueError, match="names no actives"):
        strategy_actives(Nothing)


def test_make_resolver() -> None:
    resolve = make_resolver({76: "EURUSD-OTC", 9999: "MINE"})
    assert resolve("EURUSD-OTC") == 76
    assert resolve(76) == 76
    assert resolve("9999") == 9999
    assert resolve("mine") == 9999
    with pytest.raises(ValueError, match="unknown active"):
        resolve("NOPE")


# -- running ------------------------------------------------------------------------------------------


def test_run_job_in_process(store_path: Path) -> None:
    job = SweepJob(EXAMPLE, {"period": 10}, str(store_path), START, END, base_params={"low": 25.0})
    params, summary = run_job(job)
    assert params == {"period": 10}
    assert summary["candles"] == 1440
    assert summary["trades"] > 0 and summary["unsettled"] >= 0
    assert summary["trades"] == summary["wins"] + summary["losses"] + summary["equals"] + summary["other"]
    assert summary["final_balance"] == pytest.approx(10_000 + summary["pnl"])
    # A narrower range replays fewer candles.
    _, half = run_job(SweepJob(EXAMPLE, {"period": 10}, str(store_path), START, START + 3600))
    assert half["candles"] == 720


def test_run_sweep_in_two_processes_matches_the_serial_runs(store_path: Path) -> None:
    grid = {"period": [10, 20], "low": [25, 30]}
    seen: list[dict[str, Any]] = []
    rows = run_sweep(
        EXAMPLE, grid, store_path, START, END, workers=2, on_result=lambda row: seen.append(row[0])
    )
    assert len(rows) == 4
    assert sorted((p["period"], p["low"]) for p, _ in rows) == [(10, 25), (10, 30), (20, 25), (20, 30)]
    assert all(type(p["low"]) is float for p, _ in rows)  # coerced to the default's type
    pnls = [summary["pnl"] for _, summary in rows]
    assert pnls == sorted(pnls, reverse=True)
    assert len(seen) == 4
    best_params, best = rows[0]
    _, serial = run_job(SweepJob(EXAMPLE, best_params, str(store_path), START, END))
    assert serial == best  # the same backtest in a worker process and in this one


def test_run_sweep_checks_parameters_before_starting_workers(store_path: Path) -> None:
    with pytest.raises(ValueError, match="no parameter"):
        run_sweep(EXAMPLE, {"nope": [1, 2]}, store_path, START, END)
    with pytest.raises(ValueError, match="unknown sweep backend"):
        run_sweep(EXAMPLE, {"period": [10]}, store_path, START, END, backend="dask")
    with pytest.raises(ValueError, match="workers"):
        run_sweep(EXAMPLE, {"period": [10]}, store_path, START, END, workers=0)


def test_the_ray_backend_without_ray_says_how_to_get_it(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # make ``import ray`` fail even where it is installed
    with pytest.raises(ImportError, match=r"pip install 'iqwire\[ray\]'"):
        run_sweep(EXAMPLE, {"period": [10, 20]}, store_path, START, END, backend="ray")
