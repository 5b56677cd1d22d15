"""The ``iqwire`` command line against embedded and threaded simulators, and ``iqwire sim`` as a process."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cli_helpers import account, assert_clean_failure, invoke, url_args

from iqwire.cli.candles_cmd import CANDLE_FIELDS
from iqwire.cli.common import ResolvedActive, UnknownAsset, resolve_active
from iqwire.sim import Simulator
from iqwire.sync import Client, EventLoopThread

WRONG_PASSWORD = "Not-The-Password-42"


@pytest.fixture
def tsim(tsim: Simulator, sim_thread: EventLoopThread) -> tuple[Simulator, EventLoopThread]:
    """The threaded simulator of tests/conftest.py, with the thread that serves it."""
    return tsim, sim_thread


def issued_ssids(sim: Simulator) -> list[str]:
    return list(sim.engine.accounts._ssids)


# -- help ------------------------------------------------------------------------------------


def test_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("sim", "login", "balances", "candles", "stream"):
        assert command in result.stdout
    assert invoke("candles", "--help").exit_code == 0
    assert "--sim" in invoke("stream", "--help").stdout
    assert invoke("--version").stdout.startswith("iqwire ")


# -- account ------------------------------------------------------------------------------------


def test_login_with_the_embedded_simulator() -> None:
    result = invoke("login", "--sim")
    assert result.exit_code == 0, result.output
    assert "demo@example.com" in result.stdout
    assert "141527657" in result.stdout
    assert "10,000.00" in result.stdout and "DEMO" in result.stdout
    assert "SSID" not in result.output


def test_login_never_prints_the_ssid_unless_asked(tsim: tuple[Simulator, EventLoopThread]) -> None:
    sim, _ = tsim
    args = ["login", *account(sim)]
    hidden = invoke(*args)
    assert hidden.exit_code == 0, hidden.output
    ssids = issued_ssids(sim)
    assert len(ssids) == 1
    assert ssids[0] not in hidden.output
    assert "demo@example.com" in hidden.stdout

    shown = invoke(*args, "--show-ssid")
    assert shown.exit_code == 0, shown.output
    new = set(issued_ssids(sim)) - set(ssids)
    assert len(new) == 1
    assert f"SSID: {new.pop()}" in shown.stdout


def test_balances_from_the_environment(tsim: tuple[Simulator, EventLoopThread]) -> None:
    sim, _ = tsim
    env = {
        "IQWIRE_EMAIL": "trader2@example.com",
        "IQWIRE_PASSWORD": "trader2",
        "IQWIRE_WS_URL": sim.ws_url,
        "IQWIRE_LOGIN_URL": sim.login_url,
    }
    result = invoke("balances", env=env)
    assert result.exit_code == 0, result.output
    assert {"REAL", "DEMO", "TOURNAMENT"} <= set(result.stdout.split())
    assert "10,000.00" in result.stdout


def test_balances_with_an_ssid_from_the_environment(tsim: tuple[Simulator, EventLoopThread]) -> None:
    sim, runner = tsim

    async def issue() -> str:
        return sim.issue_ssid()

    ssid = runner.run(issue)
    result = invoke("balances", *url_args(sim), env={"IQWIRE_SSID": ssid})
    assert result.exit_code == 0, result.output
    assert "DEMO" in result.stdout
    assert ssid not in result.output


def test_bad_credentials_exit_1_with_one_line() -> None:
    result = invoke("login", "--sim", "--password", WRONG_PASSWORD)
    assert_clean_failure(result, 1, "AuthError: login refused for demo@example.com")
    assert WRONG_PASSWORD not in result.output


def test_missing_credentials_exit_1() -> None:
    result = invoke("balances", "--ws-url", "ws://127.0.0.1:9/echo/websocket")
    assert_clean_failure(result, 1, "give email and password, or ssid")


def test_unreachable_server_exits_1() -> None:
    args = ["--ws-url", "ws://127.0.0.1:9/echo/websocket", "--login-url", "http://127.0.0.1:9/api/v2/login"]
    result = invoke("balances", *args, "--email", "demo@example.com", "--password", "demo")
    assert_clean_failure(result, 1, "ConnectionLost: cannot reach the login server")


# -- candles ----------------------------------------------------------------------------------


def test_candles_show_json() -> None:
    result = invoke("candles", "show", "EURUSD-OTC", "--sim", "--size", "60", "--count", "5", "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert len(records) == 5
    assert all(list(record) == list(CANDLE_FIELDS) for record in records)
    assert [r["start"] for r in records] == [records[0]["start"] + 60 * i for i in range(5)]
    assert all(r["time"].endswith("Z") and r["low"] <= r["close"] <= r["high"] for r in records)


def test_candles_show_csv() -> None:
    result = invoke("candles", "show", "gbpusd-otc", "--sim", "--size", "5", "--count", "4", "--csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == ",".join(CANDLE_FIELDS)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 4
    assert [int(r["end"]) - int(r["start"]) for r in rows] == [5, 5, 5, 5]


def test_candles_show_table() -> None:
    result = invoke("candles", "show", "76", "--sim", "--count", "3")
    assert result.exit_code == 0, result.output
    assert "EURUSD-OTC (76), 60s candles" in result.stdout
    assert "open" in result.stdout and "close" in result.stdout


@pytest.mark.parametrize("name", ["76", "EURUSD-OTC", "eurusd-otc", "front.EURUSD-OTC", " Front.eurusd-otc "])
def test_asset_names_resolve_to_the_same_active(tsim: tuple[Simulator, EventLoopThread], name: str) -> None:
    sim, _ = tsim
    result = invoke("candles", "show", name, *account(sim), "--count", "2", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 2


def test_resolve_active_uses_the_server_after_the_built_in_list(
    tsim: tuple[Simulator, EventLoopThread],
) -> None:
    sim, _ = tsim
    assert resolve_active("xrpusd-otc") == ResolvedActive(2276, "XRPUSD-OTC")
    assert resolve_active("12345") == ResolvedActive(12345, "12345")
    with pytest.raises(UnknownAsset, match="built-in list"):
        resolve_active("front.EURUSD-OTC")
    with Client("demo@example.com", "demo", ws_url=sim.ws_url, login_url=sim.login_url) as client:
        # With a server, its initialization data gives the precision too.
        assert resolve_active("front.EURUSD-OTC", client) == ResolvedActive(76, "EURUSD-OTC", 6)
        assert resolve_active("FRONT.amzn", client).id == 31
        with pytest.raises(UnknownAsset, match="server's actives"):
            resolve_active("EURXYZ", client)


@pytest.mark.parametrize("command", [["candles", "show"], ["stream"]])
def test_unknown_asset_exits_2(command: list[str]) -> None:
    result = invoke(*command, "NOPE-OTC", "--sim")
    assert_clean_failure(result, 2, "unknown asset 'NOPE-OTC'")


def test_json_and_csv_together_exit_2() -> None:
    result = invoke("candles", "show", "76", "--json", "--csv")
    assert_clean_failure(result, 2, "choose one of --json and --csv")


# -- stream ------------------------------------------------------------------------------------


def test_stream_prints_one_line_per_candle_update() -> None:
    result = invoke("stream", "EURUSD-OTC", "--sim", "--size", "1", "--limit", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    pattern = re.compile(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ EURUSD-OTC/1s open=\S+ high=\S+ low=\S+ close=\S+$"
    )
    assert all(pattern.match(line) for line in lines), lines


# -- iqwire sim -------------------------------------------------------------------------------


def test_sim_rejects_bad_faults_and_configs(tmp_path: Path) -> None:
    assert_clean_failure(invoke("sim", "--faults", "explode=0.5"), 2, "--faults: unknown fault 'explode'")
    assert_clean_failure(invoke("sim", "--faults", "disconnect=2"), 2, "not within [0, 1]")
    bad = tmp_path / "bad.toml"
    bad.write_text("push_intervall = 1\n", encoding="utf-8")
    assert_clean_failure(
        invoke("sim", "--config", str(bad)), 2, "unknown simulator setting(s): push_intervall"
    )
    assert_clean_failure(invoke("sim", "--config", str(tmp_path / "missing.toml")), 2, "missing.toml")


def _start_sim_process(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IQWIRE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "iqwire.cli", "sim", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    watchdog = threading.Timer(20, process.kill)
    watchdog.start()
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while not lines or not lines[-1].startswith("Press Ctrl-C"):
            line = process.stdout.readline()
            if not line:
                raise AssertionError(f"iqwire sim ended early: {lines} {process.communicate()[1]}")
            lines.append(line.rstrip("\n"))
    finally:
        watchdog.cancel()
    return process, lines


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sim_serves_until_a_signal(stop_signal: signal.Signals, tmp_path: Path) -> None:
    config = tmp_path / "sim.toml"
    config.write_text(
        'push_interval = 0.5\n\n[[accounts]]\nemail = "demo@example.com"\npassword = "demo"\n'
        'user_id = 1\n\n[[accounts]]\nemail = "own@example.com"\npassword = "Own-Secret-9"\nuser_id = 2\n',
        encoding="utf-8",
    )
    process, lines = _start_sim_process("--seed", "3", "--config", str(config))
    try:
        ws_url = next(line.split()[-1] for line in lines if line.startswith("WebSocket URL:"))
        login_url = next(line.split()[-1] for line in lines if line.startswith("Login URL:"))
        match = re.fullmatch(r"ws://127\.0\.0\.1:(\d+)/echo/websocket", ws_url)
        assert match is not None and int(match.group(1)) > 0
        assert login_url == f"http://127.0.0.1:{match.group(1)}/api/v2/login"
        assert "Account:       demo@example.com / demo" in lines
        assert any(line.startswith("Account:       own@example.com / (password as set in") for line in lines)

        with Client("own@example.com", "Own-Secret-9", ws_url=ws_url, login_url=login_url) as client:
            ssid = client.async_client.ssid
            assert ssid is not None
            assert client.get_profile().user_id == 2
    finally:
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "simulator stopped" in out
    assert ssid not in out + err
    assert "Own-Secret-9" not in out + err
    assert "Traceback" not in err
