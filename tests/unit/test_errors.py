"""The error tree: one meaning per class, args that rebuild the error, nothing exported unused."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from iqwire import errors
from iqwire.errors import (
    AuthError,
    ConnectionLost,
    IqwireError,
    LocalProtocolError,
    NotConnected,
    OutcomeUnknown,
    PayoutChanged,
    ProtocolError,
    RemoteProtocolError,
    RiskLimitExceeded,
    ServerError,
    TLSError,
    TradeStateUnknown,
    UnknownAsset,
    UnknownBalance,
)

SRC = Path(__file__).resolve().parents[2] / "src" / "iqwire"


def test_the_tree_separates_what_retrying_can_fix() -> None:
    assert issubclass(LocalProtocolError, ProtocolError) and issubclass(RemoteProtocolError, ProtocolError)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)
    for cls in (TLSError, NotConnected):
        assert issubclass(cls, IqwireError) and not issubclass(cls, ConnectionLost)
    assert issubclass(UnknownAsset, LookupError) and issubclass(UnknownBalance, LookupError)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionLost("dropped", request_id="7", name="get-candles"),
        AuthError("refused"),
        ServerError(4008, "bad body", request_id="3", name="x"),
        PayoutChanged(76, 20.0, request_id="9", name="binary-options.open-option"),
        TradeStateUnknown("two match", [1, 2]),
        OutcomeUnknown("no close", position=None),
        RiskLimitExceeded("max_stake", "stake above the limit"),
        UnknownAsset("unknown active 'X'"),
    ],
)
def test_args_rebuild_the_error_and_str_is_the_message(error: IqwireError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error) == error.message
    assert copy.args == error.args
    assert vars(copy) == vars(error)
    assert type(error)(*error.args).message == error.message


def test_payout_changed_says_the_new_payout() -> None:
    error = PayoutChanged(76, 20.0)
    assert error.args == (76, 20.0)
    assert error.status == 4117 and "payout 80.0%" in str(error)


def test_every_exported_error_is_raised_somewhere() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in SRC.rglob("*.py") if p.name != "errors.py")
    unused = [
        name
        for name in errors.__all__
        if name not in {"IqwireError", "ProtocolError", "TradeError"}  # bases, caught not raised
        and not re.search(rf"\b{name}\(", code)
    ]
    assert unused == [], f"exported but never raised: {unused}"


def test_a_risk_guard_can_refuse_by_raising() -> None:
    from iqwire.bot.risk import RiskGuard, RiskLimits

    guard = RiskGuard(RiskLimits(max_stake=5))
    guard.require(amount=5, payout=88, now=1_770_899_100)
    with pytest.raises(RiskLimitExceeded, match="above the limit") as refused:
        guard.require(amount=6, payout=88, now=1_770_899_100)
    assert refused.value.reason == "max_stake"
