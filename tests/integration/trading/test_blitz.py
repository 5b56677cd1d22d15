"""Blitz options end to end against the manual-clock simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from iqwire.client import Client
from iqwire.errors import (
    InsufficientBalance,
    InvalidOrder,
    MarketClosed,
    PayoutChanged,
    RealMoneyLocked,
)
from iqwire.models import BalanceType, Outcome
from iqwire.sim import ManualClock, Simulator
from iqwire.trading import Trade, Trader, TradeResult, blitz_expiry

EURUSD_OTC = 76


def _direction_for(sim: Simulator, active_id: int, expiration: int, want: Outcome) -> str:
    """The direction that gives ``want`` for a trade placed now (the model is deterministic)."""
    now = int(sim.now())
    opened = sim.engine.model.tick(active_id, now)
    closed = sim.engine.model.tick(active_id, now + expiration)
    assert opened is not None and closed is not None
    up = closed > opened
    if want is Outcome.WIN:
        return "call" if up else "put"
    return "put" if up else "call"


async def _settle(sim: Simulator, trade: Trade, seconds: float = 6) -> TradeResult:
    waiter = asyncio.create_task(trade.outcome())
    await sim.advance(seconds)
    return await asyncio.wait_for(waiter, 5)


def test_expiry_rule_is_floor_of_server_time_plus_size() -> None:
    assert blitz_expiry(1_770_899_394.999, 30) == 1_770_899_424
    assert blitz_expiry(1_770_899_394.0, 5) == 1_770_899_399


@pytest.mark.parametrize("want", [Outcome.WIN, Outcome.LOSS])
async def test_win_and_loss_settle_with_the_right_pnl(
    sim: Simulator, client: Client, trader: Trader, want: Outcome
) -> None:
    before = sim.balances()[1].amount
    direction = _direction_for(sim, EURUSD_OTC, 5, want)

    trade = await trader.buy_blitz("EURUSD-OTC", direction, 10, expiration=5)
    result = await _settle(sim, trade)

    assert result.outcome is want
    payout = trade.payout
    if want is Outcome.WIN:
        assert result.pnl == pytest.approx(10 * payout / 100)
        assert result.close_profit == pytest.approx(10 + 10 * payout / 100)
    else:
        assert result.pnl == -10
        assert result.close_profit == 0
    assert sim.balances()[1].amount == pytest.approx(before + result.pnl)
    assert trade.expires == trade.created + 5
    assert trade.open_price == sim.engine.model.tick(EURUSD_OTC, trade.created)


async def test_equal_prices_refund_the_stake() -> None:
    # Find a second where AAPL-OTC's price is the same 5 s later: a refund.
    probe = Simulator(seed=7, clock=ManualClock(0)).engine.model
    start = next(
        t
        for t in range(1_770_899_100, 1_770_899_100 + 200_000)
        if probe.tick(1938, t) is not None and probe.tick(1938, t) == probe.tick(1938, t + 5)
    )
    async with Simulator(seed=7, clock=ManualClock(start - 2)) as sim:
        async with Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client:
            trader = Trader(client)
            await sim.advance(2)
            before = sim.balances()[1].amount
            trade = await trader.buy_blitz(1938, "call", 25, expiration=5)
            result = await _settle(sim, trade)
    assert result.outcome is Outcome.EQUAL
    assert result.pnl == 0
    assert result.close_profit == 25
    assert sim.balances()[1].amount == pytest.approx(before)


async def test_payout_change_raises_payout_changed_and_updates_the_cache(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    await client.get_initialization_data()
    sim.set_commission(EURUSD_OTC, 25)
    positions_before = len(sim.positions())

    with pytest.raises(PayoutChanged) as caught:
        await trader.buy_blitz(EURUSD_OTC, "call", 10, expiration=5)

    assert caught.value.commission == 25
    assert caught.value.active_id == EURUSD_OTC
    assert trader.commission(EURUSD_OTC) == 25
    assert len(sim.positions()) == positions_before


async def test_requote_retries_once_with_the_new_payout(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    await client.get_initialization_data()
    sim.set_commission(EURUSD_OTC, 20)

    trade = await trader.buy_blitz(EURUSD_OTC, "put", 10, expiration=5, requote=True)

    assert trade.payout == 80
    assert len(sim.positions()) == 1


async def test_requote_refused_below_min_payout(sim: Simulator, client: Client, trader: Trader) -> None:
    await client.get_initialization_data()
    sim.set_commission(EURUSD_OTC, 30)

    with pytest.raises(PayoutChanged):
        await trader.buy_blitz(EURUSD_OTC, "put", 10, expiration=5, requote=True, min_payout=75)

    assert sim.positions() == []


async def test_closed_market_sends_nothing() -> None:
    saturday = 1_771_063_200  # 2026-02-14 10:00 UTC
    async with Simulator(seed=7, clock=ManualClock(saturday)) as sim:
        async with Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client:
            trader = Trader(client)
            with pytest.raises(MarketClosed):
                await trader.buy_blitz("EURUSD", "call", 10, expiration=30)
            # OTC trades around the clock.
            trade = await trader.buy_blitz("EURUSD-OTC", "call", 10, expiration=30)
            assert trade.id > 0
            assert len(sim.positions()) == 1


async def test_invalid_orders_are_refused_before_sending(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    with pytest.raises(InsufficientBalance):
        await trader.buy_blitz(EURUSD_OTC, "call", 1500, expiration=5, balance=BalanceType.TOURNAMENT)
    with pytest.raises(InvalidOrder, match="expiration 7s"):
        await trader.buy_blitz(EURUSD_OTC, "call", 10, expiration=7)
    with pytest.raises(InvalidOrder, match="outside the limits"):
        await trader.buy_blitz(EURUSD_OTC, "call", 0.5, expiration=5)
    with pytest.raises(InvalidOrder, match="unknown active"):
        await trader.buy_blitz("NOPE-OTC", "call", 10, expiration=5)
    with pytest.raises(InvalidOrder):
        await trader.buy_blitz(EURUSD_OTC, "call", float("nan"), expiration=5)
    with pytest.raises(ValueError, match="sideways"):
        await trader.buy_blitz(EURUSD_OTC, "sideways", 10, expiration=5)
    assert sim.positions() == []


async def test_real_money_is_locked_without_opt_in(sim: Simulator, client: Client, trader: Trader) -> None:
    with pytest.raises(RealMoneyLocked):
        await trader.buy_blitz(EURUSD_OTC, "call", 10, expiration=5, balance=BalanceType.REAL)
    real = sim.balances()[0]
    with pytest.raises(RealMoneyLocked):
        await trader.buy_blitz(EURUSD_OTC, "call", 10, expiration=5, balance=real.id)
    assert sim.positions() == []
    assert sim.balances()[0].amount == real.amount


async def test_real_money_trades_with_opt_in(sim: Simulator) -> None:
    async with Client(
        ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url, allow_real_money=True
    ) as client:
        trade = await Trader(client).buy_blitz(EURUSD_OTC, "call", 10, expiration=5, balance=BalanceType.REAL)
        assert trade.balance_type is BalanceType.REAL
    assert sim.balances()[0].amount == 90


async def test_tournament_balance_trades_like_demo(sim: Simulator, client: Client, trader: Trader) -> None:
    trade = await trader.buy_blitz(EURUSD_OTC, "call", 10, expiration=5, balance=BalanceType.TOURNAMENT)
    assert trade.balance_type is BalanceType.TOURNAMENT
    assert sim.balances()[2].amount == 990


async def test_twenty_concurrent_trades_all_settle_and_the_ledgers_agree(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    start = sim.balances()[1].amount
    trades = await asyncio.gather(
        *(trader.buy_blitz(EURUSD_OTC, "call" if i % 2 else "put", 5 + i, expiration=5) for i in range(20))
    )
    assert len({t.id for t in trades}) == 20
    waiter = asyncio.gather(*(t.outcome() for t in trades))
    await sim.advance(6)
    results = await asyncio.wait_for(waiter, 10)

    assert all(r.outcome in (Outcome.WIN, Outcome.LOSS, Outcome.EQUAL) for r in results)
    server = sim.balances()[1].amount
    assert server == pytest.approx(start + sum(r.pnl for r in results))
    await asyncio.sleep(0.05)
    assert trader.portfolio.balances[sim.balances()[1].id].amount == pytest.approx(server)
    assert trader.portfolio.realised_pnl_today() == pytest.approx(sum(r.pnl for r in results))
    assert trader.portfolio.open_positions == []


async def test_answer_lost_after_execution_is_reconciled(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    await trader.portfolio.start()
    sim.drop_responses("binary-options.open-option")
    buying = asyncio.create_task(trader.buy_blitz(EURUSD_OTC, "put", 11, expiration=5))
    for _ in range(500):  # drop the connection only once the server has executed the trade
        if any(p.amount == 11 for p in sim.positions()):
            break
        await asyncio.sleep(0.01)
    await sim.drop_connections()

    trade = await asyncio.wait_for(buying, 10)

    assert trade.reconciled
    placed = [p for p in sim.positions() if p.amount == 11]
    assert [p.option_id for p in placed] == [trade.id]
    result = await _settle(sim, trade)
    assert result.outcome in (Outcome.WIN, Outcome.LOSS, Outcome.EQUAL)


async def test_missed_close_push_is_read_from_history(sim: Simulator, client: Client, trader: Trader) -> None:
    trade = await trader.buy_blitz(EURUSD_OTC, "call", 10, expiration=5)
    waiter = asyncio.create_task(trade.outcome(grace=30))
    await sim.advance(4)
    await sim.drop_connections()
    await sim.advance(2)  # the option closes while the client is away: its push is lost

    result = await asyncio.wait_for(waiter, 10)

    assert client.reconnects == 1
    assert result.position.is_closed
    assert result.position.option_id == trade.id
    assert result.outcome in (Outcome.WIN, Outcome.LOSS, Outcome.EQUAL)


@pytest.fixture
async def rich_client(sim: Simulator) -> AsyncIterator[Client]:
    async with Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as connected:
        yield connected


async def test_every_balance_change_is_accounted_for(sim: Simulator, rich_client: Client) -> None:
    start = sim.balances()[1].amount
    results = []
    for i in range(6):
        trade = await Trader(rich_client).buy_blitz(
            EURUSD_OTC, "call" if i % 2 else "put", 10 + i, expiration=5
        )
        results.append(await _settle(sim, trade))
    assert sim.balances()[1].amount == pytest.approx(start + sum(r.pnl for r in results))
