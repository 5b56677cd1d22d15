"""The exceptions iqwire raises.

Every exception derives from :class:`IqwireError`; each has one meaning::

    IqwireError
    ├── ProtocolError             the protocol was not followed (catch one of the two below)
    │   ├── LocalProtocolError    you misused the API: out of order, a body that cannot be sent
    │   └── RemoteProtocolError   the server sent something that does not fit the protocol
    ├── AuthError                 login or ``authenticate`` was refused
    ├── ConnectionLost            the socket dropped while something was waiting on it (retry-able)
    ├── NotConnected              used before ``connect()`` or after ``close()``: connect first
    ├── TLSError                  the server's certificate was refused: fix the trust, do not retry
    ├── RequestTimeout            no answer arrived in time
    ├── ServerError               the server answered with status >= 4000
    │   └── PayoutChanged         status 4117: the payout moved before the trade was placed
    ├── MarketClosed              the active is closed or suspended
    ├── InvalidOrder              an order fails validation before it is sent
    │   ├── InsufficientBalance
    │   ├── UnknownAsset          no active has that name or id (also a LookupError)
    │   └── UnknownBalance        the account has no such balance (also a LookupError)
    ├── RealMoneyLocked           a trade on a REAL balance without ``allow_real_money=True``
    ├── RiskLimitExceeded         a bot risk guard refused a trade
    ├── TradeError                the fate of a trade that was sent is in question
    │   ├── TradeNotPlaced        reconciliation proved the trade was never placed
    │   ├── TradeStateUnknown     reconciliation found several candidates
    │   ├── OrderRejected         the server accepted an order, then rejected it: nothing placed
    │   ├── OutcomeUnknown        no close event and no history entry after expiry
    │   └── OrderNotFilled        a margin order ended canceled or rejected, never filled
    └── JournalError              the trade journal cannot be opened, read or written
        └── JournalInUse          another running bot holds the journal's run lock

Code that retries on :class:`ConnectionLost` never retries a certificate problem
(:class:`TLSError`) or a client that was never connected (:class:`NotConnected`).
Messages say what happened and what to do. They never contain a password or SSID.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "ConnectionLost",
    "InsufficientBalance",
    "InvalidOrder",
    "IqwireError",
    "JournalError",
    "JournalInUse",
    "LocalProtocolError",
    "MarketClosed",
    "NotConnected",
    "OrderRejected",
    "OrderNotFilled",
    "OutcomeUnknown",
    "PayoutChanged",
    "ProtocolError",
    "RealMoneyLocked",
    "RemoteProtocolError",
    "RequestTimeout",
    "RiskLimitExceeded",
    "ServerError",
    "TLSError",
    "TradeError",
    "TradeNotPlaced",
    "TradeStateUnknown",
    "UnknownAsset",
    "UnknownBalance",
]


class IqwireError(Exception):
    """Base class of every error raised by iqwire.

    ``request_id`` and ``name`` identify the request concerned, when there is one.
    ``args`` are always the constructor's positional arguments (so an error can be
    copied and pickled), and ``str(error)`` is always :attr:`message`.
    """

    def __init__(self, message: str, *, request_id: str | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.name = name

    def __str__(self) -> str:
        return self.message


class ProtocolError(IqwireError):
    """The protocol was not followed; raised only as one of its two subclasses."""


class LocalProtocolError(ProtocolError):
    """You misused the API: a request before authenticating, a body that cannot be encoded,
    an unknown subscription id. Fix the calling code; retrying will not help."""


class RemoteProtocolError(ProtocolError):
    """The server sent something that does not fit the protocol (a reply of the wrong shape).

    The connection carries on; report it with the frame if it repeats.
    """


class AuthError(IqwireError):
    """Login or WebSocket authentication was refused: check the credentials or SSID."""


class ConnectionLost(IqwireError):
    """The connection dropped while a request was waiting for its answer.

    The request is never re-sent automatically: a trade request must not be placed twice.
    """


class NotConnected(IqwireError):
    """The client is not connected (never connected, or closed): call ``connect()`` first.

    Not a :class:`ConnectionLost`: nothing was in flight, and waiting will not help.
    """


class TLSError(IqwireError):
    """The server's TLS certificate was refused (expired, self-signed, wrong host).

    Not a :class:`ConnectionLost`: retrying cannot fix it. Pass an ``ssl_context``
    that trusts the server's CA; verification is never switched off.
    """


class RequestTimeout(IqwireError):
    """No answer arrived within the request's timeout."""


