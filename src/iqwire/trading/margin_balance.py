"""The marginal balance: which balance margin trades on, and its figures as numbers.

The platform keeps margin trading on a balance of its own (``is_marginal``), and
``marginal-portfolio`` reports its figures as decimal strings: cash, P&L, equity,
margin, available, margin level and stop-out level. :class:`MarginFigures` is
that report as :class:`~decimal.Decimal` s (the margin level ``None`` without open
positions, where the wire says ``"0.00"``).

Example::

    figures = await trader.margin_balance()
    print(figures.equity, figures.margin_level, figures.available)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from iqwire.errors import UnknownBalance
from iqwire.margin_math import to_decimal
from iqwire.models import Balance, BalanceType
from iqwire.models.margin import MarginalBalance, MarginalBalanceBody
from iqwire.protocol import catalog

if TYPE_CHECKING:
    from iqwire.trading.desk import Desk

__all__ = ["MarginFigures", "marginal_balance", "marginal_figures"]


@dataclass(frozen=True)
class MarginFigures:
    """A marginal balance's figures, in its currency (``margin_level`` in percent).

    ``equity = cash + pnl``; ``available = equity - margin``;
    ``margin_level = equity / margin × 100`` (``None`` without open positions).
    """

    balance_id: int
    currency: str
    cash: Decimal
    pnl: Decimal
    swap: Decimal
    equity: Decimal
    margin: Decimal
    available: Decimal
    margin_level: Decimal | None
    stop_out_level: Decimal

    @classmethod
    def from_wire(cls, balance: MarginalBalance) -> MarginFigures:
        """From the ``marginal-balance`` reply or the ``balance-changed`` push of ``marginal-portfolio``."""
        margin = to_decimal(balance.margin)
        return cls(
            balance_id=balance.id,
            currency=balance.currency,
            cash=to_decimal(balance.cash),
            pnl=to_decimal(balance.pnl),
            swap=to_decimal(balance.swap),
            equity=to_decimal(balance.equity),
            margin=margin,
            available=to_decimal(balance.available),
            margin_level=to_decimal(balance.margin_level) if margin > 0 else None,
            stop_out_level=to_decimal(balance.stop_out_level),
        )


async def marginal_balance(desk: Desk, which: BalanceType | int) -> Balance:
    """The marginal balance of a type (DEMO, REAL), or the balance with this id.

    Raises:
        UnknownBalance: the account has no such marginal balance.
    """
    balances = await desk.client.get_balances()
    for candidate in balances:
        if isinstance(which, BalanceType):
            if candidate.type == which and candidate.is_marginal:
                return candidate
        elif candidate.id == which:
            if not candidate.is_marginal:
                raise UnknownBalance(
                    f"balance {which} is not a marginal balance: margin orders need the account's "
                    "marginal balance (balance=BalanceType.DEMO picks it)"
                )
            return candidate
    raise UnknownBalance(f"no marginal balance {which!r} on this account")


async def marginal_figures(desk: Desk, balance_id: int) -> MarginFigures:
    """The figures of a marginal balance now (``marginal-portfolio.get-marginal-balance``)."""
    reply = await desk.client.call(
        catalog.GET_MARGINAL_BALANCE, MarginalBalanceBody(user_balance_id=balance_id)
    )
    return MarginFigures.from_wire(reply)
