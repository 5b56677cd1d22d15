"""Reading a journal: trades, runs, guard decisions, a trade's history."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from iqwire.bot.journal.rows import GuardDecision, JournalRun, JournalTrade, trade_from_row
from iqwire.bot.journal.schema import TradeStatus
from iqwire.bot.records import TradeRecord
from iqwire.errors import JournalError

__all__ = ["JournalQueries"]


class JournalQueries:
    """The read side of :class:`~iqwire.bot.journal.Journal` (its base class)."""

    _conn: sqlite3.Connection
    path: Path

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
            where.append("t.account = ?")
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
            trade_from_row(row)
            for row in self._rows(f"SELECT * FROM trades t{clause} ORDER BY t.intent_at, t.id", args)
        ]

    def trade(self, intent_id: int) -> JournalTrade | None:
        """One trade by its intent id."""
        for row in self._rows("SELECT * FROM trades WHERE id = ?", (intent_id,)):
            return trade_from_row(row)
        return None

    def find(self, ref_kind: str, ref_id: int | str, *, account: str | None = None) -> JournalTrade | None:
        """A trade by the server's id (on ``account``; without it, the newest with that id).

        Server ids are unique per account only: two fresh simulators hand out the same ones.
        """
        sql, args = "SELECT * FROM trades WHERE ref_kind = ? AND ref_id = ?", [ref_kind, str(ref_id)]
        if account is not None:
            sql += " AND account = ?"
            args.append(account)
        for row in self._rows(sql + " ORDER BY id DESC LIMIT 1", args):
            return trade_from_row(row)
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
        return [trade_from_row(row).to_record() for row in self._rows(sql + " ORDER BY closed_at, id", args)]

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
        pending = self._pending_refusals()
        if pending is not None and (run_id is None or pending.run_id == run_id):
            found.append(pending)
        return found

    def _pending_refusals(self) -> GuardDecision | None:
        """Refusals counted in memory and not written yet (the writer overrides it)."""
        return None

    def events(self, intent_id: int) -> list[tuple[str, TradeStatus, float]]:
        """A trade's history: (kind, status after it, server time), oldest first."""
        return [
            (row["kind"], TradeStatus(row["status"]), row["at"])
            for row in self._rows(
                "SELECT kind, status, at FROM events WHERE trade_id = ? ORDER BY id", (intent_id,)
            )
        ]
