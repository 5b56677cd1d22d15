"""Turbo and binary options end to end against the manual-clock simulator."""

from __future__ import annotations

import asyncio

import pytest
from option_helpers import direction_for, refund_start, settle

from iqwire.client import Client
from iqwire.errors import ConnectionLost, InsufficientBalance, InvalidOrder, RealMoneyLocked, ServerError
from iqwire.models import BalanceType, Outcome
from iqwire.pricing import buyback_price
from iqwire.sim import ManualClock, Simulator
from iqwire.trading import Trader
from iqwire.trading.fixed_expiry import grid

EURUSD_OTC = 76
START = 1_770_899_100


def _turbo_expiry(now: float) -> int:
    return grid((60,), 5, 30, now)[0]


@pytest.mark.parametrize("want", [Outcome.WIN, Outcome.LOSS])
async def test_turbo_win_and_loss(sim: Simulator, client: Client, trader: Trader, want: Outcome) -> None:
    before = sim.balances()[1].amount
    expiry = _turbo_expiry(sim.now())
    direction = direction_for(sim, EURUSD_OTC, sim.now(), expiry, want)

    trade = await trader.buy_turbo("EURUSD-OTC", direction, 10, expiration=60)
    result = await settle(sim, trade)

    assert trade.product == "turbo" and trade.expires == expiry
    assert result.outcome is want
    assert result.pnl == (pytest.approx(10 * trade.payout / 100) if want is Outcome.WIN else -10)
    assert sim.balances()[1].amount == pytest.approx(before + result.pnl)
    assert trade.open_price == sim.engine.model.tick(EURUSD_OTC, trade.created)


async def test_turbo_equal_refunds_the_stake() -> None:
    start = refund_start(1938, START, _turbo_expiry)
    async with Simulator(seed=7, clock=ManualClock(start)) as sim:
        async with Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client:
            async with Trader(client) as trader:
                before = sim.balances()[1].amount
                trade = await trader.buy_turbo(1938, "call", 25, expiration=60)
                result = await settle(sim, trade)
    assert result.outcome is Outcome.EQUAL
    assert result.pnl == 0 and result.close_profit == 25
    assert sim.balances()[1].amount == pytest.approx(before)


async def test_binary_settles_at_its_grid_expiry(sim: Simulator, client: Client, trader: Trader) -> None:
    offered = await trader.expiries("EURUSD-OTC", "binary")
    assert offered[0] % 900 == 0 and offered[0] - 300 > sim.now()
    direction = direction_for(sim, EURUSD_OTC, sim.now(), offered[0], Outcome.WIN)

    trade = await trader.buy_binary(EURUSD_OTC, direction, 20, expires_at=offered[0])
    result = await settle(sim, trade)

    assert trade.product == "binary" and trade.expires == offered[0]
    assert result.outcome is Outcome.WIN
    assert result.pnl == pytest.approx(20 * trade.payout / 100)


