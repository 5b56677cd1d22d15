"""Every typed RPC of the client against the simulator: the right model, sane values."""

from __future__ import annotations

import pytest
from client_helpers import START, Wiretap, assert_contiguous, only_connection

from iqwire.client import Client, ConnectionState
from iqwire.errors import ServerError
from iqwire.models import (
    Active,
    Balance,
    BalanceType,
    Candle,
    Currency,
    FirstCandles,
    InitializationData,
    OptionInsurance,
    Profile,
    TradersMood,
    TradingGroupParams,
    TradingVolume,
    UserSettings,
)
from iqwire.sim import Simulator

pytestmark = pytest.mark.both_transports

DEMO_USER_ID = 141_527_657


# -- account -----------------------------------------------------------------------------


async def test_profile_is_the_logged_in_user(client: Client, sim: Simulator) -> None:
    profile = await client.get_profile()

    assert isinstance(profile, Profile)
    assert profile.user_id == DEMO_USER_ID
    assert profile.email == sim.credentials.email
    assert profile.balance_id == next(b.id for b in sim.balances() if b.type is BalanceType.DEMO)
    assert await client.user_id() == DEMO_USER_ID


async def test_balances_are_real_demo_and_tournament(client: Client, sim: Simulator) -> None:
    balances = await client.get_balances()

    assert all(isinstance(b, Balance) for b in balances)
    assert {b.type: b.amount for b in balances} == {
        BalanceType.REAL: 100.0,
        BalanceType.DEMO: 10_000.0,
        BalanceType.TOURNAMENT: 1_000.0,
    }
    assert {b.currency for b in balances} == {"USD"}
    assert {b.user_id for b in balances} == {DEMO_USER_ID}
    assert sorted(b.id for b in balances) == sorted(b.id for b in sim.balances())


async def test_balances_of_some_types_only(client: Client) -> None:
    balances = await client.get_balances((BalanceType.DEMO, BalanceType.TOURNAMENT))

    # The options demo and the marginal demo are both type 4.
    assert sorted(b.type for b in balances) == [BalanceType.TOURNAMENT, BalanceType.DEMO, BalanceType.DEMO]
    assert [b.is_marginal for b in balances if b.type is BalanceType.DEMO] == [False, True]


async def test_get_balance_by_type(client: Client) -> None:
    demo = await client.get_balance(BalanceType.DEMO)
    real = await client.get_balance(BalanceType.REAL)

    assert isinstance(demo, Balance)
    assert (demo.type, demo.amount) == (BalanceType.DEMO, 10_000.0)
    assert (real.type, real.amount) == (BalanceType.REAL, 100.0)
    assert demo.id != real.id


async def test_user_settings(client: Client) -> None:
    settings = await client.get_user_settings()

    assert isinstance(settings, UserSettings)
    assert settings.user_id == DEMO_USER_ID
    assert isinstance(settings.settings, dict)


# -- candles -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "count", "pages"), [(1, 1, 1), (1, 1000, 1), (1, 1001, 2), (1, 2500, 3), (60, 1500, 2)]
)
async def test_candles_by_count_are_paged_transparently(
    client: Client, wiretap: Wiretap, size: int, count: int, pages: int
) -> None:
    candles = await client.get_candles(76, size, count=count)

    assert len(candles) == count
    assert all(isinstance(c, Candle) for c in candles)
    assert_contiguous(candles, size)
    assert candles[-1].start <= START < candles[-1].start + 2 * size  # ends at "now"
    requests = wiretap.rpcs("get-candles")
    assert len(requests) == pages
    assert all(r.msg["body"]["count"] <= 1000 for r in requests)


async def test_candles_by_count_up_to_an_end(client: Client) -> None:
    end = START - 3600
    candles = await client.get_candles(76, 1, count=1500, end=end)

    assert len(candles) == 1500
    assert_contiguous(candles, 1)
    assert candles[-1].start == end


async def test_candles_by_start_and_end(client: Client, wiretap: Wiretap) -> None:
    start, end = START - 2500, START - 1
    candles = await client.get_candles(76, 1, start=start, end=end)

    assert_contiguous(candles, 1)
    assert (candles[0].start, candles[-1].start, len(candles)) == (start, end, 2500)
    assert len(wiretap.rpcs("get-candles")) == 3


async def test_candles_by_start_end_and_count(client: Client) -> None:
    candles = await client.get_candles(76, 5, start=START - 5000, end=START - 5, count=30)

    assert_contiguous(candles, 5)
    assert (candles[0].start, len(candles)) == (START - 5000, 30)


async def test_candles_by_start_and_an_end_beyond_now(client: Client, sim: Simulator) -> None:
    """A range that reaches past the forming candle returns everything up to now."""
    await sim.advance(30.5)  # mid-candle: the forming 1 s candle starts at START + 30

    candles = await client.get_candles(76, 1, start=START - 100, end=START + 100)

    assert_contiguous(candles, 1)
    assert (candles[0].start, candles[-1].start) == (START - 100, START + 30)


async def test_candles_by_id_range(client: Client, wiretap: Wiretap) -> None:
    recent = await client.get_candles(76, 1, count=3000)
    from_id, to_id = recent[0].id, recent[2000].id

    candles = await client.get_candles(76, 1, from_id=from_id, to_id=to_id)

    assert_contiguous(candles, 1)
    assert (candles[0].id, candles[-1].id, len(candles)) == (from_id, to_id, 2001)
    assert candles == recent[:2001]  # the same candles whichever way they were asked for
    by_id = wiretap.rpcs("get-candles")[-3:]
    assert all(r.msg["body"]["to_id"] - r.msg["body"]["from_id"] < 1000 for r in by_id)


