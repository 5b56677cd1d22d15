"""The sans-I/O session: bytes to send out, received bytes in, events back.

Theory of operation. The caller owns the socket and the clock. To say something
it calls a verb (:meth:`Session.authenticate`, :meth:`~Session.set_options`,
:meth:`~Session.request`, :meth:`~Session.subscribe`, :meth:`~Session.unsubscribe`)
and sends the bytes it gets back. Everything the server sends goes through
:meth:`~Session.receive`, which returns events. Replies are matched to requests by
``request_id`` alone, never by message name; every request gets its own id from
one counter (``"N"`` for requests, ``"s_N"`` for subscriptions) that survives a
reconnect. A server that misbehaves yields :class:`MalformedFrame` events; only
misuse by the caller raises :class:`~iqwire.errors.LocalProtocolError`.

Example::

    session = Session()
    sock.send(session.authenticate(ssid))
    for event in session.receive(sock.recv()):
        ...
    request_id, data = session.request("core.get-profile", "1.0", {})
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from iqwire.errors import LocalProtocolError, RemoteProtocolError
from iqwire.models import CommissionChangedError, ErrorBody, Result
from iqwire.protocol import catalog
from iqwire.protocol.envelope import RawFrame, check_utf8, decode_raw_frame
from iqwire.protocol.events import (
    Authenticated,
    Event,
    Front,
    MalformedFrame,
    Push,
    Pushes,
    RequestExpired,
    Response,
    ResultAck,
    TimeSync,
)
from iqwire.protocol.pushes import PUSH_FRAME_NAMES, decode_push_frame, decode_push_run
from iqwire.protocol.state import SessionState, transition

__all__ = ["Session", "Subscription"]


class _Kind(enum.Enum):
    AUTH = "authenticate"
    OPTIONS = "setOptions"
    RPC = "sendMessage"
    SUBSCRIBE = "subscribeMessage"
    UNSUBSCRIBE = "unsubscribeMessage"


class _Pending(msgspec.Struct, gc=False):  # a Struct: built in C, one per request (no cycles)
    kind: _Kind
    rpc: str
    response_type: Any
    result_only: bool
    sent_at: float | None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A live subscription, as the session will replay it after a reconnect."""

    sub_id: str
    name: str
    version: str | None
    routing_filters: dict[str, Any] | None


class _Outgoing(msgspec.Struct, omit_defaults=True):
    name: str
    request_id: str
    msg: Any


class _SendMessage(msgspec.Struct, omit_defaults=True):
    name: str
    version: str
    body: Any


class _SubscribeBody(msgspec.Struct, omit_defaults=True):
    name: str
    version: str | None = None
    params: dict[str, Any] | None = None


_encode = msgspec.json.Encoder().encode
_any_decoder = msgspec.json.Decoder()
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}

_SYSTEM_NAMES = frozenset({"timeSync", "authenticated", "front"})


def _decoder_for(tp: Any) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(tp)
    if decoder is None:
        decoder = _any_decoder if tp is catalog.RAW else msgspec.json.Decoder(tp)
        _decoders[tp] = decoder
    return decoder


_DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError)


class _NamelessFrame(msgspec.Struct):
    """A reply without ``name``: the SDK matches those by ``request_id`` alone."""

    request_id: str
    msg: msgspec.Raw = msgspec.Raw(b"null")
    status: int | None = None


_nameless_decoder = msgspec.json.Decoder(_NamelessFrame)


def _plain(raw: msgspec.Raw) -> Any:
    try:
        return _any_decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


