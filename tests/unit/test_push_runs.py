"""A run of candle frames decoded in one call answers exactly as each frame decoded alone.

``decode_push_run`` (``Session.receive_batch``'s first try on a batch) cuts the
payload object out of every frame of the server's layout and decodes them, one a
line, in one call. These tests feed it good frames, frames of other layouts, and
frames crafted so that their cut-out pieces join into valid JSON although each
frame alone is not, and check that it either answers as ``Session.receive`` on
every frame or declines (``None``), and that ``receive_batch`` always does.
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
from iqwire.protocol import Event, Push, Pushes, Session
from iqwire.protocol.pushes import decode_push_run
from iqwire.sim.frames import push_frame

HEAD = '{"name":"candle-generated","msg":'
TAIL = ',"microserviceName":"quotes"}'


def _text(candle: dict[str, Any]) -> str:
    return json.dumps(candle, separators=(",", ":"), ensure_ascii=False)


def _framed(middle: str) -> bytes:
    return (HEAD + middle + TAIL).encode()


def _flat(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for event in events:
        out += event.pushes() if isinstance(event, Pushes) else [event]
    return out


def _check(frames: list[bytes]) -> Pushes | None:
    """The run's answer (``None``: declined), checked against ``receive`` on each frame."""
    each = [Session().receive(data) for data in frames]
    run = decode_push_run(frames)
    if run is not None:
        assert [[push] for push in run.pushes()] == each
        assert all(type(payload) is Candle for payload in run.payloads)
    assert _flat(Session().receive_batch(frames)) == [event for events in each for event in events]
    return run


def test_the_servers_layout_is_one_call() -> None:
    # The simulator encodes pushes as the server does; the layout comes from the catalog.
    frames = [push_frame("candle-generated", "quotes", {**CANDLE, "close": 1 + i / 100}) for i in range(5)]
    run = _check(frames)
    assert run is not None and run.name == "candle-generated" and run.microservice_name == "quotes"
    assert [candle.close for candle in run.payloads] == [1 + i / 100 for i in range(5)]
    assert Session().receive_batch(frames) == [run]


def _candle_text(**changes: Any) -> str:
    return _text({**CANDLE, **changes})


C1, C2 = _candle_text(id=1), _candle_text(id=2)


@pytest.mark.parametrize(
    "middles",
    [
        # Each frame alone is not JSON, but the pieces join into n candles.
        [C1[:-1] + ',"x":[1', "2]}," + C2],
        [C1[:-1] + ',"x":"', '"},' + C2],
        [C1[:-1] + ',"x":"', '},{"},' + C2],
        [C1[:-1] + ',"x":[{"y":1', '{"z":1}}]},' + C2],
        [C1[:-1] + ',"x":[', "]}" + C2],
        [C1 + C2, "{}"],
        [C1 + "\n" + C2, C1],
        [C1[:-1] + ',"x":\n', "1}"],
        # Well-formed frames the one call must decline.
        [C1, " " + C2],  # whitespace around the payload
        [C1, C2 + "\n"],
        [C1, _candle_text(phase="é")],  # not ASCII
        [C1, _candle_text(id="x")],  # the wrong shape
        [C1, "{}"],
        [C1, ""],
        [C1, "{"],
        [C1, "}"],
        [C1, "null"],
        [C1, "[" + C2 + "]"],
    ],
)
def test_pieces_that_join_into_candles_are_not_candles(middles: list[str]) -> None:
    assert _check([_framed(middle) for middle in middles]) is None


def test_whitespace_and_newlines_inside_the_payload_are_fine() -> None:
    run = _check([_framed(C1), _framed(C2.replace(":", ": ").replace(",", ",\n"))])
    assert run is not None and [candle.id for candle in run.payloads] == [1, 2]


