"""Every JSON example of the protocol reference decodes into its model and re-encodes.

The examples are copied from /work/shared/protocol-reference.md with the ``//``
comments stripped; ``{ ... }`` placeholders became ``{}``. "Re-encodes" means
``msgspec.json.encode`` of the model gives JSON in which every key of the
original is present with an equal value (an original ``null`` may be absent).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from unit_helpers import JSON_OBJECT, assert_equivalent, frame_bytes, ready_session

from iqwire.models import (
    Candle,
    CommissionChangedError,
    OpenOptionRequest,
    Option,
    Outcome,
    Position,
    Result,
)
from iqwire.protocol import (
    Authenticated,
    Front,
    Push,
    Response,
    ResultAck,
    Session,
    SessionState,
    TimeSync,
    decode_frame,
    encode_frame,
)

# -- the examples, as the reference shows them --------------------------------------------

# §2 Message envelope.
ENVELOPE = b"""{
  "name": "message_name",
  "request_id": "string",
  "local_time": 12345,
  "msg": {}
}"""

# §5.1 Subscription envelope.
SUBSCRIPTION_ENVELOPE = b"""{
  "name": "subscribeMessage",
  "request_id": "s_212",
  "local_time": 8392,
  "msg": {
    "name": "event-name",
    "version": "1.0",
    "params": {
      "routingFilters": {}
    }
  }
}"""

# §6.1 System messages (the table's payload shapes, as full frames).
AUTHENTICATED = b'{"name": "authenticated", "msg": true, "client_session_id": "uuid"}'
RESULT = b'{"name": "result", "msg": {"success": true}}'
FRONT = b'{"name": "front", "msg": "ws01.ws.prod...", "session_id": "..."}'
TIME_SYNC = b'{"name": "timeSync", "msg": 1770899115227}'

# §7.1 Trade placement: request body, `option` response (status 2000), 4117 error.
OPEN_OPTION_REQUEST = b"""{
  "user_balance_id": 1090667707,
  "active_id": 1938,
  "option_type_id": 12,
  "direction": "call",
  "expired": 1770899424,
  "refund_value": 0,
  "price": 100.0,
  "value": 292196775,
  "profit_percent": 89,
  "expiration_size": 30
}"""

OPTION_RESPONSE = b"""{
  "user_id": 141527657,
  "id": 13607084149,
  "price": 100,
  "exp": 1770899424,
  "created": 1770899394,
  "type": "blitz",
  "act": 1938,
  "direction": "call",
  "value": 292.146065,
  "profit_income": 189,
  "profit_return": 0,
  "rollover_params": { "amount_multiplier": 2, "max_count": 1, "offset": 0, "deadtime": 7 }
}"""

COMMISSION_CHANGED = b"""{
  "message": "The option has not been purchased because of the profit rate change.",
  "result": {
    "actual_commission": { "active_id": 76, "commission": 14, "option_type": 12 }
  }
}"""

# §7.2 Candle subscription (client to server) and push (server to client).
CANDLE_SUBSCRIPTION = b"""{
  "name": "subscribeMessage",
  "msg": {
    "name": "candle-generated",
    "params": {
      "routingFilters": { "active_id": 2276, "size": 60 }
    }
  }
}"""

CANDLE_PUSH = b"""{
  "name": "candle-generated",
  "microserviceName": "quotes",
  "msg": {
    "active_id": 2276,
    "size": 60,
    "at": 1770899119000000000,
    "from": 1770899100,
    "to": 1770899160,
    "min_at": 1770899100,
    "max_at": 1770899114,
    "id": 501774,
    "open": 0.246675,
    "close": 0.246815,
    "min": 0.246675,
    "max": 0.246975,
    "ask": 0.24682,
    "bid": 0.24681,
    "volume": 0,
    "phase": "T"
  }
}"""

# §7.3 Position-changed lifecycle. The closed examples are partial: they are
# merged over the opened one.
POSITION_OPENED = b"""{
  "name": "portfolio.position-changed",
  "msg": {
    "id": 13607084149,
    "instrument_type": "blitz-option",
    "instrument_id": "blitz_AAPL_OTC",
    "active_id": 1938,
    "direction": "call",
    "status": "open",
    "result": "opened",
    "investment": 100,
    "pnl": null,
    "close_profit": null,
    "profit_amount": null,
    "close_reason": null,
    "open_time": 1770899394,
    "expiration_time": 1770899424,
    "expiration_size": 30,
    "expiration_value": null
  }
}"""

POSITION_CLOSED_WIN = b"""{ "status": "closed", "result": "win", "close_reason": "win",
  "pnl": 89, "close_profit": 189, "profit_amount": 89,
  "expiration_value": 292.500000 }"""

POSITION_CLOSED_LOSS = b"""{ "status": "closed", "result": "loose", "close_reason": "loose",
  "pnl": -100, "close_profit": 0, "profit_amount": -100 }"""

ALL_FRAMES = {
    "envelope": ENVELOPE,
    "subscription-envelope": SUBSCRIPTION_ENVELOPE,
    "authenticated": AUTHENTICATED,
    "result": RESULT,
    "front": FRONT,
    "timeSync": TIME_SYNC,
    "candle-subscription": CANDLE_SUBSCRIPTION,
    "candle-push": CANDLE_PUSH,
    "position-opened": POSITION_OPENED,
}


def _json(data: bytes) -> Any:
    return JSON_OBJECT.decode(data)


def _closed_position_frame(partial: bytes) -> dict[str, Any]:
    frame: dict[str, Any] = _json(POSITION_OPENED)
    frame["msg"] = {**frame["msg"], **_json(partial)}
    return frame


def _reencoded(model: Any) -> Any:
    return _json(msgspec.json.encode(model))


# -- §2, §5.1, every frame: the envelope codec ----------------------------------------------


@pytest.mark.parametrize("data", ALL_FRAMES.values(), ids=ALL_FRAMES.keys())
def test_every_reference_frame_round_trips_through_the_envelope(data: bytes) -> None:
    frame = decode_frame(data)

    assert_equivalent(_json(data), _json(encode_frame(frame)))


def test_envelope_example_decodes_every_field() -> None:
    frame = decode_frame(ENVELOPE)

    assert frame.name == "message_name"
    assert frame.request_id == "string"
    assert frame.local_time == 12345
    assert frame.msg == {}


def test_subscription_envelope_example_decodes_every_field() -> None:
    frame = decode_frame(SUBSCRIPTION_ENVELOPE)

    assert frame.name == "subscribeMessage"
    assert frame.request_id == "s_212"
    assert frame.local_time == 8392
    assert frame.msg == {"name": "event-name", "version": "1.0", "params": {"routingFilters": {}}}


def test_session_subscribe_frame_has_the_reference_shape() -> None:
    session = ready_session()

    sub_id, data = session.subscribe("event-name", "1.0", {})

    sent = _json(data)
    assert sub_id.startswith("s_")
    assert set(sent) == {"name", "request_id", "msg"}
    assert_equivalent({**_json(SUBSCRIPTION_ENVELOPE), "request_id": sub_id, "local_time": None}, sent)


# -- §6.1 system messages -------------------------------------------------------------------


def test_authenticated_example_accepts_a_pending_authenticate() -> None:
    session = Session()
    session.authenticate("ssid")

    events = session.receive(AUTHENTICATED)

    assert events == [Authenticated(ok=True, request_id=None, client_session_id="uuid")]
    assert session.state is SessionState.READY
    assert session.pending == frozenset()


def test_authenticated_example_frame_fields() -> None:
    frame = decode_frame(AUTHENTICATED)

    assert frame.name == "authenticated"
    assert frame.msg is True
    assert frame.client_session_id == "uuid"


def test_result_example_decodes_into_result() -> None:
    result = msgspec.convert(decode_frame(RESULT).msg, Result)

    assert result == Result(success=True)
    assert_equivalent(_json(RESULT)["msg"], _reencoded(result))


def test_result_example_acknowledges_set_options() -> None:
    session = ready_session()
    request_id, _ = session.set_options()
    frame = {**_json(RESULT), "request_id": request_id}

    events = session.receive(msgspec.json.encode(frame))

    assert events == [ResultAck(request_id=request_id, success=True, final=True)]
    assert request_id not in session.pending


def test_front_example_becomes_a_front_event() -> None:
    assert Session().receive(FRONT) == [Front(server="ws01.ws.prod...", session_id="...")]


def test_time_sync_example_becomes_a_time_sync_event() -> None:
    events = Session().receive(TIME_SYNC)

    assert events == [TimeSync(server_time_ms=1770899115227)]
    assert decode_frame(TIME_SYNC).msg == 1770899115227


# -- §7.1 trade placement ---------------------------------------------------------------------


def test_open_option_request_example_decodes_and_re_encodes() -> None:
    request = msgspec.json.decode(OPEN_OPTION_REQUEST, type=OpenOptionRequest)

    assert request.user_balance_id == 1090667707
    assert request.active_id == 1938
    assert request.option_type_id == 12
    assert request.direction == "call"
    assert request.expired == 1770899424
    assert request.refund_value == 0
    assert request.price == 100.0
    assert request.value == 292196775
    assert request.profit_percent == 89
    assert request.expiration_size == 30
    assert_equivalent(_json(OPEN_OPTION_REQUEST), _reencoded(request))


def test_open_option_request_model_is_sent_as_the_reference_body() -> None:
    session = ready_session()
    body = msgspec.json.decode(OPEN_OPTION_REQUEST, type=OpenOptionRequest)

    request_id, data = session.request("binary-options.open-option", body=body)

    sent = _json(data)
    assert sent["name"] == "sendMessage"
    assert sent["request_id"] == request_id
    assert sent["msg"]["name"] == "binary-options.open-option"
    assert sent["msg"]["version"] == "2.0"
    assert_equivalent(_json(OPEN_OPTION_REQUEST), sent["msg"]["body"])


def test_option_response_example_decodes_and_re_encodes() -> None:
    option = msgspec.json.decode(OPTION_RESPONSE, type=Option)

    assert option.user_id == 141527657
    assert option.id == 13607084149
    assert option.price == 100
    assert option.exp == 1770899424
    assert option.created == 1770899394
    assert option.opened_at == 1770899394
    assert option.type == "blitz"
    assert option.act == 1938
    assert option.direction == "call"
    assert option.value == 292.146065
    assert option.profit_income == 189
    assert option.profit_return == 0
    assert option.rollover_params == {"amount_multiplier": 2, "max_count": 1, "offset": 0, "deadtime": 7}
    assert option.expires_at == datetime(2026, 2, 12, 12, 30, 24, tzinfo=UTC)
    assert_equivalent(_json(OPTION_RESPONSE), _reencoded(option))


def test_option_response_example_answers_open_option() -> None:
    session = ready_session()
    request_id, _ = session.request("binary-options.open-option", body={})
    frame = frame_bytes("option", _json(OPTION_RESPONSE), request_id=request_id, status=2000)

    (event,) = session.receive(frame)

    assert isinstance(event, Response)
    assert event.ok
    assert (event.request_id, event.rpc, event.status, event.name) == (
        request_id,
        "binary-options.open-option",
        2000,
        "option",
    )
    assert event.payload == msgspec.json.decode(OPTION_RESPONSE, type=Option)


def test_commission_changed_example_decodes_and_re_encodes() -> None:
    error = msgspec.json.decode(COMMISSION_CHANGED, type=CommissionChangedError)

    assert error.message == "The option has not been purchased because of the profit rate change."
    assert error.result.actual_commission.active_id == 76
    assert error.result.actual_commission.commission == 14
    assert error.result.actual_commission.option_type == 12
    assert_equivalent(_json(COMMISSION_CHANGED), _reencoded(error))


def test_commission_changed_example_answers_open_option_with_4117() -> None:
    session = ready_session()
    request_id, _ = session.request("binary-options.open-option", body={})
    frame = frame_bytes("option", _json(COMMISSION_CHANGED), request_id=request_id, status=4117)

    (event,) = session.receive(frame)

    assert isinstance(event, Response)
    assert not event.ok
    assert (event.request_id, event.rpc, event.status) == (request_id, "binary-options.open-option", 4117)
    assert isinstance(event.payload, CommissionChangedError)
    assert event.payload.result.actual_commission.commission == 14
    assert request_id not in session.pending


# -- §7.2 candles -----------------------------------------------------------------------------


def test_candle_subscription_example_matches_what_the_session_sends() -> None:
    session = ready_session()
    reference = decode_frame(CANDLE_SUBSCRIPTION)
    filters = reference.msg["params"]["routingFilters"]

    sub_id, data = session.subscribe("candle-generated", routing_filters=filters)

    assert reference.name == "subscribeMessage"
    assert reference.request_id is None
    sent = _json(data)
    assert sent["request_id"] == sub_id
    # The session adds the SDK's version "1.0"; every key of the reference is there.
    assert_equivalent(_json(CANDLE_SUBSCRIPTION), sent)


def test_candle_push_example_decodes_into_candle() -> None:
    candle = msgspec.convert(decode_frame(CANDLE_PUSH).msg, Candle)

    assert candle.active_id == 2276
    assert candle.size == 60
    assert candle.at == 1770899119000000000
    assert candle.start == 1770899100
    assert candle.end == 1770899160
    assert candle.min_at == 1770899100
    assert candle.max_at == 1770899114
    assert candle.id == 501774
    assert candle.open == 0.246675
    assert candle.close == 0.246815
    assert candle.low == 0.246675
    assert candle.high == 0.246975
    assert candle.ask == 0.24682
    assert candle.bid == 0.24681
    assert candle.volume == 0
    assert candle.phase == "T"
    assert candle.datetime == datetime(2026, 2, 12, 12, 25, tzinfo=UTC)
    assert candle.at_datetime == datetime(2026, 2, 12, 12, 25, 19, tzinfo=UTC)
    assert not candle.is_closed
    assert_equivalent(_json(CANDLE_PUSH)["msg"], _reencoded(candle))


def test_candle_push_example_becomes_a_typed_push() -> None:
    session = ready_session()
    session.subscribe("candle-generated", routing_filters={"active_id": 2276, "size": 60})

    (event,) = session.receive(CANDLE_PUSH)

    assert isinstance(event, Push)
    assert event.name == "candle-generated"
    assert event.microservice_name == "quotes"
    assert isinstance(event.payload, Candle)
    assert event.payload.low == 0.246675
    assert event.payload.high == 0.246975
    assert event.payload.at == 1770899119000000000


# -- §7.3 position lifecycle ------------------------------------------------------------------


def test_position_opened_example_has_no_outcome() -> None:
    position = msgspec.convert(decode_frame(POSITION_OPENED).msg, Position)

    assert position.id == 13607084149
    assert position.option_id == 13607084149
    assert position.instrument_type == "blitz-option"
    assert position.instrument_id == "blitz_AAPL_OTC"
    assert position.active_id == 1938
    assert position.direction == "call"
    assert position.status == "open"
    assert position.result == "opened"
    assert position.investment == 100
    assert position.amount == 100
    assert position.pnl is None
    assert position.close_profit is None
    assert position.profit_amount is None
    assert position.close_reason is None
    assert position.open_time == 1770899394
    assert position.expiration_time == 1770899424
    assert position.expiration_size == 30
    assert position.expiration_value is None
    assert not position.is_closed
    assert position.outcome is None
    assert_equivalent(_json(POSITION_OPENED)["msg"], _reencoded(position))


def test_position_closed_win_example_is_a_win() -> None:
    frame = _closed_position_frame(POSITION_CLOSED_WIN)

    position = msgspec.convert(decode_frame(msgspec.json.encode(frame)).msg, Position)

    assert position.is_closed
    assert position.outcome is Outcome.WIN
    assert position.result == "win"
    assert position.pnl == 89
    assert position.close_profit == 189
    assert position.profit_amount == 89
    assert position.expiration_value == 292.5
    assert position.id == 13607084149
    assert_equivalent(frame["msg"], _reencoded(position))


def test_position_closed_loss_example_is_a_loss() -> None:
    frame = _closed_position_frame(POSITION_CLOSED_LOSS)

    position = msgspec.convert(decode_frame(msgspec.json.encode(frame)).msg, Position)

    assert position.is_closed
    assert position.outcome is Outcome.LOSS
    assert position.close_reason == "loose"
    assert position.pnl == -100
    assert position.close_profit == 0
    assert position.profit_amount == -100
    assert position.expiration_value is None
    assert_equivalent(frame["msg"], _reencoded(position))


@pytest.mark.parametrize(
    ("partial", "outcome"),
    [(None, None), (POSITION_CLOSED_WIN, Outcome.WIN), (POSITION_CLOSED_LOSS, Outcome.LOSS)],
    ids=["opened", "win", "loss"],
)
def test_position_examples_become_typed_pushes(partial: bytes | None, outcome: Outcome | None) -> None:
    session = ready_session()
    data = POSITION_OPENED if partial is None else msgspec.json.encode(_closed_position_frame(partial))

    (event,) = session.receive(data)

    assert isinstance(event, Push)
    assert event.name == "portfolio.position-changed"
    assert isinstance(event.payload, Position)
    assert event.payload.outcome is outcome