class Session:
    """The protocol state of one logical client across its connections.

    Args:
        first_request_id: where the request counter starts.
    """

    def __init__(self, *, first_request_id: int = 1) -> None:
        self._counter = first_request_id
        self._state = SessionState.IDLE
        self._pending: dict[str, _Pending] = {}
        self._subscriptions: dict[str, Subscription] = {}
        self._push_decoders: dict[str, msgspec.json.Decoder[Any] | None] = {}

    # -- introspection -----------------------------------------------------------

    @property
    def state(self) -> SessionState:
        """The current :class:`SessionState`."""
        return self._state

    @property
    def pending(self) -> frozenset[str]:
        """Request ids still waiting for their answer."""
        return frozenset(self._pending)

    @property
    def subscriptions(self) -> list[Subscription]:
        """The live subscriptions, oldest first."""
        return list(self._subscriptions.values())

    def pending_rpc(self, request_id: str) -> str | None:
        """The RPC name a pending request was sent for, or ``None``."""
        pending = self._pending.get(request_id)
        return None if pending is None else pending.rpc

    # -- verbs: bytes to send ---------------------------------------------------------

    def _next_id(self, prefix: str = "") -> str:
        value = self._counter
        self._counter += 1
        return f"{prefix}{value}"

    def _require_ready(self, what: str) -> None:
        if self._state is not SessionState.READY:
            raise LocalProtocolError(
                f"cannot send {what} while the session is {self._state.value}: "
                "authenticate first and wait for the Authenticated event"
            )

    def authenticate(self, ssid: str, *, protocol: int = 3, now: float | None = None) -> bytes:
        """Bytes of the ``authenticate`` frame; the answer is an :class:`Authenticated` event.

        The SSID goes into the returned bytes only; the session keeps no copy.
        """
        if not ssid:
            raise LocalProtocolError("authenticate needs a non-empty SSID")
        self._state = transition(self._state, SessionState.AUTHENTICATING)
        request_id = self._next_id()
        self._pending[request_id] = _Pending(_Kind.AUTH, "authenticate", None, False, now)
        body = {"ssid": ssid, "protocol": protocol, "session_id": "", "client_session_id": ""}
        return _encode(_Outgoing("authenticate", request_id, body))

    def set_options(
        self, options: dict[str, Any] | None = None, *, now: float | None = None
    ) -> tuple[str, bytes]:
        """``setOptions`` (default ``{"sendResults": true}``); answered by a :class:`ResultAck`."""
        self._require_ready("setOptions")
        request_id = self._next_id()
        self._pending[request_id] = _Pending(_Kind.OPTIONS, "setOptions", Result, True, now)
        msg = {"sendResults": True} if options is None else options
        return request_id, _encode(_Outgoing("setOptions", request_id, msg))

    def request(
        self,
        name: str,
        version: str | None = None,
        body: Any = None,
        *,
        now: float | None = None,
    ) -> tuple[str, bytes]:
        """A ``sendMessage`` RPC; its answer is a :class:`Response` (or :class:`ResultAck`).

        ``version`` defaults to the catalog's; ``body`` may be a model or a dict.
        Uncatalogued names are sent as given and answered with plain JSON.
        """
        if self._state is not SessionState.READY:
            self._require_ready(f"'{name}'")
        spec = catalog.rpc(name)
        if version is None:
            version = spec.default_version if spec is not None else "1.0"
        response_type = spec.response_type if spec is not None else catalog.RAW
        result_only = spec.result_only if spec is not None else False
        request_id = str(self._counter)  # _next_id() without the call
        self._counter += 1
        self._pending[request_id] = _Pending(_Kind.RPC, name, response_type, result_only, now)
        message = _SendMessage(name, version, {} if body is None else body)
        try:
            data = _encode(_Outgoing("sendMessage", request_id, message))
        except (TypeError, msgspec.EncodeError) as exc:
            del self._pending[request_id]
            raise LocalProtocolError(f"body of '{name}' cannot be encoded: {exc}") from exc
        return request_id, data

    def subscribe(
        self,
        name: str,
        version: str | None = None,
        routing_filters: dict[str, Any] | None = None,
        *,
        now: float | None = None,
    ) -> tuple[str, bytes]:
        """A ``subscribeMessage``; returns the subscription id (``"s_N"``) and the bytes.

        The subscription is remembered at once, so a reconnect replays it even
        if its ACK never came; a refused ACK forgets it.
        """
        self._require_ready(f"subscription '{name}'")
        spec = catalog.subscription(name)
        if version is None and spec is not None:
            version = spec.default_version
        sub_id = self._next_id("s_")
        subscription = Subscription(sub_id, name, version, routing_filters)
        self._subscriptions[sub_id] = subscription
        self._pending[sub_id] = _Pending(_Kind.SUBSCRIBE, name, Result, True, now)
        return sub_id, _encode(_Outgoing("subscribeMessage", sub_id, _subscribe_body(subscription)))

    def unsubscribe(self, sub_id: str, *, now: float | None = None) -> bytes:
        """An ``unsubscribeMessage`` with the subscription's own body; it is forgotten now.

        Raises:
            LocalProtocolError: no live subscription has this id.
        """
        subscription = self._subscriptions.pop(sub_id, None)
        if subscription is None:
            raise LocalProtocolError(f"no live subscription '{sub_id}'")
        self._pending.pop(sub_id, None)
        if self._state is not SessionState.READY:
            return b""
        request_id = self._next_id("s_")
        self._pending[request_id] = _Pending(_Kind.UNSUBSCRIBE, subscription.name, Result, True, now)
        return _encode(_Outgoing("unsubscribeMessage", request_id, _subscribe_body(subscription)))

    def replay_subscriptions(self, *, now: float | None = None) -> list[tuple[str, bytes]]:
        """After re-authenticating: the bytes that restore every live subscription.

        Subscriptions keep their ids; no unsubscribe is sent first (the old
        connection took its subscriptions with it).
        """
        self._require_ready("subscriptions")
        frames = []
        for subscription in self._subscriptions.values():
            self._pending[subscription.sub_id] = _Pending(
                _Kind.SUBSCRIBE, subscription.name, Result, True, now
            )
            body = _subscribe_body(subscription)
            frames.append(
                (subscription.sub_id, _encode(_Outgoing("subscribeMessage", subscription.sub_id, body)))
            )
        return frames

    def connection_lost(self) -> list[str]:
        """The connection is gone: forget pending requests and return their ids.

        The caller fails each one (they are never re-sent: a trade must not be
        placed twice). Subscriptions are kept for :meth:`replay_subscriptions`.
        """
        lost = [rid for rid, p in self._pending.items() if p.kind is _Kind.RPC]
        self._pending.clear()
        self._state = transition(self._state, SessionState.IDLE)
        return lost

    def expire(self, now: float, timeout: float) -> list[RequestExpired]:
        """Forget requests sent (with ``now=``) ``timeout`` seconds or more before ``now``."""
        expired = [
            rid for rid, p in self._pending.items() if p.sent_at is not None and now - p.sent_at >= timeout
        ]
        events = []
        for rid in expired:
            pending = self._pending.pop(rid)
            events.append(RequestExpired(request_id=rid, rpc=pending.rpc))
        return events

    def forget(self, request_id: str) -> bool:
        """Stop waiting for one request (its caller gave up); ``True`` if it was pending.

        A late answer is then reported like any unknown reply.
        """
        return self._pending.pop(request_id, None) is not None

    # -- input: events from bytes --------------------------------------------------------

    def receive(self, data: bytes | str) -> list[Event]:
        """Feed one received frame; returns the events it produced. Never raises."""
        # The hot path, a plain push of a catalogued name: one pass through the push
        # union decodes the frame straight into its Push event (protocol/pushes.py).
        # Anything else — replies, system frames, unknown names, a payload of
        # another shape, bad input — fails that pass cheaply and takes the general,
        # two-stage path, which decides what it is. A text frame that is not ASCII
        # has no ``decode`` and takes the general path too.
        try:
            if not data.isascii():
                data.decode("utf-8")  # type: ignore[union-attr]  # msgspec does not check skipped bytes
            return [decode_push_frame(data)]
        except Exception:
            return self._receive_general(data)

    def receive_batch(self, frames: Sequence[bytes | str]) -> list[Event]:
        """Feed several received frames, oldest first; the events of all of them. Never raises.

        The events are those of :meth:`receive` called on each frame in turn, except
        that consecutive catalogued pushes of one name and service come as one
        :class:`Pushes` event (:meth:`Pushes.pushes` expands it): a burst of candles
        costs one event and no call per frame; a batch of candle frames only, in the
        server's layout, is decoded in one call (:func:`~iqwire.protocol.pushes.decode_push_run`).
        """
        if len(frames) > 1:
            run = decode_push_run(frames)
            if run is not None:
                return [run]
        elif frames and _names_no_push(frames[0]):
            # A reply alone in its read (an RPC's answer): decoding it as a push would
            # fail (~0.6 µs, an exception). The general path answers any frame exactly
            # as the push path does, so skipping that attempt changes no event.
            return self._receive_general(frames[0])
        decode = decode_push_frame
        events: list[Event] = []
        try:
            # One C loop instead of a check per frame; msgspec does not check the bytes it skips.
            ascii_only = all(map(bytes.isascii, frames))  # type: ignore[arg-type]
        except TypeError:  # text frames among them
            ascii_only = False
        # The open run of pushes (already in ``events``): its push type (one per
        # push name), its service, and its payload list's append.
        kind: Any = None
        service: str | None = None
        append: Any = None
        for data in frames:
            try:
                if not ascii_only and not data.isascii():
                    data.decode("utf-8")  # type: ignore[union-attr]
                push = decode(data)
            except Exception:
                kind = None
                events += self._receive_general(data)
                continue
            if type(push) is kind and push.microservice_name == service:
                append(push.payload)
            else:
                kind, service = type(push), push.microservice_name
                run = Pushes(name=push.name, payloads=[push.payload], microservice_name=service)
                append = run.payloads.append
                events.append(run)
        return events

    def _receive_general(self, data: bytes | str) -> list[Event]:
        try:
            frame = decode_raw_frame(data)
        except RemoteProtocolError as exc:
            nameless = self._nameless_reply(data)
            if nameless is not None:
                frame = nameless
            else:
                return [MalformedFrame(reason=exc.message, raw=_raw_bytes(data))]
        return self._receive_frame(frame, data)

    def _receive_frame(self, frame: RawFrame, data: bytes | str) -> list[Event]:
        try:
            return self._dispatch(frame)
        except _DECODE_ERRORS as exc:
            return [
                MalformedFrame(
                    reason=f"'{frame.name}' frame has the wrong shape: {exc}", raw=_raw_bytes(data)
                )
            ]

    def _nameless_reply(self, data: bytes | str) -> RawFrame | None:
        try:
            check_utf8(data)
            frame = _nameless_decoder.decode(data)
        except Exception:  # not even a nameless reply: the caller reports it malformed
            return None
        if frame.request_id not in self._pending:
            return None
        return RawFrame(name="", msg=frame.msg, request_id=frame.request_id, status=frame.status)

    def _dispatch(self, frame: RawFrame) -> list[Event]:
        request_id = frame.request_id or None
        name = frame.name
        if request_id is not None:
            pending = self._pending.get(request_id)
            if pending is not None:
                return self._reply(request_id, pending, frame)
        if name in _SYSTEM_NAMES:
            return self._system(frame)
        if request_id is not None:
            # A late or unknown reply (for instance after a timeout): keep it
            # visible, but nobody waits for it.
            return [
                Response(
                    request_id=request_id,
                    name=name,
                    status=frame.status if frame.status is not None else 2000,
                    payload=_plain(frame.msg),
                )
            ]
        return [self._push(frame)]

    def _system(self, frame: RawFrame) -> list[Event]:
        if frame.name == "timeSync":
            return [TimeSync(server_time_ms=msgspec.json.decode(frame.msg, type=int))]
        if frame.name == "front":
            server = msgspec.json.decode(frame.msg, type=str)
            return [Front(server=server, session_id=frame.session_id)]
        # "authenticated" without a pending request: a refusal fails every
        # pending authenticate (the SDK's rule); an unsolicited success is a no-op.
        ok = _plain(frame.msg) is True
        return self._authenticated(ok, None, frame.client_session_id)

    def _authenticated(self, ok: bool, request_id: str | None, client_session_id: str | None) -> list[Event]:
        for rid in [r for r, p in self._pending.items() if p.kind is _Kind.AUTH]:
            del self._pending[rid]
        # Only an answer to a pending authenticate moves the state; a stray
        # "authenticated: false" on a ready session is reported, not obeyed (the SDK's rule).
        if self._state is SessionState.AUTHENTICATING:
            target = SessionState.READY if ok else SessionState.REFUSED
            self._state = transition(self._state, target)
        return [Authenticated(ok=ok, request_id=request_id, client_session_id=client_session_id)]

    def _reply(self, request_id: str, pending: _Pending, frame: RawFrame) -> list[Event]:
        status = frame.status if frame.status is not None else 2000
        if pending.kind is _Kind.AUTH:
            ok = status < 4000 and _plain(frame.msg) is True
            return self._authenticated(ok, request_id, frame.client_session_id)
        if status >= 4000:
            del self._pending[request_id]
            self._forget_refused_subscription(request_id, pending)
            return [self._error_response(request_id, pending, frame, status)]
        if pending.kind is not _Kind.RPC or frame.name == "result":
            return [self._result(request_id, pending, frame)]
        del self._pending[request_id]
        decoder = _decoder_for(pending.response_type)
        try:
            payload = decoder.decode(frame.msg)
        except _DECODE_ERRORS as exc:
            return [
                Response(
                    request_id=request_id,
                    name=frame.name,
                    status=status,
                    payload=_plain(frame.msg),
                    rpc=pending.rpc,
                    error=f"'{pending.rpc}' reply has an unexpected shape: {exc}",
                )
            ]
        return [
            Response(request_id=request_id, name=frame.name, status=status, payload=payload, rpc=pending.rpc)
        ]

    def _result(self, request_id: str, pending: _Pending, frame: RawFrame) -> ResultAck:
        plain = _plain(frame.msg)
        if isinstance(plain, dict):
            # The SDK reads a missing "success" as a failure.
            success = plain.get("success") is True
            reason = plain.get("reason") if isinstance(plain.get("reason"), str) else None
        else:
            # Result-only requests end on the first non-error frame, whatever it holds.
            success, reason = plain is not False, None
        final = pending.result_only or not success
        if final:
            del self._pending[request_id]
            if not success:
                self._forget_refused_subscription(request_id, pending)
        return ResultAck(request_id=request_id, success=success, reason=reason, final=final)

    def _forget_refused_subscription(self, request_id: str, pending: _Pending) -> None:
        if pending.kind is _Kind.SUBSCRIBE:
            self._subscriptions.pop(request_id, None)

    def _error_response(self, request_id: str, pending: _Pending, frame: RawFrame, status: int) -> Response:
        payload: Any
        try:
            if status == 4117:
                payload = msgspec.json.decode(frame.msg, type=CommissionChangedError)
            else:
                body = msgspec.json.decode(frame.msg, type=ErrorBody)
                # A body without message/result (e.g. 4220 {"from": [...]}) keeps its details.
                payload = body if body.message is not None or body.result is not None else _plain(frame.msg)
        except _DECODE_ERRORS:
            payload = _plain(frame.msg)
        return Response(
            request_id=request_id, name=frame.name, status=status, payload=payload, rpc=pending.rpc
        )

    def _push(self, frame: RawFrame) -> Event:
        name = frame.name
        if name in catalog.SERVICE_PUSH_NAMES and frame.microservice_name is not None:
            by_service = self._service_push(frame)
            if by_service is not None:
                return by_service
        try:
            decoder = self._push_decoders[name]
        except KeyError:
            tp = catalog.push_type(name)
            decoder = None if tp is None else _decoder_for(tp)
            if decoder is not None:  # catalogued names only: the server's made-up names must not grow it
                self._push_decoders[name] = decoder
        if decoder is None:
            payload = _plain(frame.msg)
        else:
            try:
                payload = decoder.decode(frame.msg)
            except msgspec.ValidationError:
                # The same push name from another service (marginal balance-changed)
                # has another shape: keep it as plain JSON rather than call it malformed.
                service = frame.microservice_name
                if service is None or service in catalog.push_microservices(name):
                    raise
                payload = _plain(frame.msg)
        return Push(name=name, payload=payload, microservice_name=frame.microservice_name)

    def _service_push(self, frame: RawFrame) -> Push | None:
        """A push typed by its service (the marginal ``balance-changed``), or ``None`` for the default."""
        service = frame.microservice_name
        assert service is not None
        tp = catalog.SERVICE_PUSHES.get((service, frame.name))
        if tp is None:
            return None
        try:
            payload = _decoder_for(tp).decode(frame.msg)
        except msgspec.ValidationError:
            payload = _plain(frame.msg)  # a shape we do not know yet: plain JSON, not malformed
        return Push(name=frame.name, payload=payload, microservice_name=service)


def _names_no_push(data: bytes | str) -> bool:
    """Whether the frame's first key shows it is no plain push (:data:`decode_push_frame` would fail)."""
    if type(data) is not bytes:
        return False
    if data[:9] == b'{"name":"':
        return data[9 : data.find(b'"', 9)] not in PUSH_FRAME_NAMES
    return data[:14] == b'{"request_id":'


def _raw_bytes(data: bytes | str) -> bytes:
    return data.encode("utf-8", "replace") if isinstance(data, str) else bytes(data)


def _subscribe_body(subscription: Subscription) -> _SubscribeBody:
    params = (
        None if subscription.routing_filters is None else {"routingFilters": subscription.routing_filters}
    )
    return _SubscribeBody(subscription.name, subscription.version, params)
