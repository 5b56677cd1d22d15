"""The live bot's mailbox: market data coalesces per key, money events are never dropped."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from iqwire.bot.mailbox import Mailbox
from iqwire.bot.records import TradeRecord
from iqwire.client import ConnectionState
from iqwire.models import Balance, BalanceChanged, BalanceType, Candle, Outcome, TradersMood


def candle(active: int, size: int, start: int, close: float = 1.0) -> Candle:
    return Candle(id=start, start=start, end=start + size, open=1.0, close=close, low=1.0, high=1.0,
                  active_id=active, size=size)  # fmt: skip


def record(trade_id: int) -> TradeRecord:
    return TradeRecord(trade_id, 76, "call", 10, 85, 0, 5, 1.0, 1.1, Outcome.WIN, 8.5)


def balance(amount: float) -> BalanceChanged:
    return BalanceChanged(current_balance=Balance(id=1, type=BalanceType.DEMO, amount=amount))


def drain(mailbox: Mailbox) -> list[object]:
    out = []
    while (event := mailbox.get_nowait()) is not None:
        out.append(event)
    return out


def test_a_newer_candle_replaces_the_queued_one_in_place() -> None:
    mailbox = Mailbox()
    mailbox.put(candle(76, 1, 100, close=1.0))
    mailbox.put(record(1))
    mailbox.put(candle(76, 1, 100, close=2.0))  # replaces the first, keeps its place
    mailbox.put(candle(76, 5, 100))  # another size: its own slot
    events = drain(mailbox)
    assert [type(e).__name__ for e in events] == ["Candle", "TradeRecord", "Candle"]
    first = events[0]
    assert isinstance(first, Candle) and first.close == 2.0
    assert mailbox.coalesced == 1


def test_mood_and_connection_state_coalesce_too() -> None:
    mailbox = Mailbox()
    for value in (0.1, 0.2, 0.3):
        mailbox.put(TradersMood(asset_id=76, value=value))
    mailbox.put(ConnectionState.RECONNECTING)
    mailbox.put(ConnectionState.CONNECTED)
    events = drain(mailbox)
    assert events == [TradersMood(asset_id=76, value=0.3), ConnectionState.CONNECTED]


def test_trade_and_balance_events_are_never_dropped() -> None:
    mailbox = Mailbox()
    for i in range(1000):
        mailbox.put(record(i))
        mailbox.put(balance(float(i)))
        mailbox.put(candle(76, 1, 100 + i))
    events = drain(mailbox)
    assert [e.id for e in events if isinstance(e, TradeRecord)] == list(range(1000))
    assert [e.current_balance.amount for e in events if isinstance(e, BalanceChanged)] == [
        float(i) for i in range(1000)
    ]
    assert len([e for e in events if isinstance(e, Candle)]) == 1


@given(st.lists(st.tuples(st.sampled_from([76, 1, 2]), st.sampled_from([1, 5, 60])), max_size=300))
def test_candles_never_queue_more_than_one_per_key(keys: list[tuple[int, int]]) -> None:
    mailbox = Mailbox()
    for start, (active, size) in enumerate(keys):
        mailbox.put(candle(active, size, start))
    assert mailbox.high_water <= len(set(keys))
    events = drain(mailbox)
    # The newest candle of each key is what comes out.
    newest = {key: start for start, key in enumerate(keys)}
    assert {(e.active_id, e.size): e.start for e in events if isinstance(e, Candle)} == newest


async def test_get_waits_for_an_event() -> None:
    mailbox = Mailbox()
    waiting = asyncio.create_task(mailbox.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    mailbox.put(record(7))
    assert await asyncio.wait_for(waiting, 1) == record(7)
    assert len(mailbox) == 0
