"""The run records: ``TradeRecord``'s written-out ``__init__`` behaves as the generated one would."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iqwire.bot.records import TradeRecord
from iqwire.models import Outcome

#: The reference: the same fields, with the ``__init__`` a frozen dataclass generates.
Generated = dataclasses.make_dataclass(
    "Generated",
    [
        (f.name, f.type) if f.default is dataclasses.MISSING else (f.name, f.type, f.default)
        for f in dataclasses.fields(TradeRecord)
    ],
    frozen=True,
)

finite = st.floats(allow_nan=False, allow_infinity=False)
record_values = st.tuples(
    st.integers(1, 2**40),
    st.integers(1, 3000),
    st.sampled_from(["call", "put"]),
    finite,
    finite,
    finite,
    finite,
    finite,
    st.none() | finite,
    st.sampled_from(list(Outcome)),
    finite,
    st.sampled_from(["blitz", "turbo", "binary", "digital", "margin"]),
)


def test_init_takes_the_fields_in_order_with_their_defaults() -> None:
    parameters = list(inspect.signature(TradeRecord.__init__).parameters.values())[1:]
    fields = dataclasses.fields(TradeRecord)
    assert [p.name for p in parameters] == [f.name for f in fields]
    assert [p.default for p in parameters] == [
        inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default for f in fields
    ]
    assert TradeRecord.__match_args__ == tuple(f.name for f in fields)


@given(values=record_values)
def test_record_is_what_the_generated_init_builds(values: tuple[Any, ...]) -> None:
    record = TradeRecord(*values)
    reference = Generated(*values)
    names = [f.name for f in dataclasses.fields(TradeRecord)]
    assert dataclasses.astuple(record) == dataclasses.astuple(reference) == values
    assert vars(record) == vars(reference) == dict(zip(names, values, strict=True))
    assert record == TradeRecord(**dict(zip(names, values, strict=True)))
    assert hash(record) == hash(TradeRecord(*values))
    assert repr(record) == repr(reference).replace("Generated(", "TradeRecord(", 1)
    assert pickle.loads(pickle.dumps(record)) == record == copy.deepcopy(record)
    assert dataclasses.replace(record, pnl=1.5).pnl == 1.5


def test_record_is_frozen_and_defaults_to_blitz() -> None:
    record = TradeRecord(1, 76, "call", 10.0, 88.0, 0.0, 30.0, 1.0, 1.1, Outcome.WIN, 8.8)
    assert record.product == "blitz"
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.pnl = 0.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        TradeRecord(1, 76, "call")  # type: ignore[call-arg]
