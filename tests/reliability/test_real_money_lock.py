"""The real-money lock: no code path trades on a REAL balance without the opt-in.

Each path is tried against the simulator, where the demo user has 100.00 on its
REAL balance: the async ``buy_blitz`` (by type and by id, with re-quotes, with a
lost answer and a reconnect), the raw ``request("binary-options.open-option")``,
a bot's ``ctx.buy`` through ``run_live``, the sync facade's ``buy_blitz`` and
``request``, and the CLI's ``trade``. Afterwards the REAL balance is untouched and
no position was opened on it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from typer.testing import CliRunner

from iqwire import sync
from iqwire.bot import RiskLimits, Strategy
from iqwire.bot.live import run_live
from iqwire.cli import app
from iqwire.client import Client
from iqwire.errors import RealMoneyLocked
from iqwire.models import BalanceType, Candle
from iqwire.sim import Simulator
from iqwire.trading import Trader

REAL_ID = 1_090_667_706


def _untouched(sim: Simulator) -> None:
    assert sim.balances()[0].amount == 100.0
    assert [p for p in sim.positions() if p.user_balance_id == REAL_ID] == []


def _body(balance_id: Any) -> dict[str, Any]:
    return {
        "user_balance_id": balance_id,
        "active_id": 76,
        "option_type_id": 12,
        "direction": "call",
        "expired": 0,
        "price": 10,
        "profit_percent": 88,
        "expiration_size": 30,
    }


async def test_buy_blitz_by_type_id_and_with_requotes_is_locked(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    with pytest.raises(RealMoneyLocked):
        await trader.buy_blitz(76, "call", 10, expiration=5, balance=BalanceType.REAL)
    with pytest.raises(RealMoneyLocked):
        await trader.buy_blitz(76, "call", 10, expiration=5, balance=REAL_ID)
    await client.get_initialization_data()
    sim.set_commission(76, 20)  # the first attempt would get 4117 and re-quote
    with pytest.raises(RealMoneyLocked):
        await trader.buy_blitz(
            76, "put", 10, expiration=5, balance=BalanceType.REAL, requote=True, max_requotes=3
        )
    _untouched(sim)


async def test_raw_open_option_requests_are_locked(sim: Simulator, client: Client) -> None:
    for balance_id in (REAL_ID, str(REAL_ID), None):
        with pytest.raises(RealMoneyLocked):
            await client.request("binary-options.open-option", "2.0", _body(balance_id))
    # The lock knows the balance even before get_balances was called (a fresh client).
    async with Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as fresh:
        with pytest.raises(RealMoneyLocked):
            await fresh.request("binary-options.open-option", "2.0", _body(REAL_ID))
        demo = await fresh.request("binary-options.open-option", "2.0", _body(REAL_ID + 1))
        assert demo.id > 0  # demo trades are not affected
    _untouched(sim)


async def test_a_lost_answer_and_a_reconnect_never_reach_the_real_balance(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    sim.drop_responses("binary-options.open-option", count=3)
    buying = asyncio.create_task(trader.buy_blitz(76, "call", 10, expiration=5, balance=BalanceType.REAL))
    await asyncio.sleep(0.05)
    await sim.drop_connections()
    with pytest.raises(RealMoneyLocked):
        await asyncio.wait_for(buying, 10)
    _untouched(sim)


class BuysOnEveryCandle(Strategy):
    actives = ("EURUSD-OTC",)
    sizes = (1,)

    async def on_candle(self, ctx: Any, candle: Candle) -> None:
        await ctx.buy("call", 10, expiration=5)


async def test_a_bot_on_the_real_balance_is_locked(sim: Simulator, client: Client) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(
        run_live(
            client,
            BuysOnEveryCandle(),
            balance=BalanceType.REAL,
            limits=RiskLimits(),
            stop=stop,
            settle_timeout=1,
        )
    )
    for _ in range(8):
        await sim.advance(1)
        await asyncio.sleep(0.05)
    stop.set()
    result = await asyncio.wait_for(running, 10)
    assert result.state.closed == [] and result.state.open_trades == {}
    assert sum(result.state.refusals.values()) > 0
    _untouched(sim)


def test_the_sync_facade_is_locked(tsim: Simulator) -> None:
    with sync.Client(ssid=tsim.issue_ssid(), ws_url=tsim.ws_url, login_url=tsim.login_url) as client:
        trader = sync.Trader(client)
        with pytest.raises(RealMoneyLocked):
            trader.buy_blitz(76, "call", 10, expiration=5, balance=BalanceType.REAL)
        with pytest.raises(RealMoneyLocked):
            trader.buy_blitz(76, "call", 10, expiration=5, balance=REAL_ID, requote=True)
        with pytest.raises(RealMoneyLocked):
            client.request("binary-options.open-option", "2.0", _body(REAL_ID))
    _untouched(tsim)


def test_the_cli_trade_is_locked(tsim: Simulator) -> None:
    urls = ["--ws-url", tsim.ws_url, "--login-url", tsim.login_url]
    env = {"IQWIRE_EMAIL": "demo@example.com", "IQWIRE_PASSWORD": "demo"}
    result = CliRunner().invoke(
        app, ["trade", "EURUSD-OTC", "call", "10", "--balance", "real", *urls], env=env
    )
    assert result.exit_code != 0
    assert "--real" in result.output
    _untouched(tsim)
