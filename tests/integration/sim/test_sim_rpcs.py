"""Every RPC the simulator serves, on the raw wire: reply name, shape, request id."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from sim_wire import DEMO_BALANCES, DEMO_EMAIL, DEMO_MARGIN_BALANCE, DEMO_USER_ID, TRADER2_BALANCES, RawClient

from iqwire.models import Balance, BalanceType, InitializationData, Profile
from iqwire.protocol import catalog
from iqwire.sim import ManualClock, Simulator
from iqwire.sim.actives import DEFAULT_ACTIVES

DEMO = DEMO_BALANCES["demo"]

#: One well-formed call of every RPC: (name, version, body, reply name).
CALLS: list[tuple[str, str, dict[str, Any], str]] = [
    ("core.get-profile", "1.0", {}, "profile"),
    ("get-user-profile-client", "1.0", {}, "user-profile-client"),
    ("get-user-settings", "1.0", {}, "user-settings"),
    ("set-user-settings", "1.0", {"sound": True}, "set-user-settings-reply"),
    ("update-user-availability", "1.0", {"platform_id": 9, "idle_duration": 0}, "result"),
    (
        "internal-billing.get-balances",
        "1.0",
        {"types_ids": [1, 4, 2], "tournaments_statuses_ids": [3, 2]},
        "balances",
    ),
    ("balances.get-available-balances", "1.0", {"types_ids": [1, 4]}, "balances"),
    ("internal-billing.reset-training-balance", "4.0", {"user_balance_id": DEMO, "amount": 10000}, "result"),
    ("get-initialization-data", "4.0", {}, "initialization-data"),
    ("binary-options.get-initialization-data", "3.0", {}, "initialization-data"),
    ("get-active", "1.0", {"active_id": 76}, "active"),
    ("get-actives-index", "1.0", {}, "actives-index"),
    ("get-candles", "2.0", {"active_id": 76, "size": 60, "count": 3}, "candles"),
    ("quotes-history.get-candles", "2.0", {"active_id": 76, "size": 60, "count": 3}, "candles"),
    ("get-first-candles", "1.0", {"active_id": 76, "split_normalization": False}, "first-candles"),
    ("get-traders-mood", "1.0", {"asset_id": 76, "instrument": "turbo-option"}, "traders-mood"),
    ("get-currency", "5.0", {"name": "USD"}, "currency"),
    ("get-currency-list", "1.0", {}, "currency-list"),
    ("get-currencies-list", "1.0", {}, "currencies-list"),
    (
        "binary-options.open-option",
        "2.0",
        {
            "user_balance_id": DEMO,
            "active_id": 76,
            "option_type_id": 12,
            "direction": "call",
            "expired": 0,
            "price": 5,
            "profit_percent": 88,
            "expiration_size": 30,
        },
        "option",
    ),
    ("binary-options.sell-options", "3.0", {"options_ids": [1]}, "result"),
    (
        "portfolio.get-positions",
        "4.0",
        {"instrument_types": ["blitz-option"], "limit": 30, "offset": 0},
        "positions",
    ),
    ("portfolio.get-orders", "2.0", {"user_balance_id": DEMO, "kind": "deferred"}, "orders"),
    (
        "portfolio.get-history-positions",
        "2.0",
        {"instrument_types": ["blitz-option"], "limit": 30, "offset": 0},
        "history-positions",
    ),
    ("portfolio.subscribe-positions", "1.0", {"frequency": "frequent", "ids": []}, "result"),
    ("marginal-portfolio.subscribe-balance-changed", "1.0", {"user_balance_id": DEMO}, "result"),
    ("trading-settings.get-trading-group-params", "1.0", {}, "trading-group-params"),
    ("user-activity.get-trading-volume", "1.0", {}, "trading-volume"),
    ("cashback.get-option-insurance", "1.0", {}, "option-insurance"),
    ("features.get-features", "2.0", {"category": "client-sdk-js"}, "features"),
    ("get-balances", "1.0", {}, "balances"),
    ("sell-options", "2.0", {"options_ids": [1]}, "sold-options"),
    ("digital-option-instruments.get-underlying-list", "3.0", {"filter_suspended": True}, "underlying-list"),
    ("get-underlying-list", "2.0", {"type": "digital-option"}, "underlying-list"),
    ("get-instruments", "4.0", {"type": "forex"}, "instruments"),
    ("digital-option-instruments.get-instruments", "3.0", {"asset_id": 76}, "instruments"),
    (
        "digital-options.place-digital-option",
        "1.0",
        {"user_balance_id": DEMO, "instrument_id": "doEURUSD-OTC202602121226PT1MCSPT", "amount": "1"},
        "digital-option-placed",
    ),
    ("digital-options.close-position", "1.0", {"position_id": 1}, "result"),
    (
        "get-strike-list",
        "4.0",
        {"type": "digital-option", "underlying": "EURUSD-OTC", "expiration": 1_770_899_160_000, "period": 60},
        "strike-list",
    ),
    # Margin (more in test_sim_margin.py, which also exercises CALLED_ELSEWHERE below).
    (
        "marginal-portfolio.get-marginal-balance",
        "1.0",
        {"user_balance_id": DEMO_MARGIN_BALANCE},
        "marginal-balance",
    ),
    *(
        call
        for family, active in (("forex", 76), ("cfd", 31), ("crypto", 816))
        for call in (
            (f"marginal-{family}-instruments.get-underlying-list", "1.0", {}, "underlying-list"),
            (
                f"marginal-{family}-instruments.get-instruments-list",
                "1.0",
                {"active_id": active},
                "instruments-list",
            ),
            (
                f"marginal-{family}-instruments.get-overnight-fee",
                "1.0",
                {"active_id": active},
                "overnight-fee",
            ),
        )
    ),
    *(
        (
            f"marginal-{family}.place-{kind}-order",
            "1.0",
            {
                "side": "buy",
                "user_balance_id": DEMO_MARGIN_BALANCE,
                "count": count,
                "instrument_id": instrument,
                "leverage": "50",
                "limit_price": "0.01",
                "stop_price": stop,
            },
            "order-placed",
        )
        for family, instrument, count, stop in (
            ("forex", "forex.EURUSD-OTC", "1000", "2"),
            ("crypto", "crypto.BTCUSD", "0.001", "150000"),  # 1:50 is offered by both
        )
        for kind in ("market", "limit", "stop")
    ),
    ("get-available-leverages", "2.0", {"instrument_type": "forex", "actives": [1]}, "available-leverages"),
    (
        "place-order-temp",
        "4.0",
        {
            "instrument_type": "forex",
            "instrument_id": "EURUSD",
            "side": "buy",
            "amount": 1000.0,
            "leverage": 100,
            "type": "market",
            "user_balance_id": DEMO_MARGIN_BALANCE,
        },
        "order-placed-temp",
    ),
    (
        "get-positions",
        "1.0",
        {"instrument_type": "forex", "user_balance_id": DEMO_MARGIN_BALANCE},
        "positions",
    ),
    ("get-deferred-orders", "1.0", {"instrument_type": "forex"}, "deferred-orders"),
    (
        "change-auto-margin-call",
        "2.0",
        {"position_id": 1, "auto_margin_call": True},
        "auto-margin-call-changed",
    ),
    (
        "get-overnight-fee",
        "1.0",
        {"user_group_id": 1, "instrument_type": "forex", "active_id": 1},
        "overnight-fee",
    ),
]

#: RPCs that need an open position or a pending order first: test_sim_margin.py calls them.
CALLED_ELSEWHERE = {
    *(
        f"marginal-{family}.{rpc}"
        for family in ("forex", "cfd", "crypto")
        for rpc in ("close-position", "cancel-pending-order")
    ),
    *(f"marginal-cfd.place-{kind}-order" for kind in ("market", "limit", "stop")),
    "get-order",
    "get-position",
    "close-position",
    "cancel-order",
    "change-tpsl",
}


def test_every_handled_rpc_is_called_here() -> None:
    handled = Simulator(clock=ManualClock(1_770_899_100)).engine.handlers
    called = {name for name, *_ in CALLS} | CALLED_ELSEWHERE
    assert called >= {key if isinstance(key, str) else key[0] for key in handled}


@pytest.mark.parametrize(("name", "version", "body", "reply_name"), CALLS, ids=[c[0] for c in CALLS])
async def test_rpc_reply_name_shape_and_request_id(
    raw: RawClient, name: str, version: str, body: dict[str, Any], reply_name: str
) -> None:
    rid = f"rid-{name}"
    reply = await raw.request(name, version, body, rid)
    assert reply["request_id"] == rid
    assert reply["status"] == 2000, reply
    assert reply["name"] == reply_name
    assert "microserviceName" not in reply
    spec = catalog.rpc(name)
    assert spec is not None
    assert spec.response_name == reply_name
    if spec.response_type is not catalog.RAW:
        msgspec.convert(reply["msg"], spec.response_type, strict=False)  # decodes with the typed model
    else:
        assert isinstance(reply["msg"], dict)


async def test_profile(raw: RawClient) -> None:
    reply = await raw.request("core.get-profile", "1.0", {})
    profile = msgspec.convert(reply["msg"]["result"], Profile)
    assert profile.user_id == DEMO_USER_ID
    assert profile.email == DEMO_EMAIL
    assert profile.balance_id == DEMO


async def test_balances_of_the_reference_and_the_sdk(raw: RawClient) -> None:
    reference = await raw.request(
        "internal-billing.get-balances", "1.0", {"types_ids": [1, 4, 2], "tournaments_statuses_ids": [3, 2]}
    )
    everything = msgspec.convert(reference["msg"], list[Balance])
    # The margin service's demo balance comes beside the options balances.
    assert [b.id for b in everything if b.is_marginal] == [DEMO_MARGIN_BALANCE]
    balances = [b for b in everything if not b.is_marginal]
    by_type = {b.type: b for b in balances}
    assert by_type[BalanceType.REAL].amount == 100
    assert by_type[BalanceType.DEMO].amount == 10_000
    assert by_type[BalanceType.TOURNAMENT].amount == 1_000
    assert {b.id for b in balances} == set(DEMO_BALANCES.values())
    assert all(b.user_id == DEMO_USER_ID and b.currency == "USD" for b in balances)
    sdk = await raw.request("balances.get-available-balances", "1.0", {"types_ids": [1, 4]})
    assert isinstance(sdk["msg"], list)  # a bare array
    assert {b["type"] for b in sdk["msg"]} == {1, 4}


async def test_reset_training_balance(raw: RawClient, sim: Simulator) -> None:
    open_reply = await raw.request("binary-options.open-option", "2.0", CALLS[19][2])
    assert open_reply["status"] == 2000
    assert sim.balances()[1].amount == 9_995
    reset = await raw.request(
        "internal-billing.reset-training-balance", "4.0", {"user_balance_id": DEMO, "amount": 10000}
    )
    assert reset["msg"] == {"success": True}
    assert sim.balances()[1].amount == 10_000
    real = await raw.request(
        "internal-billing.reset-training-balance",
        "4.0",
        {"user_balance_id": DEMO_BALANCES["real"], "amount": 10000},
    )
    assert real["name"] == "result"
    assert real["msg"]["success"] is False
    assert real["msg"]["reason"]
    other = await raw.request(
        "internal-billing.reset-training-balance", "4.0", {"user_balance_id": TRADER2_BALANCES["demo"]}
    )
    assert other["status"] == 4003


@pytest.mark.parametrize(
    ("name", "version"),
    [("get-initialization-data", "4.0"), ("binary-options.get-initialization-data", "3.0")],
)
async def test_initialization_data_lists_every_active_in_three_groups(
    raw: RawClient, name: str, version: str
) -> None:
    reply = await raw.request(name, version, {})
    for group in ("blitz", "turbo", "binary"):
        assert set(reply["msg"][group]["actives"]) == {str(spec.id) for spec in DEFAULT_ACTIVES}
    init = msgspec.convert(reply["msg"], InitializationData)
    for spec in DEFAULT_ACTIVES:
        active = init.find_active(spec.id)
        assert active is not None
        assert active.name == f"front.{spec.name}"
        assert active.commission == spec.commission
        assert active.option.expiration_times == list(spec.expirations)
        assert active.schedule
        # A Thursday at 12:25 UTC: all open but the US stocks AMZN and AAPL (13:30-20:00 UTC).
        assert active.is_suspended is (spec.id in (31, 32))
    assert "deadtime" in reply["msg"]["turbo"]["actives"]["76"]
    assert reply["msg"]["blitz"]["actives"]["76"]["option"]["profit"] == {"commission": 12}


@pytest.mark.parametrize(("version", "key"), [("1.0", "active_id"), ("5.0", "id")])
async def test_get_active_by_either_key(raw: RawClient, version: str, key: str) -> None:
    reply = await raw.request("get-active", version, {key: 1938})
    assert reply["msg"]["id"] == 1938
    assert reply["msg"]["name"] == "AAPL-OTC"
    assert reply["msg"]["is_otc"] is True


async def test_get_active_errors(raw: RawClient) -> None:
    assert (await raw.request("get-active", "5.0", {}))["status"] == 4000
    assert (await raw.request("get-active", "5.0", {"id": 999_999}))["status"] == 4004


async def test_traders_mood_is_a_share(raw: RawClient) -> None:
    reply = await raw.request("get-traders-mood", "1.0", {"asset_id": 76, "instrument": "turbo-option"})
    assert reply["msg"]["asset_id"] == 76
    assert 0.2 <= reply["msg"]["value"] <= 0.8
    unknown = await raw.request("get-traders-mood", "1.0", {"asset_id": 5, "instrument": "turbo-option"})
    assert unknown["status"] == 4004


async def test_currency(raw: RawClient) -> None:
    brl = await raw.request("get-currency", "5.0", {"name": "brl"})
    assert (brl["msg"]["id"], brl["msg"]["symbol"], brl["msg"]["minor_units"]) == (6, "R$", 2)
    unknown = await raw.request("get-currency", "5.0", {"name": "XXX"})
    assert unknown["status"] == 4004


async def test_blitz_cannot_be_sold(raw: RawClient) -> None:
    body = {
        "user_balance_id": DEMO,
        "active_id": 76,
        "option_type_id": 12,
        "direction": "call",
        "expired": 0,
        "price": 10,
        "profit_percent": 88,
        "expiration_size": 30,
    }
    option = await raw.request("binary-options.open-option", "2.0", body)
    reply = await raw.request("binary-options.sell-options", "3.0", {"options_ids": [option["msg"]["id"]]})
    assert reply["name"] == "result"
    assert reply["msg"]["success"] is False
    assert "cannot be sold" in reply["msg"]["reason"]


async def test_features_enable_the_option_products(raw: RawClient) -> None:
    reply = await raw.request("features.get-features", "2.0", {"category": "client-sdk-js"})
    status = {f["name"]: f["status"] for f in reply["msg"]["features"]}
    assert (
        status["blitz-instrument"] == status["turbo-instrument"] == status["binary-instrument"] == "enabled"
    )
    assert status["margin-forex-instrument"] == status["margin-crypto-instrument"] == "enabled"
    assert all(
        {"id", "name", "category", "version", "status", "params"} <= set(f) for f in reply["msg"]["features"]
    )


async def test_user_settings_round_trip(raw: RawClient) -> None:
    await raw.request("set-user-settings", "1.0", {"chart_type": "line"})
    reply = await raw.request("get-user-settings", "2.0", {})
    assert reply["msg"]["settings"]["chart_type"] == "line"
    assert (await raw.request("set-user-settings", "1.0", [1]))["status"] == 4000


async def test_history_of_another_user_is_forbidden(raw: RawClient) -> None:
    reply = await raw.request(
        "portfolio.get-history-positions", "2.0", {"user_id": DEMO_USER_ID + 1, "limit": 30}
    )
    assert reply["status"] == 4003
    for name, version, body in [
        ("portfolio.get-positions", "4.0", {"instrument_types": [], "limit": 30, "offset": 0}),
        ("portfolio.get-orders", "2.0", {"kind": "deferred"}),
        ("portfolio.get-history-positions", "1.0", {}),
    ]:
        forged = await raw.request(name, version, {**body, "user_balance_id": TRADER2_BALANCES["demo"]})
        assert forged["status"] == 4003, name
