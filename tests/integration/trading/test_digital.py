"""Digital options end to end against the manual-clock simulator."""

from __future__ import annotations

import asyncio
import math

import pytest
from option_helpers import advance_until, direction_for, refund_start, settle

from iqwire.client import Client
from iqwire.errors import InvalidOrder, OrderRejected, RealMoneyLocked
from iqwire.models import BalanceType, Outcome
from iqwire.pricing import digital_quote, spot_payout
from iqwire.sim import ManualClock, Simulator
from iqwire.trading import Trader
from iqwire.trading.digital import DigitalStrikes

EURUSD_OTC = 76
START = 1_770_899_100


def _expiry(now: float, period: int = 60, deadtime: int = 10) -> int:
    first = (math.floor(now) // period + 1) * period
    while first - deadtime <= now:
        first += period
    return first


async def _strikes(sim: Simulator, trader: Trader, period: int = 60) -> DigitalStrikes:
    task = asyncio.create_task(trader.digital_strikes(EURUSD_OTC, period))
    await advance_until(sim, task)
    return await task


@pytest.mark.parametrize("want", [Outcome.WIN, Outcome.LOSS])
async def test_spot_strike_win_and_loss(
    sim: Simulator, client: Client, trader: Trader, want: Outcome
) -> None:
    before = sim.balances()[1].amount
    expiry = _expiry(sim.now())
    direction = direction_for(sim, EURUSD_OTC, sim.now(), expiry, want)

    trade = await trader.buy_digital("EURUSD-OTC", direction, 10, 60)
    result = await settle(sim, trade)

    assert trade.product == "digital" and trade.expires == expiry and trade.order_id is not None
    assert trade.payout == pytest.approx(spot_payout(12), abs=0.05)  # the spot pays 100 - commission
    assert result.outcome is want
    if want is Outcome.WIN:
        assert result.pnl == pytest.approx(10 * trade.payout / 100, abs=0.01)
    else:
        assert result.pnl == -10 and result.close_profit == 0
    assert sim.balances()[1].amount == pytest.approx(before + result.pnl)


async def test_spot_strike_equal_refunds_the_stake() -> None:
    start = refund_start(1938, START, _expiry)
    async with Simulator(seed=7, clock=ManualClock(start)) as sim:
        async with Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client:
            async with Trader(client) as trader:
                before = sim.balances()[1].amount
                trade = await trader.buy_digital(1938, "put", 25, 60)
                result = await settle(sim, trade)
    assert result.outcome is Outcome.EQUAL
    assert result.pnl == 0 and result.close_profit == 25
    assert sim.balances()[1].amount == pytest.approx(before)


async def test_strikes_are_priced_by_the_model_and_an_away_strike_pays_more(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    table = await _strikes(sim, trader)
    assert table.period == 60 and table.spot.label == "SPT"
    assert table.spot.call_payout == pytest.approx(spot_payout(12), abs=0.05)
    fixed = [s for s in table.strikes if s.strike is not None]
    assert len(fixed) == 8 and fixed == sorted(fixed, key=lambda s: s.strike or 0)
    spot = sim.engine.state.price_at(EURUSD_OTC, table.quote_time)
    assert spot is not None
    above = min((s for s in fixed if (s.strike or 0) > spot), key=lambda s: s.strike or 0)
    model = digital_quote(
        "call",
        spot,
        above.strike or 0,
        sim.engine.model.spec(EURUSD_OTC).volatility,
        table.expiration - table.quote_time,
        12,
    )
    assert above.call_ask == pytest.approx(model.ask, abs=0.02)
    assert (above.call_payout or 0) > (table.spot.call_payout or 0)

    trade = await trader.buy_digital(EURUSD_OTC, "call", 10, 60, strike=above.strike or 0)
    assert trade.strike == pytest.approx(above.strike)
    assert trade.payout > table.spot.call_payout - 0.1  # type: ignore[operator]
    with pytest.raises(InvalidOrder, match=r"strike 1\.2345 is not offered"):
        await trader.buy_digital(EURUSD_OTC, "call", 10, 60, strike=1.2345)
    with pytest.raises(InvalidOrder, match="no 120 s digital option"):
        await trader.buy_digital(EURUSD_OTC, "call", 10, 120)


async def test_close_before_expiry_pays_the_bid(sim: Simulator, client: Client, trader: Trader) -> None:
    before = sim.balances()[1].amount
    trade = await trader.buy_digital(EURUSD_OTC, "put", 10, 300)
    await sim.advance(3)
    for _ in range(50):
        if trade.sell_profit is not None:
            break
        await asyncio.sleep(0.01)
    assert trade.sell_profit is not None and 0 < trade.sell_profit < 10

    result = await trade.close()

    assert result.outcome is Outcome.SOLD
    assert result.position.close_reason == "default"
    assert result.pnl == pytest.approx(result.close_profit - 10)
    assert result.close_profit == pytest.approx(trade.sell_profit, abs=1.0)
    assert sim.balances()[1].amount == pytest.approx(before + result.pnl)


async def test_close_inside_the_deadtime_is_refused_unsent(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    trade = await trader.buy_digital(EURUSD_OTC, "call", 10, 60)
    await sim.advance(trade.expires - sim.now() - 5)
    with pytest.raises(InvalidOrder, match="close time is over"):
        await trade.close()
    assert [p.status for p in sim.positions()] == ["open"]


async def test_the_nearest_buyable_expiry_is_chosen_never_one_past_its_deadline(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    boundary = _expiry(sim.now())
    await sim.advance(boundary - 9 - sim.now())  # 9 s before an expiry: inside its 10 s deadtime
    trade = await trader.buy_digital(EURUSD_OTC, "call", 10, 60)
    assert trade.expires == boundary + 60


async def test_insufficient_funds_accepted_then_rejected(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    # Two orders of 600 on the 1,000 tournament balance: both pass the local check (the balance
    # is read before either is placed); the server accepts the second and then rejects it.
    buys = [
        asyncio.create_task(trader.buy_digital(EURUSD_OTC, "call", 600, 60, balance=BalanceType.TOURNAMENT))
        for _ in range(2)
    ]
    both = asyncio.gather(*buys, return_exceptions=True)
    await advance_until(sim, both)  # type: ignore[arg-type]
    results = await both
    placed = [r for r in results if not isinstance(r, BaseException)]
    rejected = [r for r in results if isinstance(r, OrderRejected)]
    assert len(placed) == 1 and len(rejected) == 1, results
    assert rejected[0].order_id is not None
    assert len([p for p in sim.positions() if p.amount == 600]) == 1
    assert sim.balances()[2].amount == pytest.approx(400)


async def test_lost_place_answer_is_reconciled_never_doubled(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    await trader.portfolio.start()
    sim.drop_responses("digital-options.place-digital-option")
    buying = asyncio.create_task(trader.buy_digital(EURUSD_OTC, "put", 17, 60))
    for _ in range(500):
        if any(p.amount == 17 for p in sim.positions()):
            break
        await asyncio.sleep(0.01)
    await sim.drop_connections()

    trade = await asyncio.wait_for(buying, 10)

    assert trade.reconciled and trade.product == "digital"
    assert [p.option_id for p in sim.positions() if p.amount == 17] == [trade.id]
    result = await settle(sim, trade)
    assert result.outcome in (Outcome.WIN, Outcome.LOSS, Outcome.EQUAL)


async def test_lost_close_answer_is_reconciled(sim: Simulator, client: Client, trader: Trader) -> None:
    trade = await trader.buy_digital(EURUSD_OTC, "call", 10, 300)
    sim.drop_responses("digital-options.close-position")
    closing = asyncio.create_task(trade.close())
    for _ in range(500):
        if sim.positions()[0].is_closed:
            break
        await asyncio.sleep(0.01)
    await sim.drop_connections()

    result = await asyncio.wait_for(closing, 10)

    assert result.outcome is Outcome.SOLD
    assert [p.close_reason for p in sim.positions()] == ["default"]


async def test_real_money_lock_guards_buying_and_closing(sim: Simulator) -> None:
    async with Client(
        ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url, allow_real_money=True
    ) as client:
        trader = Trader(client)
        trade = await trader.buy_digital(EURUSD_OTC, "call", 10, 300, balance=BalanceType.REAL)
        client.lock.allowed = False
        with pytest.raises(RealMoneyLocked):
            await trade.close()
        with pytest.raises(RealMoneyLocked):
            await client.request("digital-options.close-position", "1.0", {"position_id": trade.id})
        with pytest.raises(RealMoneyLocked):
            await trader.buy_digital(EURUSD_OTC, "call", 10, 60, balance=BalanceType.REAL)
        with pytest.raises(RealMoneyLocked):
            await trader.sell(trade.id)
        assert [p.status for p in sim.positions()] == ["open"]
        client.lock.allowed = True
        assert (await trader.sell(trade.id)).outcome is Outcome.SOLD
        await trader.close()
