"""``iqwire bot run``, ``iqwire backtest`` (with sweeps) and ``iqwire demo``."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cli_helpers import account, assert_clean_failure, invoke

from iqwire.bot import Context, Strategy
from iqwire.bot.journal import Journal
from iqwire.bot.live import run_live
from iqwire.bot.records import RunState
from iqwire.bot.report import TRADE_COLUMNS
from iqwire.cli import connect
from iqwire.client import Client as AsyncClient
from iqwire.demo import DemoStrategy as MeanReversion
from iqwire.models import BalanceType, Candle
from iqwire.sim import AccountConfig, ManualClock, SimConfig, Simulator
from iqwire.sim.actives import find_active
from iqwire.sim.prices import PriceModel
from iqwire.store.candles import CandleStore, StoredActive

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "mean_reversion.py")
#: 2026-02-10 00:00 UTC.
DAY0 = 1_770_681_600
#: A Thursday, 2026-02-12 12:25 UTC.
START = 1_770_899_100
SUMMARY = re.compile(r"^(\d+) trades \(\d+W/\d+L/\d+E\), win rate .*, refused \d+$", re.M)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days of EURUSD-OTC 5-second candles (2026-02-10 and 11), written straight from the price model."""
    path = tmp_path_factory.mktemp("store") / "candles.sqlite"
    with CandleStore(path) as candles:
        candles.write(PriceModel(3).candles(76, 5, DAY0, DAY0 + 2 * 86_400))
        spec = find_active(76)
        assert spec is not None
        candles.describe_active(StoredActive(76, spec.name, 100 - spec.commission, spec.precision))
    return path


def summary_trades(stdout: str) -> int:
    match = SUMMARY.search(stdout)
    assert match is not None, stdout
    return int(match.group(1))


# -- iqwire bot run -------------------------------------------------------------------------------


def test_bot_run_paper_prints_the_report(tmp_path: Path) -> None:
    trades_csv = tmp_path / "trades.csv"
    result = invoke(
        "bot", "run", "examples/mean_reversion.py", "--paper", "--duration", "150",
        "--report-csv", str(trades_csv),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(
        "paper run of MeanReversion (period=14 low=30.0 high=70.0 amount=10.0 expiration=30)"
    )
    # An embedded simulator runs in lock-step: --duration counts simulated seconds.
    assert "the embedded simulator (seed 0, in lock-step), for 150 simulated seconds" in out.splitlines()[0]
    assert "Run report" in out
    trades = summary_trades(out)
    assert re.search(r"^balance: 10,000\.00 → [\d,.]+ USD$", out, re.M)
    rows = list(csv.DictReader(io.StringIO(trades_csv.read_text(encoding="utf-8"))))
    assert trades_csv.read_text(encoding="utf-8").splitlines()[0] == ",".join(TRADE_COLUMNS)
    assert len(rows) == trades
    # Off a terminal the dashboard logs plain lines: one per trade opened and closed.
    assert (
        len(re.findall(r"^\d\d:\d\d:\d\d opened #\d+ EURUSD-OTC (call|put) 10 for 30s", out, re.M)) >= trades
    )
    assert len(re.findall(r"^\d\d:\d\d:\d\d closed #\d+ EURUSD-OTC", out, re.M)) == trades


def test_bot_run_params_come_from_the_config_then_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        f'strategy = "{Path(EXAMPLE).name}"\nbalance = "demo"\n[params]\nperiod = 7\nlow = 20\namount = 2.5\n'
        "[risk]\nmax_stake = 5\n",
        encoding="utf-8",
    )
    # The strategy file is found next to the run file; --duration 0 stops at once.
    (tmp_path / Path(EXAMPLE).name).write_text(Path(EXAMPLE).read_text(encoding="utf-8"), encoding="utf-8")
    result = invoke(
        "bot", "run", "--config", str(config), "-p", "period=9", "--param", "high=75", "--duration", "0"
    )
    assert result.exit_code == 0, result.output
    assert "(period=9 low=20.0 high=75.0 amount=2.5 expiration=30)" in result.stdout.splitlines()[0]
    assert summary_trades(result.stdout) == 0


