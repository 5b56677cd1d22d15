"""Parameter search with Optuna: TPE sampling, pruning of hopeless runs, a study that resumes.

:func:`optimize` asks Optuna's TPE sampler (seeded) for parameters, runs each trial as a
backtest in a worker (local ``spawn`` processes or Ray tasks, :mod:`iqwire.bot.workers`)
and tells the study the score. Only this process touches the study, which lives in a
SQLite file: run the same call again and it continues where it stopped, up to
``trials`` finished trials in all (a trial left running by a killed process is marked
failed and does not count).

*Pruning.* A trial reports its running score at ``checkpoints`` instants of the
in-sample period. Once ``startup_trials`` trials are complete, a trial whose score at a
checkpoint is below the median of the complete trials at that checkpoint stops there
(Optuna's median rule). The parent computes the medians when it submits a trial and
the worker applies them, so a Ray task never needs the study's database.

*Holdout.* ``holdout=0.2`` keeps the last 20 % of the period out of the search; the
best ``top`` trials are then replayed on it, and :class:`TrialRow` shows both scores.

Example::

    result = optimize("examples/mean_reversion.py", parse_space(["period=5..50,low=20..40"]),
                      "candles.sqlite", start, end, trials=200, objective="sharpe",
                      holdout=0.2, storage="search.sqlite")
    best = result.best                      # TrialRow: params, value, summary, holdout_value
    write_run_file("best.toml", "examples/mean_reversion.py", best.params)
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import inspect
import math
import os
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from iqwire.bot.context import Context
from iqwire.bot.loader import load_strategy
from iqwire.bot.report import Report
from iqwire.bot.risk import RiskLimits
from iqwire.bot.search_space import (
    OBJECTIVES,
    Choice,
    Dimension,
    FloatRange,
    fit_space,
    objective_value,
    split_holdout,
)
from iqwire.bot.strategy import Strategy
from iqwire.bot.sweep import (
    SweepJob,
    absolute_reference,
    backtest_job,
    check_params,
    coerce_params,
    portable_source,
    run_job,
    strategy_actives,
)
from iqwire.bot.workers import capacity, job_pool
from iqwire.models import Candle
from iqwire.store.dataset import open_candles

__all__ = ["OptimizeResult", "TrialJob", "TrialOutcome", "TrialRow", "optimize", "run_trial", "study_url"]

#: The summary fields kept with each trial in the study (enough for the table).
_KEPT = ("trades", "win_rate", "pnl", "return_pct", "max_drawdown_pct", "sharpe", "profit_factor", "candles")


def _optuna() -> Any:
    try:
        import optuna  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        raise ImportError(
            "--optimize needs Optuna, which is not installed: pip install 'iqwire[optimize]'"
        ) from None
    return optuna


def study_url(storage: str | os.PathLike[str]) -> str:
    """An Optuna storage URL: a database URL as given, a file path as ``sqlite:///ABSOLUTE``."""
    text = str(storage)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


# -- the worker -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialJob:
    """One trial as plain data: the backtest, and the thresholds under which it stops early."""

    job: SweepJob
    objective: str
    checkpoints: tuple[int, ...] = ()
    #: Per checkpoint, the score under which the trial is pruned (``None``: never).
    prune_below: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class TrialOutcome:
    """What a worker sends back: the running scores, and the summary unless pruned."""

    params: dict[str, Any]
    intermediate: tuple[float, ...]
    summary: dict[str, Any] | None


class _Pruned(Exception):
    """Raised inside the replay to stop a trial below a pruning threshold."""


