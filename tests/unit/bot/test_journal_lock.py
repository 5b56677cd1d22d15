"""One bot per journal: the run lock refuses a second holder and dies with a killed process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from iqwire.bot.journal import Journal, RunLock
from iqwire.errors import JournalError, JournalInUse

HOLDER = """
import sys, time
from iqwire.bot.journal import Journal
journal = Journal.open(sys.argv[1])
journal.claim()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_claim_is_refused_until_the_first_is_released(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal.open(path) as first, Journal.open(path) as second:
        first.claim()
        first.claim()  # idempotent for its holder
        with pytest.raises(JournalInUse) as refused:
            second.claim()
        assert refused.value.pid == os.getpid()
        assert isinstance(refused.value, JournalError)
        assert f"the journal {path} is in use by another running bot (pid {os.getpid()})" in str(
            refused.value
        )
        assert second.trades() == []  # reading needs no lock
        first.release()
        second.claim()
    # Closing a journal gives its lock back.
    RunLock.acquire(path).release()


def test_a_bot_killed_with_sigkill_never_blocks_the_restart(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            with Journal.open(path) as journal:
                with pytest.raises(JournalInUse) as refused:
                    journal.claim()
                assert refused.value.pid == holder.pid
                holder.send_signal(signal.SIGKILL)
                holder.wait(10)
                journal.claim()  # the kernel dropped the dead process's lock
        finally:
            if holder.poll() is None:
                holder.kill()


def test_a_lock_file_that_cannot_be_created_is_a_journal_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="cannot create the journal's lock file"):
        RunLock.acquire(tmp_path / "missing" / "j.sqlite")