def test_other_layouts_and_frames_are_declined() -> None:
    good = _framed(C1)
    others = [
        json.dumps({"msg": CANDLE, "name": "candle-generated", "microserviceName": "quotes"}).encode(),
        _framed(C1).replace(b"quotes", b"other"),
        _framed(C1)[:-1] + b',"request_id":"7"}',
        HEAD.encode() + C1.encode() + b"}",  # no service
        b'{"name":"timeSync","msg":1770899115227}',
        HEAD.encode() + C1[:-1].encode() + b',"x":"\xc3\x28"}' + TAIL.encode(),  # not UTF-8, skipped
        HEAD.encode() + TAIL.encode(),
        (HEAD + TAIL)[:-1].encode(),
        b"",
    ]
    for other in others:
        assert _check([good, other]) is None
        assert _check([other, good]) is None
        assert _check([good, other, good]) is None
    assert decode_push_run([]) is None
    assert decode_push_run([_text(CANDLE)]) is None  # type: ignore[list-item]
    assert Session().receive_batch([good.decode(), good.decode()]) == Session().receive_batch([good, good])


def test_a_raw_newline_never_stands_inside_a_string() -> None:
    # The one call's soundness rests on this msgspec behaviour: a control character in
    # a string, decoded or skipped, is an error, so a newline is always between tokens.
    decode_lines = msgspec.json.Decoder(Candle).decode_lines
    for key in ("phase", "unknown"):
        for padding in (0, 1, 7, 8, 15, 16, 31, 64):
            text = C1[:-1] + f',"{key}":"' + "a" * padding + "\n" + "b" * padding + '"}'
            with pytest.raises(msgspec.DecodeError):
                decode_lines(text.encode())
    assert len(decode_lines((C1 + "\n" + C2).encode())) == 2


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
candle_texts = st.builds(
    lambda id_, close, extra, phase: _candle_text(id=id_, close=close, phase=phase, **extra),
    st.integers(0, 2**62),
    st.floats(0, 10),
    st.dictionaries(st.sampled_from(["x", "y", "{", "}\n{", ","]), _values, max_size=2),
    st.sampled_from(["T", "C", "}\n{", '"', "é"]),
)
# What joins frames or pieces of them: JSON punctuation, whitespace and newlines.
_glue = st.sampled_from(["", ",", "\n", " ", "}", "{", "]", "[", '"', ":", "}\n{", "},{", "\\"])


@st.composite
def runs(draw: st.DrawFn) -> list[bytes]:
    """Frames of the layout whose middles are candles, or candles cut into as many pieces.

    The cuts fall mostly where JSON lets a piece end and the next begin (after a quote,
    comma, colon or bracket), so that the pieces, joined again, often make as many
    valid candles as there are frames although no frame alone is one.
    """
    texts = draw(st.lists(candle_texts, min_size=1, max_size=5))
    if draw(st.booleans()):
        return [_framed(text) for text in texts]
    glued = draw(st.sampled_from([",", "\n", ""]) | _glue).join(texts)
    seams = [i + (char in '",:[{') for i, char in enumerate(glued) if char in '",:[{]}']
    where = st.sampled_from(seams) | st.integers(0, len(glued))
    count = draw(st.sampled_from([len(texts) - 1, len(texts)]) | st.integers(0, 5))
    cuts = sorted(draw(st.lists(where, min_size=count, max_size=count)))
    pieces = [glued[a:b] for a, b in zip([0, *cuts], [*cuts, len(glued)], strict=True)]
    if draw(st.booleans()):  # ragged edges
        pieces = [draw(_glue) + piece + draw(_glue) for piece in pieces]
    return [_framed(piece) for piece in pieces]


@settings(max_examples=400, deadline=None)
@given(runs())
def test_any_run_answers_as_each_frame_alone(frames: list[bytes]) -> None:
    run = _check(frames)
    if all(_a_candle_in_the_layout(data) for data in frames):
        assert run is not None  # candles in the server's layout take the one call


def _a_candle_in_the_layout(data: bytes) -> bool:
    middle = data[len(HEAD) : -len(TAIL)]
    if not (data.isascii() and middle[:1] == b"{" and middle[-1:] == b"}"):
        return False
    events = Session().receive(data)
    return len(events) == 1 and isinstance(events[0], Push)
