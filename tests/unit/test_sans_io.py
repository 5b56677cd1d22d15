"""The protocol core is sans-I/O: importing it pulls in no network or event-loop module."""

from __future__ import annotations

import subprocess
import sys

IO_MODULES = {"asyncio", "websockets", "httpx", "socket", "aiohttp"}

CHECK = (
    "import iqwire.protocol, iqwire.models, sys; "
    f"leaked = {sorted(IO_MODULES)!r}; "
    "found = sorted(set(leaked) & set(sys.modules)); "
    "assert not found, found"
)


def test_protocol_and_models_import_no_io_module() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr


def test_the_check_itself_detects_a_leak() -> None:
    check = CHECK.replace(
        "import iqwire.protocol, iqwire.models", "import iqwire.protocol, iqwire.models, socket"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode != 0
    assert "socket" in result.stderr