def test_bot_run_takes_a_module_reference() -> None:
    result = invoke("bot", "run", "iqwire.demo:DemoStrategy", "--duration", "0", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("paper run of DemoStrategy (")
    assert "(seed 3, in lock-step)" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--paper", "--live"], "choose one of --sim (--paper) and --live"),
        (["--sim", "--live"], "choose one of --sim (--paper) and --live"),
        (["--real"], "--real applies to --live only"),
        (["--balance", "real"], "--sim trades the simulator's demo balance, not real"),
        (["-p", "nope=1"], "MeanReversion has no parameter(s) nope; MeanReversion takes: amount, expiration"),
        (["-p", "period"], "expected key=value, got 'period'"),
    ],
)
def test_bot_run_usage_errors(args: list[str], message: str) -> None:
    assert_clean_failure(invoke("bot", "run", EXAMPLE, *args), 2, message)


def test_bot_run_needs_a_loadable_strategy(tmp_path: Path) -> None:
    assert_clean_failure(invoke("bot", "run", "--duration", "0"), 2, "name a strategy")
    assert_clean_failure(invoke("bot", "run", str(tmp_path / "none.py")), 2, "no strategy file")
    assert_clean_failure(invoke("bot", "run", f"{EXAMPLE}:Nope"), 2, "is not a Strategy subclass")
    bad = tmp_path / "bad.toml"
    bad.write_text('strategy = "x.py"\nspeed = 3\n', encoding="utf-8")
    assert_clean_failure(invoke("bot", "run", "--config", str(bad)), 2, "unknown run setting(s): speed")


def test_bot_run_live_refuses_real_money_without_real(tsim: Simulator) -> None:
    result = invoke("bot", "run", EXAMPLE, "--live", "--balance", "real", "--duration", "0", *account(tsim))
    assert_clean_failure(result, 2, "RealMoneyLocked: refusing to trade on the REAL balance without --real")
    assert list(tsim.engine.accounts._ssids) == []  # nothing was sent, not even a login


class _SpyClient(AsyncClient):
    created: list[bool] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _SpyClient.created.append(kwargs["allow_real_money"])
        super().__init__(*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "allowed", "balance"),
    [
        ([], False, "demo"),
        (["--balance", "tournament"], False, "tournament"),
        (["--balance", "real", "--real"], True, "real"),
    ],
)
def test_bot_run_live_trades_the_chosen_balance(
    tsim: Simulator, monkeypatch: pytest.MonkeyPatch, args: list[str], allowed: bool, balance: str
) -> None:
    monkeypatch.setattr(connect, "AsyncClient", _SpyClient)
    monkeypatch.setattr(_SpyClient, "created", [])
    result = invoke("bot", "run", EXAMPLE, "--live", *args, "--duration", "0", *account(tsim))
    assert result.exit_code == 0, result.output
    assert _SpyClient.created == [allowed]
    assert result.stdout.startswith("live run of MeanReversion")
    assert f"on the {balance} balance of" in result.stdout.splitlines()[0]
    amount = next(b.amount for b in tsim.balances() if b.type is BalanceType[balance.upper()])
    assert f"balance: {amount:,.2f} → {amount:,.2f} USD" in result.stdout


ONCE = """
from iqwire.bot import Strategy


class Once(Strategy):
    actives = ["EURUSD-OTC"]
    sizes = [1]
    done = False

    async def on_candle(self, ctx, candle):
        if not self.done:
            self.done = await ctx.buy("call", 1, expiration=5) is not None
"""


def test_bot_run_journals_and_bot_report_spans_every_run(tsim: Simulator, tmp_path: Path) -> None:
    journal, trades_csv, strategy = tmp_path / "j.sqlite", tmp_path / "all.csv", tmp_path / "once.py"
    strategy.write_text(ONCE, encoding="utf-8")
    for _ in range(2):
        result = invoke(
            "bot",
            "run",
            str(strategy),
            "--live",
            "--duration",
            "1",
            "--journal",
            str(journal),
            *account(tsim),
        )
        assert result.exit_code == 0, result.output
        assert f"journal: {journal}" in result.stdout
    with Journal.open(journal) as opened:
        closed = opened.closed_records()
        assert len(opened.runs()) == 2
    assert len(closed) == 2  # one trade per run, each followed to its end
    report = invoke("bot", "report", "--journal", str(journal), "--csv", str(trades_csv))
    assert report.exit_code == 0, report.output
    assert report.stdout.startswith(f"2 run(s) in {journal}")
    assert summary_trades(report.stdout) == len(closed)
    assert len(trades_csv.read_text(encoding="utf-8").splitlines()) == len(closed) + 1
    later = invoke("bot", "report", "--journal", str(journal), "--from", "2100-01-01")
    assert later.exit_code == 0 and summary_trades(later.stdout) == 0


