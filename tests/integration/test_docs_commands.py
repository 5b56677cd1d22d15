"""The README's command-line section and docs/scaling.md's commands, run verbatim: each must exit 0.

The commands are read from the files, so a line added to either is covered at once. The
README's ``iqwire sim`` is started as the README says, on a free port (``--port 0``
instead of its fixed one) and with its state file in a temporary folder; every other
line runs as written, in a shell, from a folder that has the repository's ``examples/``.
A scaling.md command that needs an optional package which is not installed (Ray for
``--backend ray``, Optuna for ``--optimize``) or a remote dataset is skipped, by name,
and a search's ``--trials`` is capped at :data:`MAX_TRIALS` (the command's shape is what
is tested; a 200-trial search would take minutes of ``make test``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
SCALING = REPO / "docs" / "scaling.md"

#: What a docs command may need that a test machine need not have: (marker in the command, module).
OPTIONAL = (("--backend ray", "ray"), ("--optimize", "optuna"))
#: The most trials a documented search runs here.
MAX_TRIALS = 12
#: Data a test cannot reach (object storage, cluster paths).
REMOTE = ("s3://", "gs://", "ray://", "/shared/")


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(f"\n{heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def _code_blocks(markdown: str) -> list[list[str]]:
    return [block.splitlines() for block in re.findall(r"^```[a-z]*\n(.*?)^```", markdown, re.M | re.S)]


def _commands(lines: list[str], prompt: str = "") -> list[str]:
    """Shell commands of a code block: ``prompt``-prefixed lines (if given), ``\\`` continuations joined."""
    commands: list[str] = []
    pending: str | None = None
    for raw in lines:
        line = raw.rstrip()
        if pending is None:
            if not line.startswith(prompt) or not line[len(prompt) :].strip():
                continue
            line = line[len(prompt) :]
        else:
            line = pending + " " + line.strip()
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        pending = None
        commands.append(line.strip())
    return commands


def readme_commands() -> list[str]:
    """Every line of the README's command-line section's ``sh`` blocks."""
    section = _section(README.read_text(encoding="utf-8"), "## The command line")
    return [c for block in _code_blocks(section) for c in _commands(block) if not c.startswith("#")]


def scaling_commands() -> list[str]:
    """Every ``$ iqwire …`` command of docs/scaling.md."""
    blocks = _code_blocks(SCALING.read_text(encoding="utf-8"))
    return [c for block in blocks for c in _commands(block, "$ ") if c.startswith("iqwire ")]


@dataclass
class Sandbox:
    """A folder with ``examples/``, an environment, and the README's ``iqwire sim`` running."""

    folder: Path
    env: dict[str, str]

    def run(self, command: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            shell=True,
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _is_sim(command: str) -> bool:
    return shlex.split(command, comments=True)[:2] == ["iqwire", "sim"]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    folder = tmp_path_factory.mktemp("docs")
    (folder / "examples").symlink_to(REPO / "examples")
    state = folder / "state" / "sim.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IQWIRE_")}
    env["IQWIRE_SIM_STATE"] = str(state)
    env["IQWIRE_DATA_DIR"] = str(folder / "data")  # journals: never the user's
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    sims = [c for c in readme_commands() if _is_sim(c)]
    assert len(sims) == 1, f"the README should start exactly one 'iqwire sim': {sims}"
    line = re.sub(r"--port \d+", "--port 0", sims[0])
    server = subprocess.Popen(
        shlex.split(line, comments=True),
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not state.exists():
            assert server.poll() is None, server.communicate()
            assert time.monotonic() < deadline, "iqwire sim wrote no state file in 30 s"
            time.sleep(0.05)
        assert json.loads(state.read_text())["ws_url"].startswith("ws://127.0.0.1:")
        yield Sandbox(folder, env)
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "simulator stopped" in out
    assert not state.exists()  # the state file goes with the simulator


def test_the_readme_has_the_two_terminal_flow() -> None:
    commands = readme_commands()
    assert _is_sim(commands[0])
    others = commands[1:]
    assert len(others) >= 8
    assert all(c.startswith("iqwire ") for c in others)
    assert sum("--sim" in c for c in others) >= 6


def test_every_readme_command_exits_0(sandbox: Sandbox) -> None:
    for command in readme_commands():
        if _is_sim(command):
            continue
        result = sandbox.run(command)
        assert result.returncode == 0, f"{command}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        assert "note: no 'iqwire sim' is running" not in result.stderr, command  # it found the README's sim
        assert "Traceback" not in result.stderr, command


def _needs(command: str) -> str | None:
    for marker, module in OPTIONAL:
        if marker in command and importlib.util.find_spec(module) is None:
            return f"needs {module}, not installed"
    if any(remote in command for remote in REMOTE):
        return "needs remote data or a cluster"
    return None


@pytest.mark.parametrize("command", scaling_commands())
def test_every_scaling_command_exits_0(sandbox: Sandbox, command: str) -> None:
    reason = _needs(command)
    if reason is not None:
        pytest.skip(f"{reason}: {command}")
    if not (sandbox.folder / "candles.sqlite").exists():  # run alone: the README's download first
        download = next(c for c in readme_commands() if c.startswith("iqwire candles download"))
        assert sandbox.run(download).returncode == 0
    capped = re.sub(r"--trials (\d+)", lambda m: f"--trials {min(int(m.group(1)), MAX_TRIALS)}", command)
    result = sandbox.run(capped)
    assert result.returncode == 0, f"{capped}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr, command
