"""Margin forex, CFD and crypto on the raw wire, as the official SDK and the community client speak it.

Prices are the seeded model's, so a test that needs the market to reach a level
reads the model's future quotes first (the simulator is deterministic) and then
moves the manual clock until it does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sim_wire import DEMO_BALANCES, DEMO_MARGIN_BALANCE, DEMO_USER_ID, RawClient, login

from iqwire.sim import ManualClock, Simulator
from iqwire.sim.margin import Margin
from iqwire.sim.margin_instruments import MarginQuote, quote_of

MARGIN = DEMO_MARGIN_BALANCE
OTC_EURUSD = 76
#: Wednesday 2026-02-11 23:59:40 UTC: twenty seconds before the daily rollover.
BEFORE_ROLLOVER = 1_770_854_380
#: Thursday 2026-02-12 14:00 UTC: every margin instrument trades, US stocks included.
US_AFTERNOON = 1_770_904_800


def margin_product(sim: Simulator) -> Margin:
    product = next(p for p in sim.engine.products if isinstance(p, Margin))
    return product


def future_quotes(sim: Simulator, active_id: int, seconds: int) -> list[MarginQuote]:
    """The quotes of the next ``seconds`` whole seconds (the model is a pure function of time)."""
    spec = sim.engine.state.model.spec(active_id)
    start = int(sim.now())
    out = []
    for t in range(start + 1, start + seconds + 1):
        quote = quote_of(spec, sim.engine.state.price_at(active_id, t), t)
        assert quote is not None
        out.append(quote)
    return out


def now_quote(sim: Simulator, active_id: int) -> MarginQuote:
    quote = margin_product(sim).quote(active_id, sim.now())
    assert quote is not None
    return quote


def assert_ledger_consistent(sim: Simulator, balance_id: int = MARGIN) -> Decimal:
    """Every cash movement sums to the cash, and the billing balance shows the same amount."""
    product = margin_product(sim)
    account = product.book.accounts[balance_id]
    assert sum((amount for _, amount in account.entries), Decimal(0)) == account.cash
    balance = account.user.balance(balance_id)
    assert balance is not None and Decimal(str(balance.amount)) == account.cash
    return account.cash


@pytest.fixture
async def trader(raw: RawClient) -> RawClient:
    """The demo connection, watching its orders, positions and marginal balance like the SDK."""
    await raw.subscribe("portfolio.position-changed", "3.0", {"user_id": DEMO_USER_ID})
    for kind in ("marginal-forex", "marginal-cfd", "marginal-crypto"):
        await raw.subscribe(
            "portfolio.order-changed", "2.0", {"user_id": DEMO_USER_ID, "instrument_type": kind}
        )
    await raw.request("marginal-portfolio.subscribe-balance-changed", "1.0", {"user_balance_id": MARGIN})
    await raw.subscribe("marginal-portfolio.balance-changed", "1.0")
    await raw.subscribe("marginal-portfolio.margin-call", "1.0")
    await raw.subscribe("portfolio.positions-state", "1.0")
    return raw


def order_body(instrument: str, side: str, count: str, leverage: str, **extra: Any) -> dict[str, Any]:
    return {
        "side": side,
        "user_balance_id": MARGIN,
        "count": count,
        "instrument_id": instrument,
        "leverage": leverage,
        **extra,
    }


async def place(raw: RawClient, family: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await raw.request(f"marginal-{family}.place-{kind}-order", "1.0", body)
    assert reply["status"] == 2000, reply
    return reply


async def order_push(raw: RawClient, order_id: int, status: str, family: str = "forex") -> dict[str, Any]:
    key = f"marginal_{family}_order_changed1"

    def matches(frame: dict[str, Any]) -> bool:
        msg = frame.get("msg")
        return (
            frame.get("name") == "order-changed"
            and isinstance(msg, dict)
            and msg.get("status") == status
            and msg.get("raw_event", {}).get(key, {}).get("id") == order_id
        )

    frame = await raw.wait_for(matches)
    assert frame["microserviceName"] == "portfolio"
    msg: dict[str, Any] = frame["msg"]
    return msg


async def position_push(raw: RawClient, order_id: int, status: str) -> dict[str, Any]:
    def matches(frame: dict[str, Any]) -> bool:
        msg = frame.get("msg")
        return (
            frame.get("name") == "position-changed"
            and isinstance(msg, dict)
            and msg.get("status") == status
            and order_id in msg.get("raw_event", {}).get("order_ids", [])
        )

    msg: dict[str, Any] = (await raw.wait_for(matches))["msg"]
    return msg


async def advance_until(sim: Simulator, raw: RawClient, done: Any, limit: int, chunk: float = 5.0) -> None:
    """Move the clock by ``chunk`` seconds until ``done()`` holds (at most ``limit`` seconds)."""
    waited = 0.0
    while not done():
        assert waited < limit, "the market never got there"
        await sim.advance(chunk)
        await raw.settle()
        waited += chunk


# -- what the SDK reads before it trades ------------------------------------------------


async def test_margin_features_balance_and_instruments(raw: RawClient) -> None:
    features = await raw.request("features.get-features", "2.0", {"category": "client-sdk-js"})
    status = {f["name"]: f["status"] for f in features["msg"]["features"]}
    for family in ("forex", "cfd", "crypto"):
        assert status[f"margin-{family}-instrument"] == "enabled"
    balances = (await raw.request("balances.get-available-balances", "1.0", {"types_ids": [1, 4]}))["msg"]
    marginal = [b for b in balances if b["is_marginal"]]
    assert [(b["id"], b["type"]) for b in marginal] == [(MARGIN, 4)]
    reply = await raw.request("marginal-portfolio.get-marginal-balance", "1.0", {"user_balance_id": MARGIN})
    assert reply["name"] == "marginal-balance"
    msg = reply["msg"]
    assert msg["cash"] == msg["equity"] == msg["available"] == "10000.00"
    assert msg["margin"] == "0.00" and msg["stop_out_level"] == "50.00"
    assert all(isinstance(msg[k], str) for k in ("pnl", "pnl_net", "swap", "margin_level", "equity_usd"))
    names = {}
    for family in ("forex", "cfd", "crypto"):
        items = (await raw.request(f"marginal-{family}-instruments.get-underlying-list", "1.0", {}))["msg"][
            "items"
        ]
        names[family] = [u["name"] for u in items]
        assert all(u["schedule"] and {"open", "close"} <= set(u["schedule"][0]) for u in items)
    assert names == {
        "forex": ["EURUSD", "GBPUSD", "EURUSD-OTC"],
        "cfd": ["AMZN", "AAPL"],
        "crypto": ["BTCUSD", "XRPUSD-OTC"],
    }
    listing = await raw.request("marginal-forex-instruments.get-instruments-list", "1.0", {"active_id": 1})
    instrument = listing["msg"]["items"][0]
    assert instrument["id"] == "forex.EURUSD" and instrument["active_id"] == 1
    assert instrument["min_qty"] == "1000" and instrument["qty_step"] == "1000"
    assert {"default_leverage", "leverage_profile", "is_suspended", "tradable"} <= set(instrument)
    profiles = {p["id"]: p["items"] for p in listing["msg"]["dynamic_leverage_profiles"]}
    assert profiles[instrument["leverage_profile"]][0] == {"equity": 0.0, "leverage": 1000}
    fee = await raw.request("marginal-cfd-instruments.get-overnight-fee", "1.0", {"active_id": 31})
    assert fee["msg"]["long_percent"] == "0.02"


async def test_what_the_sdk_margin_calculator_reads(raw: RawClient, sim: Simulator) -> None:
    active = (await raw.request("get-active", "5.0", {"id": OTC_EURUSD}))["msg"]
    assert (active["pip_scale"], active["currency_left_side"], active["currency_right_side"]) == (
        4,
        "EUR",
        "USD",
    )
    cfd = (await raw.request("get-active", "5.0", {"id": 31}))["msg"]
    assert (cfd["currency_left_side"], cfd["currency_right_side"]) == ("AMZN", "USD")
    for base, quote in (("EUR", "USD"), ("USD", "EUR"), ("USD", "USD"), ("JPY", "CHF")):
        filters = {"base_currency": base, "quote_currency": quote}
        assert (await raw.subscribe("exchange-rates.exchange-rate-generated", "2.0", filters))["msg"][
            "success"
        ]
    await sim.advance(1)
    rates = {
        (f["msg"]["base_currency"], f["msg"]["quote_currency"]): f["msg"]
        for f in raw.named("exchange-rate-generated")
    }
    assert set(rates) == {("EUR", "USD"), ("USD", "EUR"), ("USD", "USD")}  # nothing quotes JPY/CHF
    assert all(f["microserviceName"] == "exchange-rates" for f in raw.named("exchange-rate-generated"))
    eur = rates["EUR", "USD"]
    assert Decimal(eur["bid"]) < Decimal(eur["ask"]) and isinstance(eur["changed_at"], int)
    # The inverse pair: 1 / ask is the bid.
    assert Decimal(rates["USD", "EUR"]["bid"]) == (1 / Decimal(eur["ask"])).quantize(Decimal("1e-8"))
    assert rates["USD", "USD"]["ask"] == rates["USD", "USD"]["bid"] == "1"


# -- orders -------------------------------------------------------------------------------


async def test_market_order_fills_then_closes(trader: RawClient, sim: Simulator) -> None:
    reply = await place(trader, "forex", "market", order_body("forex.EURUSD-OTC", "buy", "10000", "100"))
    order_id = reply["msg"]["id"]
    order = await order_push(trader, order_id, "filled")
    opened = await position_push(trader, order_id, "open")
    assert order["position_id"] == opened["id"]  # the SDK's isPositionMatchingOrder
    assert opened["instrument_type"] == "marginal-forex" and opened["source"] == "trading"
    assert opened["raw_event"]["marginal_forex_position_changed1"]["order_ids"] == [order_id]
    ask = Decimal(str(opened["open_quote"]))
    assert Decimal(str(opened["invest"])) == (Decimal(10_000) * ask / 100).quantize(Decimal("0.01"))
    balance = await trader.push("balance-changed", id=MARGIN)
    assert balance["microserviceName"] == "marginal-portfolio" and balance["msg"]["margin"] == str(
        opened["invest"]
    )
    # The SDK names its open positions by internal id, then gets their live figures every second.
    ack = await trader.request(
        "portfolio.subscribe-positions", "1.0", {"frequency": "frequent", "ids": [opened["id"]]}
    )
    assert ack["msg"]["success"] is True
    await sim.advance(2)
    state = await trader.push("positions-state")
    assert state["msg"]["positions"][0]["id"] == opened["id"]
    positions = await trader.request(
        "portfolio.get-positions", "4.0", {"instrument_types": ["marginal-forex"], "limit": 30, "offset": 0}
    )
    assert [p["external_id"] for p in positions["msg"]["positions"]] == [opened["external_id"]]
    close = await trader.request(
        "marginal-forex.close-position", "1.0", {"position_id": opened["external_id"]}
    )
    assert close["name"] == "result" and close["msg"]["success"] is True
    closed = await position_push(trader, order_id, "closed")
    assert closed["close_reason"] == "default" and closed["version"] > opened["version"]
    assert closed["close_profit"] == pytest.approx(closed["invest"] + closed["pnl"])
    cash = assert_ledger_consistent(sim)
    assert cash == Decimal(10_000) + Decimal(str(closed["pnl"]))
    again = await trader.request(
        "marginal-forex.close-position", "1.0", {"position_id": opened["external_id"]}
    )
    assert again["status"] == 4008


@pytest.mark.parametrize("kind", ["limit", "stop"])
async def test_pending_orders_fill_when_the_price_gets_there(
    trader: RawClient, sim: Simulator, kind: str
) -> None:
    ahead = future_quotes(sim, OTC_EURUSD, 600)
    ask = now_quote(sim, OTC_EURUSD).ask
    # A buy limit waits below the ask, a buy stop above it: halfway to where the ask will go.
    extreme = min(q.ask for q in ahead) if kind == "limit" else max(q.ask for q in ahead)
    price = ((ask + extreme) / 2).quantize(Decimal("0.000001"))
    body = order_body("forex.EURUSD-OTC", "buy", "1000", "100", **{f"{kind}_price": str(price)})
    order_id = (await place(trader, "forex", kind, body))["msg"]["id"]
    pending = await order_push(trader, order_id, "new")
    assert pending["kind"] == kind and pending.get("position_id") is None
    orders = await trader.request(
        "portfolio.get-orders", "2.0", {"user_balance_id": MARGIN, "kind": "deferred"}
    )
    assert [o["id"] for o in orders["msg"]["items"]] == [order_id]
    await advance_until(sim, trader, lambda: trader.named("position-changed"), 600)
    opened = await position_push(trader, order_id, "open")
    fill = Decimal(str(opened["open_quote"]))
    assert fill <= price if kind == "limit" else fill >= price
    await order_push(trader, order_id, "filled")


async def test_a_pending_order_on_the_wrong_side_is_converted(trader: RawClient, sim: Simulator) -> None:
    ask = now_quote(sim, OTC_EURUSD).ask
    # The SDK's own test: a "stop" below the market becomes a limit.
    body = order_body("forex.EURUSD-OTC", "buy", "1000", "100", stop_price=str(ask - Decimal("0.01")))
    order_id = (await place(trader, "forex", "stop", body))["msg"]["id"]
    assert (await order_push(trader, order_id, "new"))["kind"] == "limit"


async def test_cancel_a_pending_order(trader: RawClient) -> None:
    body = order_body("forex.EURUSD-OTC", "sell", "1000", "100", limit_price="9.5")
    order_id = (await place(trader, "forex", "limit", body))["msg"]["id"]
    await order_push(trader, order_id, "new")
    reply = await trader.request("marginal-forex.cancel-pending-order", "1.0", {"order_id": order_id})
    assert reply["name"] == "result" and reply["msg"]["success"] is True
    await order_push(trader, order_id, "canceled")
    again = await trader.request("marginal-forex.cancel-pending-order", "1.0", {"order_id": order_id})
    assert again["status"] == 4008


@pytest.mark.parametrize("level", ["take_profit", "stop_loss"])
async def test_take_profit_and_stop_loss_close_the_position(
    trader: RawClient, sim: Simulator, level: str
) -> None:
    ahead = future_quotes(sim, 2276, 900)
    bid = now_quote(sim, 2276).bid
    # A buy closes on the bid: a take-profit above it, a stop-loss below, where the bid will go.
    target = max(q.bid for q in ahead) if level == "take_profit" else min(q.bid for q in ahead)
    distance = abs(target - bid) / 2
    body = order_body(
        "crypto.XRPUSD-OTC", "buy", "1000", "10", **{level: {"value": str(distance), "type": "delta"}}
    )
    order_id = (await place(trader, "crypto", "market", body))["msg"]["id"]
    opened = await position_push(trader, order_id, "open")
    detail = opened["raw_event"]["marginal_crypto_position_changed1"][level]
    assert detail["type"] == "delta" and detail["price"]
    await advance_until(sim, trader, lambda: len(trader.named("position-changed")) >= 2, 900)
    closed = await position_push(trader, order_id, "closed")
    assert closed["close_reason"] == level
    assert (closed["pnl"] > 0) if level == "take_profit" else (closed["pnl"] < 0)
    assert_ledger_consistent(sim)


@pytest.fixture
async def afternoon() -> AsyncIterator[Simulator]:
    """A simulator at 14:00 UTC on a Thursday, when the US stocks trade too."""
    async with Simulator(seed=7, clock=ManualClock(US_AFTERNOON)) as simulator:
        yield simulator


@pytest.mark.parametrize(
    ("family", "instrument", "count", "leverage"),
    [
        ("forex", "forex.GBPUSD", "1000", "100"),
        ("cfd", "cfd.AAPL", "0.5", "5"),
        ("crypto", "crypto.BTCUSD", "0.01", "10"),
    ],
)
async def test_every_family_opens_closes_and_cancels(
    afternoon: Simulator, family: str, instrument: str, count: str, leverage: str
) -> None:
    async with RawClient.open(afternoon.ws_url) as raw:
        await raw.authenticate(await login(afternoon.http_url))
        await raw.subscribe("portfolio.position-changed", "3.0", {"user_id": DEMO_USER_ID})
        await raw.subscribe(
            "portfolio.order-changed",
            "2.0",
            {"user_id": DEMO_USER_ID, "instrument_type": f"marginal-{family}"},
        )
        order_id = (await place(raw, family, "market", order_body(instrument, "sell", count, leverage)))[
            "msg"
        ]["id"]
        opened = await position_push(raw, order_id, "open")
        assert opened["instrument_type"] == f"marginal-{family}" and opened["direction"] == "sell"
        await afternoon.advance(1)
        close = await raw.request(
            f"marginal-{family}.close-position", "1.0", {"position_id": opened["external_id"]}
        )
        assert close["msg"]["success"] is True
        assert (await position_push(raw, order_id, "closed"))["close_reason"] == "default"
        above = now_quote(afternoon, opened["active_id"]).ask * Decimal("1.5")
        for kind, price in (("limit", "0.01"), ("stop", str(above))):
            body = order_body(instrument, "buy", count, leverage, **{f"{kind}_price": price})
            pending = (await place(raw, family, kind, body))["msg"]["id"]
            await order_push(raw, pending, "new", family)
            cancel = await raw.request(
                f"marginal-{family}.cancel-pending-order", "1.0", {"order_id": pending}
            )
            assert cancel["msg"]["success"] is True
            await order_push(raw, pending, "canceled", family)
        assert_ledger_consistent(afternoon)


# -- risk ---------------------------------------------------------------------------------


async def test_insufficient_margin_and_no_deposits(trader: RawClient, sim: Simulator) -> None:
    too_big = order_body("forex.EURUSD-OTC", "buy", "100000000", "100")
    reply = await trader.request("marginal-forex.place-market-order", "1.0", too_big)
    assert reply["status"] == 4008 and "insufficient margin" in reply["msg"]["message"]
    real = DEMO_BALANCES["real"]
    body = {**order_body("forex.EURUSD-OTC", "buy", "1000", "100"), "user_balance_id": real}
    reply = await trader.request("marginal-forex.place-market-order", "1.0", body)
    assert reply["status"] == 4008
    assert reply["msg"]["message"] == (
        f"create order: user_id: {DEMO_USER_ID} user_balance_id: {real} user balance has no deposits"
    )
    bad_leverage = order_body("forex.EURUSD-OTC", "buy", "1000", "7")
    assert (await trader.request("marginal-forex.place-market-order", "1.0", bad_leverage))["status"] == 4008
    bad_step = order_body("forex.EURUSD-OTC", "buy", "1500", "100")
    assert (await trader.request("marginal-forex.place-market-order", "1.0", bad_step))["status"] == 4008
    # AMZN trades 13:30-20:00 UTC; it is 12:25.
    closed = order_body("cfd.AMZN", "buy", "1", "5")
    reply = await trader.request("marginal-cfd.place-market-order", "1.0", closed)
    assert reply["status"] == 4008 and "closed" in reply["msg"]["message"]
    assert not trader.named("order-changed")
    assert_ledger_consistent(sim)


async def test_margin_call_then_stop_out_keeps_the_ledger(trader: RawClient, sim: Simulator) -> None:
    ahead = future_quotes(sim, OTC_EURUSD, 3600)
    quote = now_quote(sim, OTC_EURUSD)
    # The side the market will go against most, and a position using 99 % of the account at 1:1000.
    fall, rise = quote.ask - min(q.bid for q in ahead), max(q.ask for q in ahead) - quote.bid
    side = "buy" if fall > rise else "sell"
    count = int(Decimal("0.99") * 10_000 * 1000 / quote.ask) // 1000 * 1000
    body = order_body("forex.EURUSD-OTC", side, str(count), "1000")
    order_id = (await place(trader, "forex", "market", body))["msg"]["id"]
    await position_push(trader, order_id, "open")
    await sim.advance(1)
    call = await trader.push("margin-call")
    assert call["microserviceName"] == "marginal-portfolio"
    assert Decimal(call["msg"]["margin_level"]) < 100
    await advance_until(sim, trader, lambda: len(trader.named("position-changed")) >= 2, 3600, chunk=20)
    closed = await position_push(trader, order_id, "closed")
    assert closed["close_reason"] == "stop_out"
    assert trader.inbox.index(call) < trader.inbox.index(
        next(
            f for f in trader.inbox if f.get("name") == "position-changed" and f["msg"]["status"] == "closed"
        )
    )
    cash = assert_ledger_consistent(sim)
    final = (
        await trader.request("marginal-portfolio.get-marginal-balance", "1.0", {"user_balance_id": MARGIN})
    )["msg"]
    assert Decimal(final["cash"]) == cash == Decimal(10_000) + Decimal(str(closed["pnl"]))
    assert final["margin"] == "0.00" and cash > 0


@pytest.fixture
async def night_sim() -> AsyncIterator[Simulator]:
    """A simulator twenty seconds before the daily rollover."""
    async with Simulator(seed=7, clock=ManualClock(BEFORE_ROLLOVER)) as simulator:
        yield simulator


async def test_swap_is_charged_at_the_rollover(night_sim: Simulator) -> None:
    async with RawClient.open(night_sim.ws_url) as raw:
        await raw.authenticate(await login(night_sim.http_url))
        await raw.subscribe("portfolio.position-changed", "3.0", {"user_id": DEMO_USER_ID})
        body = order_body("forex.EURUSD-OTC", "buy", "100000", "100")
        order_id = (await place(raw, "forex", "market", body))["msg"]["id"]
        opened = await position_push(raw, order_id, "open")
        await night_sim.advance(10)
        assert len(raw.named("position-changed")) == 1  # nothing before midnight
        await night_sim.advance(15)
        charged = await raw.wait_for(
            lambda f: f.get("name") == "position-changed" and f["msg"]["version"] == 2
        )
        swap = Decimal(charged["msg"]["raw_event"]["marginal_forex_position_changed1"]["swap"])
        # 0.008 % a night of the long notional (100,000 EUR at about 1.08 USD): about -8.6 USD.
        assert Decimal("-9") < swap < Decimal("-8")
        assert charged["msg"]["pnl_net"] == pytest.approx(charged["msg"]["pnl"] + float(swap))
        cash = assert_ledger_consistent(night_sim)
        assert cash == Decimal(10_000) + swap
        balance = await raw.request(
            "marginal-portfolio.get-marginal-balance", "1.0", {"user_balance_id": MARGIN}
        )
        assert Decimal(balance["msg"]["swap"]) == swap
        assert opened["version"] == 1


# -- the community client's dialect -----------------------------------------------------------


async def test_community_client_margin_dialect(raw: RawClient, sim: Simulator) -> None:
    leverages = await raw.request(
        "get-available-leverages", "2.0", {"instrument_type": "forex", "actives": [1]}
    )
    assert leverages["name"] == "available-leverages" and leverages["status"] == 2000
    assert leverages["msg"]["leverages"][0]["leverages"] == [50, 100, 200, 300, 500, 1000]
    fee = await raw.request(
        "get-overnight-fee", "1.0", {"user_group_id": 1, "instrument_type": "cfd", "active_id": 31}
    )
    assert fee["name"] == "overnight-fee" and fee["status"] == 2000
    body = {
        "instrument_type": "crypto",
        "instrument_id": "XRPUSD",
        "side": "buy",
        "amount": 1000.0,
        "leverage": 10,
        "type": "market",
        "limit_price": None,
        "stop_price": None,
        "stop_lose_kind": "percent",
        "stop_lose_value": 95.0,
        "take_profit_kind": None,
        "take_profit_value": None,
        "use_trail_stop": False,
        "auto_margin_call": False,
        "use_token_for_commission": False,
        "user_balance_id": MARGIN,
        "client_platform_id": "9",
    }
    placed = await raw.request("place-order-temp", "4.0", body)
    assert placed["name"] == "order-placed-temp"
    order = await raw.request("get-order", None, {"order_id": placed["msg"]["id"]})
    assert order["name"] == "order" and order["status"] == 2000 and order["msg"]["status"] == "filled"
    position_id = order["msg"]["position_id"]
    position = await raw.request("get-position", None, {"position_id": position_id})
    assert position["name"] == "position" and position["msg"]["external_id"] == position_id
    assert position["msg"]["raw_event"]["order_ids"] == [placed["msg"]["id"]]
    positions = await raw.request(
        "get-positions", None, {"instrument_type": "crypto", "user_balance_id": MARGIN}
    )
    assert positions["name"] == "positions" and positions["msg"]["total"] == 1
    change = {
        "position_id": position_id,
        "stop_lose_kind": "price",
        "stop_lose_value": 0.01,
        "take_profit_kind": "diff",
        "take_profit_value": 500,
        "use_trail_stop": False,
        "extra": {"stop_lose_kind": "price", "take_profit_kind": "diff"},
    }
    changed = await raw.request("change-tpsl", "2.0", change)
    assert changed["name"] == "tpsl-changed" and changed["status"] == 2000
    auto = await raw.request(
        "change-auto-margin-call", "2.0", {"position_id": position_id, "auto_margin_call": True}
    )
    assert auto["name"] == "auto-margin-call-changed" and auto["status"] == 2000
    closed = await raw.request("close-position", "1.0", {"position_id": position_id})
    assert closed["name"] == "position-closed" and closed["status"] == 2000
    assert closed["msg"]["status"] == "closed"
    pending = {**body, "type": "limit", "limit_price": 0.01, "stop_lose_kind": None, "stop_lose_value": None}
    waiting = await raw.request("place-order-temp", "4.0", pending)
    deferred = await raw.request(
        "get-deferred-orders", "1.0", {"instrument_type": "crypto", "user_balance_id": MARGIN}
    )
    assert [o["id"] for o in deferred["msg"]["deferred_orders"]] == [waiting["msg"]["id"]]
    canceled = await raw.request("cancel-order", "1.0", {"order_id": waiting["msg"]["id"]})
    assert canceled["name"] == "order-canceled" and canceled["msg"]["status"] == "canceled"
    refused = await raw.request("place-order-temp", "4.0", {**body, "amount": 10.0**9})
    rejected = await raw.request("get-order", None, {"order_id": refused["msg"]["id"]})
    assert (
        rejected["msg"]["status"] == "rejected" and "insufficient margin" in rejected["msg"]["reject_status"]
    )
    assert_ledger_consistent(sim)
