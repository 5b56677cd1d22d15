"""The envelope codec: ``decode_frame`` / ``encode_frame`` and their one error type."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit_helpers import JSON_OBJECT, assert_equivalent, decode_or_error, json_values

from iqwire.errors import IqwireError, ProtocolError, RemoteProtocolError
from iqwire.protocol import Frame, RawFrame, decode_frame, decode_raw_frame, encode_frame

optional_text = st.none() | st.text(max_size=12)
optional_int = st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1)

frames = st.builds(
    Frame,
    name=st.text(max_size=30),
    msg=json_values,
    request_id=optional_text,
    local_time=optional_int,
    status=optional_int,
    microservice_name=optional_text,
    session_id=optional_text,
    client_session_id=optional_text,
)


# -- round trips ------------------------------------------------------------------------------


@settings(max_examples=300)
@given(frames)
def test_encode_then_decode_gives_the_same_frame(frame: Frame) -> None:
    assert decode_frame(encode_frame(frame)) == frame


@settings(max_examples=300)
@given(frames)
def test_decode_then_encode_keeps_every_key(frame: Frame) -> None:
    data = encode_frame(frame)

    again = encode_frame(decode_frame(data))

    assert_equivalent(JSON_OBJECT.decode(data), JSON_OBJECT.decode(again))
    assert again == data


@settings(max_examples=200)
@given(frames)
def test_raw_frame_agrees_with_frame(frame: Frame) -> None:
    data = encode_frame(frame)

    raw = decode_raw_frame(data)

    assert raw.name == frame.name
    assert raw.request_id == frame.request_id
    assert raw.status == frame.status
    assert raw.microservice_name == frame.microservice_name
    assert JSON_OBJECT.decode(raw.msg) == frame.msg
    assert decode_frame(encode_frame(raw)) == frame


def test_text_and_bytes_decode_alike() -> None:
    text = '{"name":"timeSync","msg":1770899115227,"request_id":"7"}'

    assert (
        decode_frame(text)
        == decode_frame(text.encode())
        == Frame(name="timeSync", msg=1770899115227, request_id="7")
    )


def test_absent_fields_are_none_and_left_out_when_encoded() -> None:
    frame = decode_frame(b'{"name":"timeSync","msg":1}')

    assert frame.request_id is None
    assert frame.local_time is None
    assert frame.status is None
    assert frame.microservice_name is None
    assert encode_frame(frame) == b'{"name":"timeSync","msg":1}'


def test_explicit_nulls_decode_to_none() -> None:
    frame = decode_frame(b'{"name":"x","msg":null,"request_id":null,"status":null,"microserviceName":null}')

    assert frame == Frame(name="x")


def test_unknown_envelope_fields_are_ignored() -> None:
    frame = decode_frame(b'{"name":"x","msg":{"a":[1,2]},"brand_new_field":{"b":1},"request_id":"3"}')

    assert frame == Frame(name="x", msg={"a": [1, 2]}, request_id="3")


def test_status_and_session_ids_are_kept() -> None:
    frame = decode_frame(
        b'{"name":"option","request_id":"5","status":4117,"session_id":"s","client_session_id":"c","msg":{}}'
    )

    assert (frame.status, frame.session_id, frame.client_session_id) == (4117, "s", "c")


def test_empty_request_id_is_kept_verbatim() -> None:
    assert decode_frame(b'{"name":"x","request_id":"","msg":1}').request_id == ""


# -- microserviceName -------------------------------------------------------------------------


def test_microservice_name_is_read_from_its_wire_spelling() -> None:
    frame = decode_frame(b'{"name":"candle-generated","microserviceName":"quotes","msg":{}}')

    assert frame.microservice_name == "quotes"


def test_microservice_name_is_written_in_its_wire_spelling() -> None:
    data = encode_frame(Frame(name="candle-generated", msg={}, microservice_name="quotes"))

    assert JSON_OBJECT.decode(data) == {"name": "candle-generated", "msg": {}, "microserviceName": "quotes"}
    assert b"microservice_name" not in data


def test_python_spelling_of_microservice_name_is_not_a_wire_field() -> None:
    frame = decode_frame(b'{"name":"candle-generated","microservice_name":"quotes","msg":{}}')

    assert frame.microservice_name is None


def test_raw_frame_maps_microservice_name_too() -> None:
    raw = decode_raw_frame(b'{"name":"p","microserviceName":"portfolio","msg":{"a":1}}')

    assert raw.microservice_name == "portfolio"
    assert bytes(raw.msg) == b'{"a":1}'
    assert JSON_OBJECT.decode(encode_frame(raw)) == {
        "name": "p",
        "microserviceName": "portfolio",
        "msg": {"a": 1},
    }


# -- malformed input --------------------------------------------------------------------------

MALFORMED: list[tuple[str, bytes | str, str]] = [
    ("not-json", b"not json", "not valid JSON"),
    ("empty", b"", "not valid JSON"),
    ("whitespace", b"   ", "not valid JSON"),
    ("trailing-garbage", b'{"name":"x","msg":1} trailing', "not valid JSON"),
    ("truncated-object", b'{"name":"timeSync","msg":{"a":1', "not valid JSON"),
    ("truncated-string", b'{"name":"timeSy', "not valid JSON"),
    ("nan", b'{"name":"x","msg":NaN}', "not valid JSON"),
    ("single-quotes", b"{'name':'x'}", "not valid JSON"),
    ("array", b'[{"name":"x"}]', "array"),
    ("empty-array", b"[]", "array"),
    ("number", b"1770899115227", "int"),
    ("float", b"4.5", "float"),
    ("string", b'"timeSync"', "str"),
    ("true", b"true", "bool"),
    ("null", b"null", "null"),
    ("no-name", b'{"msg":1,"request_id":"1"}', "name"),
    ("empty-object", b"{}", "name"),
    ("name-number", b'{"name":1,"msg":1}', "name"),
    ("name-null", b'{"name":null,"msg":1}', "name"),
    ("name-object", b'{"name":{"a":1},"msg":1}', "name"),
    ("request-id-number", b'{"name":"x","request_id":5,"msg":1}', "request_id"),
    ("request-id-list", b'{"name":"x","request_id":["5"],"msg":1}', "request_id"),
    ("request-id-bool", b'{"name":"x","request_id":true,"msg":1}', "request_id"),
    ("status-string", b'{"name":"x","status":"2000","msg":1}', "status"),
    ("local-time-float", b'{"name":"x","local_time":1.5,"msg":1}', "local_time"),
    ("microservice-number", b'{"name":"x","microserviceName":7,"msg":1}', "microserviceName"),
    ("invalid-utf8-envelope", b"\xff\xfe{}", "not valid JSON"),
    ("invalid-utf8-name", b'{"name":"\xff","msg":1}', "utf-8"),
    ("invalid-utf8-msg", b'{"name":"x","msg":"\xc3\x28"}', "utf-8"),
    ("utf8-surrogate", b'{"name":"x","msg":"\xed\xa0\x80"}', "utf-8"),
    ("lone-surrogate-text", '{"name":"\ud800","msg":1}', "utf-8"),
    ("deep-array", b"[" * 100_000, "array"),
    ("deep-array-in-msg", b'{"name":"x","msg":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "recursion"),
    ("deep-object-in-msg", b'{"name":"x","msg":' + b'{"a":' * 100_000 + b"1" + b"}" * 100_001, "recursion"),
    ("deep-unclosed", b'{"name":"x","msg":' + b"[" * 100_000, ""),
]


@pytest.mark.parametrize(("data", "says"), [case[1:] for case in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_frames_raise_protocol_error_saying_why(data: bytes | str, says: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_frame(data)

    assert type(info.value) is RemoteProtocolError  # the peer sent it: not our misuse
    assert says.lower() in info.value.message.lower()
    assert info.value.message.startswith("frame ")
    assert str(info.value) == info.value.message


@pytest.mark.parametrize(
    "data", [case[1] for case in MALFORMED if case[0] not in {"invalid-utf8-msg", "utf8-surrogate"}]
)
def test_malformed_envelopes_raise_protocol_error_from_the_raw_decoder_too(data: bytes | str) -> None:
    with pytest.raises(ProtocolError):
        decode_raw_frame(data)


def test_protocol_error_belongs_to_the_iqwire_hierarchy() -> None:
    with pytest.raises(IqwireError) as info:
        decode_frame(b"[]")

    assert isinstance(info.value.__cause__, msgspec.ValidationError)


@settings(max_examples=300)
@given(json_values)
def test_arbitrary_json_decodes_only_when_it_is_a_frame(value: Any) -> None:
    result = decode_or_error(msgspec.json.encode(value))

    if isinstance(result, Frame):
        assert isinstance(value, dict)
        assert result.name == value["name"]
        assert result.msg == value.get("msg")
    else:
        assert result.message
        if isinstance(value, dict) and isinstance(value.get("name"), str):
            # Only an envelope key of the wrong type can spoil an object with a string name.
            optional = {"request_id", "local_time", "status", "microserviceName", "session_id"}
            assert (optional | {"client_session_id"}) & set(value)


# -- encoding ---------------------------------------------------------------------------------


def test_encode_frame_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(ProtocolError, match="cannot be encoded"):
        encode_frame(Frame(name="x", msg=object()))


def test_encode_frame_is_compact_json() -> None:
    data = encode_frame(Frame(name="setOptions", request_id="2", msg={"sendResults": True}))

    assert data == b'{"name":"setOptions","msg":{"sendResults":true},"request_id":"2"}'


def test_raw_frame_default_msg_is_null() -> None:
    raw = decode_raw_frame(b'{"name":"x"}')

    assert bytes(raw.msg) == b"null"
    assert isinstance(raw, RawFrame)
