"""The trade journal: what it records, what it refuses, and what it reads back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from iqwire.bot.journal import (
    SCHEMA_VERSION,
    Answer,
    Intent,
    Journal,
    TradeStatus,
    default_journal_path,
)
from iqwire.bot.journal_report import journal_report
from iqwire.errors import JournalError
from iqwire.models import Outcome

T0 = 1_770_899_100.0
ACCOUNT = "ws://127.0.0.1:8765/echo/websocket|1"


def intent(at: float = T0, amount: float = 10.0) -> Intent:
    return Intent("blitz", active_id=76, direction="call", amount=amount, expiration=30, balance_id=7, at=at)


def answer(ref: int, at: float = T0) -> Answer:
    return Answer("option", ref, opened_at=at, expires_at=at + 30, open_price=1.1, payout=85.0)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    opened = Journal.open(tmp_path / "sub" / "trades.sqlite")
    yield opened  # type: ignore[misc]
    opened.close()


def test_a_trade_from_intent_to_outcome(journal: Journal) -> None:
    run = journal.start_run(mode="live", account=ACCOUNT, at=T0, balance_id=7, start_balance=1000.0)
    trade_id = journal.record_intent(run, intent(), guarded=True)
    assert journal.trade(trade_id).status is TradeStatus.INTENT  # type: ignore[union-attr]
    journal.record_answer(trade_id, answer(42), at=T0 + 0.1)
    assert journal.record_outcome(trade_id, Outcome.LOSS, -10.0, close_price=1.0, closed_at=T0 + 30)
    # Recorded once: a second close of the same trade changes nothing.
    assert not journal.record_outcome(trade_id, Outcome.WIN, 8.5, close_price=1.2, closed_at=T0 + 30)
    trade = journal.find("option", 42)
    assert trade is not None and trade.id == trade_id
    assert (trade.status, trade.outcome, trade.pnl, trade.server_id) == (
        TradeStatus.CLOSED,
        Outcome.LOSS,
        -10.0,
        42,
    )
    assert [kind for kind, _, _ in journal.events(trade_id)] == ["intent", "answer", "outcome"]
    (decision,) = journal.guard_decisions(run)
    assert decision.allowed and decision.trade_id == trade_id
    record = trade.to_record()
    assert (record.id, record.outcome, record.pnl, record.expires_at) == (42, Outcome.LOSS, -10.0, T0 + 30)


def test_a_server_id_belongs_to_one_trade_only(journal: Journal) -> None:
    run = journal.start_run(mode="live", account=ACCOUNT)
    first, second = journal.record_intent(run, intent()), journal.record_intent(run, intent())
    journal.record_answer(first, answer(42), at=T0)
    with pytest.raises(JournalError, match="UNIQUE"):
        journal.record_answer(second, answer(42), at=T0)
    assert journal.trade(second).status is TradeStatus.INTENT  # type: ignore[union-attr]


def test_states_other_than_open_and_closed(journal: Journal) -> None:
    run = journal.start_run(mode="live", account=ACCOUNT)
    ids = [journal.record_intent(run, intent()) for _ in range(3)]
    journal.record_state(ids[0], TradeStatus.REJECTED, at=T0, error="InvalidOrder: amount")
    journal.record_state(ids[1], TradeStatus.NOT_PLACED, at=T0)
    journal.record_state(ids[2], TradeStatus.UNKNOWN, at=T0, data={"candidates": ["1", "2"]})
    assert [t.status for t in journal.trades()] == [
        TradeStatus.REJECTED,
        TradeStatus.NOT_PLACED,
        TradeStatus.UNKNOWN,
    ]
    assert journal.trade(ids[0]).error == "InvalidOrder: amount"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="record_answer"):
        journal.record_state(ids[0], TradeStatus.OPEN, at=T0)
    with pytest.raises(JournalError, match="no trade 99"):
        journal.record_outcome(99, Outcome.WIN, 1.0, close_price=None, closed_at=T0)
    with pytest.raises(JournalError, match="only a placed trade can close"):
        journal.record_outcome(ids[0], Outcome.WIN, 1.0, close_price=None, closed_at=T0)
    with pytest.raises(JournalError, match="not closed"):
        journal.trades()[0].to_record()


def test_refusals_in_a_row_are_one_row_written_later(journal: Journal) -> None:
    run = journal.start_run(mode="live", account=ACCOUNT)
    for i in range(50):
        journal.record_guard_decision(run, allowed=False, at=T0 + i, reason="cooldown: 3 losses in a row")
    journal.record_guard_decision(run, allowed=False, at=T0 + 60, reason="max_open_trades: 5 trades are open")
    # Nothing was written per refusal: the first group is on disk, the second still in memory.
    on_disk = sqlite3.connect(journal.path).execute("SELECT rule, count FROM guard_decisions").fetchall()
    assert on_disk == [("cooldown", 50)]
    decisions = journal.guard_decisions(run)
    assert [(d.rule, d.count, d.first_at, d.last_at) for d in decisions] == [
        ("cooldown", 50, T0, T0 + 49),
        ("max_open_trades", 1, T0 + 60, T0 + 60),
    ]
    journal.flush()
    assert len(sqlite3.connect(journal.path).execute("SELECT * FROM guard_decisions").fetchall()) == 2


def test_server_ids_are_unique_per_account(journal: Journal) -> None:
    # Two fresh simulators hand out the same option ids: each account keeps its own.
    first = journal.start_run(mode="paper", account="sim-a")
    second = journal.start_run(mode="paper", account="sim-b")
    a, b = journal.record_intent(first, intent()), journal.record_intent(second, intent())
    journal.record_answer(a, answer(42), at=T0)
    journal.record_answer(b, answer(42), at=T0)
    assert journal.find("option", 42, account="sim-a").id == a  # type: ignore[union-attr]
    assert journal.find("option", 42, account="sim-b").id == b  # type: ignore[union-attr]
    assert journal.find("option", 42).id == b  # type: ignore[union-attr]


def test_queries_by_account_balance_and_status(journal: Journal) -> None:
    mine = journal.start_run(mode="live", account=ACCOUNT, balance_id=7)
    other = journal.start_run(mode="live", account="wss://elsewhere|2", balance_id=7)
    a = journal.record_intent(mine, intent())
    journal.record_intent(other, intent())
    journal.record_answer(a, answer(1), at=T0)
    assert [t.id for t in journal.trades(account=ACCOUNT)] == [a]
    assert [t.id for t in journal.trades(account=ACCOUNT, statuses=[TradeStatus.OPEN])] == [a]
    assert journal.trades(account=ACCOUNT, balance_id=8) == []
    assert [r.id for r in journal.runs()] == [mine, other]
    journal.end_run(mine, at=T0 + 60, end_balance=990.0)
    assert journal.runs()[0].ended_at == T0 + 60


def test_the_report_spans_every_run(journal: Journal) -> None:
    for n, (outcome, pnl) in enumerate([(Outcome.WIN, 8.5), (Outcome.LOSS, -10.0), (Outcome.WIN, 8.5)]):
        run = journal.start_run(mode="live", account=ACCOUNT, at=T0 + n * 100, start_balance=1000.0 + n)
        trade = journal.record_intent(run, intent(T0 + n * 100))
        journal.record_answer(trade, answer(n + 1, T0 + n * 100), at=T0 + n * 100)
        journal.record_outcome(trade, outcome, pnl, close_price=1.0, closed_at=T0 + n * 100 + 30)
        journal.record_guard_decision(run, allowed=False, at=T0 + n * 100 + 40, reason="max_stake: 200")
    report = journal_report(journal)
    assert (report.trades, report.wins, report.losses, report.pnl) == (3, 2, 1, 7.0)
    assert report.starting_balance == 1000.0
    assert report.refusals == {"max_stake": 3}
    later = journal_report(journal, start=T0 + 100)
    assert (later.trades, later.starting_balance, later.refusals) == (2, 1001.0, {"max_stake": 2})


def test_a_newer_journal_is_refused_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(JournalError, match="upgrade iqwire"):
        Journal.open(path)


def test_other_files_are_not_journals(tmp_path: Path) -> None:
    other = tmp_path / "candles.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE candles (id INTEGER)")
    with pytest.raises(JournalError, match="not a trade journal"):
        Journal.open(other)
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database at all" * 50)
    with pytest.raises(JournalError, match="not a usable trade journal"):
        Journal.open(text)
    with pytest.raises(JournalError, match="no journal"):
        Journal.open(tmp_path / "absent.sqlite", create=False)


def test_the_journal_is_in_wal_mode_and_synchronous_full(journal: Journal) -> None:
    conn = sqlite3.connect(journal.path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert journal._conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_default_paths_are_per_account_and_paper_apart(tmp_path: Path) -> None:
    env = {"IQWIRE_DATA_DIR": str(tmp_path)}
    live = default_journal_path("iqoption.com-42-demo", environ=env)
    paper = default_journal_path("iqoption.com-42-demo", paper=True, environ=env)
    assert live == tmp_path / "journals" / "iqoption.com-42-demo.sqlite"
    assert paper == tmp_path / "journals" / "paper-iqoption.com-42-demo.sqlite"
    assert default_journal_path("a/../b|c", environ=env).name == "a-..-b-c.sqlite"
    xdg = default_journal_path("x", environ={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert xdg.parent.parent.name == "iqwire"
