"""Where the backtests of a sweep or a search run: local processes, or a Ray cluster.

Both backends are a :class:`concurrent.futures.Executor`, so a sweep or an
optimiser submits plain, picklable jobs to a top-level worker function and waits
on ordinary futures, whichever backend runs them:

* ``"process"``: a :class:`~concurrent.futures.ProcessPoolExecutor` on the
  ``spawn`` context (a fresh interpreter per worker: no inherited threads, event
  loops, sockets or SQLite connections, which ``fork`` would copy);
* ``"ray"``: each job is a Ray task (``num_cpus=1``) on the cluster at
  ``ray_address`` (``None`` starts a local one, or joins the one already
  initialised), and its ``ObjectRef.future()`` is the future.

Example::

    from iqwire.bot.workers import job_pool

    with job_pool("ray", workers=4, ray_address="ray://head:10001") as pool:
        futures = [pool.submit(run_job, job) for job in jobs]
        rows = [future.result() for future in futures]
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

__all__ = ["BACKENDS", "RayExecutor", "capacity", "import_ray", "job_pool"]

#: Where the jobs of a sweep or a search can run.
BACKENDS = ("process", "ray")

P = ParamSpec("P")
T = TypeVar("T")


def import_ray() -> Any:
    """The ``ray`` module, or an ImportError that says how to install it."""
    try:
        import ray  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError as exc:
        raise ImportError(
            "the ray backend needs Ray, which is not installed: pip install 'iqwire[ray]' "
            "(or use the default process backend); see docs/scaling.md"
        ) from exc
    return ray


class RayExecutor(concurrent.futures.Executor):
    """Runs each submitted call as a Ray task with one CPU.

    Joins the Ray runtime already initialised in this process; otherwise starts one
    (``address=None``: a local cluster with ``num_cpus`` CPUs) or connects to
    ``address`` (``"auto"``, ``"ray://head:10001"``), and shuts down on
    :meth:`shutdown` only what it started.
    """

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None) -> None:
        self._ray = import_ray()
        self._started = not self._ray.is_initialized()
        if self._started:
            # A local start may size the cluster; a remote cluster has its own size.
            local = {"num_cpus": num_cpus} if address is None and num_cpus is not None else {}
            self._ray.init(address=address, **local)
        self._remote: dict[Callable[..., Any], Any] = {}
        self._pending: list[Any] = []

    def capacity(self) -> int:
        """The CPUs of the cluster: how many one-CPU tasks run at once."""
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = self._ray.remote(num_cpus=1)(fn)
        ref = remote.remote(*args, **kwargs)
        self._pending.append(ref)
        future: concurrent.futures.Future[T] = ref.future()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            for ref in self._pending:
                with contextlib.suppress(Exception):  # already finished, or the cluster is gone
                    self._ray.cancel(ref)
        self._pending.clear()
        if self._started:
            self._ray.shutdown()
            self._started = False


def _exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """A process worker's initializer: the worker ends when ``parent`` (its pool's process) is gone.

    A pool whose process is killed (``kill -9``, an out-of-memory kill) never shuts
    its workers down, and a ``spawn`` worker never notices on its own: it unpickled
    both ends of its call queue, so its read never sees end-of-file and it would
    wait forever, holding its memory. It exits without cleanup (``os._exit``): the
    result it could still compute has nowhere to go.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="iqwire-parent-watch", daemon=True).start()


def capacity(pool: concurrent.futures.Executor, workers: int | None = None) -> int:
    """How many jobs ``pool`` runs at once: ``workers`` if given, else its CPUs."""
    if workers is not None:
        return workers
    if isinstance(pool, RayExecutor):
        return pool.capacity()
    return os.cpu_count() or 1


@contextlib.contextmanager
def job_pool(
    backend: str = "process", *, workers: int | None = None, ray_address: str | None = None
) -> Iterator[concurrent.futures.Executor]:
    """An executor for ``backend``; on an exception, the jobs not started yet are cancelled.

    ``workers`` caps the processes (default: the CPU count); with Ray it sizes a
    local cluster this call starts, and is ignored otherwise.

    Raises:
        ValueError: an unknown backend or ``workers < 1``.
        ImportError: ``backend="ray"`` without Ray installed.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    pool: concurrent.futures.Executor
    if backend == "ray":
        pool = RayExecutor(ray_address, num_cpus=workers)
    else:
        count = workers if workers is not None else (os.cpu_count() or 1)
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=count,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
