"""The simulator's engine: frames in, replies and pushes out, time moved by the caller.

Like the client's protocol core, the engine does no I/O and reads no clock: the
server layer hands it each received frame with the current time, and calls
:meth:`Engine.advance_to` to run everything due (candle pushes, settlements,
heartbeats, mood changes, schedule changes, faults) up to a time.
"""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

import msgspec

from iqwire.errors import ProtocolError
from iqwire.models import (
    Active,
    BalanceChanged,
    Currency,
    InitActive,
    InitializationData,
    InitOption,
    InitProfit,
    InstrumentGroup,
    InstrumentsList,
    InstrumentStatus,
    OpenOptionRequest,
    Option,
    Quote,
    Result,
    TradersMood,
)
from iqwire.protocol import catalog, decode_frame
from iqwire.sim.accounts import Accounts, User
from iqwire.sim.actives import ActiveSpec, is_open, schedule
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
from iqwire.sim.faults import FaultState, RandomFaults
from iqwire.sim.frames import encode_out, push_frame, reply_frame
from iqwire.sim.hub import Connection, Hub, SubscriptionEntry, normalise_filters
from iqwire.sim.ledger import BalanceUpdated, Ledger, LedgerEvent, OrderUpdated, PositionUpdated
from iqwire.sim.ledger import Quote as LedgerQuote
from iqwire.sim.prices import PriceModel, UnknownActive
from iqwire.sim.rpc import HANDLERS, is_unsupported

__all__ = ["Engine"]

log = logging.getLogger("iqwire.sim")

_PRIVATE_PUSHES = frozenset({"position-changed", "order-changed", "balance-changed", "profile-changed"})
#: Pushes whose name another service shares: only subscriptions to this service get them.
_PUSH_SERVICES = {"balance-changed": "balances"}


