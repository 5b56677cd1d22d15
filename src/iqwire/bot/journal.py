"""The trade journal: every trade's intent, answer, state changes and outcome, in SQLite.

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
        trade = await client.buy_blitz(76, "call", 10, 30)          # sent only now
        journal.record_answer(intent, Answer("option", trade.id, opened_at=trade.created,
                              expires_at=trade.expires, open_price=trade.open_price, payout=trade.payout),
                              at=client.server_time())
        result = await trade.outcome()
        journal.record_outcome("option", trade.id, result.outcome, result.pnl,
                               close_price=result.close_price, closed_at=trade.expires)
"""

from __future__ import annotations

import enum
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from iqwire.bot.records import TradeRecord
from iqwire.errors import JournalError
from iqwire.models import Outcome

__all__ = [
    "SCHEMA_VERSION",
    "Answer",
    "GuardDecision",
    "Intent",
    "Journal",
    "JournalRun",
    "JournalTrade",
    "TradeStatus",
    "default_journal_path",
]

#: Bumped when the tables change; a newer file is refused, never rewritten.
SCHEMA_VERSION = 1
#: Refusals counted in memory are written at the latest this many (wall) seconds after the first.
REFUSALS_FLUSH_AFTER = 5.0

T = TypeVar("T")
StrPath = str | os.PathLike[str]


class TradeStatus(enum.StrEnum):
    """Where a journaled trade stands.

    ``intent`` → ``open`` → ``closed`` is the normal life; ``rejected`` (the
    server or a check refused it: nothing was placed), ``not_placed``
    (reconciliation proved it never reached the book) and ``unknown`` (its fate
    could not be established yet; recovery tries again) end it early.
    """

    INTENT = "intent"
    OPEN = "open"
    CLOSED = "closed"
    REJECTED = "rejected"
    NOT_PLACED = "not_placed"
    UNKNOWN = "unknown"


