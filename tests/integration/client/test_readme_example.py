"""The README's first example, run as a user would run it.

Paste this into README.md as is (``test_the_docstring_is_the_code_that_runs``
keeps it identical to ``main`` below)::

    import asyncio

    from iqwire.client import Client
    from iqwire.sim import ManualClock, Simulator


    async def main() -> None:
        async with Simulator(seed=7, clock=ManualClock(1_770_899_100)) as sim:
            async with Client(
                email=sim.credentials.email,
                password=sim.credentials.password,
                ws_url=sim.ws_url,
                login_url=sim.login_url,
            ) as client:
                for balance in await client.get_balances():
                    print(f"{balance.type.name:<10} {balance.amount:>10.2f} {balance.currency}")

                async def move_time() -> None:  # a manual clock moves only when told to
                    while True:
                        await sim.advance(1)
                        await asyncio.sleep(0.01)

                ticker = asyncio.create_task(move_time())
                async with client.candles(active_id=76, size=1) as candles:
                    for _ in range(5):
                        candle = await candles.get()
                        print(f"candle {candle.id} from {candle.start}: close {candle.close}")
                ticker.cancel()


    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import inspect
import re
import textwrap

import pytest

from iqwire.client import Client
from iqwire.sim import ManualClock, Simulator


async def main() -> None:
    async with Simulator(seed=7, clock=ManualClock(1_770_899_100)) as sim:
        async with Client(
            email=sim.credentials.email,
            password=sim.credentials.password,
            ws_url=sim.ws_url,
            login_url=sim.login_url,
        ) as client:
            for balance in await client.get_balances():
                print(f"{balance.type.name:<10} {balance.amount:>10.2f} {balance.currency}")

            async def move_time() -> None:  # a manual clock moves only when told to
                while True:
                    await sim.advance(1)
                    await asyncio.sleep(0.01)

            ticker = asyncio.create_task(move_time())
            async with client.candles(active_id=76, size=1) as candles:
                for _ in range(5):
                    candle = await candles.get()
                    print(f"candle {candle.id} from {candle.start}: close {candle.close}")
            ticker.cancel()


def _snippet() -> str:
    assert __doc__ is not None
    _, _, block = __doc__.partition("::\n")
    return textwrap.dedent(block).strip()


def test_the_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(main())  # exactly as the README runs it: its own event loop

    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [
        "REAL           100.00 USD",
        "DEMO         10000.00 USD",
        "TOURNAMENT    1000.00 USD",
        "DEMO         10000.00 USD",  # the marginal demo balance
    ]
    candles = lines[4:]
    assert len(candles) == 5
    assert all(re.fullmatch(r"candle \d+ from \d+: close \d+\.\d+", line) for line in candles)
    starts = [int(line.split()[3].rstrip(":")) for line in candles]
    assert starts == sorted(starts)
    assert starts[0] >= 1_770_899_100


def test_the_docstring_is_the_code_that_runs() -> None:
    snippet = _snippet()
    body, _, run = snippet.rpartition("\n\n\n")
    imports, _, code = body.partition("\n\n\nasync def main")

    assert run == "asyncio.run(main())"
    assert "async def main" + code == inspect.getsource(main).strip()
    source = inspect.getsource(inspect.getmodule(main))  # type: ignore[arg-type]
    for line in imports.splitlines():
        assert not line or line in source.splitlines(), f"the README imports {line!r}, the test does not"
    assert len(snippet.splitlines()) <= 32