def _hash_unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (stable across runs)."""
    digest = uuid.uuid5(uuid.NAMESPACE_OID, ":".join(map(str, parts))).int
    return (digest % 1_000_000_007) / 1_000_000_007


class Engine:
    """Everything the simulated platform knows, and how it answers."""

    def __init__(self, seed: int, config: SimConfig, start: float) -> None:
        self.seed = seed
        self.config = config
        self.model = PriceModel(seed)
        self.accounts = Accounts(config.accounts)
        self.ledger = Ledger(expiry_tolerance=config.expiry_tolerance)
        self.hub = Hub()
        self.faults = FaultState()
        self.random_faults = RandomFaults(config.faults, seed) if config.faults else None
        self.user_settings: dict[int, dict[str, Any]] = {}
        self.commissions: dict[int, float] = {spec.id: spec.commission for spec in self.model.actives}
        self.currencies: dict[str, Currency] = _currencies()
        self.now = start
        self._stepped_to = start
        self._push_tick = math.floor(start / config.push_interval)
        self._next_timesync = start + config.timesync_interval
        self._mood_slot = math.floor(start / config.mood_interval)
        self._commission_slot = math.floor(start / config.commission_change_interval)
        # Per stream: the ``from`` of the candle pushed last, and whether it was complete.
        self._candle_from: dict[tuple[int, int], tuple[int, bool] | None] = {}
        self._open_state = {spec.id: is_open(spec, start) for spec in self.model.actives}
        self._held: dict[int, list[tuple[float, bytes]]] = {}
        self.stats = {"frames_in": 0, "frames_out": 0, "malformed_in": 0, "faults": 0}

    # -- connections -------------------------------------------------------------

    def connect(self, conn: Connection, now: float) -> None:
        """A client connected: register it and greet it with ``timeSync``."""
        self.hub.add(conn)
        self._send(conn, encode_out("timeSync", int(now * 1000)))

    def disconnect(self, conn: Connection) -> None:
        """A client left: its subscriptions go with it."""
        self.hub.remove(conn)

    def refusing_connections(self, now: float) -> bool:
        """Whether new connections are refused now (a fault)."""
        return now < self.faults.refuse_until

    def _send(self, conn: Connection, data: bytes) -> None:
        if self.faults.delay_frames > 0:
            self.faults.delay_frames -= 1
            conn_held = self._held.setdefault(conn.conn_id, [])
            conn_held.append((self.now + self.faults.delay_seconds, data))
            return
        self.stats["frames_out"] += 1
        conn.send(data)

    def _release_held(self, now: float) -> None:
        for conn_id in list(self._held):
            conn = self.hub.connections.get(conn_id)
            frames = self._held[conn_id]
            due = [f for f in frames if f[0] <= now]
            self._held[conn_id] = [f for f in frames if f[0] > now]
            if not self._held[conn_id]:
                del self._held[conn_id]
            if conn is not None:
                for _, data in due:
                    self.stats["frames_out"] += 1
                    conn.send(data)

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
            self._send(conn, encode_out("error", {"message": exc.message}, status=BAD_REQUEST))
            return
        rid = frame.request_id
        if frame.name == "authenticate":
            self._authenticate(conn, frame.msg, rid)
        elif frame.name == "ssid":
            self._legacy_ssid(conn, frame.msg)
        elif frame.name == "setOptions":
            if isinstance(frame.msg, dict):
                conn.send_results = bool(frame.msg.get("sendResults", conn.send_results))
            self._send(conn, reply_frame("result", rid, Result(success=True)))
        elif frame.name == "sendMessage":
            self._send_message(conn, frame.msg, rid, now)
        elif frame.name in ("subscribeMessage", "unsubscribeMessage"):
            self._subscription(conn, frame.name == "subscribeMessage", frame.msg, rid)
        elif frame.name == "heartbeat":
            pass  # the web client's own heartbeat needs no answer
        else:
            error = {"message": f"unknown message name {frame.name!r}"}
            self._send(conn, reply_frame("error", rid, error, UNKNOWN_NAME))

    def _authenticate(self, conn: Connection, msg: Any, rid: str | None) -> None:
        ssid = msg.get("ssid") if isinstance(msg, dict) else None
        user = self.accounts.user_for_ssid(ssid) if isinstance(ssid, str) else None
        if user is None:
            conn.user = None
            self._send(conn, encode_out("authenticated", False, request_id=rid))
            return
        conn.user, conn.ssid = user, ssid
        session = str(uuid.uuid4())
        self._send(conn, encode_out("authenticated", True, request_id=rid, client_session_id=session))
        self._send(conn, encode_out("front", "ws01.sim.iqwire.local", session_id=session))

    def _legacy_ssid(self, conn: Connection, msg: Any) -> None:
        user = self.accounts.user_for_ssid(msg) if isinstance(msg, str) else None
        conn.user, conn.ssid = user, (msg if user else None)
        payload: Any = False if user is None else user.profile()
        self._send(conn, encode_out("profile", payload))

    def _send_message(self, conn: Connection, msg: Any, rid: str | None, now: float) -> None:
        if not isinstance(msg, dict) or not isinstance(msg.get("name"), str):
            self._error(
                conn, "error", rid, SimError(BAD_REQUEST, "sendMessage needs msg {name, version, body}")
            )
            return
        name: str = msg["name"]
        if self.faults.take_ignored_request(name):
            self._fault("ignore_request", f"request {name} ignored: neither executed nor answered")
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
        handler = HANDLERS.get(name)
        if handler is None:
            if spec is not None or is_unsupported(name):
                error = SimError(NOT_SUPPORTED, f"'{name}' is not supported by the simulator")
            else:
                error = SimError(UNKNOWN_NAME, f"unknown RPC '{name}'")
            self._error(conn, response_name, rid, error)
            return
        version = msg.get("version")
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
        if name == "binary-options.open-option" and conn.send_results:
            self._send(conn, reply_frame("result", rid, Result(success=True)))
        try:
            reply_name, payload = handler(self, conn.user, body, now)
        except SimError as exc:
            if self.faults.take_dropped_response(name):
                self._fault("drop_response", f"error reply to {name} swallowed")
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
            self._fault("drop_response", f"reply to {name} swallowed after executing it")
            return
        self._send(conn, reply_frame(reply_name, rid, payload))

    def _error(self, conn: Connection, name: str, rid: str | None, error: SimError) -> None:
        self._send(conn, reply_frame(name, rid, error.payload(), error.status))

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
        self._send(conn, reply_frame("result", rid, Result(success=True)))

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

    # -- business used by the RPC handlers --------------------------------------

    def require_active(self, active_id: int) -> ActiveSpec:
        """The active's spec, or a 4004 error for an unknown id."""
        try:
            return self.model.spec(active_id)
        except UnknownActive:
            raise SimError(UNKNOWN_NAME, f"unknown active {active_id}") from None

    def mood(self, active_id: int, now: float) -> float:
        """Traders' mood (share of call) for an active at a time: seeded, in [0.2, 0.8]."""
        slot = math.floor(now / self.config.mood_interval)
        return round(0.2 + 0.6 * _hash_unit(self.seed, "mood", active_id, slot), 2)

    def open_option(self, user: User, body: OpenOptionRequest, now: float) -> Option:
        """Place a blitz option and push what it changed."""
        spec = self.require_active(body.active_id)
        quote = LedgerQuote(
            active_id=spec.id,
            ticker=spec.name,
            is_open=lambda t: is_open(spec, t),
            price_at=lambda t: self.model.tick(spec.id, t),
            commission=self.commissions[spec.id],
            expirations=spec.expirations,
            min_amount=spec.min_amount,
            max_amount=spec.max_amount,
        )
        option, events = self.ledger.open_option(user, body, quote, now)
        self._publish(events)
        return option

    def set_commission(self, active_id: int, commission: float) -> None:
        """Change an active's commission; requests with the old payout now get 4117."""
        self.require_active(active_id)
        self.commissions[active_id] = commission
        log.info("commission of active %s is now %s%% (seed=%s)", active_id, commission, self.seed)

    def balance_changed(self, user: User, balance_id: int) -> None:
        """Push ``balance-changed`` for one of the user's balances."""
        self._publish([BalanceUpdated(user, balance_id)])

    def _publish(self, events: list[LedgerEvent]) -> None:
        for event in events:
            if isinstance(event, BalanceUpdated):
                balance = event.user.balance(event.balance_id)
                if balance is None:
                    continue
                payload: Any = BalanceChanged(current_balance=balance.model(), user_id=event.user.user_id)
                fields: dict[str, Any] = {"user_id": event.user.user_id}
                self._push("balance-changed", payload, fields, event.user)
            elif isinstance(event, PositionUpdated):
                position = event.position
                fields = {
                    "user_id": event.user.user_id,
                    "user_balance_id": position.user_balance_id,
                    "instrument_type": position.instrument_type,
                }
                self._push("position-changed", position, fields, event.user)
            elif isinstance(event, OrderUpdated):
                fields = {"user_id": event.user.user_id, "instrument_type": event.order.instrument_type}
                self._push("order-changed", event.order, fields, event.user)

    def _push(self, push_name: str, payload: Any, fields: dict[str, Any], user: User | None = None) -> None:
        data: bytes | None = None
        for conn, entry in self.hub.subscribers(
            push_name, fields, user if push_name in _PRIVATE_PUSHES else None, _PUSH_SERVICES.get(push_name)
        ):
            if data is None:
                data = push_frame(push_name, entry.spec.microservice_name, payload)
            self._send(conn, data)

    def initialization_data(self, now: float) -> InitializationData:
        """Every active, under blitz (tradable), turbo and binary (listed, not tradable here)."""
        blitz = {str(spec.id): self._init_active(spec, now, spec.expirations) for spec in self.model.actives}
        turbo = {
            str(spec.id): self._init_active(spec, now, (60, 120, 180, 240, 300))
            for spec in self.model.actives
        }
        binary = {
            str(spec.id): self._init_active(spec, now, (900, 1800, 3600)) for spec in self.model.actives
        }
        return InitializationData(
            blitz=InstrumentGroup(actives=blitz),
            turbo=InstrumentGroup(actives=turbo),
            binary=InstrumentGroup(actives=binary),
        )

    def _init_active(self, spec: ActiveSpec, now: float, expirations: tuple[int, ...]) -> InitActive:
        return InitActive(
            id=spec.id,
            name=f"front.{spec.name}",
            ticker=spec.name,
            description=spec.description,
            image=f"/img/actives/{spec.ticker.lower()}.png",
            enabled=True,
            is_suspended=not is_open(spec, now),
            schedule=schedule(spec, now - 86_400, now + 7 * 86_400),
            option=InitOption(
                profit=InitProfit(commission=self.commissions[spec.id]),
                expiration_times=list(expirations),
                count=len(expirations),
            ),
            deadtime=0,
            minimal_bet=spec.min_amount,
            maximal_bet=spec.max_amount,
            precision=spec.precision,
        )

    def active_model(self, active_id: int, now: float) -> Active:
        """The ``active`` payload of one active."""
        spec = self.require_active(active_id)
        return Active(
            id=spec.id,
            name=spec.name,
            description=spec.description,
            ticker=spec.ticker,
            image=f"/img/actives/{spec.ticker.lower()}.png",
            is_otc=spec.is_otc,
            is_suspended=not is_open(spec, now),
            enabled=True,
            precision=spec.precision,
            pip_scale=spec.precision,
            spread_plus=spec.spread / 2,
            spread_minus=spec.spread / 2,
            type=spec.kind,
            schedule=schedule(spec, now - 86_400, now + 7 * 86_400),
        )

    def instrument_statuses(self, now: float) -> InstrumentsList:
        """The ``instruments-list`` payload: every active's status now."""
        items = [
            InstrumentStatus(
                active_id=spec.id, name=spec.name, is_suspended=False, is_open=is_open(spec, now)
            )
            for spec in self.model.actives
        ]
        return InstrumentsList(type="blitz-option", items=items)

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
        self._publish(self.ledger.settle_due(t, lambda active_id, at: self.model.tick(active_id, at)))
        if self._held:
            self._release_held(t)
        self._push_candles(t)
        self._push_quotes(t)
        if t >= self._next_timesync:
            self._next_timesync = t + self.config.timesync_interval
            if t >= self.faults.silent_until:
                frame = encode_out("timeSync", int(t * 1000))
                for conn in list(self.hub.connections.values()):
                    self._send(conn, frame)
        self._push_moods(t)
        self._push_instrument_changes(t)
        self._change_commissions(t)
        if self.random_faults is not None:
            self._random_faults(t)

    def _push_candles(self, t: float) -> None:
        for key, conns in list(self.hub.candle_streams().items()):
            active_id, size = key
            current = self.model.candle_at(active_id, size, t)
            previous = self._candle_from.get(key)
            frames: list[bytes] = []
            # The candle pushed last ended: push it complete, unless its last push already was.
            if previous is not None and not previous[1] and (current is None or current.start != previous[0]):
                closed = self.model.candles(active_id, size, previous[0], previous[0] + 1)
                if closed:
                    frames.append(push_frame("candle-generated", "quotes", closed[0]))
            if current is not None:
                frames.append(push_frame("candle-generated", "quotes", current))
            self._candle_from[key] = None if current is None else (current.start, current.is_closed)
            for conn in list(conns):
                for data in frames:
                    self._send(conn, data)
        for key in [k for k in self._candle_from if k not in self.hub.candle_streams()]:
            del self._candle_from[key]

    def _push_quotes(self, t: float) -> None:
        for active_id in self.hub.keys_for("quote-generated", "active_id"):
            if not isinstance(active_id, int):
                continue
            try:
                spec = self.model.spec(active_id)
            except UnknownActive:
                continue
            price = self.model.tick(active_id, t)
            if price is None:
                continue
            half = spec.spread / 2
            quote = Quote(
                active_id=active_id,
                time=int(t * 1000),
                value=price,
                ask=round(price + half, spec.precision),
                bid=round(price - half, spec.precision),
                phase="T",
            )
            self._push("quote-generated", quote, {"active_id": active_id})

    def _push_moods(self, t: float) -> None:
        slot = math.floor(t / self.config.mood_interval)
        if slot == self._mood_slot:
            return
        previous = self._mood_slot
        self._mood_slot = slot
        for asset_id in self.hub.keys_for("traders-mood-changed", "asset_id"):
            if not isinstance(asset_id, int) or asset_id not in self.commissions:
                continue
            value = self.mood(asset_id, t)
            if value == self.mood(asset_id, previous * self.config.mood_interval):
                continue
            mood = TradersMood(
                asset_id=asset_id, value=value, instrument="turbo-option", instrument_type="turbo-option"
            )
            self._push(
                # Any instrument type's subscribers: the mood is the asset's, whatever the product.
                "traders-mood-changed",
                mood,
                {"asset_id": asset_id},
            )

    def _push_instrument_changes(self, t: float) -> None:
        changed = False
        for spec in self.model.actives:
            state = is_open(spec, t)
            if state != self._open_state[spec.id]:
                self._open_state[spec.id] = state
                changed = True
                log.info("active %s (%s) is now %s", spec.id, spec.name, "open" if state else "closed")
                self._push("active", self.active_model(spec.id, t), {"id": spec.id})
        if changed:
            self._push("instruments-list", self.instrument_statuses(t), {"type": "blitz-option"})

    def _change_commissions(self, t: float) -> None:
        if not self.config.commission_changes:
            return
        slot = math.floor(t / self.config.commission_change_interval)
        if slot == self._commission_slot:
            return
        self._commission_slot = slot
        for spec in self.model.actives:
            draw = _hash_unit(self.seed, "commission", spec.id, slot)
            if draw < 0.3:
                new = max(5.0, min(30.0, spec.commission + round((draw / 0.3) * 6 - 3)))
                if new != self.commissions[spec.id]:
                    self.set_commission(spec.id, new)

    # -- faults ----------------------------------------------------------------------

    def _fault(self, kind: str, detail: str) -> None:
        self.stats["faults"] += 1
        log.warning("fault %s: %s (seed=%s, t=%.3f)", kind, detail, self.seed, self.now)

    def drop_connections(self, user_id: int | None = None) -> int:
        """Close every connection (or one user's) now; returns how many."""
        victims = [
            c
            for c in self.hub.connections.values()
            if user_id is None or (c.user and c.user.user_id == user_id)
        ]
        for conn in victims:
            conn.close()
        self._fault("disconnect", f"{len(victims)} connection(s) dropped")
        return len(victims)

    def send_malformed(self) -> None:
        """Send a frame that is not JSON to every connection."""
        for conn in list(self.hub.connections.values()):
            self._send(conn, b'{"name": "candle-generated", "msg": {"id": ')
        self._fault("malformed", "a truncated frame sent to every connection")

    def delay_frames(self, count: int, seconds: float) -> None:
        """Hold the next ``count`` outgoing frames for ``seconds`` (later frames overtake them)."""
        self.faults.delay_frames = count
        self.faults.delay_seconds = seconds
        self._fault("delay", f"next {count} frame(s) held {seconds:.2f}s")

    def drop_responses(self, rpc: str | None = None, count: int = 1) -> None:
        """Execute the next ``count`` requests (of ``rpc``, or any) but swallow their replies."""
        if rpc is None:
            self.faults.drop_any_responses += count
        else:
            self.faults.drop_responses[rpc] = self.faults.drop_responses.get(rpc, 0) + count
        self._fault("drop_response", f"next {count} repl(ies) to {rpc or 'any RPC'} will be swallowed")

    def ignore_requests(self, rpc: str | None = None, count: int = 1) -> None:
        """Ignore the next ``count`` requests (of ``rpc``, or any): neither executed nor answered."""
        if rpc is None:
            self.faults.ignore_any_requests += count
        else:
            self.faults.ignore_requests[rpc] = self.faults.ignore_requests.get(rpc, 0) + count
        self._fault("ignore_request", f"next {count} request(s) to {rpc or 'any RPC'} will be ignored")

    def silence(self, seconds: float) -> None:
        """Stop sending ``timeSync`` for ``seconds`` of simulated time."""
        self.faults.silent_until = self.now + seconds
        self._fault("silence", f"no timeSync for {seconds:.1f}s")

    def refuse_connections(self, seconds: float) -> None:
        """Refuse new connections for ``seconds`` of simulated time."""
        self.faults.refuse_until = self.now + seconds
        self._fault("refuse", f"new connections refused for {seconds:.1f}s")

    def _random_faults(self, t: float) -> None:
        assert self.random_faults is not None
        for kind in self.random_faults.draw():
            if kind == "disconnect":
                self.drop_connections()
            elif kind == "delay":
                self.delay_frames(
                    int(self.random_faults.uniform(1, 10)), self.random_faults.uniform(0.1, 2.0)
                )
            elif kind == "drop_response":
                self.drop_responses(None, 1)
            elif kind == "malformed":
                self.send_malformed()
            elif kind == "silence":
                self.silence(self.random_faults.uniform(5, 70))
            elif kind == "refuse":
                self.refuse_connections(self.random_faults.uniform(1, 5))
            elif kind == "ignore_request":
                self.ignore_requests(None, 1)


def _currencies() -> dict[str, Currency]:
    def currency(cid: int, name: str, symbol: str, rate_usd: float, minor: int = 2) -> Currency:
        return Currency(
            id=cid,
            name=name,
            description=name,
            symbol=symbol,
            mask=f"{symbol}%s",
            unit=1,
            rate=rate_usd,
            rate_usd=rate_usd,
            min_deal_amount=1,
            max_deal_amount=20_000,
            minor_units=minor,
            is_visible=True,
            is_tradable=True,
            is_crypto=False,
            is_inout=True,
        )

    return {
        "USD": currency(1, "USD", "$", 1.0),
        "EUR": currency(2, "EUR", "€", 1.08),
        "BRL": currency(6, "BRL", "R$", 0.2),
    }