async def test_turbo_sale_before_expiry_pays_the_live_sell_profit(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    before = sim.balances()[1].amount
    trade = await trader.buy_turbo(EURUSD_OTC, "call", 10, expiration=120)
    await sim.advance(3)
    for _ in range(50):
        if trade.sell_profit is not None:
            break
        await asyncio.sleep(0.01)
    assert trade.sell_profit is not None and 0 < trade.sell_profit < 10 * (100 + trade.payout) / 100

    result = await trade.sell()

    now = int(sim.now())
    spot = sim.engine.model.tick(EURUSD_OTC, now)
    assert spot is not None
    expected = buyback_price(
        "call",
        10,
        trade.payout,
        trade.open_price,
        spot,
        sim.engine.model.spec(EURUSD_OTC).volatility,
        trade.expires - now,
        100 - trade.payout,
    )
    assert result.outcome is Outcome.SOLD
    assert result.close_profit == pytest.approx(expected)
    assert result.pnl == pytest.approx(expected - 10)
    assert sim.balances()[1].amount == pytest.approx(before + result.pnl)
    assert await trade.outcome() is result
    with pytest.raises(InvalidOrder, match="already closed"):
        await trade.sell()


async def test_sale_inside_the_buyback_deadtime_is_refused_unsent(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    trade = await trader.buy_turbo(EURUSD_OTC, "put", 10, expiration=60)
    await sim.advance(trade.expires - sim.now() - 10)  # buy-back ends 15 s before expiry
    with pytest.raises(InvalidOrder, match="sale time is over"):
        await trade.sell()
    assert [p.status for p in sim.positions()] == ["open"]


async def test_purchase_after_the_deadline_or_off_the_grid_is_refused_unsent(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    late = (int(sim.now()) // 900 + 1) * 900  # the next quarter hour: binary's smallest expiry
    await sim.advance(max(0.0, late - 299 - sim.now()))  # inside its 300 s deadtime
    with pytest.raises(InvalidOrder, match="purchase time is over"):
        await trader.buy_binary(EURUSD_OTC, "call", 10, expires_at=late)
    with pytest.raises(InvalidOrder, match="not a binary expiry"):
        await trader.buy_binary(EURUSD_OTC, "call", 10, expires_at=late + 3600 * 24)
    with pytest.raises(InvalidOrder, match="expiration 90s"):
        await trader.buy_turbo(EURUSD_OTC, "call", 10, expiration=90)
    with pytest.raises(InsufficientBalance):
        await trader.buy_turbo(EURUSD_OTC, "call", 1500, balance=BalanceType.TOURNAMENT)
    assert sim.positions() == []


async def test_lost_open_answer_is_reconciled_never_doubled(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    await trader.portfolio.start()
    sim.drop_responses("binary-options.open-option")
    buying = asyncio.create_task(trader.buy_turbo(EURUSD_OTC, "put", 13, expiration=60))
    for _ in range(500):
        if any(p.amount == 13 for p in sim.positions()):
            break
        await asyncio.sleep(0.01)
    await sim.drop_connections()

    trade = await asyncio.wait_for(buying, 10)

    assert trade.reconciled and trade.product == "turbo"
    assert [p.option_id for p in sim.positions() if p.amount == 13] == [trade.id]
    result = await settle(sim, trade)
    assert result.outcome in (Outcome.WIN, Outcome.LOSS, Outcome.EQUAL)


async def test_lost_sale_answer_is_reconciled_never_resent(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    trade = await trader.buy_turbo(EURUSD_OTC, "call", 10, expiration=120)
    sim.drop_responses("binary-options.sell-options")
    selling = asyncio.create_task(trade.sell())
    for _ in range(500):
        if sim.positions()[0].is_closed:
            break
        await asyncio.sleep(0.01)
    await sim.drop_connections()

    result = await asyncio.wait_for(selling, 10)

    assert result.outcome is Outcome.SOLD
    assert result.position.option_id == trade.id
    assert [p.close_reason for p in sim.positions()] == ["sold"]


async def test_real_money_lock_guards_buying_and_selling(sim: Simulator) -> None:
    async with Client(
        ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url, allow_real_money=True
    ) as client:
        trader = Trader(client)
        trade = await trader.buy_turbo(EURUSD_OTC, "call", 10, expiration=120, balance=BalanceType.REAL)
        client.lock.allowed = False  # the opt-in withdrawn: selling is locked too
        with pytest.raises(RealMoneyLocked):
            await trade.sell()
        with pytest.raises(RealMoneyLocked):
            await client.request("binary-options.sell-options", "3.0", {"options_ids": [trade.id]})
        with pytest.raises(RealMoneyLocked):
            await trader.buy_binary(EURUSD_OTC, "call", 10, expires_at=0, balance=BalanceType.REAL)
        assert [p.status for p in sim.positions()] == ["open"]
        client.lock.allowed = True
        assert (await trade.sell()).outcome is Outcome.SOLD
        await trader.close()


async def test_a_refused_sale_raises_the_servers_reason(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    trade = await trader.buy_turbo(EURUSD_OTC, "call", 10, expiration=120)
    expires = trade.expires
    await sim.advance(expires - sim.now() - 5)
    trade.expires += 3600  # the client's idea of the deadline is wrong: the server refuses
    with pytest.raises(ServerError, match="sale time is over"):
        await trade.sell()


async def test_a_placed_trade_is_returned_when_following_its_sale_value_fails(
    sim: Simulator,
    client: Client,
    trader: Trader,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The connection can drop between the fill and the positions-state subscription. The
    # trade is placed, so its caller must get it: a ConnectionLost escaping here lost it
    # (found by the chaos run: "ConnectionLost but placed on the server").
    follower = trader.sell_values._follower
    real_start = follower.start
    starts = 0

    async def start_lost_once() -> None:
        nonlocal starts
        starts += 1
        if starts == 1:
            raise ConnectionLost("the connection dropped before the answer arrived")
        await real_start()

    monkeypatch.setattr(follower, "start", start_lost_once)
    trade = await trader.buy_turbo(EURUSD_OTC, "call", 10, expiration=120)
    assert [p.option_id for p in sim.positions()] == [trade.id]
    assert "following sale values failed" in caplog.text and not follower.running
    # The next subscribe (a reconnect's hook, or the next trade's) follows the sale values again.
    await trader.sell_values.resubscribe()
    assert follower.running
    await sim.advance(3)
    for _ in range(50):
        if trade.sell_profit is not None:
            break
        await asyncio.sleep(0.01)
    assert trade.sell_profit is not None
