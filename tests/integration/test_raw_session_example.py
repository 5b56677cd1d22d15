"""`iqwire sim` from the CLI, then examples/raw_session.py through a whole session in raw frames."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


async def test_raw_websocket_session_against_the_cli_simulator() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Popen only starts the process; the reads below go through a thread.
    server = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "iqwire.cli", "sim", "--port", "0", "--speed", "20", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        url = None
        for _ in range(50):
            line = await asyncio.to_thread(server.stdout.readline)
            found = re.search(r"(http://127\.0\.0\.1:\d+)", line)
            if found:
                url = found.group(1)
                break
        assert url is not None, "iqwire sim printed no login URL"
        sys.path.insert(0, str(ROOT / "examples"))
        try:
            import raw_session
        finally:
            sys.path.remove(str(ROOT / "examples"))
        position = await asyncio.wait_for(raw_session.session(url), 30)
        assert position["status"] == "closed"
        assert position["close_reason"] in ("win", "loose", "equal")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            assert server.wait(timeout=10) == 0
        finally:
            if server.poll() is None:
                server.kill()
            if server.stdout is not None:
                server.stdout.close()
