"""One bot per journal: an OS file lock on ``<journal>.lock``, held while a bot runs.

Two bots appending to one journal would each adopt the other's trades at their
next start. The lock is an advisory OS lock (``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows), not a pid file: the kernel releases it when its
process ends, however it ends, so a bot killed with ``kill -9`` never blocks its
restart. The holder's pid is written into the file only to name it in the error.

Example::

    lock = RunLock.acquire(Path("trades.sqlite"))   # JournalInUse if another bot runs on it
    try:
        ...
    finally:
        lock.release()
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from iqwire.errors import JournalError, JournalInUse

__all__ = ["RunLock", "lock_path"]


def lock_path(journal: Path) -> Path:
    """The lock file beside a journal: ``trades.sqlite`` → ``trades.sqlite.lock``."""
    return journal.with_name(journal.name + ".lock")


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock without waiting; ``False`` when another process holds it."""
    if sys.platform == "win32":
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def _holder(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class RunLock:
    """The run lock of one journal, held by this process until :meth:`release` (or its end)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, journal: Path) -> RunLock:
        """Lock ``journal`` for this process's bot run.

        Raises:
            JournalInUse: another process holds it (a bot is running on this journal).
            JournalError: the lock file cannot be created.
        """
        path = lock_path(journal)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalError(f"cannot create the journal's lock file {path}: {exc}") from exc
        if not _try_lock(fd):
            pid = _holder(fd)
            os.close(fd)
            who = f" (pid {pid})" if pid is not None else ""
            raise JournalInUse(
                f"the journal {journal} is in use by another running bot{who}: one bot per journal; "
                "stop that bot or give this one its own --journal FILE",
                pid,
            )
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        except OSError:
            pass  # the pid only names the holder in an error; the lock is what counts
        return cls(path, fd)

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Give the lock back (idempotent). The file stays: removing it would race a new holder."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            _unlock(fd)
        finally:
            os.close(fd)
