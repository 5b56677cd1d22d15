"""The sans-I/O Session: authentication, correlation by request_id, subscriptions, expiry."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit_helpers import JSON_OBJECT, frame_bytes, ready_session

from iqwire.errors import ProtocolError
from iqwire.models import CommissionChangedError, ErrorBody, Profile, ProfileResponse
from iqwire.models.margin import MarginalBalance
from iqwire.models.requests import GetCandlesBody
from iqwire.protocol import (
    Authenticated,
    Event,
    MalformedFrame,
    Push,
    RequestExpired,
    Response,
    ResultAck,
    Session,
    SessionState,
    Subscription,
    TimeSync,
    catalog,
)

# -- authentication ---------------------------------------------------------------------------


def test_authenticate_sends_the_sdk_body() -> None:
    session = Session()

    data = session.authenticate("secret-ssid")

    assert JSON_OBJECT.decode(data) == {
        "name": "authenticate",
        "request_id": "1",
        "msg": {"ssid": "secret-ssid", "protocol": 3, "session_id": "", "client_session_id": ""},
    }
    assert session.state is SessionState.AUTHENTICATING
    assert session.pending == {"1"}
    assert session.pending_rpc("1") == "authenticate"


def test_authenticate_refuses_an_empty_ssid() -> None:
    with pytest.raises(ProtocolError, match="SSID"):
        Session().authenticate("")


def test_authenticated_true_with_the_request_id_makes_the_session_ready() -> None:
    session = Session(first_request_id=40)
    session.authenticate("ssid")

    events = session.receive(frame_bytes("authenticated", True, request_id="40", client_session_id="c"))

    assert events == [Authenticated(ok=True, request_id="40", client_session_id="c")]
    assert session.state is SessionState.READY
    assert session.pending == frozenset()


def test_reply_to_authenticate_is_matched_by_id_whatever_its_name() -> None:
    session = Session()
    session.authenticate("ssid")

    events = session.receive(frame_bytes("core.profile", True, request_id="1"))

    assert events == [Authenticated(ok=True, request_id="1")]
    assert session.state is SessionState.READY


@pytest.mark.parametrize(
    "frame",
    [
        frame_bytes("authenticated", False, request_id="1"),
        frame_bytes("authenticated", False),
        frame_bytes("authenticated", True, request_id="1", status=4001),
        frame_bytes("authenticated", {"ok": True}, request_id="1"),
    ],
    ids=["false-with-id", "false-without-id", "error-status", "not-a-boolean"],
)
def test_refused_authentication_moves_to_refused(frame: bytes) -> None:
    session = Session()
    session.authenticate("bad-ssid")

    (event,) = session.receive(frame)

    assert isinstance(event, Authenticated)
    assert not event.ok
    assert session.state is SessionState.REFUSED
    assert session.pending == frozenset()
    with pytest.raises(ProtocolError, match="refused"):
        session.request("core.get-profile")


def test_a_refused_session_may_authenticate_again() -> None:
    session = Session()
    session.authenticate("bad")
    session.receive(frame_bytes("authenticated", False, request_id="1"))

    session.authenticate("good")
    events = session.receive(frame_bytes("authenticated", True, request_id="2"))

    assert events == [Authenticated(ok=True, request_id="2")]
    assert session.state is SessionState.READY


@pytest.mark.parametrize("authenticating", [False, True], ids=["idle", "authenticating"])
def test_requests_before_authentication_raise(authenticating: bool) -> None:
    session = Session()
    if authenticating:
        session.authenticate("ssid")

    with pytest.raises(ProtocolError, match="authenticate first"):
        session.request("core.get-profile")
    with pytest.raises(ProtocolError, match="authenticate first"):
        session.subscribe("candle-generated", routing_filters={"active_id": 1, "size": 60})
    with pytest.raises(ProtocolError, match="authenticate first"):
        session.set_options()
    with pytest.raises(ProtocolError, match="authenticate first"):
        session.replay_subscriptions()
    assert session.subscriptions == []
    assert session.pending == ({"1"} if authenticating else frozenset())


# -- requests ---------------------------------------------------------------------------------


def test_request_frame_carries_name_version_and_body() -> None:
    session = ready_session()

    request_id, data = session.request(
        "get-candles", body=GetCandlesBody(active_id=76, size=60, start=1, end=2, count=None)
    )

    assert JSON_OBJECT.decode(data) == {
        "name": "sendMessage",
        "request_id": request_id,
        "msg": {
            "name": "get-candles",
            "version": "2.0",
            "body": {"active_id": 76, "size": 60, "from": 1, "to": 2},
        },
    }
    assert session.pending_rpc(request_id) == "get-candles"


def test_request_defaults_to_empty_body_and_the_catalog_version() -> None:
    session = ready_session()

    _, data = session.request("core.get-profile")

    assert JSON_OBJECT.decode(data)["msg"] == {"name": "core.get-profile", "version": "1.0", "body": {}}


def test_request_version_may_be_chosen() -> None:
    session = ready_session()

    _, data = session.request("get-active", "5.0", {"id": 76})

    assert JSON_OBJECT.decode(data)["msg"] == {"name": "get-active", "version": "5.0", "body": {"id": 76}}


def test_uncatalogued_rpc_is_sent_as_1_0_and_answered_with_plain_json() -> None:
    session = ready_session()

    request_id, data = session.request("brand.new-rpc", body={"x": 1})
    events = session.receive(frame_bytes("brand-new", {"a": [1]}, request_id=request_id))

    assert JSON_OBJECT.decode(data)["msg"]["version"] == "1.0"
    assert events == [
        Response(
            request_id=request_id, name="brand-new", status=2000, payload={"a": [1]}, rpc="brand.new-rpc"
        )
    ]


def test_unencodable_body_raises_and_leaves_nothing_pending() -> None:
    session = ready_session()

    with pytest.raises(ProtocolError, match="cannot be encoded"):
        session.request("core.get-profile", body={"x": object()})
    assert session.pending == frozenset()


def test_request_ids_are_unique_and_come_from_one_counter() -> None:
    session = ready_session(first_request_id=10)

    ids = [session.request("core.get-profile")[0], session.set_options()[0]]
    ids.append(session.subscribe("balance-changed")[0])
    ids.append(session.request("core.get-profile")[0])

    assert ids == ["11", "12", "s_13", "14"]


def test_typed_reply_is_decoded_through_the_catalog() -> None:
    session = ready_session()
    request_id, _ = session.request("core.get-profile")

    (event,) = session.receive(frame_bytes("profile", {"result": {"user_id": 7}}, request_id=request_id))

    assert event == Response(
        request_id=request_id,
        name="profile",
        status=2000,
        payload=ProfileResponse(result=Profile(user_id=7)),
        rpc="core.get-profile",
    )
    assert event.ok
    assert session.pending == frozenset()


def test_reply_of_the_wrong_shape_is_a_response_with_an_error() -> None:
    session = ready_session()
    request_id, _ = session.request("core.get-profile")

    (event,) = session.receive(frame_bytes("profile", {"result": "not a profile"}, request_id=request_id))

    assert isinstance(event, Response)
    assert (event.request_id, event.rpc, event.status) == (request_id, "core.get-profile", 2000)
    assert not event.ok
    assert event.error is not None
    assert "core.get-profile" in event.error
    assert event.payload == {"result": "not a profile"}
    assert session.pending == frozenset()


def test_error_status_is_a_response_with_an_error_body() -> None:
    session = ready_session()
    request_id, _ = session.request("get-candles", body={"active_id": 1, "size": 60})

    (event,) = session.receive(
        frame_bytes(
            "candles", {"message": "from must not be in the future"}, request_id=request_id, status=4220
        )
    )

    assert event == Response(
        request_id=request_id,
        name="candles",
        status=4220,
        payload=ErrorBody(message="from must not be in the future"),
        rpc="get-candles",
    )
    assert not event.ok
    assert session.pending == frozenset()


def test_error_status_with_a_text_body_keeps_it() -> None:
    session = ready_session()
    request_id, _ = session.request("get-candles", body={"active_id": 1, "size": 60})

    (event,) = session.receive(frame_bytes("candles", "text error", request_id=request_id, status=4008))

    assert isinstance(event, Response)
    assert (event.status, event.payload, event.rpc) == (4008, "text error", "get-candles")


def test_error_status_without_a_message_keeps_its_details() -> None:
    session = ready_session()
    request_id, _ = session.request("get-candles", body={"active_id": 1, "size": 60})
    details = {"from": ["from must not be in the future"]}

    (event,) = session.receive(frame_bytes("candles", details, request_id=request_id, status=4220))

    assert isinstance(event, Response)
    assert event.status == 4220
    assert msgspec.to_builtins(event.payload) == details


def test_4117_reply_carries_the_new_commission() -> None:
    session = ready_session()
    request_id, _ = session.request("binary-options.open-option", body={})
    msg = {
        "message": "The option has not been purchased because of the profit rate change.",
        "result": {"actual_commission": {"active_id": 76, "commission": 14, "option_type": 12}},
    }

    (event,) = session.receive(frame_bytes("option", msg, request_id=request_id, status=4117))

    assert isinstance(event, Response)
    assert event.status == 4117
    assert event.rpc == "binary-options.open-option"
    assert isinstance(event.payload, CommissionChangedError)
    assert event.payload.result.actual_commission.commission == 14
    assert event.payload.result.actual_commission.active_id == 76


def test_4117_reply_without_a_commission_keeps_plain_json() -> None:
    session = ready_session()
    request_id, _ = session.request("binary-options.open-option", body={})

    (event,) = session.receive(
        frame_bytes("option", {"message": "changed"}, request_id=request_id, status=4117)
    )

    assert isinstance(event, Response)
    assert event.status == 4117
    assert event.payload == {"message": "changed"}


def test_result_ack_then_typed_reply_with_the_same_id() -> None:
    session = ready_session()
    request_id, _ = session.request("core.get-profile")

    ack = session.receive(frame_bytes("result", {"success": True}, request_id=request_id))
    still_pending = session.pending_rpc(request_id)
    (reply,) = session.receive(frame_bytes("profile", {"result": {"user_id": 1}}, request_id=request_id))

    assert ack == [ResultAck(request_id=request_id, success=True, final=False)]
    assert still_pending == "core.get-profile"
    assert isinstance(reply, Response)
    assert reply.ok
    assert reply.rpc == "core.get-profile"
    assert session.pending == frozenset()


def test_result_success_false_ends_the_request() -> None:
    session = ready_session()
    request_id, _ = session.request("core.get-profile")

    events = session.receive(
        frame_bytes("result", {"success": False, "reason": "nope"}, request_id=request_id)
    )

    assert events == [ResultAck(request_id=request_id, success=False, reason="nope", final=True)]
    assert session.pending == frozenset()


def test_result_only_rpc_ends_on_its_ack() -> None:
    session = ready_session()
    request_id, _ = session.request("binary-options.sell-options", body={"options_ids": [1]})

    events = session.receive(frame_bytes("result", {"success": True}, request_id=request_id))

    spec = catalog.rpc("binary-options.sell-options")
    assert spec is not None
    assert spec.result_only
    assert events == [ResultAck(request_id=request_id, success=True, final=True)]
    assert session.pending == frozenset()


@pytest.mark.parametrize("status", [None, 2000, 4000, 4117])
def test_unknown_request_id_is_a_response_matched_to_nothing(status: int | None) -> None:
    session = ready_session()
    pending_id, _ = session.request("core.get-profile")
    fields: dict[str, Any] = {"request_id": "999999"}
    if status is not None:
        fields["status"] = status

    (event,) = session.receive(frame_bytes("profile", {"result": {"user_id": 1}}, **fields))

    assert event == Response(
        request_id="999999",
        name="profile",
        status=2000 if status is None else status,
        payload={"result": {"user_id": 1}},
        rpc=None,
    )
    assert session.pending == {pending_id}


def test_unknown_request_id_named_result_is_not_matched() -> None:
    session = ready_session()

    (event,) = session.receive(frame_bytes("result", {"success": True}, request_id="nobody"))

    assert isinstance(event, Response)
    assert event.rpc is None
    assert event.request_id == "nobody"


def test_a_second_reply_with_the_same_id_is_not_matched() -> None:
    session = ready_session()
    request_id, _ = session.request("core.get-profile")
    session.receive(frame_bytes("profile", {"result": {"user_id": 1}}, request_id=request_id))

    (event,) = session.receive(frame_bytes("profile", {"result": {"user_id": 1}}, request_id=request_id))

    assert isinstance(event, Response)
    assert event.rpc is None


def test_empty_request_id_is_a_push_not_a_reply() -> None:
    session = ready_session()
    session.request("core.get-profile")

    (event,) = session.receive(frame_bytes("profile", {"a": 1}, request_id=""))

    assert event == Push(name="profile", payload={"a": 1})


# -- correlation under concurrency (hypothesis) ----------------------------------------------

REPLY_NAMES = [
    "option",
    "profile",
    "candles",
    "core.profile",
    "features",
    "authenticate",
    "authenticated",
    "timeSync",
    "front",
    "position-changed",
    "candle-generated",
    "balance-changed",
    "",
    "whatever",
]

#: Replies that satisfy each RPC's response type; every other RPC is answered with ``{}``.
VALID_REPLIES: dict[str, Any] = {
    "core.get-profile": {"result": {"user_id": 1}},
    "internal-billing.get-balances": [{"id": 1, "type": 4, "amount": 10000}],
    "get-candles": {"candles": []},
    "portfolio.get-positions": {"positions": [], "limit": 30, "total": 0},
    "binary-options.open-option": {
        "id": 1,
        "act": 76,
        "direction": "put",
        "price": 1,
        "exp": 60,
        "value": 1.5,
    },
    "get-user-profile-client": {"anything": True},
}
RPC_NAMES = sorted(catalog.RPCS)


@st.composite
def reply_plans(draw: st.DrawFn) -> list[tuple[str, str]]:
    """(rpc, plan) pairs; a plan says how the server answers that request."""
    count = draw(st.integers(min_value=1, max_value=20))
    plans = []
    for _ in range(count):
        rpc = draw(st.sampled_from(RPC_NAMES))
        spec = catalog.rpc(rpc)
        assert spec is not None
        kinds = (
            ["ack", "error", "refused"] if spec.result_only else ["reply", "error", "ack+reply", "refused"]
        )
        plans.append((rpc, draw(st.sampled_from(kinds))))
    return plans


@settings(max_examples=300)
@given(plans=reply_plans(), data=st.data())
def test_each_reply_reaches_its_own_request_in_any_order(
    plans: list[tuple[str, str]], data: st.DataObject
) -> None:
    session = ready_session()
    sent: dict[str, tuple[str, str]] = {}
    scripts: dict[str, list[bytes]] = {}
    for rpc, plan in plans:
        request_id, _ = session.request(rpc)
        sent[request_id] = (rpc, plan)
        name = data.draw(st.sampled_from(REPLY_NAMES), label="reply name")
        reply = frame_bytes(name, VALID_REPLIES.get(rpc, {}), request_id=request_id)
        if plan == "reply":
            scripts[request_id] = [reply]
        elif plan == "ack+reply":
            scripts[request_id] = [frame_bytes("result", {"success": True}, request_id=request_id), reply]
        elif plan == "ack":
            scripts[request_id] = [frame_bytes("result", {"success": True}, request_id=request_id)]
        elif plan == "refused":
            refusal = {"success": False, "reason": f"no {request_id}"}
            scripts[request_id] = [frame_bytes("result", refusal, request_id=request_id)]
        else:
            status = data.draw(st.integers(min_value=4000, max_value=4999), label="status")
            error = frame_bytes(
                name, {"message": f"error {request_id}"}, request_id=request_id, status=status
            )
            scripts[request_id] = [error]
    # Interleave the scripts at random, keeping each request's frames in order.
    tokens = [rid for rid, script in scripts.items() for _ in script]
    order = data.draw(st.permutations(tokens), label="delivery order")

    finals: dict[str, Event] = {}
    for request_id in order:
        events = session.receive(scripts[request_id].pop(0))
        assert len(events) == 1, events
        (event,) = events
        assert not isinstance(event, MalformedFrame), event
        assert isinstance(event, Response | ResultAck)
        assert event.request_id == request_id
        rpc, plan = sent[request_id]
        if isinstance(event, Response):
            assert event.rpc == rpc
            if plan == "error":
                assert event.status >= 4000
                assert not event.ok
            else:
                assert plan in {"reply", "ack+reply"}
                assert event.status == 2000
                if rpc in VALID_REPLIES or spec_is_raw(rpc):
                    assert event.ok, event.error
                elif event.error is not None:
                    assert event.payload == {}, "a mismatch keeps the plain JSON"
        else:
            assert plan in {"ack", "ack+reply", "refused"}
            assert event.success is (plan != "refused")
            if plan == "refused":
                assert event.reason == f"no {request_id}"
            if not event.final:
                assert plan == "ack+reply"
                assert session.pending_rpc(request_id) == rpc
                continue
        assert request_id not in finals
        finals[request_id] = event

    assert set(finals) == set(sent)
    assert session.pending == frozenset()


def spec_is_raw(rpc: str) -> bool:
    spec = catalog.rpc(rpc)
    return spec is not None and spec.response_type is catalog.RAW


# -- setOptions -------------------------------------------------------------------------------


def test_set_options_sends_send_results_by_default() -> None:
    session = ready_session()

    request_id, data = session.set_options()

    assert JSON_OBJECT.decode(data) == {
        "name": "setOptions",
        "request_id": request_id,
        "msg": {"sendResults": True},
    }
    assert session.pending_rpc(request_id) == "setOptions"


def test_set_options_sends_the_options_given() -> None:
    _, data = ready_session().set_options({"sendResults": False, "other": 1})

    assert JSON_OBJECT.decode(data)["msg"] == {"sendResults": False, "other": 1}


def test_set_options_ack_is_a_result_ack() -> None:
    session = ready_session()
    request_id, _ = session.set_options()

    events = session.receive(frame_bytes("result", {"success": True}, request_id=request_id))

    assert events == [ResultAck(request_id=request_id, success=True, final=True)]
    assert session.pending == frozenset()


def test_set_options_refusal_surfaces_as_result_ack_false() -> None:
    session = ready_session()
    request_id, _ = session.set_options()

    events = session.receive(
        frame_bytes("result", {"success": False, "reason": "bad option"}, request_id=request_id)
    )

    assert events == [ResultAck(request_id=request_id, success=False, reason="bad option", final=True)]
    assert session.pending == frozenset()


def test_set_options_ack_is_matched_by_id_whatever_its_name() -> None:
    session = ready_session()
    request_id, _ = session.set_options()

    events = session.receive(frame_bytes("anything", {"success": True}, request_id=request_id))

    assert events == [ResultAck(request_id=request_id, success=True, final=True)]


# -- subscriptions ----------------------------------------------------------------------------


def test_subscribe_returns_an_s_prefixed_id_and_remembers_it() -> None:
    session = ready_session()

    sub_id, data = session.subscribe("candle-generated", routing_filters={"active_id": 76, "size": 60})

    assert re.fullmatch(r"s_\d+", sub_id)
    assert JSON_OBJECT.decode(data) == {
        "name": "subscribeMessage",
        "request_id": sub_id,
        "msg": {
            "name": "candle-generated",
            "version": "1.0",
            "params": {"routingFilters": {"active_id": 76, "size": 60}},
        },
    }
    assert session.subscriptions == [
        Subscription(sub_id, "candle-generated", "1.0", {"active_id": 76, "size": 60})
    ]
    assert sub_id in session.pending


def test_subscribe_without_filters_sends_no_params() -> None:
    _, data = ready_session().subscribe("balance-changed")

    assert JSON_OBJECT.decode(data)["msg"] == {"name": "balance-changed", "version": "1.0"}


def test_subscribe_without_a_known_version_sends_none() -> None:
    _, data = ready_session().subscribe("traders-mood-changed", routing_filters={"asset_id": 1})

    assert "version" not in JSON_OBJECT.decode(data)["msg"]


def test_subscription_ids_are_distinct() -> None:
    session = ready_session()

    ids = [
        session.subscribe("candle-generated", routing_filters={"active_id": 1, "size": s})[0]
        for s in (1, 5, 60)
    ]

    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"s_\d+", sub_id) for sub_id in ids)
    assert [s.sub_id for s in session.subscriptions] == ids


def test_accepted_subscription_is_kept() -> None:
    session = ready_session()
    sub_id, _ = session.subscribe("balance-changed")

    events = session.receive(frame_bytes("result", {"success": True}, request_id=sub_id))

    assert events == [ResultAck(request_id=sub_id, success=True, final=True)]
    assert [s.sub_id for s in session.subscriptions] == [sub_id]
    assert sub_id not in session.pending


@pytest.mark.parametrize(
    "refusal",
    [
        {"name": "result", "msg": {"success": False, "reason": "no such subscription"}},
        {"name": "result", "msg": {"message": "bad filters"}, "status": 4000},
        {"name": "subscribeMessage", "msg": {"message": "bad filters"}, "status": 4400},
    ],
    ids=["success-false", "status-4000", "status-4400"],
)
def test_refused_subscription_is_forgotten(refusal: dict[str, Any]) -> None:
    session = ready_session()
    kept, _ = session.subscribe("balance-changed")
    refused, _ = session.subscribe("candle-generated", routing_filters={"active_id": 1, "size": 60})

    (event,) = session.receive(msgspec.json.encode({**refusal, "request_id": refused}))

    assert isinstance(event, Response | ResultAck)
    assert event.request_id == refused
    assert [s.sub_id for s in session.subscriptions] == [kept]
    assert refused not in session.pending
    assert [sub_id for sub_id, _ in session.replay_subscriptions()] == [kept]


def test_unsubscribe_resends_the_body_and_forgets() -> None:
    session = ready_session()
    sub_id, sub_data = session.subscribe("candle-generated", routing_filters={"active_id": 76, "size": 60})
    session.receive(frame_bytes("result", {"success": True}, request_id=sub_id))

    data = session.unsubscribe(sub_id)

    sent = JSON_OBJECT.decode(data)
    assert sent["name"] == "unsubscribeMessage"
    assert re.fullmatch(r"s_\d+", sent["request_id"])
    assert sent["request_id"] != sub_id
    assert sent["msg"] == JSON_OBJECT.decode(sub_data)["msg"]
    assert session.subscriptions == []
    assert session.replay_subscriptions() == []
    events = session.receive(frame_bytes("result", {"success": True}, request_id=sent["request_id"]))
    assert events == [ResultAck(request_id=sent["request_id"], success=True, final=True)]
    assert session.pending == frozenset()


def test_unsubscribe_before_the_ack_forgets_the_pending_subscribe() -> None:
    session = ready_session()
    sub_id, _ = session.subscribe("balance-changed")

    session.unsubscribe(sub_id)

    assert sub_id not in session.pending


def test_unsubscribe_of_an_unknown_id_raises() -> None:
    session = ready_session()
    sub_id, _ = session.subscribe("balance-changed")
    session.unsubscribe(sub_id)

    with pytest.raises(ProtocolError, match=sub_id):
        session.unsubscribe(sub_id)
    with pytest.raises(ProtocolError):
        session.unsubscribe("s_999")


def test_unsubscribe_while_disconnected_forgets_and_sends_nothing() -> None:
    session = ready_session()
    sub_id, _ = session.subscribe("balance-changed")
    session.connection_lost()

    assert session.unsubscribe(sub_id) == b""
    assert session.subscriptions == []


# -- connection loss, re-authentication, replay ---------------------------------------------


def test_connection_lost_returns_pending_rpcs_and_keeps_subscriptions() -> None:
    session = ready_session()
    first, _ = session.request("core.get-profile")
    second, _ = session.request("binary-options.open-option", body={})
    answered, _ = session.request("get-candles", body={"active_id": 1, "size": 1})
    session.receive(frame_bytes("candles", {"candles": []}, request_id=answered))
    session.set_options()
    sub_id, _ = session.subscribe("balance-changed")

    lost = session.connection_lost()

    assert sorted(lost) == sorted([first, second])
    assert session.pending == frozenset()
    assert session.state is SessionState.IDLE
    assert [s.sub_id for s in session.subscriptions] == [sub_id]
    with pytest.raises(ProtocolError):
        session.request("core.get-profile")


def test_late_reply_after_connection_lost_is_not_matched() -> None:
    session = ready_session()
    request_id, _ = session.request("core.get-profile")
    session.connection_lost()

    (event,) = session.receive(frame_bytes("profile", {"result": {"user_id": 1}}, request_id=request_id))

    assert isinstance(event, Response)
    assert event.rpc is None


def test_replay_after_reauthentication_resends_every_subscription_with_its_id() -> None:
    session = ready_session()
    candles_id, candles_data = session.subscribe(
        "candle-generated", routing_filters={"active_id": 76, "size": 60}
    )
    balance_id, balance_data = session.subscribe("balance-changed")
    session.receive(frame_bytes("result", {"success": True}, request_id=candles_id))
    session.request("core.get-profile")
    session.connection_lost()

    with pytest.raises(ProtocolError):
        session.replay_subscriptions()
    auth = JSON_OBJECT.decode(session.authenticate("ssid"))
    session.receive(frame_bytes("authenticated", True, request_id=auth["request_id"]))
    replayed = session.replay_subscriptions()

    assert replayed == [(candles_id, candles_data), (balance_id, balance_data)]
    assert session.pending == {candles_id, balance_id}
    assert int(auth["request_id"]) > int(balance_id.removeprefix("s_")), "the counter is not reset"
    # A refusal of a replayed subscription forgets it.
    session.receive(frame_bytes("result", {"success": False}, request_id=balance_id))
    assert [s.sub_id for s in session.subscriptions] == [candles_id]


def test_replay_with_no_subscriptions_sends_nothing() -> None:
    assert ready_session().replay_subscriptions() == []


def test_request_ids_continue_across_reconnects() -> None:
    session = ready_session()
    before, _ = session.request("core.get-profile")
    session.connection_lost()
    auth = JSON_OBJECT.decode(session.authenticate("ssid"))
    session.receive(frame_bytes("authenticated", True, request_id=auth["request_id"]))

    after, _ = session.request("core.get-profile")

    assert int(after) > int(auth["request_id"]) > int(before)


# -- expiry -----------------------------------------------------------------------------------


def test_expire_returns_requests_older_than_the_timeout() -> None:
    session = ready_session()
    old, _ = session.request("core.get-profile", now=100.0)
    young, _ = session.request("get-candles", body={"active_id": 1, "size": 1}, now=108.0)
    untimed, _ = session.request("core.get-profile")

    expired = session.expire(now=111.0, timeout=10.0)

    assert expired == [RequestExpired(request_id=old, rpc="core.get-profile")]
    assert session.pending == {young, untimed}
    assert session.expire(now=111.0, timeout=10.0) == []
    assert session.expire(now=200.0, timeout=10.0) == [RequestExpired(request_id=young, rpc="get-candles")]
    assert session.pending == {untimed}


def test_expire_covers_subscriptions_and_options() -> None:
    session = ready_session()
    sub_id, _ = session.subscribe("balance-changed", now=0.0)
    options_id, _ = session.set_options(now=0.0)

    expired = session.expire(now=30.0, timeout=5.0)

    assert sorted(expired, key=lambda e: e.request_id) == sorted(
        [
            RequestExpired(request_id=sub_id, rpc="balance-changed"),
            RequestExpired(request_id=options_id, rpc="setOptions"),
        ],
        key=lambda e: e.request_id,
    )


def test_reply_after_expiry_is_not_matched() -> None:
    session = ready_session()
    request_id, _ = session.request("core.get-profile", now=0.0)
    session.expire(now=60.0, timeout=30.0)

    (event,) = session.receive(frame_bytes("profile", {"result": {"user_id": 1}}, request_id=request_id))

    assert isinstance(event, Response)
    assert event.rpc is None


# -- pushes and system frames -----------------------------------------------------------------


def test_push_of_an_unknown_name_keeps_plain_json() -> None:
    events = ready_session().receive(frame_bytes("novel-push", {"a": [1, 2]}, microserviceName="novel"))

    assert events == [Push(name="novel-push", payload={"a": [1, 2]}, microservice_name="novel")]


def test_typed_push_of_the_wrong_shape_is_malformed() -> None:
    data = frame_bytes("candle-generated", {"id": "not a candle"}, microserviceName="quotes")

    (event,) = ready_session().receive(data)

    assert isinstance(event, MalformedFrame)
    assert "candle-generated" in event.reason
    assert event.raw == data


@pytest.mark.parametrize(
    "data",
    [frame_bytes("timeSync", "soon"), frame_bytes("timeSync", 1.5), frame_bytes("front", 42)],
    ids=["time-sync-text", "time-sync-float", "front-number"],
)
def test_system_frame_of_the_wrong_shape_is_malformed(data: bytes) -> None:
    (event,) = ready_session().receive(data)

    assert isinstance(event, MalformedFrame)
    assert event.raw == data


def test_receive_accepts_text() -> None:
    events = Session().receive('{"name":"timeSync","msg":5}')

    assert events == [TimeSync(server_time_ms=5)]


def test_malformed_text_keeps_its_raw_bytes() -> None:
    (event,) = Session().receive("[\ud800]")

    assert isinstance(event, MalformedFrame)
    assert event.raw == "[\ud800]".encode("utf-8", "replace")


# -- known bugs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_frame",
    [
        lambda rid: b'{"name":"profile","request_id":"%s","msg":"\xff"}' % rid.encode(),
        lambda rid: b'{"name":"novel-push","msg":"\xff"}',
        lambda rid: b'{"name":"front","msg":"\xff"}',
        lambda rid: b'{"name":"authenticated","msg":"\xff"}',
        lambda rid: b'{"name":"x","request_id":"unknown","msg":{"k":"\xc3\x28"}}',
    ],
    ids=["pending-reply", "push", "front", "authenticated", "unknown-reply"],
)
def test_invalid_utf8_in_msg_is_a_malformed_frame(make_frame: Any) -> None:
    session = ready_session()
    request_id, _ = session.request("core.get-profile")

    events = session.receive(make_frame(request_id))

    assert len(events) == 1
    assert isinstance(events[0], MalformedFrame)


def test_undecodable_reply_still_settles_its_request() -> None:
    session = ready_session()
    request_id, _ = session.request("core.get-profile", now=0.0)

    try:
        events = session.receive(b'{"name":"profile","request_id":"%s","msg":"\xff"}' % request_id.encode())
    except UnicodeDecodeError:
        events = []

    settled = any(getattr(event, "request_id", None) == request_id for event in events)
    assert settled or request_id in session.pending


def test_nameless_reply_is_matched_by_request_id() -> None:
    session = ready_session()
    request_id, _ = session.request("binary-options.open-option", body={})

    (event,) = session.receive(
        frame_bytes(None, {"message": "no deposits"}, request_id=request_id, status=4008)
    )

    assert isinstance(event, Response)
    assert event.request_id == request_id
    assert event.status == 4008


def test_marginal_balance_changed_push_is_typed_by_its_service() -> None:
    session = ready_session()
    session.subscribe("marginal-portfolio.balance-changed")
    figures = dict.fromkeys(
        ("cash", "bonus", "pnl", "pnl_net", "equity", "equity_usd", "swap", "dividends", "margin"), "1.00"
    )
    msg = {"id": 1, "type": 4, "user_id": 7, "currency": "USD", **figures}
    msg |= {"available": "0.00", "margin_level": "0.00", "stop_out_level": "50.00"}

    (event,) = session.receive(frame_bytes("balance-changed", msg, microserviceName="marginal-portfolio"))

    assert isinstance(event, Push)
    assert isinstance(event.payload, MarginalBalance)
    assert event.payload.cash == "1.00"


def test_marginal_balance_changed_push_of_an_unknown_shape_is_delivered_as_plain_json() -> None:
    session = ready_session()
    session.subscribe("marginal-portfolio.balance-changed")
    msg = {"id": 1, "type": 1, "cash": "10.00", "equity": "10.00"}

    (event,) = session.receive(frame_bytes("balance-changed", msg, microserviceName="marginal-portfolio"))

    assert event == Push(name="balance-changed", payload=msg, microservice_name="marginal-portfolio")
