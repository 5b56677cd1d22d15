"""The simulator's engine: frames in, replies and pushes out, time moved by the caller.

Like the client's protocol core, the engine does no I/O and reads no clock: the
server layer hands it each received frame with the current time, and calls
:meth:`Engine.advance_to` to run everything due up to a time. The engine only
dispatches: the platform's data lives in :class:`~iqwire.sim.state.SimState`,
faults in :class:`~iqwire.sim.faults.FaultInjector`, the generic RPCs in
``sim/rpc.py``, and each trading product in its own module
(:data:`iqwire.sim.products.PRODUCTS`), which registers its RPCs, its
``open-option`` types and its per-step work here.
"""

from __future__ import annotations

import functools
import logging
import math
import uuid
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import msgspec

from iqwire.errors import ProtocolError
from iqwire.models import (
    BalanceChanged,
    InitializationData,
    InstrumentGroup,
    OpenOptionRequest,
    Option,
    Result,
)
from iqwire.protocol import catalog, decode_frame
from iqwire.sim.accounts import User
from iqwire.sim.config import SimConfig
from iqwire.sim.errors import (
    BAD_REQUEST,
    FORBIDDEN,
    INTERNAL,
    NOT_AUTHENTICATED,
    NOT_SUPPORTED,
    UNKNOWN_NAME,
    UNSUPPORTED_VERSION,
    SimError,
)
from iqwire.sim.faults import FaultInjector, FaultState
from iqwire.sim.frames import encode_out, push_frame, reply_frame
from iqwire.sim.hub import Connection, Hub, SubscriptionEntry, normalise_filters
from iqwire.sim.ledger import BalanceUpdated, LedgerEvent, OrderUpdated, PositionUpdated
from iqwire.sim.market_feed import MarketFeed
from iqwire.sim.positions_state import PositionsStateFeed
from iqwire.sim.product import Handler, HandlerKey, OptionOpener, Product
from iqwire.sim.products import PRODUCTS
from iqwire.sim.rpc import HANDLERS, is_unsupported
from iqwire.sim.state import SimState

__all__ = ["Engine"]

log = logging.getLogger("iqwire.sim")

_PRIVATE_PUSHES = frozenset(
    {"position-changed", "order-changed", "balance-changed", "profile-changed", "positions-state"}
)
#: Pushes whose name another service shares: only subscriptions to this service get them.
_PUSH_SERVICES = {"balance-changed": "balances"}
#: Every product feature the official SDK asks about; those no product serves are ``disabled``.
_KNOWN_FEATURES = (
    "blitz-instrument",
    "turbo-instrument",
    "binary-instrument",
    "digital-instrument",
    "margin-forex-instrument",
    "margin-cfd-instrument",
    "margin-crypto-instrument",
)
#: RPCs answered first by a ``result`` ACK when the connection turned ``sendResults`` on.
_ACK_FIRST = frozenset({"binary-options.open-option"})


