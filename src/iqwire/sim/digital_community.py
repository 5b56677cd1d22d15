"""Digital options as the community Python client sees them: its names, its strike list, its quotes push.

``get-underlying-list`` 2.0, ``get-strike-list`` 4.0 and ``get-instruments`` 4.0, and
the ``instrument-quotes-generated`` push (every step, for the nearest offered
instrument of each subscribed ``(active, expiration_period)``, computed once and
encoded once for all its subscribers). Buying and closing use the same RPCs as
the SDK (``sim/digital.py``); the instruments are ``sim/digital_instruments.py``'s.
"""

from __future__ import annotations

from iqwire.models.digital import (
    GetStrikeListBody,
    GetUnderlyingListBody,
    InstrumentQuote,
    InstrumentQuotes,
    QuoteExpiration,
    QuotePrice,
    StrikeList,
    StrikeListEntry,
    StrikeSymbol,
)
from iqwire.models.legacy import GetLegacyInstrumentsBody, LegacyInstrument, LegacyInstruments
from iqwire.sim.accounts import User
from iqwire.sim.actives import ActiveSpec
from iqwire.sim.digital_instruments import Instrument, by_name, offered, sessions, underlying_list
from iqwire.sim.errors import REJECTED, SimError
from iqwire.sim.frames import push_frame
from iqwire.sim.prices import UnknownActive
from iqwire.sim.product import Handler, HandlerKey, Product, Reply

__all__ = ["DigitalCommunity"]

_QUOTES = "instrument-quotes-generated"
#: The community client's instrument types and the simulator's kinds of active.
_KINDS = {"forex": "forex", "cfd": "stock", "crypto": "crypto"}


class DigitalCommunity(Product):
    """The community client's calls and push for digital options (and its open-times list)."""

    name = "digital_community"

    def handlers(self) -> dict[HandlerKey, Handler]:
        return {
            "get-underlying-list": self._underlying_list,
            "get-strike-list": self._strike_list,
            "get-instruments": self._instruments,
        }

    def _underlying_list(self, user: User, body: GetUnderlyingListBody, now: float) -> Reply:
        return "underlying-list", underlying_list(self.state.model, now)

    def _instruments(self, user: User, body: GetLegacyInstrumentsBody, now: float) -> Reply:
        # get_all_open_time: forex, cfd (the stocks) and crypto actives and their hours.
        kind = _KINDS.get(body.type)
        if kind is None:
            raise SimError(REJECTED, f"type must be one of {', '.join(_KINDS)}, not {body.type!r}")
        items = [
            LegacyInstrument(id=spec.name, name=spec.name, active_id=spec.id, schedule=sessions(spec, now))
            for spec in self.state.model.actives
            if spec.kind == kind
        ]
        return "instruments", LegacyInstruments(instruments=items, type=body.type)

    def _strike_list(self, user: User, body: GetStrikeListBody, now: float) -> Reply:
        spec = by_name(self.state.model, body.underlying)
        wanted = body.expiration // 1000 if body.expiration > 100_000_000_000 else body.expiration
        found = self._nearest(spec, body.period, wanted, now)
        entries = [
            StrikeListEntry(
                value=round((strike.value or 0) * 1_000_000),
                call=StrikeSymbol(id=found.symbol("call", strike)),
                put=StrikeSymbol(id=found.symbol("put", strike)),
            )
            for strike in found.strikes
            if strike.value is not None
        ]
        return "strike-list", StrikeList(
            strike=entries,
            expiration=found.expiration,
            period=found.period,
            underlying=spec.name,
            type=body.type,
        )

    def _nearest(self, spec: ActiveSpec, period: int, expiration: int, now: float) -> Instrument:
        choices = [i for i in offered(self.state.model, spec, now) if i.period == period]
        if not choices:
            raise SimError(REJECTED, f"no {period} s digital instruments of {spec.name} now")
        return min(choices, key=lambda i: abs(i.expiration - expiration))

    def step(self, t: float) -> None:
        for (active_id, period), conns in list(self.host.hub.streams(_QUOTES).items()):
            try:
                spec = self.state.model.spec(active_id)
            except UnknownActive:
                continue
            spot = self.state.price_at(active_id, t)
            current = next((i for i in offered(self.state.model, spec, t) if i.period == period), None)
            if spot is None or current is None:
                continue
            quotes = [
                InstrumentQuote(symbols=[side.symbol], price=QuotePrice(ask=side.ask, bid=side.bid))
                for price in current.prices(spot, t, self.state.commissions[active_id])
                for side in (price.call, price.put)
            ]
            payload = InstrumentQuotes(
                active=active_id,
                kind="digital-option",
                expiration=QuoteExpiration(period=period, timestamp=current.expiration),
                quotes=quotes,
            )
            data = push_frame(_QUOTES, "quotes", payload)
            for conn in list(conns):
                self.host.send(conn, data)
