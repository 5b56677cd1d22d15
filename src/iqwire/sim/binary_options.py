"""Turbo and binary options: expiries on a fixed grid, a purchase deadline, early sale.

``binary-options.open-option`` 2.0 (the SDK) and 1.0 (the community client, which
sends no ``profit_percent``) with ``option_type_id`` 3 (turbo) or 1 (binary).

- **Expiries** are on the grid the SDK computes from ``initialization-data``: for
  each size in ``option.expiration_times``, ``option.count`` multiples of the size.
  The server accepts a multiple of the smallest size that can still be bought and
  is no later than the last expiry of the largest size's grid, plus binary's
  enabled ``option.special`` expiries.
- **Purchase** is refused from ``expiry - deadtime`` on (4008, ``purchase time is
  over``). Settlement is the blitz rule: last price at or before the expiry.
- **Early sale** (``binary-options.sell-options`` 3.0, ``sell-options`` 2.0 for the
  community client) until ``expiry - buyback_deadtime``, at
  :func:`iqwire.pricing.buyback_price`; the position closes with ``sold``.
- On close, connections that speak the community dialect also get
  ``listInfoData`` and ``option-closed``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from iqwire.models import (
    BINARY_OPTION_TYPE_ID,
    TURBO_OPTION_TYPE_ID,
    InstrumentGroup,
    OpenOptionRequest,
    Option,
    Position,
    Result,
)
from iqwire.models.binary import (
    ListInfoItem,
    OptionClosed,
    SellOptionsBody,
    SoldOption,
    SoldOptions,
)
from iqwire.pricing import buyback_price
from iqwire.sim import fixed_payout
from iqwire.sim.accounts import User
from iqwire.sim.actives import ActiveSpec, is_open
from iqwire.sim.errors import REJECTED, SimError
from iqwire.sim.ledger import LedgerEvent, PositionUpdated, Record
from iqwire.sim.product import Handler, HandlerKey, OptionOpener, Product, Reply

__all__ = ["BINARY", "TURBO", "BinaryOptions", "Kind"]


@dataclass(frozen=True)
class Kind:
    """One of the two products: its grid, deadlines and names."""

    option_type_id: int
    option_type: str
    instrument_type: str
    expiration_times: tuple[int, ...]
    count: int
    deadtime: int
    buyback_deadtime: int

    def first_buyable(self, size: int, now: float) -> int:
        """The first multiple of ``size`` that can still be bought at ``now``."""
        first = (math.floor(now) // size + 1) * size
        while first - self.deadtime <= now:
            first += size
        return first

    def last_expiry(self, now: float) -> int:
        """The latest expiry on any size's grid."""
        return max(self.first_buyable(size, now) + (self.count - 1) * size for size in self.expiration_times)


#: Turbo: one to five minutes, bought until 30 s before the expiry, sold until 15 s before.
TURBO = Kind(TURBO_OPTION_TYPE_ID, "turbo", "turbo-option", (60,), 5, 30, 15)
#: Binary: quarter, half and whole hours, bought until 5 min before, sold until 2 min before.
BINARY = Kind(BINARY_OPTION_TYPE_ID, "binary", "binary-option", (900, 1800, 3600), 4, 300, 120)
_KINDS = {kind.option_type_id: kind for kind in (TURBO, BINARY)}
_BY_INSTRUMENT = {kind.instrument_type: kind for kind in (TURBO, BINARY)}
#: Binary's special expiry: the end of the month (the SDK's test looks for this title).
END_OF_MONTH = "front.End of month"


def end_of_month(now: float) -> int:
    """The first second of next month, UTC."""
    day = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return calendar.timegm((year, month, 1, 0, 0, 0))


