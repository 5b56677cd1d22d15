"""Margin trading through the blocking facade, against the simulator on a fast real clock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from iqwire.errors import OrderNotFilled
from iqwire.sim import Simulator
from iqwire.sync import Client, SyncMarginOrder, SyncMarginPosition, Trader
from iqwire.trading import MarginFigures


def test_place_fill_modify_close_and_cancel_block(tsim: Simulator) -> None:
    with Client(
        tsim.credentials.email, tsim.credentials.password, ws_url=tsim.ws_url, login_url=tsim.login_url
    ) as client:
        trader = Trader(client)
        assert "EURUSD-OTC" in {i.name for i in trader.instruments("forex")}
        assert trader.calculate_margin("EURUSD-OTC", 10_000, 100) > 0

        order = trader.place_order("EURUSD-OTC", "buy", 2_000, leverage=100)
        assert isinstance(order, SyncMarginOrder)
        position = order.filled(timeout=5)
        assert isinstance(position, SyncMarginPosition)
        assert position.quantity == Decimal(2_000) and position.margin > 0
        assert [p.id for p in trader.margin_positions()] == [position.id]
        position.modify(take_profit=(500, "pips"))
        figures = trader.margin_balance()
        assert isinstance(figures, MarginFigures) and figures.margin > 0

        closed = position.close()
        assert closed.is_closed and closed.close_reason == "default"

        pending = trader.place_order("EURUSD-OTC", "sell", 1_000, type="limit", price=9.0, leverage=100)
        trader.margin_order(pending.id).cancel()
        with pytest.raises(OrderNotFilled):
            pending.filled(timeout=5)
