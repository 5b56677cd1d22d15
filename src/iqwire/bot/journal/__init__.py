"""The trade journal: every trade's intent, answer, state changes and outcome, in SQLite.

``Journal`` writes (``journal.py``) and reads (``queries.py``); the rows are plain
values (``rows.py``) and the tables are in ``schema.py``. See ``docs/bot.md`` for
the schema and the recovery rules.

Example::

    with Journal.open(default_journal_path("wss://iqoption.com|42|demo")) as journal:
        print(journal.closed_records()[-1])
"""

from iqwire.bot.journal.journal import REFUSALS_FLUSH_AFTER, Journal
from iqwire.bot.journal.lock import RunLock
from iqwire.bot.journal.rows import (
    Answer,
    GuardDecision,
    Intent,
    JournalRun,
    JournalTrade,
    default_journal_path,
)
from iqwire.bot.journal.schema import MARGIN_PREFIX, SCHEMA_VERSION, UNSETTLED, TradeStatus, is_margin

__all__ = [
    "MARGIN_PREFIX",
    "REFUSALS_FLUSH_AFTER",
    "SCHEMA_VERSION",
    "UNSETTLED",
    "Answer",
    "GuardDecision",
    "Intent",
    "Journal",
    "JournalRun",
    "JournalTrade",
    "RunLock",
    "TradeStatus",
    "default_journal_path",
    "is_margin",
]
