"""Payload models: enumerations, price helpers, Python names over wire names."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iqwire.models import (
    PRICE_SCALE,
    Balance,
    BalanceChanged,
    BalanceType,
    Candle,
    Direction,
    FirstCandles,
    InitializationData,
    OrdersResponse,
    Outcome,
    Position,
    TradersMood,
    ns_to_datetime,
    price_to_value,
    seconds_to_datetime,
    timestamp_seconds,
    value_to_price,
)

# -- price helpers -------------------------------------------------------------------------------

prices = (
    st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
    .map(lambda price: round(price, 6))
    .filter(lambda price: price > 0)
)


@settings(max_examples=500)
@given(prices)
def test_price_survives_value_encoding(price: float) -> None:
    value = price_to_value(price)

    assert isinstance(value, int)
    assert math.isclose(value_to_price(value), round(price, 6), rel_tol=1e-9)


@settings(max_examples=500)
@given(st.integers(min_value=0, max_value=10**15))
def test_value_survives_price_decoding(value: int) -> None:
    assert price_to_value(value_to_price(value)) == value


@settings(max_examples=300)
@given(st.integers(min_value=1, max_value=10**12))
def test_price_with_six_decimals_encodes_exactly(micros: int) -> None:
    price = micros / PRICE_SCALE

    assert price_to_value(price) == micros


def test_reference_price_encoding() -> None:
    assert price_to_value(292.196775) == 292196775
    assert value_to_price(292196775) == 292.196775
    assert price_to_value(0.246675) == 246675
    assert PRICE_SCALE == 1_000_000


# -- BalanceType ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "member"),
    [(1, BalanceType.REAL), (2, BalanceType.TOURNAMENT), (4, BalanceType.DEMO)],
)
def test_balance_type_decodes_known_values(wire: int, member: BalanceType) -> None:
    balance = msgspec.json.decode(msgspec.json.encode({"id": 9, "type": wire, "amount": 10.5}), type=Balance)

    assert balance.type is member
    assert BalanceType(wire) is member


@pytest.mark.parametrize("wire", [5, 3, 0, 99])
def test_balance_type_decodes_an_unseen_value_to_a_pseudo_member(wire: int) -> None:
    balance = msgspec.json.decode(msgspec.json.encode({"id": 9, "type": wire, "amount": 10.5}), type=Balance)

    assert isinstance(balance.type, BalanceType)
    assert balance.type == wire
    assert balance.type.name == f"UNKNOWN_{wire}"
    assert balance.type not in {BalanceType.REAL, BalanceType.TOURNAMENT, BalanceType.DEMO}
    assert msgspec.json.encode(balance.type) == str(wire).encode()


def test_balance_type_rejects_non_integers() -> None:
    with pytest.raises(ValueError, match="BalanceType"):
        BalanceType("4")  # type: ignore[arg-type]
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"id":1,"type":"demo","amount":1}', type=Balance)


def test_balance_list_with_an_unseen_type_decodes_whole() -> None:
    data = b'[{"id":1,"type":1,"amount":0},{"id":2,"type":4,"amount":10000},{"id":3,"type":7,"amount":5}]'

    balances = msgspec.json.decode(data, type=list[Balance])

    assert [b.type for b in balances] == [BalanceType.REAL, BalanceType.DEMO, 7]
    assert balances[0].currency is None


def test_balance_changed_push_decodes() -> None:
    data = (
        b'{"current_balance":{"id":1090667707,"amount":9900.0,"currency":"USD","type":4,"new":1},"user_id":5}'
    )

    push = msgspec.json.decode(data, type=BalanceChanged)

    assert push.current_balance.id == 1090667707
    assert push.current_balance.type is BalanceType.DEMO
    assert push.current_balance.amount == 9900.0
    assert push.user_id == 5


# -- Outcome --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "outcome"),
    [
        ("loose", Outcome.LOSS),
        ("win", Outcome.WIN),
        ("equal", Outcome.EQUAL),
        ("sold", Outcome.SOLD),
        ("unheard-of", Outcome.UNKNOWN),
        ("", Outcome.UNKNOWN),
        ("WIN", Outcome.UNKNOWN),
        (None, Outcome.UNKNOWN),
    ],
)
def test_outcome_from_wire(wire: str | None, outcome: Outcome) -> None:
    assert Outcome.from_wire(wire) is outcome


@settings(max_examples=200)
@given(st.text(max_size=12))
def test_outcome_from_wire_never_fails(wire: str) -> None:
    assert isinstance(Outcome.from_wire(wire), Outcome)


def test_direction_values() -> None:
    assert Direction("call") is Direction.CALL
    assert Direction("put") is Direction.PUT


@pytest.mark.parametrize(
    ("fields", "outcome"),
    [
        ({"status": "open", "result": "opened"}, None),
        ({"status": "closed", "close_reason": "win"}, Outcome.WIN),
        ({"status": "closed", "result": "loose"}, Outcome.LOSS),
        ({"status": "closed", "close_reason": "equal", "result": "win"}, Outcome.EQUAL),
        ({"status": "closed", "close_reason": "default"}, Outcome.SOLD),
        ({"status": "closed", "close_reason": "expired-somehow"}, Outcome.UNKNOWN),
        ({"status": "closed"}, Outcome.UNKNOWN),
    ],
)
def test_position_outcome(fields: dict[str, str], outcome: Outcome | None) -> None:
    position = msgspec.convert({"id": 1, **fields}, Position)

    assert position.outcome is outcome


def test_sdk_position_shape_decodes() -> None:
    data = {
        "id": "8f0c2a3e-uuid",
        "external_id": 13607084149,
        "status": "closed",
        "invest": 100,
        "close_reason": "loose",
        "open_time": 1770899394000,
        "version": 3,
        "raw_event": {"binary_options_option_changed1": {"order_ids": [13607084149], "direction": "call"}},
    }

    position = msgspec.convert(data, Position)

    assert position.option_id == 13607084149
    assert position.amount == 100
    assert position.outcome is Outcome.LOSS
    assert timestamp_seconds(position.open_time or 0) == 1770899394


def test_position_without_external_id_and_string_id_has_no_option_id() -> None:
    assert msgspec.convert({"id": "uuid", "status": "open"}, Position).option_id is None


# -- candles and other market payloads ----------------------------------------------------------


def test_candle_uses_python_names_over_wire_names() -> None:
    candle = msgspec.json.decode(
        b'{"id":1,"from":60,"to":120,"open":1.5,"close":2.5,"min":1.25,"max":3.0,"unknown":[1]}', type=Candle
    )

    assert (candle.start, candle.end, candle.low, candle.high) == (60, 120, 1.25, 3.0)
    assert candle.at is None
    assert candle.at_datetime is None
    assert candle.is_closed
    assert msgspec.json.decode(msgspec.json.encode(candle)) == {
        "id": 1,
        "from": 60,
        "to": 120,
        "open": 1.5,
        "close": 2.5,
        "min": 1.25,
        "max": 3.0,
    }


def test_candle_is_closed_once_its_last_tick_reaches_its_end() -> None:
    base = {"id": 1, "from": 60, "to": 120, "open": 1, "close": 1, "min": 1, "max": 1}

    assert not msgspec.convert({**base, "at": 119_999_999_999}, Candle).is_closed
    assert msgspec.convert({**base, "at": 120_000_000_000}, Candle).is_closed


def test_first_candles_keys_become_ints() -> None:
    data = b'{"candles_by_size":{"60":{"id":1,"from":0,"to":60,"open":1,"close":1,"min":1,"max":1}}}'

    first = msgspec.json.decode(data, type=FirstCandles)

    assert list(first.candles_by_size) == [60]
    assert first.candles_by_size[60].start == 0


def test_initialization_data_accepts_objects_and_arrays_of_actives() -> None:
    active = {
        "id": 76,
        "name": "front.EURUSD",
        "option": {"profit": {"commission": 14}},
        "schedule": [[0, 100]],
    }
    data = msgspec.json.encode({"blitz": {"actives": {"76": active}}, "turbo": {"actives": [active]}})

    init = msgspec.json.decode(data, type=InitializationData)

    blitz = init.find_active(76)
    assert blitz is not None
    assert blitz.payout == 86
    assert blitz.commission == 14
    assert blitz.is_open_at(50)
    assert not blitz.is_open_at(100)
    assert init.find_active(76, "turbo") == blitz
    assert init.find_active(76, "binary") is None
    assert init.find_active(1) is None


def test_orders_response_reads_either_key() -> None:
    orders = msgspec.json.decode(
        b'{"orders":[{"id":1}],"items":[{"id":2,"status":"filled"}]}', type=OrdersResponse
    )

    assert [o.id for o in orders.all()] == [1, 2]
    assert orders.all()[1].is_terminal


def test_traders_mood_shares() -> None:
    mood = msgspec.json.decode(b'{"asset_id":76,"value":0.75}', type=TradersMood)

    assert mood.call_share == 0.75
    assert mood.put_share == 0.25


# -- time helpers ----------------------------------------------------------------------------------


def test_time_helpers_are_utc() -> None:
    assert seconds_to_datetime(1770899100) == datetime(2026, 2, 12, 12, 25, tzinfo=UTC)
    assert ns_to_datetime(1770899119000000000) == datetime(2026, 2, 12, 12, 25, 19, tzinfo=UTC)


@pytest.mark.parametrize(
    ("wire", "seconds"),
    [(1770899394, 1770899394), (1770899394000, 1770899394), (1770899394500, 1770899394.5)],
)
def test_timestamp_seconds_accepts_seconds_and_milliseconds(wire: float, seconds: float) -> None:
    assert timestamp_seconds(wire) == seconds
