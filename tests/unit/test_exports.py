"""The public names resolve, and the package root stays free of I/O imports."""

from __future__ import annotations

import subprocess
import sys

import iqwire


def test_every_public_name_resolves() -> None:
    for name in iqwire.__all__:
        assert getattr(iqwire, name) is not None, name


def test_client_is_the_asyncio_client() -> None:
    from iqwire.client.client import Client

    assert iqwire.Client is Client


def test_importing_the_package_root_loads_no_io_module() -> None:
    code = (
        "import iqwire, sys; print(sorted({'asyncio', 'websockets', 'httpx', 'aiohttp'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