class BinaryOptions(Product):
    """Turbo (``option_type_id`` 3) and binary (1) options."""

    name = "binary_options"
    features = ("turbo-instrument", "binary-instrument")

    def handlers(self) -> dict[HandlerKey, Handler]:
        return {
            "binary-options.sell-options": self._sell_v3,
            "sell-options": self._sell_v2,
        }

    def option_openers(self) -> dict[int, OptionOpener]:
        return {TURBO_OPTION_TYPE_ID: self.open, BINARY_OPTION_TYPE_ID: self.open}

    # -- initialization data -----------------------------------------------------------

    def init_groups(self, now: float) -> dict[str, InstrumentGroup]:
        groups = {}
        for key, kind in (("turbo", TURBO), ("binary", BINARY)):
            actives = {str(spec.id): self._init_active(kind, spec, now) for spec in self.state.model.actives}
            groups[key] = InstrumentGroup(actives=actives)
        return groups

    def _init_active(self, kind: Kind, spec: ActiveSpec, now: float) -> Any:
        extra: dict[str, Any] = {
            "deadtime": kind.deadtime,
            "buyback_deadtime": kind.buyback_deadtime,
            "is_buyback": True,
            "count": kind.count,
        }
        if kind is BINARY:
            expiry = end_of_month(now)
            extra["special"] = {str(expiry): {"title": END_OF_MONTH, "enabled": is_open(spec, expiry)}}
        return self.state.init_active(spec, now, kind.expiration_times, **extra)

    # -- purchase ----------------------------------------------------------------------

    def open(self, user: User, body: OpenOptionRequest, now: float) -> Option:
        """Validate and place a turbo or binary option, and push what it changed.

        Raises:
            SimError: 4003/4008/4117 as the platform would send them.
        """
        kind = _KINDS[body.option_type_id]
        spec = self.state.require_active(body.active_id)
        listing = self.state.listing(spec)
        fixed_payout.check_order(user, body)
        size = self._check_expiry(kind, spec, body.expired, now)
        fixed_payout.check_market(user, body, listing, body.expired, now)
        payout = fixed_payout.check_payout(body, listing, kind.option_type_id)
        terms = fixed_payout.OptionTerms(
            instrument_type=kind.instrument_type,
            option_type=kind.option_type,
            option_type_id=kind.option_type_id,
            created=int(now),
            expires=body.expired,
            expiration_size=size,
            payout=payout,
        )
        option, events = fixed_payout.open_option(
            self.state.ledger, user, body, listing, terms, now, self.name
        )
        self.host.publish(events)
        return option

    @staticmethod
    def _check_expiry(kind: Kind, spec: ActiveSpec, expired: int, now: float) -> int:
        """The grid size of ``expired``; 4008 when it is off the grid or past its deadline."""
        if kind is BINARY and expired == end_of_month(now):
            size = expired - math.floor(now)
        else:
            step = min(kind.expiration_times)
            if expired <= 0 or expired % step or expired > kind.last_expiry(now):
                raise SimError(
                    REJECTED,
                    f"expired {expired} is not a {kind.option_type} expiry of this active now "
                    f"(multiples of {step} s up to {kind.last_expiry(now)})",
                )
            size = max(s for s in kind.expiration_times if expired % s == 0)
        if now >= expired - kind.deadtime:
            raise SimError(
                REJECTED,
                f"purchase time is over: options expiring at {expired} can be bought until "
                f"{expired - kind.deadtime} (deadtime {kind.deadtime} s)",
            )
        return size

    # -- sale --------------------------------------------------------------------------

    def _sell_v3(self, user: User, body: SellOptionsBody, now: float) -> Reply:
        sold = self.sell(user, body.options_ids, now)
        failed = [s.reason for s in sold if s.reason is not None]
        return "result", Result(success=not failed, reason="; ".join(failed) or None)

    def _sell_v2(self, user: User, body: SellOptionsBody, now: float) -> Reply:
        sold = self.sell(user, body.options_ids, now)
        failed = [s.reason for s in sold if s.reason is not None]
        return "sold-options", SoldOptions(success=not failed, options=sold, reason="; ".join(failed) or None)

    def sell(self, user: User, option_ids: list[int], now: float) -> list[SoldOption]:
        """Sell options back now; each either sells (its ``amount``) or says why not."""
        out = []
        for option_id in option_ids:
            record = self.state.ledger.record(option_id)
            try:
                amount = self._sell_one(user, record, option_id, now)
            except SimError as exc:
                out.append(SoldOption(id=option_id, reason=exc.message))
            else:
                out.append(SoldOption(id=option_id, amount=amount))
        return out

    def _sell_one(self, user: User, record: Record | None, option_id: int, now: float) -> float:
        if record is None or record.user is not user:
            raise SimError(REJECTED, f"option {option_id} not found")
        if record.product != self.name:
            raise SimError(
                REJECTED, f"{record.position.instrument_type} options cannot be sold before expiry"
            )
        if record.position.status != "open":
            raise SimError(REJECTED, f"option {option_id} is already closed")
        kind = _BY_INSTRUMENT[record.position.instrument_type or ""]
        expires = record.position.expiration_time or 0
        if now >= expires - kind.buyback_deadtime:
            raise SimError(
                REJECTED,
                f"sale time is over: option {option_id} could be sold until "
                f"{expires - kind.buyback_deadtime} (buyback deadtime {kind.buyback_deadtime} s)",
            )
        amount = self.sale_price(record, now)
        if amount is None:
            raise SimError(REJECTED, "The active is closed for trading now.")
        price = self.state.price_at(record.position.active_id or 0, now)
        self._publish(
            self.state.ledger.finish(record, result="sold", reason="sold", paid=amount, when=now, quote=price)
        )
        return amount

    def sale_price(self, record: Record, now: float) -> float | None:
        """What the option sells back for at ``now`` (``None`` while its market is closed)."""
        position = record.position
        active_id = position.active_id or 0
        spot = self.state.price_at(active_id, now)
        if spot is None:
            return None
        spec = self.state.model.spec(active_id)
        return buyback_price(
            position.direction or "call",
            position.investment or 0.0,
            record.terms["payout"],
            position.open_quote or spot,
            spot,
            spec.volatility,
            (position.expiration_time or 0) - now,
            self.state.commissions[active_id],
        )

    def step(self, t: float) -> None:
        self._publish(fixed_payout.settle_due(self.state.ledger, self.name, t, self.state.price_at))

    def _publish(self, events: list[LedgerEvent]) -> None:
        self.host.publish(events)
        for event in events:
            if isinstance(event, PositionUpdated) and event.position.status == "closed":
                self._legacy_close(event.user, event.position)

    def _legacy_close(self, user: User, position: Position) -> None:
        option_id = position.option_id or 0
        result = position.close_reason or ""
        item = ListInfoItem(
            id=option_id,
            win=result,
            game_state=1,
            amount=position.investment,
            profit_amount=position.close_profit,
            active_id=position.active_id,
            direction=position.direction,
            exp=position.expiration_time,
        )
        self.host.push_legacy("listInfoData", [item], user)
        closed = OptionClosed(
            option_id=option_id,
            profit_amount=position.close_profit or 0.0,
            amount=position.investment or 0.0,
            result=result,
            active_id=position.active_id,
            direction=position.direction,
            expiration_time=position.expiration_time,
        )
        self.host.push_legacy("option-closed", closed, user)
