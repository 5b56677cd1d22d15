"""The journal's rows as Python values, and where a journal lives by default."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iqwire.bot.journal.schema import TradeStatus
from iqwire.bot.records import TradeRecord
from iqwire.errors import JournalError
from iqwire.models import Outcome

__all__ = [
    "Answer",
    "GuardDecision",
    "Intent",
    "JournalRun",
    "JournalTrade",
    "default_journal_path",
    "outcome_name",
    "to_json",
    "trade_from_row",
]


@dataclass(frozen=True)
class Intent:
    """A trade about to be requested (what the caller is about to send).

    ``at`` is the server time of the decision; ``details`` holds what only one
    product has (JSON-serialisable).
    """

    product: str
    active_id: int
    direction: str
    amount: float
    expiration: int | None
    balance_id: int | None
    at: float
    details: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Answer:
    """The server accepted a trade: its id (``ref_kind``: option, order or position) and terms."""

    ref_kind: str
    ref_id: int | str
    opened_at: float
    expires_at: float | None = None
    open_price: float | None = None
    payout: float | None = None


@dataclass(frozen=True)
class JournalTrade:
    """One row of the ``trades`` table."""

    id: int
    run_id: int
    account: str
    product: str
    active_id: int
    direction: str
    amount: float
    expiration: int | None
    balance_id: int | None
    intent_at: float
    status: TradeStatus
    ref_kind: str | None
    ref_id: str | None
    opened_at: float | None
    expires_at: float | None
    open_price: float | None
    payout: float | None
    closed_at: float | None
    close_price: float | None
    outcome: Outcome | None
    pnl: float | None
    error: str | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def server_id(self) -> int | None:
        """The server's id as an int, when it is one (option ids are)."""
        if self.ref_id is not None and self.ref_id.lstrip("-").isdigit():
            return int(self.ref_id)
        return None

    def to_record(self) -> TradeRecord:
        """The closed trade as the report sees it.

        Raises:
            JournalError: the trade is not closed.
        """
        if self.status is not TradeStatus.CLOSED or self.outcome is None or self.pnl is None:
            raise JournalError(f"journal trade {self.id} is {self.status}, not closed")
        opened = self.opened_at if self.opened_at is not None else self.intent_at
        return TradeRecord(
            id=self.server_id if self.server_id is not None else self.id,
            active_id=self.active_id,
            direction=self.direction,
            amount=self.amount,
            payout=self.payout if self.payout is not None else 0.0,
            opened_at=opened,
            # A trade without an expiry (a margin position) ends when it closed.
            expires_at=self.expires_at if self.expires_at is not None else self.closed_at or opened,
            open_price=self.open_price if self.open_price is not None else 0.0,
            close_price=self.close_price,
            outcome=self.outcome,
            pnl=self.pnl,
            product=self.product,
        )


@dataclass(frozen=True)
class JournalRun:
    """One row of the ``runs`` table: a bot run or a CLI session that traded."""

    id: int
    mode: str
    strategy: str | None
    account: str
    balance_id: int | None
    currency: str | None
    start_balance: float | None
    end_balance: float | None
    started_at: float
    ended_at: float | None


@dataclass(frozen=True)
class GuardDecision:
    """One row of ``guard_decisions``: an allowed trade, or ``count`` refusals in a row by one rule."""

    run_id: int
    trade_id: int | None
    allowed: bool
    rule: str | None
    reason: str | None
    first_at: float
    last_at: float
    count: int


def outcome_name(outcome: Outcome) -> str:
    # The user's word, not the wire's (Outcome.LOSS is "loose" on the wire).
    return outcome.name.lower()


def outcome_from(name: str | None) -> Outcome | None:
    if name is None:
        return None
    return Outcome.__members__.get(name.upper(), Outcome.UNKNOWN)


def to_json(data: Mapping[str, Any] | None) -> str | None:
    return None if not data else json.dumps(dict(data), sort_keys=True, default=str)


def default_journal_path(
    account: str, *, paper: bool = False, environ: Mapping[str, str] | None = None
) -> Path:
    """The default journal of an account: one file per account (and balance), paper runs apart.

    Under ``$IQWIRE_DATA_DIR`` when set, else the user's data directory
    (``$XDG_DATA_HOME/iqwire`` or ``~/.local/share/iqwire`` on Linux,
    ``~/Library/Application Support/iqwire`` on macOS, ``%LOCALAPPDATA%\\iqwire``
    on Windows), in ``journals/``.

    >>> default_journal_path("iqoption.com 42 demo", environ={"IQWIRE_DATA_DIR": "/d"}).as_posix()
    '/d/journals/iqoption.com-42-demo.sqlite'
    >>> default_journal_path("sim", paper=True, environ={"IQWIRE_DATA_DIR": "/d"}).name
    'paper-sim.sqlite'
    """
    env = os.environ if environ is None else environ
    base_text = env.get("IQWIRE_DATA_DIR")
    if base_text:
        base = Path(base_text)
    elif sys.platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "iqwire"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support" / "iqwire"
    else:
        base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "iqwire"
    safe = "".join(ch if ch.isalnum() or ch in "._" else "-" for ch in account).strip("-") or "account"
    return base / "journals" / f"{'paper-' if paper else ''}{safe}.sqlite"


def trade_from_row(row: sqlite3.Row) -> JournalTrade:
    details = row["details"]
    return JournalTrade(
        id=row["id"],
        run_id=row["run_id"],
        account=row["account"],
        product=row["product"],
        active_id=row["active_id"],
        direction=row["direction"],
        amount=row["amount"],
        expiration=row["expiration"],
        balance_id=row["balance_id"],
        intent_at=row["intent_at"],
        status=TradeStatus(row["status"]),
        ref_kind=row["ref_kind"],
        ref_id=row["ref_id"],
        opened_at=row["opened_at"],
        expires_at=row["expires_at"],
        open_price=row["open_price"],
        payout=row["payout"],
        closed_at=row["closed_at"],
        close_price=row["close_price"],
        outcome=outcome_from(row["outcome"]),
        pnl=row["pnl"],
        error=row["error"],
        details=json.loads(details) if details else {},
    )