async def test_candles_by_id_needs_both_ends(client: Client) -> None:
    with pytest.raises(ValueError, match="from_id and to_id"):
        await client.get_candles(76, 1, from_id=5)


async def test_first_candles(client: Client) -> None:
    first = await client.get_first_candles(76)

    assert isinstance(first, FirstCandles)
    assert {1, 5, 60, 3600} <= set(first.candles_by_size)
    for size, candle in first.candles_by_size.items():
        assert isinstance(candle, Candle)
        assert candle.end - candle.start == size
        assert candle.start < START
    oldest = await client.get_candles(76, 60, start=first.candles_by_size[60].start, count=1)
    assert oldest[0].id == first.candles_by_size[60].id


# -- market ------------------------------------------------------------------------------


async def test_traders_mood(client: Client) -> None:
    mood = await client.get_traders_mood(76)

    assert isinstance(mood, TradersMood)
    assert mood.asset_id == 76
    assert 0.0 <= mood.value <= 1.0


@pytest.mark.parametrize(("name", "symbol"), [("USD", "$"), ("EUR", "€")])
async def test_currency(client: Client, name: str, symbol: str) -> None:
    currency = await client.get_currency(name)

    assert isinstance(currency, Currency)
    assert (currency.name, currency.symbol) == (name, symbol)
    assert currency.rate_usd is not None and currency.rate_usd > 0


async def test_unknown_currency_is_a_server_error(client: Client) -> None:
    with pytest.raises(ServerError) as caught:
        await client.get_currency("XXX")

    assert caught.value.status == 4004
    assert "XXX" in str(caught.value)


async def test_initialization_data_payout_is_100_minus_commission(client: Client, sim: Simulator) -> None:
    init = await client.get_initialization_data()

    assert isinstance(init, InitializationData)
    active = init.find_active(76)
    assert active is not None
    assert active.payout == 100 - sim.engine.commissions[76]
    assert 0 < active.payout < 100
    assert 5 in active.option.expiration_times
    assert active.is_open_at(START)
    assert init.find_active(999_999) is None


async def test_initialization_data_follows_a_commission_change(client: Client, sim: Simulator) -> None:
    await client.get_initialization_data()
    sim.set_commission(76, 20)

    cached = await client.get_initialization_data(refresh=False)
    fresh = await client.get_initialization_data()

    assert cached.find_active(76).payout != 80  # type: ignore[union-attr]
    assert fresh.find_active(76).payout == 80  # type: ignore[union-attr]


async def test_active(client: Client) -> None:
    active = await client.get_active(76)

    assert isinstance(active, Active)
    assert active.id == 76
    assert active.ticker
    assert active.precision is not None and active.precision > 0


async def test_actives_index_is_plain_json(client: Client) -> None:
    index = await client.get_actives_index()

    assert any(a["id"] == 76 for a in index["actives"])


# -- portfolio and limits -----------------------------------------------------------------


async def test_portfolio_is_empty_at_first(client: Client) -> None:
    demo = await client.get_balance(BalanceType.DEMO)

    assert await client.get_positions() == []
    assert await client.get_positions(demo.id) == []
    assert await client.get_orders() == []
    assert await client.get_orders(demo.id) == []
    assert await client.get_history_positions() == []
    assert await client.get_history_positions(demo.id) == []


async def test_trading_group_params(client: Client) -> None:
    params = await client.get_trading_group_params()

    assert isinstance(params, TradingGroupParams)
    limits = params.limits["blitz-option"]
    assert 0 < limits.min_amount < limits.max_amount


async def test_trading_volume(client: Client) -> None:
    volume = await client.get_trading_volume()

    assert isinstance(volume, TradingVolume)
    assert volume.volume == 0
    assert volume.currency == "USD"


async def test_option_insurance(client: Client) -> None:
    insurance = await client.get_option_insurance()

    assert isinstance(insurance, OptionInsurance)
    assert insurance.enabled is False


# -- the raw API ---------------------------------------------------------------------------


async def test_uncatalogued_request_is_a_clear_server_error_and_the_connection_survives(
    client: Client, sim: Simulator
) -> None:
    before = only_connection(sim).conn_id

    with pytest.raises(ServerError) as caught:
        await client.request("no-such.rpc", "1.0", {"x": 1})

    error = caught.value
    assert error.status == 4004
    assert error.name == "no-such.rpc"
    assert "no-such.rpc" in str(error) and "unknown" in str(error).lower()
    assert error.request_id is not None
    assert client.state is ConnectionState.CONNECTED
    assert (await client.get_profile()).user_id == DEMO_USER_ID
    assert only_connection(sim).conn_id == before
    assert client.reconnects == 0


async def test_raw_request_of_a_catalogued_rpc_is_typed(client: Client) -> None:
    profile = await client.request("core.get-profile", "1.0", {})

    assert isinstance(profile.result, Profile)


async def test_server_time_follows_timesync_and_is_monotonic(client: Client, sim: Simulator) -> None:
    first = client.server_time()
    assert START <= first < START + 2  # the greeting timeSync, plus a little real time

    await sim.advance(120)

    now = client.server_time()
    assert START + 120 <= now < START + 122
    readings = [client.server_time() for _ in range(1000)]
    assert readings == sorted(readings)
    assert readings[0] >= now