def test_bot_run_paper_journals_to_the_data_directory_by_default() -> None:
    result = invoke("bot", "run", EXAMPLE, "--paper", "--duration", "0.5", "--speed", "50")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("journal: "))
    path = Path(line.removeprefix("journal: "))
    assert path.parent == Path(os.environ["IQWIRE_DATA_DIR"]) / "journals"
    assert path.name.startswith("paper-127.0.0.1-") and path.name.endswith("-demo.sqlite")
    assert path.is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--journal", "absent.sqlite"], "no journal at absent.sqlite"),
        (["--journal", "x", "--from", "yesterday"], "'yesterday' is not a date"),
        (["--journal", "x", "--from", "2026-02-11", "--to", "2026-02-10"], "is not before"),
    ],
)
def test_bot_report_usage_errors(args: list[str], message: str) -> None:
    assert_clean_failure(invoke("bot", "report", *args), 2, message)


def test_bot_live_run_refuses_a_file_that_is_not_a_journal(tsim: Simulator, tmp_path: Path) -> None:
    other = tmp_path / "notes.sqlite"
    other.write_text("not a database" * 100)
    result = invoke(
        "bot", "run", EXAMPLE, "--live", "--duration", "0", "--journal", str(other), *account(tsim)
    )
    assert_clean_failure(result, 2, "is not a usable trade journal")


def test_bot_run_live_without_credentials_exits_1() -> None:
    result = invoke(
        "bot", "run", EXAMPLE, "--live", "--ws-url", "ws://127.0.0.1:9/echo/websocket", "--duration", "0"
    )
    assert_clean_failure(result, 1, "AuthError: give email and password, or ssid")


async def test_run_live_reports_in_the_account_currency() -> None:
    euro = AccountConfig("euro@example.com", "euro", 7, currency="EUR")
    async with (
        Simulator(seed=1, clock=ManualClock(START), config=SimConfig(accounts=(euro,))) as sim,
        AsyncClient("euro@example.com", "euro", ws_url=sim.ws_url, login_url=sim.login_url) as client,
    ):
        result = await run_live(client, MeanReversion(), duration=0)
    assert result.state.currency == "EUR"
    assert result.report.currency == "EUR"


class _OneTrade(Strategy):
    actives: ClassVar[list[str | int]] = ["EURUSD-OTC"]
    sizes: ClassVar[list[int]] = [1]
    traded = False

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        if not self.traded:
            self.traded = await ctx.buy("call", 1, expiration=5) is not None