class ServerError(IqwireError):
    """The server answered with an error status (>= 4000).

    Example::

        try:
            await client.request("get-candles", "2.0", {"active_id": 76})
        except ServerError as exc:
            print(exc.status, exc.message)
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        request_id: str | None = None,
        name: str | None = None,
        payload: Any = None,
    ) -> None:
        super().__init__(f"server error {status}: {message}", request_id=request_id, name=name)
        self.args = (status, message)
        self.status = status
        self.server_message = message
        self.payload = payload


class PayoutChanged(ServerError):
    """Status 4117: the payout changed; ``commission`` is the active's new commission."""

    def __init__(
        self,
        active_id: int | None,
        commission: float,
        *,
        message: str = "The option has not been purchased because of the profit rate change.",
        request_id: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(4117, message, request_id=request_id, name=name)
        self.active_id = active_id
        self.commission = commission
        self.message = (
            f"payout changed for active {active_id}: commission is now {commission}% "
            f"(payout {100 - commission}%); re-quote or retry with the new payout"
        )
        self.args = (active_id, commission)


class MarketClosed(IqwireError):
    """The active is closed or suspended; wait for it to open or choose another active."""


class InvalidOrder(IqwireError):
    """An order failed validation before anything was sent."""


class InsufficientBalance(InvalidOrder):
    """The amount is larger than the balance available."""


class UnknownAsset(InvalidOrder, LookupError):
    """No active has this name or id (in the server's initialization data).

    Example::

        try:
            active = iqwire.actives.resolve("EURXYZ", init)
        except UnknownAsset as exc:
            print(exc)   # says which names were tried and what to use instead
    """


class UnknownBalance(InvalidOrder, LookupError):
    """The account has no balance of that type or id; list them with ``get_balances()``."""


class RealMoneyLocked(IqwireError):
    """A trade on a REAL balance was refused: create the client with ``allow_real_money=True``."""


class RiskLimitExceeded(IqwireError):
    """A risk guard of the bot runtime refused a trade; ``reason`` says which guard."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.args = (reason, message)
        self.reason = reason


class TradeError(IqwireError):
    """The fate of a trade request that was sent is in question."""


class TradeNotPlaced(TradeError):
    """The connection dropped after sending, and reconciliation proved no trade was placed."""


class TradeStateUnknown(TradeError):
    """Reconciliation found more than one position that could be this trade."""

    def __init__(self, message: str, candidates: list[Any]) -> None:
        super().__init__(message)
        self.args = (message, candidates)
        self.candidates = candidates


class OrderRejected(TradeError):
    """The server accepted an order (it has an id) and then rejected it: nothing was placed.

    A digital option bought without the funds is accepted first and rejected after.
    """

    def __init__(self, message: str, *, order_id: int | None = None) -> None:
        super().__init__(message)
        self.order_id = order_id


class OutcomeUnknown(TradeError):
    """No close event and no history entry arrived before expiry plus the grace period."""

    def __init__(self, message: str, position: Any = None) -> None:
        super().__init__(message)
        self.args = (message, position)
        self.position = position


class OrderNotFilled(TradeError):
    """A margin order ended without a position: ``status`` is ``canceled`` or ``rejected``."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.args = (message, status)
        self.status = status


class JournalError(IqwireError):
    """The trade journal (``iqwire.bot.journal``) cannot be opened, read or written.

    The message names the file; a journal written by a newer iqwire is refused, never rewritten.
    """


class JournalInUse(JournalError):
    """Another running bot holds the journal's run lock (one bot per journal).

    The lock is an OS file lock on ``<journal>.lock``: it dies with its process, so a
    bot killed with ``kill -9`` never blocks the restart. ``pid`` is the holder's, when known.
    """

    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.args = (message, pid)
        self.pid = pid
