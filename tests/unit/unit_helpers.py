"""Helpers shared by the protocol unit tests: frame builders and a ready session.

Plain functions (not fixtures) so that hypothesis tests can call them once per
example without function-scoped fixtures.
"""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import strategies as st

from iqwire.errors import ProtocolError
from iqwire.protocol import Authenticated, Event, Frame, Session, SessionState, decode_frame

__all__ = [
    "ENVELOPE_KEYS",
    "FRAME_NAMES",
    "JSON_OBJECT",
    "VALID_PAYLOADS",
    "assert_equivalent",
    "decode_or_error",
    "frame_bytes",
    "frame_like",
    "json_scalars",
    "json_values",
    "ready_session",
]

#: Names the server really sends, plus a few it might.
#: A ``candle-generated`` payload as the simulator sends it (EURUSD-OTC, 1-second candles).
CANDLE = {
    "id": 35209501,
    "from": 1770899100,
    "to": 1770899101,
    "open": 1.028369,
    "close": 1.028381,
    "min": 1.028369,
    "max": 1.028381,
    "volume": 0,
    "active_id": 76,
    "size": 1,
    "at": 1770899100250000000,
    "phase": "T",
}

FRAME_NAMES = [
    "timeSync",
    "authenticated",
    "front",
    "result",
    "candle-generated",
    "position-changed",
    "portfolio.position-changed",
    "balance-changed",
    "order-changed",
    "traders-mood-changed",
    "instruments-list",
    "profile",
    "option",
    "candles",
    "balances",
    "initialization-data",
    "unknown-push",
    "",
]

#: Payloads that some frame name or pending request accepts, so fuzzing reaches the happy paths.
VALID_PAYLOADS: list[Any] = [
    True,
    False,
    1770899115227,
    "ws01.ws.prod",
    {"success": True},
    {"success": False, "reason": "refused"},
    {"message": "error text"},
    {"result": {"user_id": 1, "email": "a@b.c"}},
    {"candles": [{"id": 1, "from": 0, "to": 60, "open": 1, "close": 2, "min": 0.5, "max": 3}]},
    {"id": 1, "from": 0, "to": 60, "open": 1, "close": 2, "min": 0.5, "max": 3, "at": 10**9},
    {"id": 7, "status": "closed", "close_reason": "loose", "pnl": -1},
    {"current_balance": {"id": 1, "type": 4, "amount": 10000.0, "currency": "USD"}},
    [{"id": 1, "type": 1, "amount": 5}],
    {"result": {"actual_commission": {"active_id": 76, "commission": 14, "option_type": 12}}},
]

#: Any JSON scalar msgspec can encode (finite floats, 64-bit integers, text).
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)

#: Any JSON value: scalars nested in lists and objects.
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


ENVELOPE_KEYS = [
    "name",
    "request_id",
    "status",
    "microserviceName",
    "local_time",
    "session_id",
    "client_session_id",
]


@st.composite
def frame_like(draw: st.DrawFn, request_ids: st.SearchStrategy[str] | None = None) -> dict[str, Any]:
    """Objects shaped like server frames: a real ``name``, maybe a ``request_id``, any ``msg``.

    ``request_ids`` are the ids worth answering (some pending request's); random and
    empty ids are mixed in. One frame in eight has one envelope key of the wrong type.
    """
    ids = st.text(max_size=6) if request_ids is None else request_ids | st.text(max_size=3)
    frame: dict[str, Any] = {
        "name": draw(st.sampled_from(FRAME_NAMES)),
        "msg": draw(json_values | st.sampled_from(VALID_PAYLOADS)),
    }
    if draw(st.booleans()):
        frame["request_id"] = draw(ids)
    if draw(st.integers(0, 3)) == 0:
        frame["status"] = draw(st.sampled_from([2000, 4000, 4008, 4117, 4220]) | st.integers())
    if draw(st.booleans()):
        frame["microserviceName"] = draw(st.sampled_from(["quotes", "portfolio", "balances", ""]))
    if draw(st.integers(0, 3)) == 0:
        frame["local_time"] = draw(st.integers(min_value=0, max_value=10**9))
    if draw(st.integers(0, 7)) == 0:
        frame["session_id"] = draw(st.text(max_size=6))
    if draw(st.integers(0, 7)) == 0:
        frame["client_session_id"] = draw(st.text(max_size=6))
    if draw(st.integers(0, 7)) == 0:
        frame[draw(st.sampled_from(ENVELOPE_KEYS))] = draw(json_scalars)
    return frame


#: Decodes to plain Python objects, never to Structs.
JSON_OBJECT = msgspec.json.Decoder()


def frame_bytes(name: str | None = None, msg: Any = None, **fields: Any) -> bytes:
    """One server frame as JSON bytes; ``fields`` are top-level keys (``request_id``, ``status``...)."""
    frame: dict[str, Any] = {}
    if name is not None:
        frame["name"] = name
    frame.update(fields)
    frame["msg"] = msg
    return msgspec.json.encode(frame)


def ready_session(*, first_request_id: int = 1, now: float | None = None) -> Session:
    """A session that sent ``authenticate`` and was accepted (state ``READY``)."""
    session = Session(first_request_id=first_request_id)
    session.authenticate("test-ssid", now=now)
    (request_id,) = session.pending
    events: list[Event] = session.receive(frame_bytes("authenticated", True, request_id=request_id))
    assert events == [Authenticated(ok=True, request_id=request_id)]
    assert session.state is SessionState.READY
    return session


def assert_equivalent(original: Any, encoded: Any, path: str = "$") -> None:
    """Every key of ``original`` is in ``encoded`` with an equal value.

    Extra keys in ``encoded`` are allowed; a key whose original value is ``null``
    may be absent. Numbers compare by value (``100 == 100.0``), booleans by identity.
    """
    if isinstance(original, dict):
        assert isinstance(encoded, dict), f"{path}: expected an object, got {encoded!r}"
        for key, value in original.items():
            if key not in encoded:
                assert value is None, f"{path}.{key}: missing from the re-encoded JSON"
                continue
            assert_equivalent(value, encoded[key], f"{path}.{key}")
    elif isinstance(original, list):
        assert isinstance(encoded, list), f"{path}: expected an array, got {encoded!r}"
        assert len(original) == len(encoded), f"{path}: {len(original)} items became {len(encoded)}"
        for index, (left, right) in enumerate(zip(original, encoded, strict=True)):
            assert_equivalent(left, right, f"{path}[{index}]")
    elif isinstance(original, bool) or original is None:
        assert encoded is original, f"{path}: {original!r} became {encoded!r}"
    else:
        assert not isinstance(encoded, bool), f"{path}: {original!r} became {encoded!r}"
        assert original == encoded, f"{path}: {original!r} became {encoded!r}"


def decode_or_error(data: bytes | str) -> Frame | ProtocolError:
    """``decode_frame(data)``, or the ProtocolError it raised (any other exception escapes)."""
    try:
        return decode_frame(data)
    except ProtocolError as exc:
        return exc
