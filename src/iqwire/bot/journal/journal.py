"""The trade journal (the write side): every trade's intent, answer, state changes and outcome, in SQLite.

A trade is journaled *before* its request leaves: :meth:`Journal.record_intent`
commits (WAL, ``synchronous=FULL``) and only then may the caller send. The
server's answer, every later state change and the outcome follow, each one
transaction that updates the ``trades`` row and appends to ``events``, so the
row and its history never disagree — even when the process is killed
(``kill -9``) mid-write: SQLite's write-ahead log makes each commit atomic.

Nothing here is product-specific: a trade has a ``product`` (``"blitz"``,
``"digital"``, ``"margin-forex"`` …), an id kind (``"option"``, ``"order"``,
``"position"``) with the server's id, and free ``details`` (JSON) for what only
one product has (a strike, a leverage, a stop loss). The schema and the
recovery rules are documented in ``docs/bot.md``.

Example (what a bot or the CLI's ``trade`` does around one request)::

    with Journal.open("trades.sqlite") as journal:
        run = journal.start_run(mode="cli", account="ws://127.0.0.1:8765|1")
        intent = journal.record_intent(
            run, Intent("blitz", active_id=76, direction="call", amount=10, expiration=30,
                        balance_id=1, at=client.server_time()))
        trade = await trader.buy_blitz(76, "call", 10, 30)          # sent only now
        journal.record_answer(intent, Answer("option", trade.id, opened_at=trade.created,
                              expires_at=trade.expires, open_price=trade.open_price, payout=trade.payout),
                              at=client.server_time())
        result = await trade.outcome()
        journal.record_outcome(intent, result.outcome, result.pnl,
                               close_price=result.close_price, closed_at=trade.expires)
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from iqwire.bot.journal.lock import RunLock
from iqwire.bot.journal.queries import JournalQueries
from iqwire.bot.journal.rows import Answer, GuardDecision, Intent, outcome_name, to_json
from iqwire.bot.journal.schema import SCHEMA, SCHEMA_VERSION, TradeStatus
from iqwire.errors import JournalError
from iqwire.models import Outcome

__all__ = ["REFUSALS_FLUSH_AFTER", "Journal"]

#: Refusals counted in memory are written at the latest this many (wall) seconds after the first.
REFUSALS_FLUSH_AFTER = 5.0

T = TypeVar("T")
StrPath = str | os.PathLike[str]


@dataclass
class _Refusals:
    """Refusals by the same rule in a row, kept in memory until the next write (off the hot path)."""

    run_id: int
    rule: str
    reason: str
    active_id: int | None
    amount: float | None
    first_at: float
    last_at: float
    count: int = 1
    since: float = field(default_factory=time.monotonic)


class Journal(JournalQueries):
    """A SQLite trade journal (one file; WAL; every money write committed before it returns).

    Open with :meth:`open`; use from one thread. Writes that concern money
    (:meth:`record_intent`, :meth:`record_answer`, :meth:`record_state`,
    :meth:`record_outcome`) are durable when they return. Refusals by the
    risk guards are counted in memory and written with the next write or
    :meth:`flush` (a strategy refused on every candle costs no disk write per candle).

    Example::

        with Journal.open("paper.sqlite") as journal:
            for trade in journal.trades(statuses=[TradeStatus.CLOSED]):
                print(trade.ref_id, trade.outcome, trade.pnl)
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._conn = connection
        self.path = path
        self._refusals: _Refusals | None = None
        self._lock: RunLock | None = None

    @classmethod
    def open(cls, path: StrPath, *, create: bool = True) -> Journal:
        """Open (or create) the journal at ``path``; its folder is created too.

        Raises:
            JournalError: the file is not a journal, is newer than this iqwire, or cannot be opened.
        """
        target = Path(path)
        if not create and not target.is_file():
            raise JournalError(f"no journal at {target}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(target, isolation_level=None, timeout=10.0)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open the journal {target}: {exc}") from exc
        journal = cls(connection, target)
        try:
            journal._prepare()
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise JournalError(f"{target} is not a usable trade journal: {exc}") from exc
        except JournalError:
            connection.close()
            raise
        return journal

    def _prepare(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives a power cut too, not only a killed process.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if row is not None:
            found = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(found[0]) if found is not None else 0
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"{self.path} is a version {version} journal; this iqwire reads version "
                    f"{SCHEMA_VERSION}: upgrade iqwire"
                )
        elif conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise JournalError(f"{self.path} is a SQLite file but not a trade journal")

        def create(conn: sqlite3.Connection) -> None:
            # Statement by statement: executescript() would commit outside this transaction.
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

        self._write(create)

    # -- lifecycle ------------------------------------------------------------------------------

    def claim(self) -> None:
        """Take the journal's run lock for this process: one bot per journal (idempotent).

        A bot calls it before recovery (:class:`~iqwire.bot.live.LiveSession` does); it is
        held until :meth:`release` or :meth:`close`, and dies with the process (``kill -9``
        included), so a restart is never blocked by a dead bot. Readers need no lock.

        Raises:
            JournalInUse: another running process holds it.
        """
        if self._lock is None or not self._lock.held:
            self._lock = RunLock.acquire(self.path)

    def release(self) -> None:
        """Give the run lock back (nothing when not held)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def close(self) -> None:
        """Write pending refusals, give the run lock back and close the file."""
        try:
            self.flush()
        finally:
            self.release()
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` and the pending refusals in one transaction, committed before returning."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._write_refusals(conn)
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc
        return result

    def flush(self) -> None:
        """Write the refusals counted in memory (call it now and then, and at the end of a run)."""
        if self._refusals is not None:
            self._write(lambda conn: None)

    def _write_refusals(self, conn: sqlite3.Connection) -> None:
        pending, self._refusals = self._refusals, None
        if pending is None:
            return
        conn.execute(
            "INSERT INTO guard_decisions (run_id, allowed, rule, reason, active_id, amount, first_at, last_at, count)"
            " VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?)",
            (
                pending.run_id,
                pending.rule,
                pending.reason,
                pending.active_id,
                pending.amount,
                pending.first_at,
                pending.last_at,
                pending.count,
            ),
        )

    # -- writes ---------------------------------------------------------------------------------

    def start_run(
        self,
        *,
        mode: str,
        account: str,
        at: float | None = None,
        strategy: str | None = None,
        params: Mapping[str, Any] | None = None,
        balance_id: int | None = None,
        balance_type: str | None = None,
        currency: str | None = None,
        start_balance: float | None = None,
        limits: Mapping[str, Any] | None = None,
    ) -> int:
        """Record the start of a run (a bot run, or a CLI session) and return its id.

        ``account`` names the server and user (e.g. ``"wss://iqoption.com/echo/websocket|42"``):
        recovery only looks at trades of runs on the same account and balance.
        """
        started = time.time() if at is None else at

        def insert(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO runs (mode, strategy, params, account, balance_id, balance_type, currency,"
                " start_balance, limits, started_at, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    mode,
                    strategy,
                    to_json(params),
                    account,
                    balance_id,
                    balance_type,
                    currency,
                    start_balance,
                    to_json(limits),
                    started,
                    os.getpid(),
                ),
            )
            return int(cursor.lastrowid or 0)

        return self._write(insert)

    def end_run(self, run_id: int, *, at: float, end_balance: float | None = None) -> None:
        """Record the end of a run (a killed run has none: that is how one is recognised)."""
        self._write(
            lambda conn: conn.execute(
                "UPDATE runs SET ended_at = ?, end_balance = ? WHERE id = ?", (at, end_balance, run_id)
            )
        )

    def record_intent(self, run_id: int, intent: Intent, *, guarded: bool = False) -> int:
        """Journal a trade about to be sent; durable when it returns. Send only after this.

        ``guarded``: the risk guards allowed it (their decision is written in the
        same transaction). Returns the intent id the later calls take.
        """

        def insert(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO trades (run_id, account, product, active_id, direction, amount, expiration,"
                " balance_id, details, intent_at, status)"
                " VALUES (?, (SELECT account FROM runs WHERE id = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    run_id,
                    intent.product,
                    intent.active_id,
                    intent.direction,
                    intent.amount,
                    intent.expiration,
                    intent.balance_id,
                    to_json(intent.details),
                    intent.at,
                    TradeStatus.INTENT.value,
                ),
            )
            trade_id = int(cursor.lastrowid or 0)
            self._event(conn, trade_id, intent.at, "intent", TradeStatus.INTENT, None)
            if guarded:
                conn.execute(
                    "INSERT INTO guard_decisions (run_id, trade_id, allowed, active_id, amount, first_at, last_at)"
                    " VALUES (?, ?, 1, ?, ?, ?, ?)",
                    (run_id, trade_id, intent.active_id, intent.amount, intent.at, intent.at),
                )
            return trade_id

        return self._write(insert)

    def record_answer(self, intent_id: int, answer: Answer, *, at: float, reconciled: bool = False) -> None:
        """The server placed the trade (``reconciled``: found on the server after the answer was lost)."""

        def update(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE trades SET status = ?, ref_kind = ?, ref_id = ?, opened_at = ?, expires_at = ?,"
                " open_price = ?, payout = ?, error = NULL WHERE id = ?",
                (
                    TradeStatus.OPEN.value,
                    answer.ref_kind,
                    str(answer.ref_id),
                    answer.opened_at,
                    answer.expires_at,
                    answer.open_price,
                    answer.payout,
                    intent_id,
                ),
            )
            self._event(
                conn,
                intent_id,
                at,
                "reconciled" if reconciled else "answer",
                TradeStatus.OPEN,
                {"ref_kind": answer.ref_kind, "ref_id": str(answer.ref_id), "open_price": answer.open_price},
            )

        self._write(update)

    def record_state(
        self,
        intent_id: int,
        status: TradeStatus,
        *,
        at: float,
        error: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Any other state change: ``rejected``, ``not_placed``, ``unknown`` (with the reason)."""
        if status in (TradeStatus.OPEN, TradeStatus.CLOSED):
            raise ValueError(f"use record_answer / record_outcome for {status}")

        def update(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE trades SET status = ?, error = ? WHERE id = ?", (status.value, error, intent_id)
            )
            self._event(
                conn, intent_id, at, "state", status, {**(data or {}), **({"error": error} if error else {})}
            )

        self._write(update)

    def record_outcome(
        self,
        intent_id: int,
        outcome: Outcome,
        pnl: float,
        *,
        close_price: float | None,
        closed_at: float,
    ) -> bool:
        """A placed trade closed. Returns ``False`` (and writes nothing) if it was already recorded closed.

        Raises:
            JournalError: no such trade, or it was never placed (no answer recorded).
        """

        def update(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT id, status FROM trades WHERE id = ?", (intent_id,)).fetchone()
            if row is None:
                raise JournalError(f"no trade {intent_id} in the journal {self.path}")
            if row[1] == TradeStatus.CLOSED.value:
                return False
            if row[1] not in (TradeStatus.OPEN.value, TradeStatus.UNKNOWN.value):
                raise JournalError(f"trade {intent_id} is {row[1]}: only a placed trade can close")
            conn.execute(
                "UPDATE trades SET status = ?, outcome = ?, pnl = ?, close_price = ?, closed_at = ?, error = NULL"
                " WHERE id = ?",
                (TradeStatus.CLOSED.value, outcome_name(outcome), pnl, close_price, closed_at, row[0]),
            )
            self._event(
                conn,
                row[0],
                closed_at,
                "outcome",
                TradeStatus.CLOSED,
                {"outcome": outcome_name(outcome), "pnl": pnl, "close_price": close_price},
            )
            return True

        return self._write(update)

    def record_guard_decision(
        self,
        run_id: int,
        *,
        allowed: bool,
        at: float,
        reason: str | None = None,
        active_id: int | None = None,
        amount: float | None = None,
    ) -> None:
        """A risk guard's decision that did not lead to an intent (a refusal, usually).

        Refusals by the same rule in a row become one row with a count, written
        with the next write or :meth:`flush`.
        """
        if allowed:
            self._write(
                lambda conn: conn.execute(
                    "INSERT INTO guard_decisions (run_id, allowed, active_id, amount, first_at, last_at)"
                    " VALUES (?, 1, ?, ?, ?, ?)",
                    (run_id, active_id, amount, at, at),
                )
            )
            return
        text = reason or "refused"
        rule = text.split(":", 1)[0]
        pending = self._refusals
        if pending is not None and pending.run_id == run_id and pending.rule == rule:
            pending.count += 1
            pending.last_at = at
            pending.reason = text
            if time.monotonic() - pending.since >= REFUSALS_FLUSH_AFTER:
                self.flush()
            return
        if pending is not None:
            self.flush()
        self._refusals = _Refusals(run_id, rule, text, active_id, amount, at, at)

    def _pending_refusals(self) -> GuardDecision | None:
        pending = self._refusals
        if pending is None:
            return None
        return GuardDecision(
            pending.run_id,
            None,
            False,
            pending.rule,
            pending.reason,
            pending.first_at,
            pending.last_at,
            pending.count,
        )

    @staticmethod
    def _event(
        conn: sqlite3.Connection,
        trade_id: int,
        at: float,
        kind: str,
        status: TradeStatus,
        data: Mapping[str, Any] | None,
    ) -> None:
        conn.execute(
            "INSERT INTO events (trade_id, at, wall, kind, status, data) VALUES (?, ?, ?, ?, ?, ?)",
            (trade_id, at, time.time(), kind, status.value, to_json(data)),
        )
