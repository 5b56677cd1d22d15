"""How ``iqwire positions`` shows margin positions: their own table, with the P&L the server gives now."""

from __future__ import annotations

from rich.table import Table

from iqwire.models import Position
from iqwire.trading.margin_positions import family_of, margin_detail

__all__ = ["margin_table", "split_margin"]


def margin_table(rows: list[Position]) -> Table:
    """The margin positions of a ``get-positions`` reply, with their P&L as the server values it now."""
    table = Table(title="Margin positions")
    for name in ("id", "instrument", "side", "quantity", "leverage", "open", "margin", "P&L", "TP", "SL"):
        table.add_column(name, justify="left" if name in ("instrument", "side") else "right")
    for position in rows:
        detail = margin_detail(position)
        levels = [detail.get(k) for k in ("take_profit", "stop_loss")]
        table.add_row(
            str(position.option_id),
            str(position.instrument_id or detail.get("instrument_id") or "-"),
            str(detail.get("side") or position.direction or "-"),
            str(detail.get("count", "-")),
            str(detail.get("leverage", "-")),
            f"{position.open_quote or 0:.10g}",
            f"{position.amount or 0:,.2f}",
            f"{position.pnl or 0:+,.2f}",
            *(
                str(level.get("price") or level.get("value")) if isinstance(level, dict) else "-"
                for level in levels
            ),
        )
    return table


def split_margin(rows: list[Position]) -> tuple[list[Position], list[Position]]:
    """``(options, margin)``: the rows of ``iqwire positions``' two tables."""
    margin_rows = [p for p in rows if family_of(p.instrument_type) is not None]
    return [p for p in rows if family_of(p.instrument_type) is None], margin_rows
