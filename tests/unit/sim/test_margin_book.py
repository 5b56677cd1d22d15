"""The margin book without a server: random orders and prices keep its books straight."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iqwire.margin_math import equity
from iqwire.sim.accounts import User
from iqwire.sim.config import AccountConfig
from iqwire.sim.errors import SimError
from iqwire.sim.margin_book import MarginBook
from iqwire.sim.margin_instruments import STOP_OUT_LEVEL, MarginQuote, terms_for
from iqwire.sim.margin_records import Level, OrderRequest

FIRST_BALANCE = 1_000
MARGIN = FIRST_BALANCE + 3
TERMS = terms_for("forex", 76)
HALF_SPREAD = Decimal("0.00001")


def new_book() -> tuple[MarginBook, User]:
    ids = itertools.count(1)
    user = User(AccountConfig("t@example.com", "pw", 1), FIRST_BALANCE)
    return MarginBook(lambda: next(ids)), user


def quote(mid: Decimal, t: float) -> MarginQuote:
    return MarginQuote(76, mid - HALF_SPREAD, mid + HALF_SPREAD, t)


def market(side: str, lots: int, leverage: int, take_profit: Level | None = None) -> OrderRequest:
    count = Decimal(lots * 1000)
    return OrderRequest(side, MARGIN, count, leverage, "market", take_profit=take_profit)


def feed(mid: Decimal, t: float) -> Callable[[int], MarginQuote]:
    return lambda _: quote(mid, t)


def test_an_options_balance_has_no_margin_account() -> None:
    book, user = new_book()
    assert TERMS is not None
    with pytest.raises(SimError, match="user balance has no deposits") as refused:
        book.place(
            user,
            TERMS,
            OrderRequest("buy", FIRST_BALANCE, Decimal(1000), 100, "market"),
            quote(Decimal(1), 0),
            0,
        )
    assert refused.value.status == 4008


def test_a_take_profit_closes_at_the_quote_that_reaches_it() -> None:
    book, user = new_book()
    assert TERMS is not None
    take = Level("pips", Decimal(10))
    order, _ = book.place(user, TERMS, market("buy", 10, 100, take_profit=take), quote(Decimal("1.08"), 0), 0)
    position = order.position
    assert position is not None and position.tp_price == Decimal("1.08001") + Decimal("0.0010")
    book.step(1, lambda _: quote(Decimal("1.0810"), 1))
    assert position.status == "open"  # the bid 1.08099 is a hair short
    book.step(2, lambda _: quote(Decimal("1.0812"), 2))
    assert (position.status, position.close_reason, position.close_price) == (
        "closed",
        "take_profit",
        Decimal("1.08119"),
    )
    assert position.pnl == Decimal("11.80")  # (1.08119 - 1.08001) × 10,000


prices = st.lists(st.integers(-500, 500), min_size=1, max_size=25)
orders = st.lists(
    st.tuples(st.sampled_from(["buy", "sell"]), st.integers(100, 3000), st.sampled_from([500, 1000])),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(orders=orders, moves=prices, close_first=st.booleans())
def test_the_ledger_equity_and_stop_out_hold_whatever_happens(
    orders: list[tuple[str, int, int]], moves: list[int], close_first: bool
) -> None:
    book, user = new_book()
    assert TERMS is not None
    mid, t = Decimal("1.08"), 0.0
    refusals = []
    for side, lots, leverage in orders:
        try:
            book.place(user, TERMS, market(side, lots, leverage), quote(mid, t), t)
        except SimError as exc:
            refusals.append(exc.message)
    assert all("insufficient margin" in message for message in refusals)
    account = book.accounts[MARGIN]
    if close_first and book.open_positions():
        book.close(book.open_positions()[0], quote(mid, t), t)
    for move in moves:  # a walk in steps of up to 50 pips (stop-outs happen in most examples)
        mid += Decimal(move) / 100_000
        t += 1
        book.step(t, feed(mid, t))
        figures = book.figures(account)
        assert sum((amount for _, amount in account.entries), Decimal(0)) == account.cash
        assert figures.equity == equity(account.cash, (p.pnl for p in book.open_positions()))
        assert figures.level is None or figures.level >= STOP_OUT_LEVEL
        assert account.cash >= 0 or book.open_positions()
    # Cash is the deposit plus every realised pnl, plus what protection gave back after a wipe-out.
    closed = [p for p in book.positions.values() if p.status == "closed"]
    protection = sum((a for kind, a in account.entries if kind == "negative balance protection"), Decimal(0))
    assert account.cash == Decimal(10_000) + sum((p.pnl for p in closed), Decimal(0)) + protection
    assert protection >= 0
