"""What a new user meets in the first hour: ``--sim`` finds the running simulator, errors are one
line with the documented exit code, Ctrl-C in a download says what is saved, and seeds repeat."""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import assert_clean_failure, invoke

from iqwire.cli import candles_cmd
from iqwire.cli.common import EXIT_CODES_TEXT, ExitCode
from iqwire.cli.connect import STATE_ENV, clear_state, read_state, state_path, write_state
from iqwire.sim import SimConfig, Simulator
from iqwire.sim.actives import find_active
from iqwire.sim.prices import PriceModel
from iqwire.store.candles import CandleStore, StoredActive

FAST = {"IQWIRE_SIM_SPEED": "50"}
#: 2026-02-10 00:00 UTC.
DAY0 = 1_770_681_600


def test_the_exit_code_table() -> None:
    assert [(code.name, int(code)) for code in ExitCode] == [
        ("OK", 0),
        ("ERROR", 1),
        ("USAGE", 2),
        ("INTERRUPTED", 130),
    ]
    assert EXIT_CODES_TEXT in invoke("--help").stdout.replace("\n  ", " ")


# -- --sim means the local simulator -----------------------------------------------------------------


def test_state_file_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "here.json"))
    assert state_path() == tmp_path / "here.json"
    monkeypatch.delenv(STATE_ENV)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert state_path() == tmp_path / "iqwire" / "sim.json"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert state_path() == Path.home() / ".cache" / "iqwire" / "sim.json"


def test_sim_commands_share_the_running_simulators_account(tsim: Simulator) -> None:
    path = write_state(tsim, SimConfig())
    try:
        running = read_state()
        assert running is not None and running.ws_url == tsim.ws_url and running.pid == os.getpid()
        assert "demo" not in repr(running)  # the password stays out of reprs
        traded = invoke("trade", "EURUSD-OTC", "call", "10", "-e", "5", "--sim")
        assert traded.exit_code == 0, traded.output
        assert "note:" not in traded.stderr  # no embedded simulator: the running one answered
        option_id = traded.stdout.split("#", 1)[1].split(":", 1)[0]
        history = invoke("history", "--sim")
        assert history.exit_code == 0 and option_id in history.stdout
        assert any(str(p.option_id) == option_id for p in tsim.positions())
    finally:
        clear_state()
    assert not path.exists()


def test_without_a_running_simulator_sim_starts_one_and_says_so(tmp_path: Path) -> None:
    state_path().parent.mkdir(parents=True, exist_ok=True)
    state_path().write_text(
        json.dumps({"pid": 1, "ws_url": "ws://127.0.0.1:9/", "login_url": "http://127.0.0.1:9/"})
    )
    assert read_state() is None  # stale: nothing listens there
    result = invoke("balances", "--sim")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("note: no 'iqwire sim' is running")
    assert "started an embedded simulator (seed 0)" in result.stderr


# -- errors a user can read ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trade", "EURUSD-OTC", "call", "-5", "--sim"], "the amount must be more than 0, got -5"),
        (["trade", "EURUSD-OTC", "put", "0", "--sim"], "the amount must be more than 0, got 0"),
        (["candles", "download", "EURUSD-OTC", "--days", "0", "--sim"], "--days must be more than 0, got 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    assert_clean_failure(invoke(*args, env=FAST), 2, message)


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_an_out_of_range_port_is_a_usage_error(port: str) -> None:
    result = invoke("sim", "--port", port)
    assert result.exit_code == 2
    assert "--port" in result.stderr and "Traceback" not in result.output


@pytest.fixture
def boom(tmp_path: Path) -> Path:
    """A strategy that raises on its first candle, in a file of its own."""
    path = tmp_path / "boom.py"
    path.write_text(
        textwrap.dedent(
            """\
            from iqwire.bot import Strategy


            class Boom(Strategy):
                actives = ["EURUSD-OTC"]
                sizes = [5]

                async def on_candle(self, ctx, candle):
                    raise RuntimeError("boom")
            """
        )
    )
    return path


@pytest.fixture
def one_day(tmp_path: Path) -> Path:
    path = tmp_path / "candles.sqlite"
    spec = find_active(76)
    assert spec is not None
    with CandleStore(path) as store:
        store.write(PriceModel(3).candles(76, 5, DAY0, DAY0 + 3600))
        store.describe_active(StoredActive(76, spec.name, 100 - spec.commission, spec.precision))
    return path


def test_a_strategys_exception_in_a_backtest_names_its_file_and_line(boom: Path, one_day: Path) -> None:
    result = invoke("backtest", str(boom), "--db", str(one_day))
    assert_clean_failure(result, 2, f"the strategy raised RuntimeError: boom ({boom}:9, in on_candle;")
    debug = invoke("--debug", "backtest", str(boom), "--db", str(one_day))
    assert debug.exit_code == 2 and "Traceback (most recent call last)" in debug.stderr


def test_a_strategys_exception_in_bot_run_names_its_file_and_line(boom: Path) -> None:
    result = invoke("bot", "run", str(boom), "--sim", "--duration", "150")  # simulated seconds (lock-step)
    assert result.exit_code == 2, result.output
    assert f"the strategy raised RuntimeError: boom ({boom}:9, in on_candle;" in result.stderr
    assert "Traceback" not in result.output


def test_ctrl_c_in_a_download_says_what_is_saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(
        store: CandleStore, client: Any, active_id: int, size: int, *args: Any, **kw: Any
    ) -> Any:
        candles = await client.get_candles(active_id, size, count=10)
        store.write(candles, active_id=active_id, size=size)
        raise KeyboardInterrupt

    monkeypatch.setattr(candles_cmd, "download", interrupted)
    db = tmp_path / "c.sqlite"
    result = invoke(
        "candles", "download", "EURUSD-OTC", "--size", "5", "--days", "1", "--db", str(db), "--sim"
    )
    assert result.exit_code == 130, result.output
    assert re.search(
        r"interrupted: (9|10) of 17,280 EURUSD-OTC/5s candles of .* are saved in ", result.stderr
    )
    assert "run the same command again to resume" in result.stderr


# -- reproducible runs --------------------------------------------------------------------------------


def test_an_embedded_simulator_starts_at_the_same_moment_every_run() -> None:
    """Its clock starts at REPRODUCIBLE_START, so the same candles come back (``--now``: the wall clock)."""

    def last_hours() -> list[dict[str, Any]]:
        result = invoke("candles", "show", "EURUSD-OTC", "--size", "3600", "--count", "3", "--json", "--sim")
        assert result.exit_code == 0, result.output
        candles: list[dict[str, Any]] = json.loads(result.stdout)
        return candles

    first = last_hours()
    assert [c["time"] for c in first] == [
        "2026-02-12T10:00:00Z",
        "2026-02-12T11:00:00Z",
        "2026-02-12T12:00:00Z",
    ]
    assert last_hours()[:2] == first[:2]  # closed candles: the same prices to the last digit
