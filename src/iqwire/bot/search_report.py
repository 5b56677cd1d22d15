"""A finished search, shown: the table of trials, the best parameters as a run file, a plot.

Example::

    result = optimize(...)
    Console().print(search_table(result))
    write_run_file("best.toml", "examples/mean_reversion.py", result.best.params)
    plot_search(result, "search.png")                 # pip install 'iqwire[plot]'
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from iqwire.bot.optimize import OptimizeResult
from iqwire.bot.risk import RiskLimits

__all__ = ["plot_search", "search_table", "write_run_file"]


def _num(value: Any, fmt: str = ".3f") -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return format(value, fmt) if isinstance(value, float) else str(value)


def search_table(result: OptimizeResult, *, limit: int = 20) -> Table:
    """The best ``limit`` trials: parameters, in-sample score and statistics, holdout score."""
    objective = result.objective
    title = (
        f"Search: {result.count('complete')} complete, {result.count('pruned')} pruned, "
        f"{result.count('failed')} failed (best {objective} first)"
    )
    table = Table(title=title, box=box.SIMPLE_HEAD)
    keys = sorted({key for row in result.rows for key in row.params})
    table.add_column("#", justify="right")
    for key in keys:
        table.add_column(key, justify="right", no_wrap=True)
    table.add_column(f"{objective} (in)", justify="right")
    for name in ("trades", "P&L", "max DD"):
        table.add_column(name, justify="right", no_wrap=True)
    if result.holdout is not None:
        table.add_column(f"{objective} (out)", justify="right")
        table.add_column("P&L (out)", justify="right")
    for row in result.rows[:limit]:
        cells = [str(row.number), *(_num(row.params.get(key), ".4g") for key in keys)]
        value = _num(row.value) + ("" if row.state == "complete" else f" ({row.state})")
        summary = row.summary
        cells += [value, _num(summary.get("trades")), _num(summary.get("pnl"), "+,.2f")]
        cells.append(
            "—" if summary.get("max_drawdown_pct") is None else f"{summary['max_drawdown_pct']:.2f}%"
        )
        if result.holdout is not None:
            held = row.holdout_summary or {}
            cells += [_num(row.holdout_value), _num(held.get("pnl"), "+,.2f")]
        table.add_row(*cells)
    return table


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a run file cannot hold {value!r}")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    raise ValueError(f"a run file holds numbers, booleans and text, not {type(value).__name__}")


def write_run_file(
    path: str | os.PathLike[str],
    strategy_ref: str,
    params: Mapping[str, Any],
    *,
    risk: RiskLimits | None = None,
    comments: Sequence[str] = (),
) -> Path:
    """Write a run file (TOML, the format of :func:`~iqwire.bot.loader.load_config`).

    ``risk`` contributes the limits that differ from the defaults (a limit switched off,
    ``None``, cannot be written in TOML and is noted in a comment instead).

    Raises:
        ValueError: a value TOML cannot hold here (a list, a non-finite float).
        OSError: the file cannot be written.
    """
    lines = [f"# {comment}" for comment in comments]
    lines += [f"strategy = {_toml_value(strategy_ref)}", "", "[params]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in params.items()]
    if risk is not None:
        default = RiskLimits()
        changed = [f for f in fields(RiskLimits) if getattr(risk, f.name) != getattr(default, f.name)]
        if changed:
            lines += ["", "[risk]"]
            for item in changed:
                value = getattr(risk, item.name)
                if value is None:
                    lines.append(f"# {item.name} was off (no limit); TOML has no null")
                else:
                    lines.append(f"{item.name} = {_toml_value(value)}")
    out = Path(path)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def plot_search(result: OptimizeResult, path: str | os.PathLike[str]) -> Path:
    """Draw the search: score per trial (pruned ones marked) with the best so far, and one
    panel per parameter (its value against the score).

    Raises:
        ImportError: matplotlib is not installed (``pip install 'iqwire[plot]'``).
    """
    try:
        import matplotlib  # type: ignore[import-not-found, import-untyped, unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'iqwire[plot]'") from None
    rows = sorted((r for r in result.rows if r.value is not None), key=lambda r: r.number)
    keys = sorted({key for row in rows for key in row.params})
    figure, axes = plt.subplots(1, 1 + len(keys), figsize=(5 * (1 + len(keys)), 4), squeeze=False)
    history = axes[0][0]
    for state, marker in (("complete", "o"), ("pruned", "x")):
        chosen = [r for r in rows if r.state == state]
        history.scatter(
            [r.number for r in chosen], [r.value for r in chosen], marker=marker, label=state, s=16
        )
    best: list[float] = []
    for row in rows:
        if row.state == "complete" and row.value is not None and math.isfinite(row.value):
            best.append(max(best[-1], row.value) if best else row.value)
        elif best:
            best.append(best[-1])
        else:
            best.append(math.nan)
    history.plot([r.number for r in rows], best, color="black", linewidth=1, label="best so far")
    history.set_xlabel("trial")
    history.set_ylabel(f"{result.objective} (in-sample)")
    history.legend(loc="lower right")
    complete = [r for r in rows if r.state == "complete"]
    for axis, key in zip(axes[0][1:], keys, strict=True):
        points = [(r.params[key], r.value) for r in complete if key in r.params]
        if points and all(isinstance(x, int | float) for x, _ in points):
            axis.scatter(
                [x for x, _ in points], [y for _, y in points], s=16, c=range(len(points)), cmap="viridis"
            )
        else:  # choices: one column per value
            labels = sorted({str(x) for x, _ in points})
            axis.scatter([labels.index(str(x)) for x, _ in points], [y for _, y in points], s=16)
            axis.set_xticks(range(len(labels)), labels)
        axis.set_xlabel(key)
        axis.set_ylabel(result.objective)
    figure.suptitle(f"{result.study_name}: {len(rows)} trials")
    figure.tight_layout()
    out = Path(path)
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out
