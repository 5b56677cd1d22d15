"""The real-money lock on its own: which money requests it lets through, and what it asks first."""

from __future__ import annotations

from typing import Any

import pytest

from iqwire.client.lock import RealMoneyLock
from iqwire.errors import RealMoneyLocked
from iqwire.models import Balance, BalanceType, Order, Position
from iqwire.protocol import catalog

REAL, DEMO = 1, 4


class _Account:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def balances(self) -> list[Balance]:
        self.calls.append("balances")
        return [
            Balance(id=REAL, type=BalanceType.REAL, amount=100),
            Balance(id=DEMO, type=BalanceType.DEMO, amount=1),
        ]

    async def positions(self) -> list[Position]:
        self.calls.append("positions")
        return [
            Position(id="a", status="open", external_id=11, user_balance_id=REAL),
            Position(id=22, status="open", user_balance_id=DEMO),
        ]

    async def orders(self, balance_id: int) -> list[Order]:
        self.calls.append(f"orders {balance_id}")
        return [Order(id=33, user_balance_id=balance_id)] if balance_id == DEMO else []


def _lock(allowed: bool = False) -> tuple[RealMoneyLock, _Account]:
    account = _Account()
    return RealMoneyLock(
        allowed=allowed, balances=account.balances, positions=account.positions, orders=account.orders
    ), account


def _open(balance: Any) -> dict[str, Any]:
    return {"user_balance_id": balance, "active_id": 76, "price": 1}


async def test_an_open_on_real_or_on_no_balance_is_refused() -> None:
    lock, account = _lock()
    for balance in (REAL, str(REAL), None, True, "x"):
        with pytest.raises(RealMoneyLocked):
            await lock.check_request(catalog.OPEN_OPTION, _open(balance))
    await lock.check_request(catalog.OPEN_OPTION, _open(DEMO))
    assert account.calls == ["balances"]  # learnt once, then known


async def test_a_sell_or_close_is_checked_against_the_positions_balance() -> None:
    lock, _ = _lock()
    with pytest.raises(RealMoneyLocked):
        await lock.check_request(catalog.SELL_OPTIONS, {"options_ids": [22, 11]})
    await lock.check_request(catalog.SELL_OPTIONS, {"options_ids": [22]})
    with pytest.raises(RealMoneyLocked, match="names no balance"):
        await lock.check_request(catalog.SELL_OPTIONS, {"options_ids": [404]})  # not open: cannot tell
    close = catalog.rpc("digital-options.close-position")
    assert close is not None
    await lock.check_request(close, {"position_id": 22})


async def test_a_cancel_finds_the_orders_balance() -> None:
    lock, account = _lock()
    cancel = catalog.RpcSpec(
        "marginal-forex.cancel-pending-order",
        ("1.0",),
        catalog.RAW,
        "result",
        catalog.RAW,
        money=catalog.MoneyMove("cancel", balance_field=None, ids_field="order_id", ids_kind="order"),
    )
    await lock.check_request(cancel, {"order_id": 33})
    assert "orders 4" in account.calls
    with pytest.raises(RealMoneyLocked):
        await lock.check_request(cancel, {"order_id": 34})


async def test_the_opt_in_costs_no_lookup() -> None:
    lock, account = _lock(allowed=True)
    await lock.check_request(catalog.OPEN_OPTION, _open(REAL))
    await lock.check_request(catalog.SELL_OPTIONS, {"options_ids": [11]})
    await lock.check("close", None)
    assert account.calls == []


def test_every_rpc_that_moves_money_is_marked() -> None:
    # change-tpsl moves no money itself, but a stop-loss decides a loss: it passes the lock too.
    verbs = ("open-option", "sell-option", "place-", "close-position", "cancel-", "change-tpsl")
    for name, spec in catalog.RPCS.items():
        moves = any(verb in name for verb in verbs)
        assert (spec.money is not None) == moves, f"{name}: money={spec.money}"
