"""The process backend's workers do not outlive a pool whose process was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaps counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_worker_ends_when_its_pool_process_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "pool.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, time
            from iqwire.bot.workers import job_pool

            if __name__ == "__main__":
                with job_pool(workers=1) as pool:
                    print(pool.submit(os.getpid).result(), flush=True)
                    time.sleep(120)
            """
        ),
        encoding="utf-8",
    )
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert process.stdout is not None
        worker = int(process.stdout.readline())
        assert worker != process.pid and _alive(worker)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
    deadline = time.monotonic() + 20
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _alive(worker)
    if alive:  # do not leave it behind when the check fails
        os.kill(worker, signal.SIGKILL)
    assert not alive, "the worker outlived its killed pool process"
