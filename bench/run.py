"""Run every benchmark, print a table, write bench/results.json.

Each ``bench/bench_*.py`` runs in its own process and prints JSON result lines
(``{"name", "value", "baseline", "ratio", "goal", "unit", "meets_goal"}``; each
figure a median of repeated runs, each baseline measured in the same run). This
collects them, prints one table, and writes them with the machine's description.
Goals are reported, never asserted: the exit status is non-zero only when a
script crashed or printed no result (so ``--quick`` in ``make test`` keeps the
scripts from rotting).

    python bench/run.py            # the full run (make bench), a few minutes
    python bench/run.py --quick    # a smoke run of a few seconds, no goals
    python bench/run.py --only decode stream
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _common import machine  # noqa: E402

#: (key, script, extra arguments, what it measures) in run order.
SCRIPTS: list[tuple[str, str, list[str], str]] = [
    ("decode", "bench_decode.py", [], "entry 1: decode"),
    ("stream", "bench_stream.py", [], "entries 2 and 8: stream, fast transport"),
    ("rpc", "bench_rpc.py", [], "entry 3: rpc latency"),
    ("rpc-picows", "bench_rpc.py", ["--transport", "picows"], "entry 3 on picows"),
    ("sim", "bench_sim_scale.py", [], "entry 4: simulator scale"),
    ("sim-digital", "bench_sim_digital.py", [], "entry 9: digital prices for many subscribers"),
    ("store", "bench_store.py", [], "entries 5 and 6: store download, memory"),
    ("backtest", "bench_backtest.py", [], "entry 7: backtest"),
    ("live-bot", "bench_live_bot.py", [], "live bot: socket to strategy through the runtime"),
    ("stream-uvloop", "bench_stream.py", ["--uvloop"], "entries 2 and 8 on uvloop"),
    ("rpc-uvloop", "bench_rpc.py", ["--uvloop"], "entry 3 on uvloop"),
]
OPTIONAL = {"rpc-picows": "picows", "stream-uvloop": "uvloop", "rpc-uvloop": "uvloop"}


def run_script(script: str, args: list[str], timeout: float) -> tuple[list[dict[str, Any]], str | None]:
    """The result lines of one script, and an error if it failed."""
    command = [sys.executable, str(BENCH / script), *args]
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return [], f"timed out after {timeout:.0f}s"
    lines = []
    for line in done.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict) and "name" in data:
                lines.append(data)
    if done.returncode != 0:
        return lines, f"exit status {done.returncode}"
    if not lines:
        return lines, "printed no result"
    return lines, None


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


def table(entries: list[dict[str, Any]]) -> str:
    header = ("entry", "value", "baseline", "ratio", "goal", "met", "unit")
    rows = [header]
    for e in entries:
        met = {True: "yes", False: "NO", None: "-"}[e.get("meets_goal")]
        if e.get("missing"):
            met = "missing"
        if e.get("error"):
            met = "ERROR"
        rows.append(
            (
                str(e["name"]),
                _fmt(e.get("value")),
                _fmt(e.get("baseline")),
                _fmt(e.get("ratio")),
                e.get("goal") or "-",
                met,
                e.get("unit") or "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    out = []
    for index, row in enumerate(rows):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description="Run every benchmark, print a table, write results.json.")
    p.add_argument("--quick", action="store_true", help="a smoke run of a few seconds; no goals")
    p.add_argument("--only", nargs="*", choices=[key for key, *_ in SCRIPTS], help="run only these")
    p.add_argument("--out", type=Path, default=None, help="where to write the results (JSON)")
    args = p.parse_args()
    out = args.out
    if out is None:
        # A smoke run or a partial one must not overwrite the figures of a full run.
        partial = args.quick or bool(args.only)
        out = Path(tempfile.gettempdir()) / "iqwire-bench-partial.json" if partial else BENCH / "results.json"
    started = time.perf_counter()
    entries: list[dict[str, Any]] = []
    failed = False
    for key, script, extra, what in SCRIPTS:
        if args.only and key not in args.only:
            continue
        if key in OPTIONAL and importlib.util.find_spec(OPTIONAL[key]) is None:
            print(f"== {key}: skipped ({OPTIONAL[key]} not installed)", file=sys.stderr, flush=True)
            continue
        if not (BENCH / script).exists():
            print(f"== {key}: {script} is missing", file=sys.stderr, flush=True)
            entries.append(
                {
                    "name": f"{what} ({script})",
                    "value": None,
                    "baseline": None,
                    "ratio": None,
                    "goal": None,
                    "unit": None,
                    "meets_goal": None,
                    "missing": f"bench/{script} not found",
                }
            )
            continue
        print(f"== {key}: {what}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        lines, error = run_script(
            script, [*extra, *(["--quick"] if args.quick else [])], timeout=120 if args.quick else 300
        )
        for line in lines:
            line.setdefault("script", script)
        entries += lines
        if error is not None:
            failed = True
            entries.append(
                {
                    "name": f"{what} ({script})",
                    "value": None,
                    "baseline": None,
                    "ratio": None,
                    "goal": None,
                    "unit": None,
                    "meets_goal": None,
                    "error": error,
                    "script": script,
                }
            )
            print(f"== {key}: FAILED ({error})", file=sys.stderr, flush=True)
        print(f"== {key}: {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    print(table(entries))
    missed = [e["name"] for e in entries if e.get("meets_goal") is False]
    print(
        f"\n{len(entries)} entries in {elapsed:.0f}s; goals missed: {len(missed)}"
        + (" (quick run: goals not judged)" if args.quick else "")
    )
    report = {"quick": args.quick, "seconds": round(elapsed, 1), "machine": machine(), "entries": entries}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written: {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
