"""Helpers for the command-line tests: running ``iqwire`` in-process and checking its errors."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from iqwire.cli import app
from iqwire.sim import Simulator


def url_args(sim: Simulator) -> list[str]:
    """The options that point a command at ``sim``."""
    return ["--ws-url", sim.ws_url, "--login-url", sim.login_url]


def account(sim: Simulator) -> list[str]:
    """The options that log a command in to ``sim`` as the demo user."""
    return [*url_args(sim), "--email", "demo@example.com", "--password", "demo"]


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``iqwire ARGS`` in-process (an exception propagates instead of being caught)."""
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def assert_clean_failure(result: Result, code: int, message: str) -> None:
    """The command failed with ``code`` and one red line on stderr that says ``message``, no traceback.

    A ``note:`` line before it (such as "started an embedded simulator") is allowed.
    """
    assert result.exit_code == code, result.output
    errors = "".join(
        line for line in result.stderr.splitlines(keepends=True) if not line.startswith("note: ")
    )
    assert message in errors, result.stderr
    assert errors.startswith("error: "), result.stderr
    assert errors.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
