"""Server time from ``timeSync`` heartbeats, moving monotonically between them."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["ServerClock"]


class ServerClock:
    """The server's clock as the client last heard it, extrapolated locally.

    ``now()`` never goes backwards, even when a later ``timeSync`` is behind the
    extrapolation (the platform's heartbeats are a few ms apart from our timer).

    Example::

        clock = ServerClock()
        clock.sync(1_770_899_115_227)
        clock.now()   # ≈ 1770899115.227 plus the time since
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._server_at_sync: float | None = None
        self._local_at_sync = 0.0
        self._last = float("-inf")
        self.last_sync_local: float | None = None

    def sync(self, server_time_ms: int) -> None:
        """Record a ``timeSync`` (unix milliseconds).

        One older than the last applied (a delayed, reordered frame) only proves the
        connection alive: re-basing on it would hold server time still until it caught up.
        """
        local = self._monotonic()
        self.last_sync_local = local
        server = server_time_ms / 1000
        if self._server_at_sync is not None and server < self._server_at_sync:
            return
        self._server_at_sync = server
        self._local_at_sync = local

    @property
    def synced(self) -> bool:
        """Whether a ``timeSync`` has arrived yet."""
        return self._server_at_sync is not None

    def now(self) -> float:
        """Server time in unix seconds (local wall clock until the first sync)."""
        if self._server_at_sync is None:
            value = time.time()
        else:
            value = self._server_at_sync + (self._monotonic() - self._local_at_sync)
        self._last = max(self._last, value)
        return self._last

    def seconds_since_sync(self) -> float | None:
        """How long ago (local seconds) the last ``timeSync`` arrived."""
        if self.last_sync_local is None:
            return None
        return self._monotonic() - self.last_sync_local
