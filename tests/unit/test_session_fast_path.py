"""The session's one-pass path for catalogued pushes answers exactly as the general, two-stage path.

``Session.receive`` first tries the push frame union (the hot path of candle
streams) and falls back to the two-stage decode; these tests feed both paths the
same bytes, good and bad, and compare the events.
"""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit_helpers import CANDLE

from iqwire.models import Candle
from iqwire.protocol import Push, Session


def _both(data: bytes | str) -> tuple[list[Any], list[Any]]:
    return Session().receive(data), Session()._receive_general(data)


def _frame(**fields: Any) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def test_a_candle_push_is_one_typed_push() -> None:
    data = _frame(name="candle-generated", msg=CANDLE, microserviceName="quotes")
    fast, general = _both(data)
    assert fast == general
    assert len(fast) == 1 and isinstance(fast[0], Push)
    assert fast[0].payload == msgspec.convert(CANDLE, Candle)
    assert fast[0].microservice_name == "quotes"


@pytest.mark.parametrize(
    "data",
    [
        _frame(msg=CANDLE, name="candle-generated"),  # the name not first
        _frame(name="candle-generated", msg=CANDLE, request_id="7"),  # a reply, not a push
        _frame(name="candle-generated", msg=CANDLE, request_id=""),
        _frame(name="candle-generated", msg=CANDLE, status="bad"),  # an envelope field of the wrong type
        _frame(name="candle-generated", msg=CANDLE, local_time=1.5),
        _frame(name="candle-generated", msg={"id": "x"}),  # a payload of the wrong shape
        _frame(name="candle-generated"),  # no msg
        _frame(name="candle-generated", msg=None),
        _frame(name="candle-generated", msg=CANDLE, extra={"a": [1, 2]}),  # unknown fields
        _frame(name="balance-changed", msg={"x": 1}, microserviceName="marginal-portfolio"),
        _frame(name="balance-changed", msg={"x": 1}, microserviceName="balances"),
        _frame(name="timeSync", msg=1770899115227),
        _frame(name="novel-push", msg={"a": 1}),
        b'{"name":"candle-generated","msg":{"id":1,"phase":"\xff"}}',  # not UTF-8
        b'{"name":"candle-generated","msg":{"id":1,"x":"\xc3\x28"}}',  # not UTF-8, in a skipped field
        b'{"name":"candle-generated","msg":',  # truncated
        b'{"name":"candle-generated","msg":{"id":1},"name":"timeSync"}',  # duplicate keys: the last wins
        b'{"name":"timeSync","msg":5,"name":"candle-generated","msg":5}',
        b"[]",
        _frame(name="candle-generated", msg=CANDLE, request_id=None),  # a null request_id
        _frame(name="candle-generated", msg=CANDLE, microserviceName=None),
        _frame(name="candle-generated", msg=CANDLE, **{"iqwire:push-name": "timeSync"}),
        _frame(name="candle-generated", msg=CANDLE, **{"iqwire:push-name": "candle-generated"}),
        b'{"name":"candle-generated","msg":' + json.dumps(CANDLE).encode() + b',"name":"timeSync"}',
        # The marginal balance-changed in the billing shape: its service decides its type.
        _frame(
            name="balance-changed",
            microserviceName="marginal-portfolio",
            msg={"current_balance": {"id": 1, "type": 1, "amount": 1.0, "currency": "USD"}, "user_id": 1},
        ),
        '{"name":"candle-generated","msg":' + json.dumps(CANDLE) + "}",  # text, not bytes
    ],
)
def test_every_other_frame_gets_the_general_answer(data: bytes | str) -> None:
    fast, general = _both(data)
    assert fast == general


_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=5)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(["candle-generated", "position-changed", "quote-generated", "balance-changed", "x"]),
    changes=st.dictionaries(st.sampled_from([*CANDLE, "extra"]), _scalars, max_size=3),
    envelope=st.dictionaries(
        st.sampled_from(["request_id", "status", "local_time", "microserviceName", "session_id"]),
        _scalars,
        max_size=2,
    ),
)
def test_mutated_push_frames_get_the_general_answer(
    name: str, changes: dict[str, Any], envelope: dict[str, Any]
) -> None:
    msg = {**CANDLE, **changes}
    try:
        data = json.dumps({"name": name, "msg": msg, **envelope}, allow_nan=False).encode()
    except ValueError:
        return  # nan/inf: not JSON
    fast, general = _both(data)
    assert fast == general


def test_the_fast_paths_push_is_a_push_in_every_way() -> None:
    (fast,) = Session().receive(_frame(name="candle-generated", msg=CANDLE, microserviceName="quotes"))
    plain = Push(name="candle-generated", payload=fast.payload, microservice_name="quotes")
    other = Push(name="candle-generated", payload=fast.payload, microservice_name="other")
    assert isinstance(fast, Push) and repr(fast) == repr(plain)
    assert fast == plain and plain == fast
    assert (fast != plain) is False and (plain != fast) is False
    assert fast != other and other != fast and fast != "candle-generated"
    assert hash(fast) == hash(plain) and {fast, plain} == {plain}
    for clone in (pickle.loads(pickle.dumps(fast)), copy.copy(fast), copy.deepcopy(fast)):
        assert isinstance(clone, Push) and clone == plain and repr(clone) == repr(plain)
    assert type(pickle.loads(pickle.dumps(fast))) is Push  # unpickled: a plain Push
    assert msgspec.structs.asdict(fast) == msgspec.structs.asdict(plain)
    assert msgspec.structs.replace(fast, microservice_name="other") == other
    match fast:
        case Push(name="candle-generated", payload=Candle(active_id=76), microservice_name="quotes"):
            pass
        case _:
            pytest.fail("a Push pattern must match it")
