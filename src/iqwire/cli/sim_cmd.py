"""``iqwire sim``: serve the simulator until SIGINT or SIGTERM, and say where (for ``--sim``).

Example::

    $ iqwire sim                              # terminal 1: listens on 127.0.0.1:8765
    $ iqwire balances --sim                   # terminal 2: finds it through its state file
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
import tomllib
from pathlib import Path
from typing import Annotated

import typer

from iqwire.cli.common import EXIT_USAGE, ConnectionOptions, fail, stdout_console
from iqwire.cli.connect import clear_state, embedded_simulator, write_state
from iqwire.sim import SimConfig, Simulator
from iqwire.sim.config import DEMO_EMAIL, DEMO_PASSWORD, load_config
from iqwire.sim.faults import parse_fault_spec

__all__ = ["app", "sim"]

app = typer.Typer()


def _load(config: Path | None, faults: str | None) -> SimConfig:
    try:
        settings = load_config(config) if config is not None else SimConfig()
    except (OSError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
        fail(f"cannot use the config file {config}: {exc}", EXIT_USAGE)
    if faults is not None:
        try:
            parse_fault_spec(faults)
        except ValueError as exc:
            fail(f"--faults: {exc}", EXIT_USAGE)
        settings = dataclasses.replace(settings, faults=faults or None)
    return settings


def _account_lines(settings: SimConfig, config: Path | None) -> list[str]:
    lines: list[str] = []
    for account in settings.accounts:
        if account.email == DEMO_EMAIL and account.password == DEMO_PASSWORD:
            # The built-in demo account's password is public (iqwire.sim.config.DEMO_PASSWORD).
            lines.append(f"{account.email} / {account.password}")
        elif config is None:
            continue
        else:
            lines.append(f"{account.email} / (password as set in {config})")
    return lines


async def _serve(simulator: Simulator, settings: SimConfig, config: Path | None) -> None:
    try:
        await simulator.start()
    except OSError as exc:
        await simulator.stop()
        fail(f"cannot listen on {simulator.host}:{simulator.port}: {exc.strerror or exc}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows' loops
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    state = write_state(simulator, settings)
    try:
        console = stdout_console()
        console.print(
            f"[bold]iqwire simulator[/] (seed {simulator.seed}, speed {_speed(simulator):g}x)",
            soft_wrap=True,
        )
        console.print(f"WebSocket URL: {simulator.ws_url}", soft_wrap=True)
        console.print(f"Login URL:     {simulator.login_url}", soft_wrap=True)
        for line in _account_lines(settings, config):
            console.print(f"Account:       {line}", soft_wrap=True)
        if settings.faults:
            console.print(f"Faults:        {settings.faults}", soft_wrap=True)
        console.print(f"State file:    {state} (commands with --sim connect here)", soft_wrap=True)
        console.print("Press Ctrl-C to stop.", soft_wrap=True)
        sys.stdout.flush()
        await stop.wait()
    finally:
        clear_state()
        for sig in installed:
            loop.remove_signal_handler(sig)
        await simulator.stop()
    stdout_console().print("simulator stopped", soft_wrap=True)


def _speed(simulator: Simulator) -> float:
    return float(getattr(simulator.clock, "speed", 1.0))


@app.command("sim")
def sim(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on; 0 picks a free one (and prints it).")
    ] = 8765,
    seed: Annotated[int, typer.Option(min=0, help="Seed of prices, moods and random faults.")] = 0,
    speed: Annotated[float, typer.Option(min=0.001, help="Simulated seconds per real second.")] = 1.0,
    now: Annotated[
        bool,
        typer.Option(
            "--now", help="Start the clock at the wall-clock time (default: a fixed origin, reproducible)."
        ),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(help="A TOML file of simulator settings (see iqwire.sim.config).", show_default=False),
    ] = None,
    faults: Annotated[
        str | None,
        typer.Option(
            help="Random faults, e.g. 'disconnect=0.001,malformed=0.01' (per-step probabilities).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve a local simulator of the IQ Option server until Ctrl-C (SIGINT) or SIGTERM.

    Prints the WebSocket URL, the login URL and the demo account, and writes them to
    a state file so that any command with --sim connects here. Stops cleanly (close
    frames to every client), removes the state file and exits 0.
    """
    settings = _load(config, faults)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        options = ConnectionOptions(sim=True, seed=seed, speed=speed, now=now)
        simulator = embedded_simulator(options, host=host, port=port, config=settings)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    with contextlib.suppress(KeyboardInterrupt):  # a platform without loop signal handlers
        asyncio.run(_serve(simulator, settings, config))
