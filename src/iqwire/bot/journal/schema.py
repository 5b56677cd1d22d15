"""The journal's tables, and the statuses a trade goes through."""

from __future__ import annotations

import enum

__all__ = ["MARGIN_PREFIX", "SCHEMA", "SCHEMA_VERSION", "UNSETTLED", "TradeStatus", "is_margin"]

#: Bumped when the tables change; a newer file is refused, never rewritten.
SCHEMA_VERSION = 1


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


#: The product of a margin trade is its instrument type: ``marginal-forex``, ``marginal-cfd``, ``marginal-crypto``.
MARGIN_PREFIX = "marginal-"


def is_margin(product: str) -> bool:
    """Whether a journaled trade is a margin order (matched by order id, on the marginal balance).

    >>> is_margin("marginal-forex"), is_margin("blitz")
    (True, False)
    """
    return product.startswith(MARGIN_PREFIX)


#: Statuses whose trade may still hold money on the server: recovery looks at them.
UNSETTLED = (TradeStatus.INTENT, TradeStatus.OPEN, TradeStatus.UNKNOWN)

SCHEMA = f"""
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
    account     TEXT NOT NULL,
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
    UNIQUE (account, ref_kind, ref_id),
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
