"""The client's connection: one socket at a time, one reader, reconnects, requests.

The reader (``reader.py``) feeds the sans-I/O session and dispatches its events: a
reply resolves the future waiting under its ``request_id`` (its timeout is in
``deadlines.py``), a push goes to the subscription router. A supervisor watches the
reader and the heartbeat, and on any loss fails the pending requests with
``ConnectionLost`` (never re-sending them), backs off with jitter, logs in again if
the SSID is refused, re-authenticates, re-sends ``setOptions`` and replays subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from iqwire.client.clock import ServerClock
from iqwire.client.deadlines import Deadlines
from iqwire.client.observers import ReconnectHooks, StateFeed
from iqwire.client.reader import read_frames
from iqwire.client.replies import payload_of
from iqwire.client.state import ConnectionState
from iqwire.client.streams import Stream
from iqwire.client.transports import Transport, TransportFactory, transport_factory
from iqwire.errors import (
    AuthError,
    ConnectionLost,
    IqwireError,
    LocalProtocolError,
    NotConnected,
    ProtocolError,
    RequestTimeout,
    ServerError,
    TLSError,
)
from iqwire.protocol import (
    Authenticated,
    Front,
    MalformedFrame,
    Push,
    Pushes,
    Response,
    ResultAck,
    Session,
    TimeSync,
    catalog,
)
from iqwire.protocol.catalog import RpcSpec
from iqwire.transport import TwoFactor, http_login

if TYPE_CHECKING:
    from iqwire.store.recording import FrameRecorder

__all__ = ["Connection", "RequestGuard"]

log = logging.getLogger("iqwire.client")
frames_log = logging.getLogger("iqwire.client.frames")

#: Consecutive authentication failures after which the client gives up.
MAX_AUTH_FAILURES = 5

Body = TypeVar("Body")
Reply = TypeVar("Reply")

#: Checks an RPC that moves money before it is sent (raises to refuse it): ``await guard(spec, body)``.
RequestGuard = Callable[[RpcSpec[Any, Any], Any], Awaitable[None]]


def _ignore_push(push: Push) -> None:
    """The default ``on_push``: a connection without subscribers drops pushes."""


class Connection:
    """One logical connection to the server: login, socket, reader, reconnects, requests.

    It is composed, not subclassed: what happens to pushes, losses and reconnects
    is given as callbacks. ``on_push(push)`` gets every server push on the reader's
    hot path (it must not block), and ``on_pushes(pushes)`` a run of them decoded from
    one batch (by default each of its pushes goes to ``on_push``); ``on_lost()`` runs when the connection dropped and
    a reconnect begins; ``on_reconnect()`` (async) after each successful reconnect;
    ``on_failed(error)`` when the connection gave up for good; ``guard(spec, body)``
    (async) before every RPC the catalog marks as moving money.

    Example::

        connection = Connection(ssid=ssid, ws_url=url, login_url=login, on_push=print)
        await connection.connect()
        profile = await connection.call(catalog.GET_PROFILE, EmptyBody())
        await connection.close()
    """

    def __init__(
        self,
        *,
        email: str | None,
        password: str | None,
        ssid: str | None,
        ws_url: str,
        login_url: str,
        two_factor: TwoFactor | None,
        request_timeout: float,
        heartbeat_timeout: float,
        reconnect: bool,
        reconnect_delay: tuple[float, float],
        ssl_context: ssl.SSLContext | None,
        record_to: str | Path | None = None,
        transport: str | TransportFactory = "websockets",
        on_push: Callable[[Push], None] = _ignore_push,
        on_pushes: Callable[[Pushes], None] | None = None,
        on_lost: Callable[[], None] | None = None,
        on_reconnect: Callable[[], Awaitable[None]] | None = None,
        on_failed: Callable[[BaseException], None] | None = None,
        guard: RequestGuard | None = None,
    ) -> None:
        self._open_transport = transport_factory(transport)
        self._on_push = on_push
        self._on_pushes = on_pushes if on_pushes is not None else self._push_each
        self._on_lost = on_lost
        self._on_failed = on_failed
        self._guard = guard
        self._email = email
        self._password = password
        self._ssid = ssid
        self.ws_url = ws_url
        self.login_url = login_url
        self._two_factor = two_factor
        self.request_timeout = request_timeout
        self.heartbeat_timeout = heartbeat_timeout
        self._reconnect_enabled = reconnect
        self._reconnect_delay = reconnect_delay
        self._ssl_context = ssl_context
        self._session = Session()
        self._transport: Transport | None = None
        self._reader: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._deadlines = Deadlines()
        self._auth_waiter: asyncio.Future[Authenticated] | None = None
        self._ready = asyncio.Event()
        self._gave_up = asyncio.Event()
        self._closing = False
        self._states = StateFeed()
        self._reconnect_hooks = ReconnectHooks()
        self.clock = ServerClock()
        self.server_name: str | None = None
        self.reconnects = 0
        self._recorder: FrameRecorder | None = None
        if record_to is not None:
            from iqwire.store.recording import FrameRecorder

            self._recorder = FrameRecorder(record_to, secrets=lambda: (self._ssid, self._password))
        if on_reconnect is not None:
            self._reconnect_hooks.add(on_reconnect)

    def _push_each(self, pushes: Pushes) -> None:
        on_push = self._on_push
        for push in pushes.pushes():
            on_push(push)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ws_url={self.ws_url!r}, state={self.state.value})"

    @property
    def recorder(self) -> FrameRecorder | None:
        """The frame recorder of ``record_to=``, if any."""
        return self._recorder

    @property
    def reconnect_enabled(self) -> bool:
        """Whether a lost connection is re-established automatically."""
        return self._reconnect_enabled

    # -- state ---------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        """The connection's current :class:`ConnectionState`."""
        return self._states.state

    def _set_state(self, state: ConnectionState) -> None:
        self._states.set(state)

    def connection_states(self) -> Stream[ConnectionState]:
        """A stream of every state change from now on."""
        return self._states.stream()

    def on_reconnect(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` after every successful reconnect (not the first connect)."""
        self._reconnect_hooks.add(hook)

    @property
    def ssid(self) -> str | None:
        """The session's SSID: a secret. Never log or print it; it logs in as you."""
        return self._ssid

    @property
    def is_connected(self) -> bool:
        """Whether requests can be sent now."""
        return self._ready.is_set()

    async def wait_connected(self, timeout: float) -> None:
        """Wait until the connection is (back) up.

        Raises:
            ConnectionLost: not connected within ``timeout``.
            NotConnected: the connection is closed (or was never opened).
            AuthError: the connection gave up re-authenticating.
        """
        await self._wait_ready(timeout)

    def server_time(self) -> float:
        """Server time in unix seconds, from ``timeSync``, monotonic between syncs."""
        return self.clock.now()

    # -- connect and close -----------------------------------------------------------

    async def connect(self) -> None:
        """Log in if needed, connect, authenticate, and start the supervisor.

        Raises:
            AuthError: the credentials or SSID were refused.
            ConnectionLost: the server could not be reached.
            TLSError: the server's certificate was refused.
        """
        self._closing = False
        self._gave_up.clear()
        self._set_state(ConnectionState.CONNECTING)
        try:
            await self._establish()
        except BaseException:
            await self._drop_transport()
            self._set_state(ConnectionState.DISCONNECTED)
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name="iqwire-supervisor")

    async def close(self) -> None:
        """Stop everything: the supervisor, the reader, the socket. Idempotent."""
        if self._closing and self.state is ConnectionState.CLOSED:
            return
        self._closing = True
        self._ready.clear()
        self._gave_up.set()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        await self._reconnect_hooks.cancel()
        await self._drop_transport()
        self._fail_waiting(ConnectionLost("the client was closed"))
        self._set_state(ConnectionState.CLOSED)
        self._states.end()
        if self._recorder is not None:
            self._recorder.close()

    async def _drop_transport(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()

    async def _login(self) -> None:
        if self._email is None or self._password is None:
            raise AuthError("no SSID and no email/password: give one or the other")
        result = await http_login(
            self.login_url,
            self._email,
            self._password,
            two_factor=self._two_factor,
            ssl_context=self._ssl_context,
        )
        self._ssid = result.ssid

    async def _establish(self) -> None:
        if self._ssid is None:
            await self._login()
        transport = await self._open_transport(self.ws_url, self._ssl_context)
        self._transport = transport
        self._reader = asyncio.create_task(self._read(transport), name="iqwire-reader")
        if not await self._authenticate():
            if self._email is None or self._password is None:
                raise AuthError("the SSID was refused by the server: log in again to get a new one")
            log.info("SSID refused; logging in again")
            await self._login()
            if not await self._authenticate():
                raise AuthError("the server refused the SSID of a fresh login")
        request_id, data = self._session.set_options()
        ack = await self._send_and_wait(request_id, data, "setOptions", self.request_timeout)
        if isinstance(ack, ResultAck) and not ack.success:
            raise ServerError(4000, f"setOptions refused: {ack.reason or 'no reason given'}")
        for sub_id, frame in self._session.replay_subscriptions():
            log.debug("re-subscribing %s", sub_id)
            if self._recorder is not None:
                self._recorder.frame("out", frame)
            await transport.send(frame)
        self._set_state(ConnectionState.CONNECTED)
        self._ready.set()

    async def _authenticate(self) -> bool:
        assert self._ssid is not None and self._transport is not None
        loop = asyncio.get_running_loop()
        self._auth_waiter = loop.create_future()
        frames_log.debug("> authenticate (ssid redacted)")
        data = self._session.authenticate(self._ssid)
        if self._recorder is not None:
            self._recorder.frame("out", data)
        await self._transport.send(data)
        try:
            event = await asyncio.wait_for(self._auth_waiter, self.request_timeout)
        except TimeoutError:
            raise RequestTimeout("no answer to authenticate", name="authenticate") from None
        finally:
            self._auth_waiter = None
        return event.ok

    # -- supervision and reconnects -----------------------------------------------------

    async def _supervise(self) -> None:
        failures = 0
        while not self._closing:
            await self._watch()
            if self._closing:
                return
            self._connection_lost()
            if not self._reconnect_enabled:
                self._set_state(ConnectionState.DISCONNECTED)
                self._fail_waiting(ConnectionLost("connection lost and reconnect is off"))
                return
            self._set_state(ConnectionState.RECONNECTING)
            attempt = 0
            while not self._closing:
                delay = self._backoff(attempt)
                attempt += 1
                await asyncio.sleep(delay)
                try:
                    await self._drop_transport()
                    self._session.connection_lost()
                    await self._establish()
                except TLSError as exc:
                    log.warning("reconnect: %s", exc)
                    self._give_up(ConnectionState.DISCONNECTED, exc)
                    return
                except AuthError as exc:
                    failures += 1
                    log.warning(
                        "reconnect: authentication failed (%d/%d): %s", failures, MAX_AUTH_FAILURES, exc
                    )
                    if failures >= MAX_AUTH_FAILURES:
                        await self._drop_transport()
                        error = AuthError("authentication failed for good; create a new client")
                        self._give_up(ConnectionState.AUTH_FAILED, error)
                        return
                except (ConnectionLost, RequestTimeout, ServerError, ProtocolError) as exc:
                    log.info("reconnect attempt %d failed: %s", attempt, exc)
                else:
                    failures = 0
                    self.reconnects += 1
                    log.info("reconnected (attempt %d)", attempt)
                    self._reconnect_hooks.run()
                    break

    def _give_up(self, state: ConnectionState, error: IqwireError) -> None:
        self._set_state(state)
        self._fail_waiting(error)
        if self._on_failed is not None:
            self._on_failed(error)
        self._gave_up.set()

    def _backoff(self, attempt: int) -> float:
        base, cap = self._reconnect_delay
        return float(min(cap, base * (2**attempt)) * (0.5 + random.random() / 2))

    async def _watch(self) -> None:
        """Return when the reader ends or the heartbeat has been silent too long."""
        reader = self._reader
        if reader is None:
            return
        check = max(0.05, min(5.0, self.heartbeat_timeout / 4))
        while True:
            done, _ = await asyncio.wait({reader}, timeout=check)
            if done:
                return
            silent = self.clock.seconds_since_sync()
            if silent is not None and silent > self.heartbeat_timeout:
                log.warning("no timeSync for %.1fs: treating the connection as dead", silent)
                await self._drop_transport()
                return

    def _connection_lost(self) -> None:
        self._ready.clear()
        lost = self._session.connection_lost()
        error = ConnectionLost(
            "the connection dropped before the answer arrived; the request was not re-sent"
        )
        for request_id in lost:
            future = self._waiting.pop(request_id, None)
            if future is not None and not future.done():
                future.set_exception(error)
        self._fail_waiting(error)
        if self._reconnect_enabled and self._on_lost is not None:
            self._on_lost()

    def _fail_waiting(self, error: IqwireError) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self._waiting.clear()
        if self._auth_waiter is not None and not self._auth_waiter.done():
            self._auth_waiter.set_exception(error)

    # -- the reader ------------------------------------------------------------------------

    async def _read(self, transport: Transport) -> None:
        await read_frames(
            transport,
            self._session,
            on_push=self._on_push,
            on_pushes=self._on_pushes,
            dispatch=self._dispatch,
            recorder=self._recorder,
        )

    def _dispatch(self, event: object) -> None:
        match event:
            case Response() | ResultAck():
                future = self._waiting.get(event.request_id)
                if future is None or future.done():
                    return
                if isinstance(event, ResultAck) and not event.final and event.success:
                    return  # an ACK before the typed reply: keep waiting
                future.set_result(event)
            case Push():
                self._on_push(event)
            case Pushes():
                self._on_pushes(event)
            case TimeSync():
                self.clock.sync(event.server_time_ms)
            case Authenticated():
                waiter = self._auth_waiter
                if waiter is not None and not waiter.done():
                    waiter.set_result(event)
                elif not event.ok:
                    log.warning("the server revoked the session's authentication")
            case MalformedFrame():
                log.warning("ignored a malformed frame from the server: %s", event.reason)
            case Front():
                self.server_name = event.server

    # -- requests --------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self.state is ConnectionState.AUTH_FAILED:
            raise AuthError("authentication failed for good; create a new client with valid credentials")
        if self.state in (ConnectionState.CLOSED, ConnectionState.DISCONNECTED):
            raise NotConnected(f"the client is {self.state.value}: connect it first")

    async def _wait_ready(self, timeout: float) -> None:
        if self._ready.is_set():
            return
        self._check_usable()
        ready = asyncio.ensure_future(self._ready.wait())
        gave_up = asyncio.ensure_future(self._gave_up.wait())
        try:
            await asyncio.wait({ready, gave_up}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            gave_up.cancel()
        if self._ready.is_set():
            return
        if self.state is ConnectionState.AUTH_FAILED:
            self._check_usable()
        if self.state in (ConnectionState.CLOSED, ConnectionState.DISCONNECTED):
            # It was waiting when the connection ended for good: lost, not misuse.
            raise ConnectionLost(f"the client was {self.state.value} while the request waited for it")
        raise ConnectionLost(f"not reconnected within {timeout:.1f}s")

    async def _send_and_wait(self, request_id: str, data: bytes, name: str, timeout: float) -> Any:
        transport = self._transport
        if transport is None:
            raise ConnectionLost("not connected", request_id=request_id, name=name)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting[request_id] = future
        timed_out = False
        try:
            if frames_log.isEnabledFor(logging.DEBUG):
                frames_log.debug("> %s", data[:500])
            if self._recorder is not None:
                self._recorder.frame("out", data)
            await transport.send(data)
            deadline = self._deadlines.add(loop, timeout, future)  # not a timer, a Timeout or a task each
            try:
                return await future
            finally:
                self._deadlines.release(deadline)
        except TimeoutError:
            timed_out = True
            raise RequestTimeout(
                f"no answer to '{name}' within {timeout:.1f}s", request_id=request_id, name=name
            ) from None
        except (ConnectionLost, AuthError) as exc:
            if exc.request_id is None:  # a shared error from _connection_lost/_fail_waiting
                raise type(exc)(exc.message, request_id=request_id, name=name) from exc
            raise
        finally:
            waited = self._waiting.pop(request_id, None) is not None
            if waited and (timed_out or future.cancelled() or not future.done()):
                self._session.forget(request_id)  # timed out or cancelled: stop waiting for it

    async def request(
        self, name: str, version: str | None = None, body: Any = None, *, timeout: float | None = None
    ) -> Any:
        """Send any RPC and return its payload (typed when the catalog knows it).

        An RPC that moves money (the catalog's ``money``) passes the guard first,
        whoever sends it. Prefer :meth:`call` with a catalog entry: it is typed.

        Example::

            payload = await connection.request("get-actives-index", "1.0", {})

        Raises:
            ServerError: status >= 4000 (:class:`PayoutChanged` for 4117), or a
                ``result`` with ``success: false``.
            RequestTimeout: no answer within ``timeout`` (default: the connection's).
            ConnectionLost: the connection dropped first; the request is not re-sent.
            NotConnected: the connection is not open (connect first).
            RemoteProtocolError: the reply did not have the expected shape.
            RealMoneyLocked: the guard refused to move real money.
        """
        spec = catalog.rpc(name)
        if spec is not None and spec.money is not None and self._guard is not None:
            await self._guard(spec, body)
        timeout = self.request_timeout if timeout is None else timeout
        if not self._ready.is_set():  # no coroutine made for the common case
            await self._wait_ready(timeout)
        request_id, data = self._session.request(name, version, body)
        event = await self._send_and_wait(request_id, data, name, timeout)
        return payload_of(event, name)

    def call(
        self,
        spec: RpcSpec[Body, Reply],
        body: Body,
        *,
        version: str | None = None,
        timeout: float | None = None,
    ) -> Coroutine[Any, Any, Reply]:
        """Send the RPC of a catalog entry (await it); the reply has the entry's type.

        Example::

            page = await connection.call(catalog.GET_CANDLES, GetCandlesBody(active_id=76, size=60))
            print(page.candles[-1].close)

        Raises:
            as :meth:`request`.
        """
        # request's own coroutine, not one more per RPC; the session typed the reply (or payload_of raised).
        return cast("Coroutine[Any, Any, Reply]", self.request(spec.name, version, body, timeout=timeout))

    async def subscribe(self, name: str, version: str | None, filters: dict[str, Any] | None) -> str:
        """Send a subscription and wait for its ACK; returns the subscription id.

        Raises:
            ServerError: the server refused it (it is then forgotten, not replayed).
            RequestTimeout, ConnectionLost, NotConnected: as :meth:`request`.
        """
        await self._wait_ready(self.request_timeout)
        sub_id, data = self._session.subscribe(name, version, filters)
        try:
            event = await self._send_and_wait(sub_id, data, name, self.request_timeout)
            payload_of(event, name)
        except BaseException:
            # The caller is told it failed: forget it (no replay) and undo it at a live server.
            with contextlib.suppress(LocalProtocolError):
                await self.unsubscribe(sub_id)
            raise
        return sub_id

    async def unsubscribe(self, sub_id: str) -> None:
        """Forget a subscription and tell a live server (a lost connection took it already).

        Raises:
            LocalProtocolError: no live subscription has this id.
        """
        data = self._session.unsubscribe(sub_id)
        transport = self._transport
        if data and transport is not None and self._ready.is_set():
            if self._recorder is not None:
                self._recorder.frame("out", data)
            with contextlib.suppress(ConnectionLost):
                await transport.send(data)
