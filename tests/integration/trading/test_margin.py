"""Margin forex, CFD and crypto through the trader, against the manual-clock simulator."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from margin_helpers import EURUSD_OTC, advance_until, ledger_cash, margin_product, quote_now, quotes_ahead

from iqwire.client import Client
from iqwire.errors import (
    InsufficientBalance,
    InvalidOrder,
    MarketClosed,
    OrderNotFilled,
    RealMoneyLocked,
    TradeNotPlaced,
    UnknownAsset,
)
from iqwire.models import Balance, BalanceType
from iqwire.sim import ManualClock, Simulator
from iqwire.trading import Trader, calculate_margin

PLACE = "marginal-forex.place-market-order"
#: How far (price units) a level is put from the market: far enough to wait, near enough to be quick.
STEP = Decimal("0.0002")


def _margin_balance(sim: Simulator) -> Balance:
    return next(b for b in sim.balances() if b.is_marginal)


def _orders(sim: Simulator) -> int:
    return len(margin_product(sim).book.orders)


async def test_instruments_list_leverages_and_steps(trader: Trader) -> None:
    forex = {i.name: i for i in await trader.instruments("forex")}
    crypto = {i.name: i for i in await trader.instruments("crypto")}

    assert {"EURUSD", "GBPUSD", "EURUSD-OTC"} <= set(forex)
    otc = forex["EURUSD-OTC"]
    assert otc.id == "forex.EURUSD-OTC" and otc.active_id == EURUSD_OTC
    assert 100 in otc.leverages and otc.qty_step == Decimal(1000) and otc.min_qty == Decimal(1000)
    assert crypto["BTCUSD"].qty_step == Decimal("0.001")
    with pytest.raises(InvalidOrder):
        await trader.instruments("bonds")


async def test_market_buy_fills_at_the_ask_and_its_margin_agrees_with_calculate_margin(
    sim: Simulator, trader: Trader
) -> None:
    ask = quote_now(sim).ask

    order = await trader.place_order("EURUSD-OTC", "buy", 10_000, leverage=100)
    position = await asyncio.wait_for(order.filled(), 5)

    assert order.status == "filled" and not order.reconciled
    assert position.order_id == order.id and position.side == "buy"
    assert position.quantity == Decimal(10_000) and position.leverage == 100
    assert Decimal(str(position.open_price)) == ask
    assert Decimal(str(position.margin)) == calculate_margin(10_000, ask, 100)
    book_position = margin_product(sim).book.open_positions()[0]
    assert calculate_margin(10_000, ask, 100) == book_position.margin.quantize(Decimal("0.01"))
    figures = await trader.margin_balance()
    assert figures.margin == calculate_margin(10_000, ask, 100)
    assert figures.margin_level is not None and figures.margin_level > 100


async def test_live_pnl_follows_the_market_and_close_realises_it(sim: Simulator, trader: Trader) -> None:
    position = await (await trader.place_order("EURUSD-OTC", "sell", 20_000, leverage=200)).filled(5)
    before = ledger_cash(sim, _margin_balance(sim).id)
    assert position.pnl == pytest.approx(-0.2 * 2, abs=0.5)  # the spread, at once

    await sim.advance(5)
    await asyncio.sleep(0.02)
    quote = quote_now(sim)
    expected = float((Decimal(str(position.open_price)) - quote.ask) * 20_000)
    assert position.pnl == pytest.approx(expected, abs=0.01)
    assert position.current_price == pytest.approx(float(quote.ask))

    closed = await position.close()

    assert closed.is_closed and closed.close_reason == "default"
    after = ledger_cash(sim, _margin_balance(sim).id)
    assert after - before == Decimal(str(closed.pnl))
    assert (await trader.margin_balance()).cash == after
    with pytest.raises(InvalidOrder):
        await closed.close()


async def test_limit_buy_waits_then_fills_at_its_price(sim: Simulator, trader: Trader) -> None:
    now_ask = quote_now(sim).ask
    low = next(q.ask for q in quotes_ahead(sim, EURUSD_OTC, 900) if q.ask <= now_ask - STEP)
    order = await trader.place_order("EURUSD-OTC", "buy", 5_000, type="limit", price=low, leverage=100)
    await sim.advance(0.5)
    assert order.status == "new" and order.position is None

    await advance_until(sim, lambda: order.position is not None, 600)

    position = await order.filled(1)
    assert Decimal(str(position.open_price)) <= low


async def test_stop_sell_fills_when_the_bid_falls_to_it(sim: Simulator, trader: Trader) -> None:
    bid = quote_now(sim).bid
    low = next(q.bid for q in quotes_ahead(sim, EURUSD_OTC, 900) if q.bid <= bid - STEP)
    order = await trader.place_order("EURUSD-OTC", "sell", 5_000, type="stop", price=low, leverage=100)

    await advance_until(sim, lambda: order.position is not None, 600)

    position = await order.filled(1)
    assert position.side == "sell" and Decimal(str(position.open_price)) <= low


async def test_cancel_a_pending_order(sim: Simulator, trader: Trader) -> None:
    far = quote_now(sim).ask - Decimal("0.05")
    order = await trader.place_order("EURUSD-OTC", "buy", 1_000, type="limit", price=far, leverage=100)

    await order.cancel()
    await sim.advance(1)

    with pytest.raises(OrderNotFilled) as caught:
        await order.filled(2)
    assert caught.value.status == "canceled"
    assert margin_product(sim).book.pending_orders() == []
    with pytest.raises(InvalidOrder):
        await order.cancel()  # not pending any more: nothing is sent


@pytest.mark.parametrize("level", ["take_profit", "stop_loss"])
async def test_take_profit_and_stop_loss_close_the_position(
    sim: Simulator, trader: Trader, level: str
) -> None:
    bid = quote_now(sim).bid
    ahead = quotes_ahead(sim, EURUSD_OTC, 900)
    high = next(q.bid for q in ahead if q.bid >= bid + STEP)
    low = next(q.bid for q in ahead if q.bid <= bid - STEP)
    target = high if level == "take_profit" else low
    position = await (
        await trader.place_order("EURUSD-OTC", "buy", 1_000, leverage=100, **{level: target})
    ).filled(5)
    assert position.take_profit if level == "take_profit" else position.stop_loss

    await advance_until(sim, lambda: position.is_closed, 900)

    assert position.close_reason == level
    assert position.close_price is not None
    if level == "take_profit":
        assert Decimal(str(position.close_price)) >= target
    else:
        assert Decimal(str(position.close_price)) <= target


async def test_modify_sets_a_stop_loss_that_then_closes(sim: Simulator, trader: Trader) -> None:
    position = await (await trader.place_order("EURUSD-OTC", "buy", 1_000, leverage=100)).filled(5)
    bid = quote_now(sim).bid
    low = next(q.bid for q in quotes_ahead(sim, EURUSD_OTC, 900) if q.bid <= bid - STEP)

    await position.modify(stop_loss=low, take_profit=(500, "pips"))
    await sim.advance(0.5)

    assert position.stop_loss is not None and Decimal(position.stop_loss["value"]) == low
    assert position.take_profit is not None and position.take_profit["type"] == "pips"
    await advance_until(sim, lambda: position.is_closed, 900)
    assert position.close_reason == "stop_loss"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"quantity": 1_500}, InvalidOrder),  # off the step
        ({"quantity": 0}, InvalidOrder),
        ({"leverage": 7}, InvalidOrder),  # not offered
        ({"side": "up"}, InvalidOrder),
        ({"type": "limit"}, InvalidOrder),  # no price
        ({"type": "market", "price": 1.0}, InvalidOrder),
        ({"take_profit": (10, "percent")}, InvalidOrder),
        ({"instrument": "NOPE"}, UnknownAsset),
        ({"instrument": "AMZN"}, MarketClosed),  # 12:25 UTC: the US session opens later
        ({"quantity": 10_000_000, "leverage": 50}, InsufficientBalance),
    ],
)
async def test_refused_before_sending(
    sim: Simulator, trader: Trader, kwargs: dict[str, object], error: type[Exception]
) -> None:
    call: dict[str, object] = {"instrument": "EURUSD-OTC", "side": "buy", "quantity": 1_000, "leverage": 100}
    call |= kwargs
    instrument, side, quantity = call.pop("instrument"), call.pop("side"), call.pop("quantity")

    with pytest.raises(error):
        await trader.place_order(instrument, side, quantity, **call)  # type: ignore[arg-type]

    assert _orders(sim) == 0


async def test_margin_call_then_stop_out_with_the_ledger_consistent(sim: Simulator, trader: Trader) -> None:
    balance = _margin_balance(sim)
    ask = quote_now(sim).ask
    # Nearly all the equity as margin at 1:1000: the spread alone puts the level under 100 %.
    quantity = int(Decimal(9_950) * 1000 / ask / 1000) * 1000
    ahead = quotes_ahead(sim, EURUSD_OTC, 4 * 3600)
    side = "buy" if min(q.bid for q in ahead) < ask - Decimal("0.0006") else "sell"
    calls = trader.margin_calls()
    async with calls:
        position = await (await trader.place_order("EURUSD-OTC", side, quantity, leverage=1000)).filled(5)
        await sim.advance(1)
        call = await asyncio.wait_for(calls.__anext__(), 5)
    assert Decimal(call.margin_level) < 100 and call.user_balance_id == balance.id

    await advance_until(sim, lambda: position.is_closed, 4 * 3600, step=5)

    assert position.close_reason == "stop_out"
    figures = await trader.margin_balance()
    cash = ledger_cash(sim, balance.id)
    assert figures.cash == cash and figures.margin == 0
    assert cash == Decimal(10_000) + Decimal(str(position.pnl)) or cash == 0  # negative balance protection


async def test_swap_is_charged_at_the_rollover() -> None:
    before_midnight = 1_770_854_380  # Wednesday 2026-02-11 23:59:40 UTC
    async with Simulator(seed=7, clock=ManualClock(before_midnight)) as sim:
        async with Client(ssid=sim.issue_ssid(), ws_url=sim.ws_url, login_url=sim.login_url) as client:
            trader = Trader(client)
            balance = _margin_balance(sim)
            position = await (await trader.place_order("EURUSD-OTC", "buy", 100_000, leverage=100)).filled(5)
            mid = (quote_now(sim).bid + quote_now(sim).ask) / 2
            await sim.advance(30)
            await asyncio.sleep(0.05)

            expected = -(Decimal(100_000) * mid * Decimal("0.008") / 100).quantize(Decimal("0.01"))
            assert Decimal(str(position.swap)) == pytest.approx(expected, abs=Decimal("0.02"))
            figures = await trader.margin_balance()
            assert figures.swap == Decimal(str(position.swap))
            assert (
                figures.cash == Decimal(10_000) + Decimal(str(position.swap)) == ledger_cash(sim, balance.id)
            )
            await trader.close()


async def test_a_lost_place_answer_is_reconciled_never_doubled(sim: Simulator, trader: Trader) -> None:
    await trader.margin.start()
    sim.drop_responses(PLACE)
    placing = asyncio.create_task(trader.place_order("EURUSD-OTC", "buy", 3_000, leverage=100))
    for _ in range(500):  # drop the connection once the server has executed the order
        if _orders(sim):
            break
        await asyncio.sleep(0.01)
    await sim.drop_connections()

    order = await asyncio.wait_for(placing, 10)

    assert order.reconciled
    assert list(margin_product(sim).book.orders) == [order.id]
    position = await order.filled(5)
    assert position.quantity == Decimal(3_000)


async def test_an_ignored_place_is_proved_not_placed(sim: Simulator, trader: Trader) -> None:
    await trader.margin.start()
    sim.ignore_requests(PLACE)
    placing = asyncio.create_task(trader.place_order("EURUSD-OTC", "buy", 4_000, leverage=100))
    await asyncio.sleep(0.1)
    await sim.drop_connections()

    with pytest.raises(TradeNotPlaced):
        await asyncio.wait_for(placing, 10)
    assert _orders(sim) == 0


async def test_a_lost_close_answer_is_reconciled(sim: Simulator, trader: Trader) -> None:
    position = await (await trader.place_order("EURUSD-OTC", "buy", 2_000, leverage=100)).filled(5)
    sim.drop_responses("marginal-forex.close-position")
    closing = asyncio.create_task(position.close())
    for _ in range(500):
        if not margin_product(sim).book.open_positions():
            break
        await asyncio.sleep(0.01)
    await sim.drop_connections()

    closed = await asyncio.wait_for(closing, 10)

    assert closed.is_closed and closed.close_reason == "default"


async def test_the_real_money_lock_refuses_place_close_cancel_and_modify(
    sim: Simulator, client: Client, trader: Trader
) -> None:
    balance = _margin_balance(sim)
    position = await (await trader.place_order("EURUSD-OTC", "buy", 1_000, leverage=100)).filled(5)
    far = quote_now(sim).ask - Decimal("0.05")
    order = await trader.place_order("EURUSD-OTC", "buy", 1_000, type="limit", price=far, leverage=100)
    placed = _orders(sim)
    # From here on the marginal balance is a REAL one (the simulator has only a demo one).
    state = margin_product(sim).book.accounts[balance.id].user.balance(balance.id)
    assert state is not None
    state.type = BalanceType.REAL
    client.lock.learn(await client.get_balances())

    with pytest.raises(RealMoneyLocked):
        await trader.place_order("EURUSD-OTC", "buy", 1_000, leverage=100, balance=BalanceType.REAL)
    with pytest.raises(RealMoneyLocked):
        await position.close()
    with pytest.raises(RealMoneyLocked):
        await order.cancel()
    with pytest.raises(RealMoneyLocked):
        await position.modify(stop_loss=1.0)
    with pytest.raises(RealMoneyLocked):  # a raw request passes the same lock
        await client.request("marginal-forex.close-position", "1.0", {"position_id": position.id})

    assert _orders(sim) == placed
    assert len(margin_product(sim).book.open_positions()) == 1
    assert len(margin_product(sim).book.pending_orders()) == 1