class _Watch:
    """Scores the run at each checkpoint and stops it under the threshold."""

    def __init__(self, job: TrialJob) -> None:
        self._job = job
        self._next = 0
        self.values: list[float] = []

    def attach(self, strategy: Strategy) -> None:
        original = strategy.on_candle
        if not self._job.checkpoints:
            return

        async def on_candle(ctx: Context, candle: Candle) -> None:
            if self._next < len(self._job.checkpoints) and candle.end >= self._job.checkpoints[self._next]:
                self._reach(ctx, candle.end)
            result = original(ctx, candle)
            if inspect.isawaitable(result):  # a strategy may define a plain ``def on_candle``
                await result

        strategy.on_candle = on_candle  # type: ignore[method-assign]

    def _reach(self, ctx: Context, now: int) -> None:
        checkpoints, thresholds = self._job.checkpoints, self._job.prune_below
        report = Report(ctx.state.closed, self._job.job.balance).as_dict()
        while self._next < len(checkpoints) and now >= checkpoints[self._next]:
            value = objective_value(report, self._job.objective)
            self.values.append(value)
            threshold = thresholds[self._next] if self._next < len(thresholds) else None
            self._next += 1
            if threshold is not None and value < threshold:
                raise _Pruned


def run_trial(job: TrialJob) -> TrialOutcome:
    """Run one trial's backtest (the worker function), stopping early under a threshold."""
    watch = _Watch(job)
    try:
        params, summary = backtest_job(job.job, prepare=watch.attach)
    except _Pruned:
        return TrialOutcome(dict(job.job.params), tuple(watch.values), None)
    return TrialOutcome(params, tuple(watch.values), summary)


# -- results ---------------------------------------------------------------------------------------


@dataclass
class TrialRow:
    """One trial of the study: its parameters, in-sample score and, for the best, the holdout's."""

    number: int
    params: dict[str, Any]
    state: str  # "complete", "pruned", "failed" or "running"
    value: float | None
    summary: dict[str, Any] = field(default_factory=dict)
    holdout_value: float | None = None
    holdout_summary: dict[str, Any] | None = None


@dataclass
class OptimizeResult:
    """A finished search: complete trials best first, then pruned and failed ones."""

    study_name: str
    storage: str
    objective: str
    in_sample: tuple[int, int]
    holdout: tuple[int, int] | None
    rows: list[TrialRow]
    ran: int  # trials run by this call (a resumed study ran the others before)

    @property
    def best(self) -> TrialRow | None:
        """The complete trial with the best in-sample score."""
        return next((row for row in self.rows if row.state == "complete"), None)

    def count(self, state: str) -> int:
        """How many trials ended in ``state``."""
        return sum(1 for row in self.rows if row.state == state)


# -- the search ------------------------------------------------------------------------------------


