"""Fuzzing the protocol core: whatever the server sends, the codec raises only ProtocolError
and the session returns events without raising."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from unit_helpers import decode_or_error, frame_bytes, frame_like, json_values, ready_session

from iqwire.errors import ProtocolError
from iqwire.protocol import (
    Authenticated,
    Event,
    Frame,
    Front,
    MalformedFrame,
    Push,
    Response,
    ResultAck,
    Session,
    SessionState,
    TimeSync,
)

#: The ids of the requests a busy session waits on (see :func:`busy_session`).
BUSY_IDS = ["2", "3", "4", "5", "6", "s_7", "s_8", "s_9"]


def busy_session() -> Session:
    """Authenticated, with setOptions, four RPCs and three subscriptions waiting for answers.

    Ids: "1" authenticate (answered), "2" setOptions, "3".."6" RPCs, "s_7".."s_9" subscriptions.
    """
    session = ready_session(now=0.0)
    session.set_options(now=0.0)
    session.request("core.get-profile", now=0.0)
    session.request("get-candles", body={"active_id": 76, "size": 60, "count": 10}, now=1.0)
    session.request("binary-options.open-option", body={}, now=2.0)
    session.request("binary-options.sell-options", body={"options_ids": [1]}, now=3.0)
    session.subscribe("candle-generated", routing_filters={"active_id": 76, "size": 60}, now=0.0)
    session.subscribe("portfolio.position-changed", routing_filters={"user_id": 1}, now=0.0)
    session.subscribe("balance-changed", now=0.0)
    assert sorted(session.pending) == sorted(BUSY_IDS)
    return session


def _is_decodable(data: bytes | str) -> bool:
    return not isinstance(decode_or_error(data), ProtocolError)


def _nameless_pending_reply(data: bytes | str, pending: frozenset[str]) -> bool:
    """A reply without a (valid) name to a pending request: matched by request_id (SDK rule)."""
    try:
        value = msgspec.json.decode(data)
    except Exception:
        return False
    return isinstance(value, dict) and value.get("request_id") in pending


def check_receive(session: Session, data: bytes | str) -> list[Event]:
    """Feed one frame and check the invariants that hold whatever the frame was."""
    pending_before = session.pending
    subscriptions_before = {s.sub_id for s in session.subscriptions}

    events = session.receive(data)

    assert isinstance(events, list)
    assert len(events) == 1, events
    (event,) = events
    assert isinstance(event, Event)
    if not _is_decodable(data) and not _nameless_pending_reply(data, pending_before):
        assert isinstance(event, MalformedFrame)
        raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
        assert event.raw == raw
        assert event.reason
    # An answer settles at most its own request; nothing else changes.
    assert session.pending <= pending_before
    settled = pending_before - session.pending
    assert len(settled) <= 1
    if settled:
        assert isinstance(event, Response | ResultAck | Authenticated)
        assert getattr(event, "request_id", None) in settled | {None}
    assert {s.sub_id for s in session.subscriptions} <= subscriptions_before
    if isinstance(event, Response | ResultAck):
        assert isinstance(event.request_id, str)
        assert event.request_id
    if isinstance(event, TimeSync):
        assert isinstance(event.server_time_ms, int)
    if isinstance(event, Front):
        assert isinstance(event.server, str)
    if isinstance(event, Push):
        assert isinstance(event.name, str)
    return events


# -- decode_frame -------------------------------------------------------------------------------


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_decode_frame_on_arbitrary_bytes(data: bytes) -> None:
    result = decode_or_error(data)

    assert isinstance(result, Frame) or result.message


@settings(max_examples=400)
@given(st.text(max_size=300))
def test_decode_frame_on_arbitrary_text(data: str) -> None:
    result = decode_or_error(data)

    assert isinstance(result, Frame) or result.message


@settings(max_examples=400)
@given(json_values)
def test_decode_frame_on_arbitrary_json(value: Any) -> None:
    result = decode_or_error(msgspec.json.encode(value))

    assert isinstance(result, Frame) or result.message


@settings(max_examples=400)
@given(frame_like(st.sampled_from(BUSY_IDS)))
def test_decode_frame_on_frame_like_objects(value: dict[str, Any]) -> None:
    result = decode_or_error(msgspec.json.encode(value))

    if isinstance(result, Frame):
        assert result.name == value["name"]
        assert result.request_id == value.get("request_id")
        assert result.msg == value["msg"]
    else:
        assert result.message


# -- Session.receive ------------------------------------------------------------------------------


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_session_receive_on_arbitrary_bytes(data: bytes) -> None:
    check_receive(busy_session(), data)


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_session_receive_on_arbitrary_text(data: str) -> None:
    check_receive(busy_session(), data)


@settings(max_examples=300)
@given(json_values)
def test_session_receive_on_arbitrary_json(value: Any) -> None:
    check_receive(busy_session(), msgspec.json.encode(value))


@settings(max_examples=500)
@given(frame_like(st.sampled_from(BUSY_IDS)))
def test_session_receive_on_frame_like_objects(value: dict[str, Any]) -> None:
    check_receive(busy_session(), msgspec.json.encode(value))


@settings(max_examples=200)
@given(st.lists(frame_like(st.sampled_from(BUSY_IDS)), min_size=2, max_size=12))
def test_session_receive_on_a_stream_of_frames(values: list[dict[str, Any]]) -> None:
    session = busy_session()
    for value in values:
        check_receive(session, msgspec.json.encode(value))
    # Whatever happened, the session still speaks: time passes and requests expire.
    assert session.state in set(SessionState)
    expired = session.expire(now=1_000.0, timeout=10.0)
    assert {e.request_id for e in expired} <= set(BUSY_IDS)
    assert session.pending == frozenset()


@settings(max_examples=300)
@given(
    name=st.sampled_from(["profile", "option", "result", "timeSync", "authenticated", "front", ""]),
    request_id=st.sampled_from(BUSY_IDS),
    status=st.none() | st.integers(min_value=-(2**31), max_value=2**31),
    msg=json_values,
)
def test_any_answer_to_a_pending_request_is_correlated(
    name: str, request_id: str, status: int | None, msg: Any
) -> None:
    session = busy_session()
    rpc = session.pending_rpc(request_id)
    fields: dict[str, Any] = {"request_id": request_id}
    if status is not None:
        fields["status"] = status

    (event,) = check_receive(session, frame_bytes(name, msg, **fields))

    assert isinstance(event, Response | ResultAck), event
    assert event.request_id == request_id
    if isinstance(event, Response):
        assert event.rpc == rpc
        assert request_id not in session.pending


def test_busy_session_survives_frames_that_break_the_envelope() -> None:
    session = busy_session()
    for data in [b"", b"[", b"{}", b'{"name":5}', b"[" * 100_000, b'{"name":"x","msg":' + b"[" * 50_000]:
        (event,) = check_receive(session, data)
        assert isinstance(event, MalformedFrame)
    assert sorted(session.pending) == sorted(BUSY_IDS)
