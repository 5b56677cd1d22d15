"""``iqwire record``: a short session recorded as JSON lines (secrets redacted), for replay tests.

Example::

    $ iqwire record --out session.jsonl --sim --seconds 5
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from iqwire.cli.common import (
    ConnectionOptions,
    EmailOpt,
    LoginUrlOpt,
    PasswordOpt,
    SimOpt,
    WsUrlOpt,
    cli_errors,
    resolve_in,
    stdout_console,
)
from iqwire.cli.connect import connect
from iqwire.errors import IqwireError
from iqwire.store.recording import iter_recording

__all__ = ["app", "record"]

app = typer.Typer()


@app.command("record")
def record(
    out: Annotated[Path, typer.Option("--out", help="The JSONL file to write.")] = Path("session.jsonl"),
    seconds: Annotated[float, typer.Option(min=0, help="How long to record the candle stream.")] = 5.0,
    active: Annotated[str, typer.Option(help="The asset whose candles are streamed.")] = "EURUSD-OTC",
    size: Annotated[int, typer.Option(min=1, help="Candle size of the stream.")] = 1,
    sim: SimOpt = False,
    ws_url: WsUrlOpt = None,
    login_url: LoginUrlOpt = None,
    email: EmailOpt = None,
    password: PasswordOpt = None,
) -> None:
    """Record a short session (profile, balances, a candle stream) as JSON lines, secrets redacted."""
    options = ConnectionOptions(sim, ws_url, login_url, email, password)

    async def run() -> int:
        candles = 0
        async with connect(options, record_to=out) as connected:
            client = connected.client
            active_id = resolve_in(active, await client.get_initialization_data(refresh=False)).id
            await client.get_profile()
            await client.get_balances()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            async with client.candles(active_id, size) as stream:
                while (left := deadline - loop.time()) > 0:
                    try:
                        await asyncio.wait_for(stream.get(), left)
                    except TimeoutError:
                        break
                    candles += 1
        return candles

    with cli_errors():
        try:
            candles = asyncio.run(run())
            frames = sum(1 for _ in iter_recording(out))  # one line per frame
        except OSError as exc:
            raise IqwireError(f"cannot write {out}: {exc.strerror}") from exc
    stdout_console().print(f"recorded {frames} frames ({candles} candle updates) to {escape(str(out))}")
