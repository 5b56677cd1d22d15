"""The session's one-pass path for catalogued pushes answers exactly as the general, two-stage path.

``Session.receive`` first tries the push frame union (the hot path of candle
streams) and falls back to the two-stage decode; these tests feed both paths the
same bytes, good and bad, and compare the events.
"""

from __future__ import annotations

import json
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