#: Statuses whose trade may still hold money on the server: recovery looks at them.
UNSETTLED = (TradeStatus.INTENT, TradeStatus.OPEN, TradeStatus.UNKNOWN)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id            INTEGER PRIMARY KEY,
    mode          TEXT NOT NULL,
    strategy      TEXT,
    params        TEXT,
    account       TEXT NOT NULL,
    balance_id    INTEGER,
    balance_type  TEXT,
    currency      TEXT,
    start_balance REAL,
    end_balance   REAL,
    limits        TEXT,
    started_at    REAL NOT NULL,
    ended_at      REAL,
    pid           INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS trades (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    product     TEXT NOT NULL,
    active_id   INTEGER NOT NULL,
    direction   TEXT NOT NULL,
    amount      REAL NOT NULL,
    expiration  INTEGER,
    balance_id  INTEGER,
    details     TEXT,
    intent_at   REAL NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ({", ".join(repr(s.value) for s in TradeStatus)})),
    ref_kind    TEXT,
    ref_id      TEXT,
    opened_at   REAL,
    expires_at  REAL,
    open_price  REAL,
    payout      REAL,
    closed_at   REAL,
    close_price REAL,
    outcome     TEXT,
    pnl         REAL,
    error       TEXT,
    UNIQUE (ref_kind, ref_id),
    CHECK (status NOT IN ('open', 'closed') OR ref_id IS NOT NULL),
    CHECK (status != 'closed' OR (outcome IS NOT NULL AND pnl IS NOT NULL AND closed_at IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS trades_by_status ON trades (status);
CREATE INDEX IF NOT EXISTS trades_by_close ON trades (closed_at);
CREATE TABLE IF NOT EXISTS events (
    id       INTEGER PRIMARY KEY,
    trade_id INTEGER NOT NULL REFERENCES trades(id),
    at       REAL NOT NULL,
    wall     REAL NOT NULL,
    kind     TEXT NOT NULL,
    status   TEXT NOT NULL,
    data     TEXT
);
CREATE INDEX IF NOT EXISTS events_by_trade ON events (trade_id);
CREATE TABLE IF NOT EXISTS guard_decisions (
    id        INTEGER PRIMARY KEY,
    run_id    INTEGER NOT NULL REFERENCES runs(id),
    trade_id  INTEGER REFERENCES trades(id),
    allowed   INTEGER NOT NULL,
    rule      TEXT,
    reason    TEXT,
    active_id INTEGER,
    amount    REAL,
    first_at  REAL NOT NULL,
    last_at   REAL NOT NULL,
    count     INTEGER NOT NULL DEFAULT 1
);
"""


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
            expires_at=self.expires_at if self.expires_at is not None else opened,
            open_price=self.open_price if self.open_price is not None else 0.0,
            close_price=self.close_price,
            outcome=self.outcome,
            pnl=self.pnl,
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


def _outcome_name(outcome: Outcome) -> str:
    # The user's word, not the wire's (Outcome.LOSS is "loose" on the wire).
    return outcome.name.lower()


def _outcome_from(name: str | None) -> Outcome | None:
    if name is None:
        return None
    return Outcome.__members__.get(name.upper(), Outcome.UNKNOWN)


def _json(data: Mapping[str, Any] | None) -> str | None:
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


class Journal:
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
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

        self._write(create)

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Write pending refusals and close the file."""
        try:
            self.flush()
        finally:
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
                    _json(params),
                    account,
                    balance_id,
                    balance_type,
                    currency,
                    start_balance,
                    _json(limits),
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
                "INSERT INTO trades (run_id, product, active_id, direction, amount, expiration, balance_id,"
                " details, intent_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    intent.product,
                    intent.active_id,
                    intent.direction,
                    intent.amount,
                    intent.expiration,
                    intent.balance_id,
                    _json(intent.details),
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
        ref_kind: str,
        ref_id: int | str,
        outcome: Outcome,
        pnl: float,
        *,
        close_price: float | None,
        closed_at: float,
    ) -> bool:
        """A trade closed. Returns ``False`` (and writes nothing) if it was already recorded closed.

        Raises:
            JournalError: no trade of that id is in the journal.
        """

        def update(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT id, status FROM trades WHERE ref_kind = ? AND ref_id = ?", (ref_kind, str(ref_id))
            ).fetchone()
            if row is None:
                raise JournalError(f"no {ref_kind} {ref_id} in the journal {self.path}")
            if row[1] == TradeStatus.CLOSED.value:
                return False
            conn.execute(
                "UPDATE trades SET status = ?, outcome = ?, pnl = ?, close_price = ?, closed_at = ?, error = NULL"
                " WHERE id = ?",
                (TradeStatus.CLOSED.value, _outcome_name(outcome), pnl, close_price, closed_at, row[0]),
            )
            self._event(
                conn,
                row[0],
                closed_at,
                "outcome",
                TradeStatus.CLOSED,
                {"outcome": _outcome_name(outcome), "pnl": pnl, "close_price": close_price},
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
            (trade_id, at, time.time(), kind, status.value, _json(data)),
        )

    # -- queries --------------------------------------------------------------------------------

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> Iterator[sqlite3.Row]:
        try:
            cursor = self._conn.execute(sql, tuple(args))
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc}") from exc
        cursor.row_factory = sqlite3.Row
        yield from cursor

    def trades(
        self,
        *,
        account: str | None = None,
        balance_id: int | None = None,
        statuses: Sequence[TradeStatus] | None = None,
        run_id: int | None = None,
    ) -> list[JournalTrade]:
        """Trades, oldest intent first, filtered by the runs' account, balance, status or run."""
        where: list[str] = []
        args: list[Any] = []
        if account is not None:
            where.append("t.run_id IN (SELECT id FROM runs WHERE account = ?)")
            args.append(account)
        if balance_id is not None:
            where.append("t.balance_id = ?")
            args.append(balance_id)
        if statuses is not None:
            where.append(f"t.status IN ({', '.join('?' for _ in statuses)})")
            args.extend(s.value for s in statuses)
        if run_id is not None:
            where.append("t.run_id = ?")
            args.append(run_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return [
            _trade(row)
            for row in self._rows(f"SELECT * FROM trades t{clause} ORDER BY t.intent_at, t.id", args)
        ]

    def trade(self, intent_id: int) -> JournalTrade | None:
        """One trade by its intent id."""
        for row in self._rows("SELECT * FROM trades WHERE id = ?", (intent_id,)):
            return _trade(row)
        return None

    def find(self, ref_kind: str, ref_id: int | str) -> JournalTrade | None:
        """One trade by the server's id."""
        for row in self._rows(
            "SELECT * FROM trades WHERE ref_kind = ? AND ref_id = ?", (ref_kind, str(ref_id))
        ):
            return _trade(row)
        return None

    def closed_records(self, start: float | None = None, end: float | None = None) -> list[TradeRecord]:
        """Closed trades with ``start <= closed_at < end``, in closing order, as report records."""
        sql = "SELECT * FROM trades WHERE status = 'closed'"
        args: list[Any] = []
        if start is not None:
            sql += " AND closed_at >= ?"
            args.append(start)
        if end is not None:
            sql += " AND closed_at < ?"
            args.append(end)
        return [_trade(row).to_record() for row in self._rows(sql + " ORDER BY closed_at, id", args)]

    def runs(self) -> list[JournalRun]:
        """Every run, oldest first."""
        return [
            JournalRun(
                id=row["id"],
                mode=row["mode"],
                strategy=row["strategy"],
                account=row["account"],
                balance_id=row["balance_id"],
                currency=row["currency"],
                start_balance=row["start_balance"],
                end_balance=row["end_balance"],
                started_at=row["started_at"],
                ended_at=row["ended_at"],
            )
            for row in self._rows("SELECT * FROM runs ORDER BY id")
        ]

    def guard_decisions(self, run_id: int | None = None) -> list[GuardDecision]:
        """The guards' decisions (refusals still in memory included), oldest first."""
        sql, args = "SELECT * FROM guard_decisions", []
        if run_id is not None:
            sql += " WHERE run_id = ?"
            args.append(run_id)
        found = [
            GuardDecision(
                run_id=row["run_id"],
                trade_id=row["trade_id"],
                allowed=bool(row["allowed"]),
                rule=row["rule"],
                reason=row["reason"],
                first_at=row["first_at"],
                last_at=row["last_at"],
                count=row["count"],
            )
            for row in self._rows(sql + " ORDER BY id", args)
        ]
        pending = self._refusals
        if pending is not None and (run_id is None or pending.run_id == run_id):
            found.append(
                GuardDecision(
                    pending.run_id,
                    None,
                    False,
                    pending.rule,
                    pending.reason,
                    pending.first_at,
                    pending.last_at,
                    pending.count,
                )
            )
        return found

    def events(self, intent_id: int) -> list[tuple[str, TradeStatus, float]]:
        """A trade's history: (kind, status after it, server time), oldest first."""
        return [
            (row["kind"], TradeStatus(row["status"]), row["at"])
            for row in self._rows(
                "SELECT kind, status, at FROM events WHERE trade_id = ? ORDER BY id", (intent_id,)
            )
        ]


def _trade(row: sqlite3.Row) -> JournalTrade:
    details = row["details"]
    return JournalTrade(
        id=row["id"],
        run_id=row["run_id"],
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
        outcome=_outcome_from(row["outcome"]),
        pnl=row["pnl"],
        error=row["error"],
        details=json.loads(details) if details else {},
    )
