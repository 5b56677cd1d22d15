"""``Session.receive_batch`` answers exactly as ``receive`` called on each frame in turn.

The only difference allowed is the grouping: consecutive catalogued pushes of one
name and service come as one ``Pushes`` event, which expands to the same ``Push``
events. These tests feed the same frames, good and bad, to two sessions in the same
state and compare the events and the state they leave behind.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit_helpers import CANDLE, ready_session

import iqwire.protocol.session as session_module
from iqwire.protocol import Event, Push, Pushes, Session, catalog
from iqwire.protocol.pushes import decode_push_frame


def _frame(**fields: Any) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def _candle(**changes: Any) -> bytes:
    return _frame(name="candle-generated", msg={**CANDLE, **changes}, microserviceName="quotes")


def _busy() -> Session:
    """Ready, with setOptions, an RPC and a subscription waiting for their answers ("2", "3", "s_4")."""
    session = ready_session(now=0.0)
    session.set_options(now=0.0)
    session.request("core.get-profile", now=0.0)
    session.subscribe("candle-generated", routing_filters={"active_id": 76, "size": 1}, now=0.0)
    return session


def _flat(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for event in events:
        out += event.pushes() if isinstance(event, Pushes) else [event]
    return out


def _check(frames: list[bytes | str]) -> list[Event]:
    one, each = _busy(), _busy()
    batched = one.receive_batch(frames)
    sequential = [event for data in frames for event in each.receive(data)]
    assert _flat(batched) == sequential
    assert one.pending == each.pending and one.state is each.state
    assert one.subscriptions == each.subscriptions
    return batched


#: Frames of every kind the session tells apart, good and bad.
POOL: list[bytes | str] = [
    _candle(),
    _candle(id=35209502, size=5),
    _candle(active_id=1),
    _frame(name="candle-generated", msg=CANDLE),  # no service
    _frame(name="candle-generated", msg=CANDLE, microserviceName="other"),
    _frame(name="candle-generated", msg={**CANDLE, "id": "x"}),  # wrong shape
    _frame(name="candle-generated", msg=CANDLE, request_id="3"),  # the pending RPC's id
    _frame(name="candle-generated", msg=CANDLE, request_id=""),
    _frame(name="traders-mood-changed", msg={"asset_id": 76, "instrument": "turbo-option", "value": 0.5}),
    _frame(name="balance-changed", msg={"x": 1}, microserviceName="marginal-portfolio"),
    _frame(name="timeSync", msg=1770899115227),
    _frame(name="result", request_id="2", msg={"success": True}),
    _frame(name="result", request_id="s_4", msg={"success": False, "reason": "no"}),
    _frame(name="profile", request_id="3", msg={"user_id": 1}),
    _frame(name="novel-push", msg={"a": 1}),
    b'{"name":"candle-generated","msg":{"id":1,"x":"\xc3\x28"}}',  # not UTF-8, in a skipped field
    '{"name":"candle-generated","msg":' + json.dumps(CANDLE) + "}",  # text
    '{"name":"candle-generated","msg":' + json.dumps({**CANDLE, "phase": "é"}) + "}",  # text, not ASCII
    _frame(name="candle-generated", msg={**CANDLE, "phase": "é"}),  # UTF-8, not ASCII
    b"[]",
    b"",
    b'{"name":"candle-generated","msg":',
    # Replies in other layouts, and names the single-frame check reads as no push's:
    b'{"request_id":"3","name":"profile","msg":{"user_id":1},"status":2000}',
    b'{"request_id":"3","name":"candle-generated","msg":{}}',
    b'{"name":"candle\\u002dgenerated","msg":'
    + json.dumps(CANDLE).encode()
    + b',"microserviceName":"quotes"}',
    b'{"name":"profile"',
    b'{"name":"',
    _frame(name="authenticated", msg=False),
]


def test_a_burst_of_candles_is_one_pushes_event() -> None:
    frames: list[bytes | str] = [_candle(close=1.0 + i / 1000) for i in range(5)]
    events = _check(frames)
    assert len(events) == 1 and isinstance(events[0], Pushes)
    assert events[0].name == "candle-generated" and events[0].microservice_name == "quotes"
    assert [candle.close for candle in events[0].payloads] == [1.0 + i / 1000 for i in range(5)]


def test_runs_break_at_another_name_service_or_frame() -> None:
    frames = [_candle(), _candle(), POOL[3], POOL[3], POOL[10], _candle(), POOL[8], _candle()]
    events = _check(frames)
    assert [type(e).__name__ for e in events] == [
        "Pushes",
        "Pushes",
        "TimeSync",
        "Pushes",
        "Pushes",
        "Pushes",
    ]
    assert [len(e.payloads) for e in events if isinstance(e, Pushes)] == [2, 2, 1, 1, 1]


def test_every_frame_of_the_pool_alone_and_among_candles() -> None:
    for data in POOL:
        _check([data])
        _check([_candle(), data, _candle()])


def test_pushes_expand_to_push_events() -> None:
    event = Pushes(name="n", payloads=[1, 2], microservice_name="s")
    assert event.pushes() == [
        Push(name="n", payload=1, microservice_name="s"),
        Push(name="n", payload=2, microservice_name="s"),
    ]
    assert _check([]) == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(POOL), max_size=12))
def test_any_sequence_of_frames_gets_the_answers_of_receive(frames: list[bytes | str]) -> None:
    _check(frames)


def test_a_reply_alone_skips_the_push_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its first key names no push: the failing push decode (an exception, ~0.6 µs) is not tried."""
    replies = [POOL[11], POOL[13], POOL[22], POOL[23], POOL[10], POOL[24]]
    for reply in replies:
        _check([reply])  # the same events as receive()
    sessions = [_busy() for _ in range(len(replies) + 1)]
    calls: list[bytes | str] = []
    decode = decode_push_frame

    def counting(data: bytes | str) -> Any:
        calls.append(data)
        return decode(data)

    monkeypatch.setattr(session_module, "decode_push_frame", counting)
    for session, reply in zip(sessions, replies, strict=False):
        session.receive_batch([reply])
    assert calls == []
    sessions[-1].receive_batch([_candle()])  # a push alone still takes the push decoder
    assert calls == [_candle()]


_NAMES = st.sampled_from([*sorted(catalog.PUSHES), "profile", "result", "timeSync", "candles", ""])


@settings(max_examples=300, deadline=None)
@given(
    name=st.one_of(_NAMES, st.text(max_size=12)),
    payload=st.sampled_from([CANDLE, {}, [], 1]),
    rest=st.sampled_from([{}, {"microserviceName": "quotes"}, {"request_id": "3"}, {"status": 2000}]),
    first=st.sampled_from(["name", "msg", "request_id"]),
)
def test_a_frame_is_said_to_name_no_push_only_when_the_push_decoder_refuses_it(
    name: str, payload: Any, rest: dict[str, Any], first: str
) -> None:
    fields = {"name": name, "msg": payload, **rest}
    if first in fields:
        fields = {first: fields[first], **fields}
    data = json.dumps(fields, separators=(",", ":")).encode()
    if session_module._names_no_push(data):
        with pytest.raises((msgspec.ValidationError, msgspec.DecodeError)):
            decode_push_frame(data)
    _check([data])
