"""Margin backtests: hand-computed fills, the TP/SL tie rule, swap, stop-out, the guards, the example."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from iqwire.bot import Context, Strategy
from iqwire.bot.loader import load_strategy
from iqwire.bot.margin import MarginLimits, MarginTicket
from iqwire.bot.margin_backtest import run_margin_backtest
from iqwire.models import Candle
from iqwire.sim.prices import PriceModel

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
#: 2026-02-11 23:55 UTC: five minutes before a rollover.
T0 = 1_770_854_100
SPREAD = 0.0002  # half: 0.0001


def _resolve(active: str | int) -> int:
    return 76


def _candle(i: int, o: float, h: float, low: float, c: float, size: int = 60) -> Candle:
    start = T0 + i * size
    end = start + size
    return Candle(
        id=i + 1,
        active_id=76,
        size=size,
        start=start,
        end=end,
        open=o,
        close=c,
        low=low,
        high=h,
        at=end * 10**9,
    )


class Script(Strategy):
    """Places the orders it is given at the given candle indexes, and keeps the tickets."""

    actives = [76]
    sizes = [60]

    def __init__(self, plan: dict[int, dict[str, Any]]) -> None:
        super().__init__()
        self.plan = plan
        self.tickets: list[MarginTicket | None] = []
        self.seen = 0

    async def on_candle(self, ctx: Context, candle: Candle) -> None:
        order = self.plan.get(self.seen)
        self.seen += 1
        if order is not None:
            order = dict(order)
            if order.pop("close", False):
                await ctx.close(self.tickets[-1])
                return
            self.tickets.append(await ctx.order(76, order.pop("side"), order.pop("quantity"), **order))


async def _run(candles: list[Candle], plan: dict[int, dict[str, Any]], **options: Any) -> tuple[Any, Script]:
    script = Script(plan)
    result = await run_margin_backtest(script, [candles], resolve=_resolve, spread=SPREAD, **options)
    return result, script


async def test_market_order_fills_at_the_next_open_with_the_spread_and_the_tie_rule_takes_the_stop() -> None:
    candles = [
        _candle(0, 1.1000, 1.1010, 1.0990, 1.1000),
        _candle(1, 1.1020, 1.1030, 1.1015, 1.1025),  # fills here: ask = 1.1020 + 0.0001
        _candle(2, 1.1025, 1.1100, 1.0900, 1.1050),  # touches both TP and SL: the stop-loss
    ]
    plan = {
        0: {"side": "buy", "quantity": 10_000, "leverage": 100, "take_profit": 1.1060, "stop_loss": 1.1000}
    }
    result, script = await _run(candles, plan)

    (ticket,) = result.closed
    assert ticket is script.tickets[0]
    assert ticket.open_price == pytest.approx(1.1021)
    assert ticket.margin == pytest.approx(10_000 * 1.1021 / 100)
    assert ticket.close_reason == "stop_loss" and ticket.close_price == 1.1000
    assert ticket.pnl == pytest.approx((1.1000 - 1.1021) * 10_000)
    assert result.cash == pytest.approx(10_000 - 21.0)
    assert result.max_drawdown == pytest.approx(24.0)  # from the peak of +3.00 after the fill


async def test_take_profit_limit_and_stop_orders_and_a_gap() -> None:
    candles = [
        _candle(0, 1.1000, 1.1005, 1.0995, 1.1000),
        _candle(1, 1.1000, 1.1004, 1.0980, 1.0990),  # buy limit 1.0985 (ask low 1.0981): filled at 1.0985
        _candle(2, 1.0990, 1.1040, 1.0989, 1.1030),  # TP 1.1020 on the bid (high bid 1.1039)
        _candle(3, 1.1030, 1.1035, 1.1025, 1.1030),
        _candle(
            4, 1.1060, 1.1070, 1.1050, 1.1065
        ),  # sell stop 1.1000 above? no: gap up, sell limit 1.1040 at open
    ]
    plan = {
        0: {"side": "buy", "quantity": 1_000, "type": "limit", "price": 1.0985, "take_profit": 1.1020},
        3: {"side": "sell", "quantity": 1_000, "type": "limit", "price": 1.1040},
    }
    _result, script = await _run(candles, plan)

    first, second = script.tickets
    assert first is not None and second is not None
    assert first.open_price == 1.0985 and first.close_reason == "take_profit" and first.close_price == 1.1020
    assert first.pnl == pytest.approx(3.5)
    assert second.status == "open" and second.open_price == pytest.approx(1.1060 - 0.0001)  # the better open


async def test_pips_levels_and_a_strategy_close() -> None:
    candles = [_candle(i, 1.1, 1.1002, 1.0998, 1.1) for i in range(4)]
    plan = {
        0: {"side": "sell", "quantity": 2_000, "take_profit": (50, "pips"), "stop_loss": (50, "pips")},
        2: {"close": True},
    }
    _result, script = await _run(candles, plan)

    ticket = script.tickets[0]
    assert ticket is not None
    assert ticket.take_profit == pytest.approx(1.0999 - 0.0050)
    assert ticket.stop_loss == pytest.approx(1.0999 + 0.0050)
    assert ticket.close_reason == "default" and ticket.close_price == pytest.approx(1.1001)
    assert ticket.pnl == pytest.approx(-0.4)


async def test_swap_is_charged_at_midnight() -> None:
    candles = [_candle(i, 1.08, 1.0801, 1.0799, 1.08) for i in range(8)]  # 23:55 to 00:03
    result, script = await _run(candles, {0: {"side": "buy", "quantity": 100_000}})

    ticket = script.tickets[0]
    assert ticket is not None and ticket.status == "open"
    assert ticket.swap == pytest.approx(-100_000 * 1.08 * 0.008 / 100)  # -8.64
    assert result.swap == pytest.approx(-8.64)
    assert result.cash == pytest.approx(10_000 - 8.64)


async def test_stop_out_closes_the_biggest_loss_and_orders_below_the_margin_level_are_refused() -> None:
    candles = [
        _candle(0, 1.0, 1.0, 1.0, 1.0),
        _candle(1, 1.0, 1.0, 1.0, 1.0),  # fills 900,000 at 1.0001 with 1:100: margin 9,000.90
        _candle(2, 1.0, 1.0, 0.999, 0.9995),
        _candle(3, 0.9995, 0.9995, 0.9940, 0.9940),  # equity about 4,500: under 50 %
    ]
    plan = {
        0: {"side": "buy", "quantity": 900_000, "leverage": 100},
        2: {"side": "buy", "quantity": 1_000, "leverage": 100},  # refused: level about 105 %
    }
    result, script = await _run(candles, plan, limits=MarginLimits(min_margin_level=150))

    ticket = script.tickets[0]
    assert ticket is not None and ticket.close_reason == "stop_out"
    assert script.tickets[1] is None and result.refusals == {"margin_level": 1}
    assert result.min_margin_level is not None and result.min_margin_level < 60
    assert result.cash == pytest.approx(10_000 + ticket.pnl)


async def test_exposure_guard_refuses() -> None:
    candles = [_candle(i, 1.1, 1.1, 1.1, 1.1) for i in range(3)]
    plan = {0: {"side": "buy", "quantity": 10_000}, 1: {"side": "sell", "quantity": 10_000}}
    result, script = await _run(candles, plan, limits=MarginLimits(max_exposure=15_000))
    assert script.tickets[1] is None and result.refusals == {"max_exposure": 1}


async def test_the_margin_example_trades_with_tp_and_sl() -> None:
    strategy_class = load_strategy(str(EXAMPLES / "margin_forex.py"))
    candles = PriceModel(seed=5).candles(76, 60, T0 - 12 * 3600, T0 + 12 * 3600)
    result = await run_margin_backtest(strategy_class(), [candles], resolve=_resolve, spread=0.00002)

    reasons = {t.close_reason for t in result.closed}
    assert {"take_profit", "stop_loss"} <= reasons, result.summary_line()
    open_pnl = sum(t.pnl for t in result.still_open if t.status == "open")
    assert result.final_equity == pytest.approx(
        10_000 + sum(t.pnl for t in result.closed) + result.swap + open_pnl
    )
    assert result.max_drawdown >= 0 and len(result.equity_curve) == result.candles
    assert "max drawdown" in result.summary_line()