def _distributions(optuna: Any, space: Mapping[str, Dimension]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, dimension in space.items():
        if isinstance(dimension, Choice):
            out[key] = optuna.distributions.CategoricalDistribution(dimension.values)
        elif isinstance(dimension, FloatRange):
            out[key] = optuna.distributions.FloatDistribution(
                dimension.low, dimension.high, log=dimension.log
            )
        else:
            out[key] = optuna.distributions.IntDistribution(dimension.low, dimension.high, log=dimension.log)
    return out


def _period(
    source: str, strategy: type[Strategy], payout: float | None, start: int | None, end: int | None
) -> tuple[int, int]:
    """``start``/``end``, or where the strategy's series begin and end in the data.

    Raises:
        ValueError: an active the data does not know, or no candles at all.
    """
    with open_candles(source) as candles:
        names, _ = strategy_actives(strategy, payout, candles.actives())
        if start is not None and end is not None:
            return start, end
        wanted = {(active_id, size) for active_id in names for size in strategy.sizes}
        ranges = [r for r in candles.ranges() if (r.active_id, r.size) in wanted]
    if not ranges:
        raise ValueError(f"no candles of {strategy.__name__}'s actives and sizes in {source}")
    first = start if start is not None else min(r.first for r in ranges)
    last = end if end is not None else max(r.last + r.size for r in ranges)
    return first, last


def _thresholds(optuna: Any, study: Any, steps: int, startup: int) -> tuple[float | None, ...]:
    """Per step, the median score of the complete trials there (``None`` before ``startup`` of them)."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < startup:
        return (None,) * steps
    out: list[float | None] = []
    for step in range(steps):
        values = [t.intermediate_values[step] for t in complete if step in t.intermediate_values]
        out.append(statistics.median(values) if values else None)
    return tuple(out)


def _settings(**settings: Any) -> dict[str, Any]:
    return {key: (list(value) if isinstance(value, tuple) else value) for key, value in settings.items()}


def _open_study(optuna: Any, url: str, name: str, seed: int, settings: dict[str, Any]) -> Any:
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(
        study_name=name, storage=url, direction="maximize", sampler=sampler, load_if_exists=True
    )
    stored = study.user_attrs.get("iqwire")
    if stored is None:
        study.set_user_attr("iqwire", settings)
    elif stored != settings:
        changed = ", ".join(sorted(key for key in settings if stored.get(key) != settings[key]))
        raise ValueError(
            f"the study {name!r} in {url} was run with other settings ({changed}); "
            "give another study name or storage to start a new search"
        )
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)  # left by a killed run
    return study


@contextlib.contextmanager
def _exclusive(url: str) -> Iterator[None]:
    """Hold a lock beside a SQLite study for the whole search (the OS drops it if the process dies).

    Two searches on one study would each mark the other's running trials failed.
    """
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        yield
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    lock = Path(url[len(prefix) :] + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"the study {lock.with_suffix('')} is in use by another search") from None
        yield


@contextlib.contextmanager
def _quiet(optuna: Any) -> Iterator[None]:
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def _rows(optuna: Any, study: Any) -> list[TrialRow]:
    states = {
        optuna.trial.TrialState.COMPLETE: "complete",
        optuna.trial.TrialState.PRUNED: "pruned",
        optuna.trial.TrialState.FAIL: "failed",
    }
    rows = [
        TrialRow(
            number=t.number,
            params=dict(t.params),
            state=states.get(t.state, "running"),
            # A pruned trial scores what it had when it stopped.
            value=t.value if t.value is not None else t.intermediate_values.get(t.last_step),
            summary=dict(t.user_attrs.get("summary", {})),
        )
        for t in study.get_trials(deepcopy=False)
    ]
    order = {"complete": 0, "pruned": 1, "failed": 2, "running": 3}
    return sorted(
        rows, key=lambda r: (order[r.state], -(r.value if r.value is not None else -math.inf), r.number)
    )


def optimize(
    strategy_ref: str,
    space: Mapping[str, Dimension],
    source: str | os.PathLike[str],
    start: int | None,
    end: int | None,
    *,
    trials: int,
    objective: str = "sharpe",
    holdout: float = 0.0,
    storage: str | os.PathLike[str] = "optimize.sqlite",
    study_name: str | None = None,
    seed: int = 0,
    workers: int | None = None,
    backend: str = "process",
    ray_address: str | None = None,
    base_params: Mapping[str, Any] | None = None,
    payout: float | None = None,
    balance: float = 10_000.0,
    limits: RiskLimits | None = None,
    checkpoints: int = 4,
    startup_trials: int = 5,
    top: int = 10,
    on_trial: Callable[[TrialRow], None] | None = None,
) -> OptimizeResult:
    """Search ``space`` for the parameters that maximise ``objective`` on ``[start, end)``.

    Runs trials until the study holds ``trials`` complete or pruned ones (0 more if it
    already does), ``workers`` at a time, then replays the best ``top`` on the holdout.
    ``on_trial`` is called in this process as each trial ends.

    Raises:
        ValueError: a bad objective, share, parameter or backend, or a study of that
            name run with other settings.
        ImportError: Optuna (or, for ``backend="ray"``, Ray) is not installed.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}: choose one of {', '.join(OBJECTIVES)}")
    if trials < 1:
        raise ValueError(f"trials must be at least 1, got {trials}")
    optuna = _optuna()
    reference = absolute_reference(strategy_ref)
    strategy_cls = load_strategy(reference)
    fitted = fit_space(strategy_cls, space)
    base = {key: value for key, value in (base_params or {}).items() if key not in fitted}
    check_params(strategy_cls, base)
    location = portable_source(source)
    first, last = _period(location, strategy_cls, payout, start, end)
    in_sample, held = split_holdout(first, last, holdout, step=max(strategy_cls.sizes))
    span = in_sample[1] - in_sample[0]
    marks = tuple(in_sample[0] + span * k // checkpoints for k in range(1, checkpoints))
    template = SweepJob(reference, {}, location, *in_sample, base, payout, balance, limits)
    name = study_name or f"{strategy_cls.__name__}-{objective}"
    url = study_url(storage)
    settings = _settings(
        strategy=reference,
        space=repr(sorted(fitted.items())),
        source=location,
        period=[first, last],
        holdout=holdout,
        objective=objective,
        base=repr(sorted(base.items())),
        payout=payout,
        balance=balance,
    )
    distributions = _distributions(optuna, fitted)
    with _exclusive(url), _quiet(optuna):
        study = _open_study(optuna, url, name, seed, settings)
        counted = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        remaining = max(0, trials - len(study.get_trials(deepcopy=False, states=counted)))
        with job_pool(backend, workers=workers, ray_address=ray_address) as pool:
            slots = capacity(pool, workers)
            pending: dict[concurrent.futures.Future[TrialOutcome], Any] = {}
            submitted = 0
            try:
                while submitted < remaining or pending:
                    while submitted < remaining and len(pending) < slots:
                        trial = study.ask(distributions)
                        params = coerce_params(strategy_cls, trial.params)
                        job = TrialJob(
                            replace(template, params=params),
                            objective,
                            marks,
                            _thresholds(optuna, study, len(marks), startup_trials),
                        )
                        pending[pool.submit(run_trial, job)] = trial
                        submitted += 1
                    done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                    for future in done:
                        trial = pending.pop(future)
                        try:
                            outcome = future.result()
                        except BaseException:
                            study.tell(trial, state=optuna.trial.TrialState.FAIL)
                            raise
                        row = _tell(optuna, study, trial, outcome, objective)
                        if on_trial is not None:
                            on_trial(row)
            finally:
                for trial in pending.values():  # interrupted: these never finished
                    study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
            rows = _rows(optuna, study)
            if held is not None:
                _score_holdout(
                    pool, template, held, objective, [r for r in rows if r.state == "complete"][:top]
                )
    return OptimizeResult(name, url, objective, in_sample, held, rows, submitted)


def _tell(optuna: Any, study: Any, trial: Any, outcome: TrialOutcome, objective: str) -> TrialRow:
    for step, running in enumerate(outcome.intermediate):
        trial.report(running, step)
    if outcome.summary is None:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        last = outcome.intermediate[-1] if outcome.intermediate else None
        return TrialRow(trial.number, dict(outcome.params), "pruned", last)
    kept = {key: outcome.summary.get(key) for key in _KEPT}
    trial.set_user_attr("summary", kept)
    value = objective_value(outcome.summary, objective)
    study.tell(trial, value)
    return TrialRow(trial.number, dict(outcome.params), "complete", value, kept)


def _score_holdout(
    pool: concurrent.futures.Executor,
    template: SweepJob,
    period: tuple[int, int],
    objective: str,
    rows: Sequence[TrialRow],
) -> None:
    futures = [
        pool.submit(run_job, replace(template, params=row.params, start=period[0], end=period[1]))
        for row in rows
    ]
    for row, future in zip(rows, futures, strict=True):
        _, summary = future.result()
        row.holdout_summary = {key: summary.get(key) for key in _KEPT}
        row.holdout_value = objective_value(summary, objective)
