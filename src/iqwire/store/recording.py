"""Record every WebSocket frame of a session as JSON lines, secrets redacted before disk.

One line per frame::

    {"t": 0.0132, "dir": "out", "frame": "{\\"name\\":\\"sendMessage\\", ...}"}

``t`` is seconds since the recorder was created (monotonic clock), ``dir`` is
``"out"`` (client to server) or ``"in"``, ``frame`` the frame's text.

Redaction happens in :meth:`FrameRecorder.frame`, before anything is written:

* an ``authenticate`` frame keeps its name and ``request_id``; its whole ``msg``
  becomes ``{"ssid": "***"}``;
* a secret string (the session's SSID and password, as the ``secrets`` callable
  returns them at that moment) becomes ``***`` wherever it is a whole JSON string,
  and also inside longer strings when it has 8 characters or more (SSIDs do);
* in a frame that mentions one of the keys ``ssid``, ``password``, ``cookie``,
  ``cookies``, ``set-cookie`` or ``authorization``, the values of those keys are
  replaced with ``"***"`` at any depth.

Example::

    async with Client(email=..., password=..., record_to="session.jsonl") as client:
        await client.get_profile()
    frames = load_recording("session.jsonl")
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

__all__ = [
    "MIN_SUBSTRING_SECRET",
    "REDACTED",
    "FrameRecorder",
    "RecordedFrame",
    "iter_recording",
    "load_recording",
    "redact_frame",
]

REDACTED = "***"
_SENSITIVE_KEYS = frozenset({"ssid", "password", "cookie", "cookies", "set-cookie", "authorization"})
_MARKERS = (*(f'"{key}"' for key in _SENSITIVE_KEYS), '"Set-Cookie"', '"Authorization"', '"Cookie"')
#: A secret is replaced inside longer strings only from this length on; a shorter one (the
#: simulator's password is "demo") only where it is a whole JSON string, so an e-mail address
#: like demo@example.com survives.
MIN_SUBSTRING_SECRET = 8

Direction = Literal["in", "out"]


@dataclass(frozen=True, slots=True)
class RecordedFrame:
    """One line of a recording."""

    t: float
    dir: Direction
    frame: str


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED if isinstance(key, str) and key.lower() in _SENSITIVE_KEYS else _scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def redact_frame(text: str, secrets: Iterable[str | None] = ()) -> str:
    """The frame with the authenticate body, sensitive keys and secret strings redacted."""
    for secret in secrets:
        if not secret:
            continue
        quoted = json.dumps(secret)
        if quoted in text:
            text = text.replace(quoted, f'"{REDACTED}"')
        if len(secret) >= MIN_SUBSTRING_SECRET:
            for form in {quoted[1:-1], secret}:
                if form in text:
                    text = text.replace(form, REDACTED)
    if '"authenticate"' in text or any(marker in text for marker in _MARKERS):
        try:
            data = json.loads(text)
        except ValueError:
            return text
        if isinstance(data, dict):
            if data.get("name") == "authenticate":
                data["msg"] = {"ssid": REDACTED}
            data = _scrub(data)
            text = json.dumps(data, separators=(",", ":"))
    return text


class FrameRecorder:
    """Appends redacted frames to a JSONL file; reopens it if used after :meth:`close`.

    Args:
        path: the file (truncated when the recorder is created).
        secrets: returns the strings to redact now (the SSID changes on re-login).
    """

    def __init__(
        self, path: str | Path, *, secrets: Callable[[], Iterable[str | None]] | None = None
    ) -> None:
        self.path = Path(path)
        self._secrets = secrets
        self._origin = time.monotonic()
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8")
        self.frames = 0

    def __repr__(self) -> str:
        return f"FrameRecorder({str(self.path)!r}, frames={self.frames})"

    def frame(self, direction: Direction, data: bytes | str) -> None:
        """Record one frame (redacted first)."""
        text = data.decode("utf-8", "replace") if isinstance(data, bytes | bytearray) else data
        secrets = self._secrets() if self._secrets is not None else ()
        line = json.dumps(
            {
                "t": round(time.monotonic() - self._origin, 6),
                "dir": direction,
                "frame": redact_frame(text, secrets),
            }
        )
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(line + "\n")
        self.frames += 1

    def flush(self) -> None:
        """Push buffered lines to the file."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Flush and close the file. Idempotent."""
        if self._file is not None:
            self._file.close()
            self._file = None


def iter_recording(path: str | Path) -> Iterator[RecordedFrame]:
    """The frames of a recording, in order.

    Raises:
        ValueError: a line is not a recorded frame.
    """
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                direction = data["dir"]
                if direction not in ("in", "out"):
                    raise ValueError(f"dir must be 'in' or 'out', got {direction!r}")
                yield RecordedFrame(float(data["t"]), direction, str(data["frame"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{number}: not a recorded frame ({exc})") from None


def load_recording(path: str | Path) -> list[RecordedFrame]:
    """Every frame of a recording, in order."""
    return list(iter_recording(path))