class Engine:
    """Everything the simulated platform knows, and how it answers."""

    def __init__(self, seed: int, config: SimConfig, start: float) -> None:
        self.seed = seed
        self.config = config
        self._state = SimState(seed, config)
        # Shortcuts to the state's parts (the same objects).
        self.model = self._state.model
        self.accounts = self._state.accounts
        self.ledger = self._state.ledger
        self.commissions = self._state.commissions
        self.currencies = self._state.currencies
        self.user_settings = self._state.user_settings
        self._hub = Hub()
        self.stats = {"frames_in": 0, "frames_out": 0, "malformed_in": 0, "faults": 0}
        self._now = start
        self.injector = FaultInjector(self._hub, seed, config.faults, self.stats, lambda: self._now)
        self._stepped_to = start
        self._push_tick = math.floor(start / config.push_interval)
        self._next_timesync = start + config.timesync_interval
        self.feed = MarketFeed(self, start)
        self.products: list[Product] = [product(self) for product in PRODUCTS]
        self.positions_state = PositionsStateFeed(self, self.products)
        #: The RPC table: a name, or ``(name, version)`` where versions answer differently.
        self.handlers: dict[HandlerKey, Handler] = {
            name: functools.partial(handler, self) for name, handler in HANDLERS.items()
        }
        self._openers: dict[int, OptionOpener] = {}
        for product in self.products:
            self.handlers.update(product.handlers())
            self._openers.update(product.option_openers())
        self.handlers["portfolio.subscribe-positions"] = self.positions_state.subscribe

    # -- what products see (ProductHost) ----------------------------------------------

    @property
    def state(self) -> SimState:
        """The platform's data."""
        return self._state

    @property
    def hub(self) -> Hub:
        """Connections and their subscriptions."""
        return self._hub

    @property
    def now(self) -> float:
        """The engine's time: the last step, or the last frame received if later."""
        return self._now

    @now.setter
    def now(self, value: float) -> None:
        self._now = value

    @property
    def faults(self) -> FaultState:
        """The faults armed now."""
        return self.injector.state

    # -- connections -------------------------------------------------------------

    def connect(self, conn: Connection, now: float) -> None:
        """A client connected: register it and greet it with ``timeSync``."""
        self.hub.add(conn)
        self.send(conn, encode_out("timeSync", int(now * 1000)))

    def disconnect(self, conn: Connection) -> None:
        """A client left: its subscriptions go with it."""
        self.hub.remove(conn)

    def refusing_connections(self, now: float) -> bool:
        """Whether new connections are refused now (a fault)."""
        return now < self.faults.refuse_until

    def send(self, conn: Connection, data: bytes) -> None:
        """Send one frame to one connection (through the fault injector)."""
        self.injector.send(conn, data)

    def send_each(self, conns: Collection[Connection], frames: Sequence[bytes]) -> None:
        """Send the same frames, in order, to each of ``conns`` (a stream's fan-out)."""
        self.injector.send_each(conns, frames)

    # -- frames in -------------------------------------------------------------------

    def handle(self, conn: Connection, data: bytes | str, now: float) -> None:
        """Answer one frame from a client. Never raises on bad input."""
        self.now = max(self.now, now)
        self.stats["frames_in"] += 1
        try:
            frame = decode_frame(data)
        except ProtocolError as exc:
            self.stats["malformed_in"] += 1
            log.warning("malformed frame from connection %s: %s", conn.conn_id, exc.message)
            self.send(conn, encode_out("error", {"message": exc.message}, status=BAD_REQUEST))
            return
        rid = frame.request_id
        if frame.name == "authenticate":
            self._authenticate(conn, frame.msg, rid)
        elif frame.name == "ssid":
            self._legacy_ssid(conn, frame.msg)
        elif frame.name == "setOptions":
            if isinstance(frame.msg, dict):
                conn.send_results = bool(frame.msg.get("sendResults", conn.send_results))
            self.send(conn, reply_frame("result", rid, Result(success=True)))
        elif frame.name == "sendMessage":
            self._send_message(conn, frame.msg, rid, now)
        elif frame.name in ("subscribeMessage", "unsubscribeMessage"):
            self._subscription(conn, frame.name == "subscribeMessage", frame.msg, rid)
        elif frame.name in catalog.COMMUNITY_FRAMES:
            self._community_frame(conn, frame.name, rid, now)
        elif frame.name == "heartbeat":
            pass  # the web client's own heartbeat needs no answer
        else:
            error = {"message": f"unknown message name {frame.name!r}"}
            self.send(conn, reply_frame("error", rid, error, UNKNOWN_NAME))

    def _authenticate(self, conn: Connection, msg: Any, rid: str | None) -> None:
        ssid = msg.get("ssid") if isinstance(msg, dict) else None
        user = self.accounts.user_for_ssid(ssid) if isinstance(ssid, str) else None
        if user is None:
            conn.user = None
            self.send(conn, encode_out("authenticated", False, request_id=rid))
            return
        conn.user, conn.ssid = user, ssid
        session = str(uuid.uuid4())
        self.send(conn, encode_out("authenticated", True, request_id=rid, client_session_id=session))
        self.send(conn, encode_out("front", "ws01.sim.iqwire.local", session_id=session))

    def _legacy_ssid(self, conn: Connection, msg: Any) -> None:
        user = self.accounts.user_for_ssid(msg) if isinstance(msg, str) else None
        conn.user, conn.ssid = user, (msg if user else None)
        conn.legacy = True
        payload: Any = False if user is None else user.profile()
        self.send(conn, encode_out("profile", payload))

    def _send_message(self, conn: Connection, msg: Any, rid: str | None, now: float) -> None:
        if not isinstance(msg, dict) or not isinstance(msg.get("name"), str):
            self._error(
                conn, "error", rid, SimError(BAD_REQUEST, "sendMessage needs msg {name, version, body}")
            )
            return
        name: str = msg["name"]
        if self.faults.take_ignored_request(name):
            self.injector.record("ignore_request", f"request {name} ignored: neither executed nor answered")
            return
        spec = catalog.rpc(name)
        response_name = spec.response_name if spec is not None and spec.response_name else "error"
        if conn.user is None:
            self._error(
                conn,
                response_name,
                rid,
                SimError(NOT_AUTHENTICATED, "not authenticated: send authenticate first"),
            )
            return
        version = msg.get("version")
        handler = self.handlers.get((name, version)) if isinstance(version, str) else None
        handler = handler or self.handlers.get(name)
        if handler is None:
            if spec is not None or is_unsupported(name):
                error = SimError(NOT_SUPPORTED, f"'{name}' is not supported by the simulator")
            else:
                error = SimError(UNKNOWN_NAME, f"unknown RPC '{name}'")
            self._error(conn, response_name, rid, error)
            return
        if spec is not None and spec.versions and version not in spec.versions:
            served = ", ".join(spec.versions)
            error = SimError(
                UNSUPPORTED_VERSION, f"version {version!r} of '{name}' is not served (served: {served})"
            )
            self._error(conn, response_name, rid, error)
            return
        raw_body = msg.get("body", {})
        try:
            body = (
                raw_body
                if spec is None or spec.body_type is catalog.RAW
                else msgspec.convert(raw_body if raw_body is not None else {}, spec.body_type, strict=False)
            )
        except msgspec.ValidationError as exc:
            self._error(conn, response_name, rid, SimError(BAD_REQUEST, f"malformed body of '{name}': {exc}"))
            return
        if (name, version) in catalog.COMMUNITY_CALLS:
            conn.legacy = True
        if name in _ACK_FIRST and (conn.send_results or (name, version) in catalog.ACK_FIRST_ALWAYS):
            self.send(conn, reply_frame("result", rid, Result(success=True)))
        try:
            reply = handler(conn.user, body, now)
        except SimError as exc:
            if self.faults.take_dropped_response(name):
                self.injector.record("drop_response", f"error reply to {name} swallowed")
                return
            self._error(conn, response_name, rid, exc)
            return
        except Exception:  # a bug in one handler must not take the connection down
            log.exception("handler of %s failed (seed=%s)", name, self.seed)
            self._error(
                conn, response_name, rid, SimError(INTERNAL, f"internal error while handling '{name}'")
            )
            return
        if self.faults.take_dropped_response(name):
            self.injector.record("drop_response", f"reply to {name} swallowed after executing it")
            return
        for reply_name, payload in reply if isinstance(reply, list) else [reply]:
            self.send(conn, reply_frame(reply_name, rid, payload))

    def _error(self, conn: Connection, name: str, rid: str | None, error: SimError) -> None:
        payload = error.payload()
        if name == "result":  # the community client reads msg.success of every result frame
            payload["success"] = False
        self.send(conn, reply_frame(name, rid, payload, error.status))

    def _subscription(self, conn: Connection, subscribe: bool, msg: Any, rid: str | None) -> None:
        verb = "subscribe" if subscribe else "unsubscribe"
        if conn.user is None:
            self._error(conn, "result", rid, SimError(NOT_AUTHENTICATED, f"not authenticated: cannot {verb}"))
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("name"), str):
            self._error(
                conn, "result", rid, SimError(BAD_REQUEST, f"{verb}Message needs msg {{name, params}}")
            )
            return
        spec = catalog.subscription(msg["name"])
        if spec is None:
            self._error(conn, "result", rid, SimError(UNKNOWN_NAME, f"unknown subscription '{msg['name']}'"))
            return
        params = msg.get("params")
        filters = params.get("routingFilters") if isinstance(params, dict) else None
        if filters is not None and not isinstance(filters, dict):
            self._error(conn, "result", rid, SimError(BAD_REQUEST, "routingFilters must be an object"))
            return
        entry = SubscriptionEntry(spec, normalise_filters(spec, filters))
        if subscribe:
            problem = self._check_private_filters(conn.user, entry)
            if problem is not None:
                self._error(conn, "result", rid, SimError(FORBIDDEN, problem))
                return
            self.hub.subscribe(conn, entry)
        else:
            self.hub.unsubscribe(conn, entry)
        self.send(conn, reply_frame("result", rid, Result(success=True)))

    @staticmethod
    def _check_private_filters(user: User, entry: SubscriptionEntry) -> str | None:
        filters = dict(entry.filters)
        user_id = filters.get("user_id")
        if user_id is not None and user_id != user.user_id:
            return "user_id does not match the authenticated user"
        balance_id = filters.get("user_balance_id")
        if balance_id is not None and (not isinstance(balance_id, int) or user.balance(balance_id) is None):
            return f"balance {balance_id} does not belong to this user"
        return None

    # -- pushes ------------------------------------------------------------------------

    def publish(self, events: Iterable[LedgerEvent]) -> None:
        """Push what ledger events changed (balances, positions, orders) to their owners."""
        for event in events:
            if isinstance(event, BalanceUpdated):
                balance = event.user.balance(event.balance_id)
                if balance is None:
                    continue
                payload: Any = BalanceChanged(current_balance=balance.model(), user_id=event.user.user_id)
                fields: dict[str, Any] = {"user_id": event.user.user_id}
                self.push("balance-changed", payload, fields, event.user)
            elif isinstance(event, PositionUpdated):
                position = event.position
                fields = {
                    "user_id": event.user.user_id,
                    "user_balance_id": position.user_balance_id,
                    "instrument_type": position.instrument_type,
                }
                self.push("position-changed", position, fields, event.user)
            elif isinstance(event, OrderUpdated):
                fields = {"user_id": event.user.user_id, "instrument_type": event.order.instrument_type}
                self.push("order-changed", event.order, fields, event.user)

    def push_legacy(self, name: str, payload: Any, user: User) -> None:
        """Push, unsubscribed, to the user's connections that speak the community client's dialect."""
        data: bytes | None = None
        for conn in list(self.hub.connections.values()):
            if conn.user is user and conn.legacy:
                data = data or push_frame(name, "binary-options", payload)
                self.send(conn, data)

    def push(self, name: str, payload: Any, fields: dict[str, Any], user: User | None = None) -> None:
        """Push to every subscription of ``name`` whose filters match ``fields``, encoded once."""
        data: bytes | None = None
        for conn, entry in self.hub.subscribers(
            name, fields, user if name in _PRIVATE_PUSHES else None, _PUSH_SERVICES.get(name)
        ):
            if data is None:
                data = push_frame(name, entry.spec.microservice_name, payload)
            self.send(conn, data)

    # -- what the generic RPC handlers ask ----------------------------------------------

    def set_commission(self, active_id: int, commission: float) -> None:
        """Change an active's commission; requests with the old payout now get 4117."""
        self.state.set_commission(active_id, commission)

    def balance_changed(self, user: User, balance_id: int) -> None:
        """Push ``balance-changed`` for one of the user's balances."""
        self.publish([BalanceUpdated(user, balance_id)])

    def open_option(self, user: User, body: OpenOptionRequest, now: float) -> Option:
        """Place an option with the product that trades its ``option_type_id`` (4501 if none)."""
        self.state.require_active(body.active_id)
        opener = self._openers.get(body.option_type_id)
        if opener is None:
            served = ", ".join(str(t) for t in sorted(self._openers))
            raise SimError(
                NOT_SUPPORTED,
                f"option type {body.option_type_id} is not supported by the simulator (served: {served})",
            )
        return opener(user, body, now)

    def _community_frame(self, conn: Connection, name: str, rid: str | None, now: float) -> None:
        """``api_option_init_all``: the turbo and binary actives, as ``{isSuccessful, result}``."""
        conn.legacy = True
        reply = catalog.COMMUNITY_FRAMES[name]
        if conn.user is None:
            self._error(conn, reply, rid, SimError(NOT_AUTHENTICATED, "not authenticated"))
            return
        data = self.initialization_data(now)
        result = {"turbo": data.turbo, "binary": data.binary}
        self.send(conn, reply_frame(reply, rid, {"isSuccessful": True, "result": result}))

    def feature_statuses(self) -> dict[str, str]:
        """``features.get-features``: each product feature, ``enabled`` or ``disabled``."""
        enabled = {feature for product in self.products for feature in product.features}
        known = (*_KNOWN_FEATURES, *sorted(enabled - set(_KNOWN_FEATURES)))
        return {name: "enabled" if name in enabled else "disabled" for name in known}

    def initialization_data(self, now: float) -> InitializationData:
        """Every product's groups; a group no product trades lists the actives, untradable."""
        groups: dict[str, InstrumentGroup] = {}
        for product in self.products:
            groups.update(product.init_groups(now))
        listed_only = {"blitz": None, "turbo": (60, 120, 180, 240, 300), "binary": (900, 1800, 3600)}
        for group, expirations in listed_only.items():
            if group not in groups:
                actives = {
                    str(spec.id): self.state.init_active(spec, now, expirations or spec.expirations)
                    for spec in self.model.actives
                }
                groups[group] = InstrumentGroup(actives=actives)
        return InitializationData(blitz=groups["blitz"], turbo=groups["turbo"], binary=groups["binary"])

    # -- time ------------------------------------------------------------------------

    def advance_to(self, target: float, *, exact: bool = True) -> None:
        """Run everything due up to ``target``.

        ``exact`` steps through every push instant (the manual clock: each forming
        candle is pushed several times per second); otherwise one step lands on
        ``target`` (the real clock), still closing every candle and settling every
        option that fell due in between.
        """
        if target < self.now:
            return
        interval = self.config.push_interval
        last_tick = math.floor(target / interval)
        if exact:
            while self._push_tick < last_tick:
                self._push_tick += 1
                self._step(self._push_tick * interval)
        else:
            self._push_tick = last_tick
        if target > self._stepped_to:  # a push instant just stepped is not stepped twice
            self._step(target)

    def _step(self, t: float) -> None:
        self.now = t
        self._stepped_to = t
        for product in self.products:
            product.step(t)
        self.positions_state.step(t)
        self.injector.release_due(t)
        self.feed.push_prices(t)
        if t >= self._next_timesync:
            self._next_timesync = t + self.config.timesync_interval
            if t >= self.faults.silent_until:
                frame = encode_out("timeSync", int(t * 1000))
                self.send_each(self.hub.connections.values(), (frame,))
        self.feed.push_changes(t)
        self.injector.draw_random()

    # -- faults (the Simulator's controls) -----------------------------------------------

    def drop_connections(self, user_id: int | None = None) -> int:
        """Close every connection (or one user's) now; returns how many."""
        return self.injector.drop_connections(user_id)

    def send_malformed(self) -> None:
        """Send a frame that is not JSON to every connection."""
        self.injector.send_malformed()

    def delay_frames(self, count: int, seconds: float) -> None:
        """Hold the next ``count`` outgoing frames for ``seconds``."""
        self.injector.delay_frames(count, seconds)

    def drop_responses(self, rpc: str | None = None, count: int = 1) -> None:
        """Execute the next ``count`` requests (of ``rpc``, or any) but swallow their replies."""
        self.injector.drop_responses(rpc, count)

    def ignore_requests(self, rpc: str | None = None, count: int = 1) -> None:
        """Ignore the next ``count`` requests (of ``rpc``, or any): neither executed nor answered."""
        self.injector.ignore_requests(rpc, count)

    def silence(self, seconds: float) -> None:
        """Stop sending ``timeSync`` for ``seconds`` of simulated time."""
        self.injector.silence(seconds)

    def refuse_connections(self, seconds: float) -> None:
        """Refuse new connections for ``seconds`` of simulated time."""
        self.injector.refuse_connections(seconds)