async def test_run_live_keeps_the_clock_while_settling() -> None:
    async with (
        Simulator(seed=1, clock=ManualClock(START)) as sim,
        AsyncClient(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client,
    ):
        strategy, state, stop = _OneTrade(), RunState(mode="paper"), asyncio.Event()
        stamps: list[float] = []

        def emit(line: str) -> None:
            if line.startswith("closed"):
                stamps.append(state.server_time)

        run = asyncio.create_task(run_live(client, strategy, state=state, emit=emit, stop=stop))
        while not strategy.traded:
            await sim.advance(1)
            await asyncio.sleep(0.01)
        stop.set()  # the trade settles after the signals stopped
        while not run.done():
            await sim.advance(1)
            await asyncio.sleep(0.01)
        result = await run
    (record,) = result.state.closed
    assert stamps and stamps[0] >= record.expires_at


# -- iqwire backtest ----------------------------------------------------------------------------------


def test_backtest_prints_the_report_and_exports(store: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    pytest.importorskip("matplotlib")
    out_csv, out_parquet, out_png = tmp_path / "t.csv", tmp_path / "t.parquet", tmp_path / "e.png"
    result = invoke(
        "backtest", EXAMPLE, "--db", str(store), "--from", "2026-02-10", "--to", "2026-02-10",
        "--csv", str(out_csv), "--parquet", str(out_parquet), "--png", str(out_png),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert (
        "on 17280 candles (EURUSD-OTC/5s), 2026-02-10 00:00 → 2026-02-11 00:00, payout EURUSD-OTC 88%"
        in first
    )
    assert "Run report" in result.stdout
    trades = summary_trades(result.stdout)
    assert trades > 0
    assert len(list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8"))))) == trades
    assert out_parquet.read_bytes()[:4] == b"PAR1"
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_backtest_payout_params_and_whole_store(store: Path) -> None:
    result = invoke(
        "backtest", EXAMPLE, "--db", str(store), "--payout", "85", "-p", "period=10", "--start-balance", "500"
    )
    assert result.exit_code == 0, result.output
    assert "(period=10 low=30.0" in result.stdout
    assert "on 34560 candles" in result.stdout and "payout EURUSD-OTC 85%" in result.stdout
    assert "85.0%" in result.stdout  # the average payout of the trades
    assert "500.00 →" in result.stdout


def test_backtest_errors(store: Path, tmp_path: Path) -> None:
    base = ["backtest", EXAMPLE, "--db", str(store)]
    assert_clean_failure(
        invoke("backtest", EXAMPLE, "--db", str(tmp_path / "none.sqlite")), 2, "no candle store at"
    )
    assert_clean_failure(invoke(*base, "--from", "yesterday"), 2, "'yesterday' is not a date")
    assert_clean_failure(invoke(*base, "--from", "2026-02-11", "--to", "2026-02-10"), 2, "is not before --to")
    empty = invoke(*base, "--from", "2026-03-01", "--to", "2026-03-02")
    assert empty.exit_code == 2
    assert (
        "warning: no EURUSD-OTC/5s candles in the store between 2026-03-01 00:00 and 2026-03-03 00:00"
        in empty.stderr
    )
    assert "error: no candles to replay" in empty.stderr
    assert "it holds: EURUSD-OTC/5s 2026-02-10 00:00 → 2026-02-12 00:00" in empty.stderr
    assert (
        "download them with: iqwire candles download EURUSD-OTC --size 5 --start 2026-03-01" in empty.stderr
    )
    assert_clean_failure(invoke(*base, "--sweep", "period=10", "--png", "x.png"), 2, "with --sweep use --csv")
    assert_clean_failure(invoke(*base, "--sweep", "period"), 2, "--sweep: expected key=value")


def test_backtest_sweep_in_two_processes(store: Path, tmp_path: Path) -> None:
    table_csv = tmp_path / "sweep.csv"
    result = invoke(
        "backtest", EXAMPLE, "--db", str(store), "--from", "2026-02-10", "--to", "2026-02-10T06:00",
        "--sweep", "period=10,20", "--sweep", "low=25,30", "--workers", "2", "--csv", str(table_csv),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Sweep (best P&L first)" in result.stdout
    rows = re.findall(r"^\s+(10|20)\s+(25\.0|30\.0)\s+(\d+)\s+\S+\s+([+-][\d,.]+)\s", result.stdout, re.M)
    assert sorted((p, low) for p, low, _, _ in rows) == [
        ("10", "25.0"),
        ("10", "30.0"),
        ("20", "25.0"),
        ("20", "30.0"),
    ]
    pnls = [float(pnl.replace(",", "")) for _, _, _, pnl in rows]
    assert pnls == sorted(pnls, reverse=True)
    assert len(re.findall(r"^\[\d/4\] period=", result.stderr, re.M)) == 4  # progress
    table = list(csv.DictReader(io.StringIO(table_csv.read_text(encoding="utf-8"))))
    assert len(table) == 4 and {row["candles"] for row in table} == {"4320"}


def test_backtest_sweep_on_ray_without_ray(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    result = invoke("backtest", EXAMPLE, "--db", str(store), "--sweep", "period=10,20", "--backend", "ray")
    assert_clean_failure(
        result, 1, "the ray backend needs Ray, which is not installed: pip install 'iqwire[ray]'"
    )


# -- iqwire demo --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ok", "code"), [(True, 0), (False, 1)])
def test_demo_passes_its_options_to_run_demo(monkeypatch: pytest.MonkeyPatch, ok: bool, code: int) -> None:
    from iqwire.cli import demo_cmd

    calls: list[dict[str, Any]] = []

    async def fake_run_demo(**kwargs: Any) -> bool:
        kwargs.pop("console")
        calls.append(kwargs)
        return ok

    monkeypatch.setattr(demo_cmd, "run_demo", fake_run_demo)
    result = invoke("demo", "--duration", "5", "--speed", "40", "--days", "0.5", "--seed", "9")
    assert result.exit_code == code
    assert calls == [{"duration": 5.0, "speed": 40.0, "days": 0.5, "seed": 9, "now": False}]
    assert invoke("demo").exit_code == code
    assert calls[-1] == {"duration": 60.0, "speed": 20.0, "days": 2.0, "seed": 42, "now": False}
    invoke("demo", "--now")
    assert calls[-1]["now"] is True


def test_bot_run_refuses_a_journal_another_bot_holds(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    with Journal.open(journal) as held:
        held.claim()
        result = invoke("bot", "run", EXAMPLE, "--duration", "0", "--seed", "3", "--journal", str(journal))
    assert_clean_failure(result, 2, "is in use by another running bot")
