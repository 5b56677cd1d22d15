"""Digital options: strikes priced by the model, orders, settlement against the strike, early close.

RPCs: ``digital-option-instruments.get-underlying-list`` 3.0 and
``get-instruments`` 3.0 (the SDK), ``digital-options.place-digital-option`` 3.0
(SDK: ``instrument_id`` = a strike symbol, with ``asset_id`` and
``instrument_index``) and 1.0/2.0 (community: the instrument id alone), answered
``digital-option-placed {id}`` (the order id); ``digital-options.close-position``
1.0. Pushes, every step: ``digital-option-client-price-generated`` (one
computation per subscribed instrument, encoded once for all its subscribers),
``instrument-generated`` when an instrument appears, ``underlying-list-changed``
when a market opens or closes. The community client's own names and quotes push
are ``sim/digital_community.py``'s.

An order without funds is accepted (the reply carries its id) and rejected
afterwards: ``order-changed`` with ``status: "rejected"`` at the next step, no
position. A filled order opens a position at the strike's ``ask``: ``count =
amount / ask`` units that pay 100 each if the price ends beyond the strike
(``close_reason: "expired"``), or are closed early at the strike's ``bid``
(``close_reason: "default"``). Prices: :mod:`iqwire.pricing`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from iqwire.models import Order, Position, Result
from iqwire.models.digital import (
    ClosePositionBody,
    DigitalClientPrices,
    DigitalInstruments,
    DigitalOptionPlaced,
    GetDigitalInstrumentsBody,
    GetUnderlyingListBody,
    PlaceDigitalOptionBody,
)
from iqwire.sim.accounts import User
from iqwire.sim.actives import ActiveSpec, is_open
from iqwire.sim.digital_instruments import (
    DEADTIME,
    PERIODS,
    Instrument,
    by_name,
    instrument,
    offered,
    parse_symbol,
    underlying_list,
)
from iqwire.sim.errors import FORBIDDEN, REJECTED, UNKNOWN_NAME, SimError
from iqwire.sim.frames import push_frame
from iqwire.sim.ledger import LedgerEvent, OrderUpdated, PositionUpdated, Record
from iqwire.sim.product import Handler, HandlerKey, Product, ProductHost, Reply

__all__ = ["Digital"]

_PRICES = "digital-option-client-price-generated"


@dataclass(frozen=True)
class _Fill:
    instrument: Instrument
    direction: str
    strike_text: str
    strike_value: float
    ask: float
    spot: float


class Digital(Product):
    """Digital options on every active."""

    name = "digital"
    features = ("digital-instrument",)

    def __init__(self, host: ProductHost) -> None:
        super().__init__(host)
        self._rejections: list[tuple[User, Order]] = []
        self._generated_slot = math.floor(host.now / min(PERIODS))
        self._open_state: dict[int, bool] = {}

    def handlers(self) -> dict[HandlerKey, Handler]:
        return {
            "digital-option-instruments.get-underlying-list": self._underlying_list,
            "digital-option-instruments.get-instruments": self._instruments,
            "digital-options.place-digital-option": self._place,
            "digital-options.close-position": self._close,
        }

    # -- lists -------------------------------------------------------------------------

    def _underlying_list(self, user: User, body: GetUnderlyingListBody, now: float) -> Reply:
        return "underlying-list", underlying_list(self.state.model, now)

    def _instruments(self, user: User, body: GetDigitalInstrumentsBody, now: float) -> Reply:
        spec = self.state.require_active(body.asset_id)
        instruments = [i.model() for i in offered(self.state.model, spec, now)] if is_open(spec, now) else []
        return "instruments", DigitalInstruments(instruments=instruments)

    # -- orders ------------------------------------------------------------------------

    def _place(self, user: User, body: PlaceDigitalOptionBody, now: float) -> Reply:
        fill = self._resolve(body, now)
        try:
            amount = float(body.amount)
        except ValueError:
            raise SimError(REJECTED, f"amount must be a number, not {body.amount!r}") from None
        spec = fill.instrument.spec
        if not spec.min_amount <= amount <= spec.max_amount:
            raise SimError(REJECTED, f"amount must be between {spec.min_amount:g} and {spec.max_amount:g}")
        balance = user.balance(body.user_balance_id)
        if balance is None:
            raise SimError(FORBIDDEN, f"balance {body.user_balance_id} does not belong to this user")
        ledger = self.state.ledger
        order_id = ledger.next_id()
        if amount > balance.amount + 1e-9:
            # Accepted, then rejected (the SDK's test): the order-changed comes after the reply.
            order = self._order(user, body.user_balance_id, order_id, spec.id, "rejected", None)
            ledger.add_order(user, order)
            self._rejections.append((user, order))
            return "digital-option-placed", DigitalOptionPlaced(id=order_id)
        self.host.publish(self._fill(user, body.user_balance_id, order_id, amount, fill, now))
        return "digital-option-placed", DigitalOptionPlaced(id=order_id)

    def _resolve(self, body: PlaceDigitalOptionBody, now: float) -> _Fill:
        parsed = parse_symbol(body.instrument_id)
        if parsed is None:
            raise SimError(UNKNOWN_NAME, f"unknown instrument {body.instrument_id!r}")
        spec = by_name(self.state.model, parsed.name)
        if body.asset_id is not None and body.asset_id != spec.id:
            raise SimError(REJECTED, f"instrument {body.instrument_id} is not of asset {body.asset_id}")
        found = next(
            (
                i
                for i in offered(self.state.model, spec, now)
                if (i.period, i.expiration) == (parsed.period, parsed.expiration)
            ),
            None,
        )
        if found is None:
            if parsed.period in PERIODS and parsed.expiration - DEADTIME <= now < parsed.expiration + 1:
                raise SimError(
                    REJECTED,
                    f"purchase time is over: {body.instrument_id} could be bought until "
                    f"{parsed.expiration - DEADTIME} (deadtime {DEADTIME} s)",
                )
            raise SimError(REJECTED, f"instrument {body.instrument_id} is not offered now")
        if body.instrument_index is not None and body.instrument_index != found.index:
            raise SimError(REJECTED, f"instrument index {body.instrument_index} does not match {found.index}")
        strike = next((s for s in found.strikes if s.text == parsed.strike), None)
        spot = self.state.price_at(spec.id, now)
        if strike is None:
            raise SimError(UNKNOWN_NAME, f"unknown strike {parsed.strike!r} of {body.instrument_id}")
        if spot is None or not is_open(spec, now):
            raise SimError(REJECTED, "The active is closed for trading now.")
        value = spot if strike.value is None else strike.value
        quote = found.quote(parsed.direction, value, spot, now, self.state.commissions[spec.id])
        return _Fill(found, parsed.direction, strike.text, value, quote.ask, spot)

    @staticmethod
    def _order(
        user: User, balance_id: int, order_id: int, active_id: int, status: str, position_id: int | None
    ) -> Order:
        return Order(
            id=order_id,
            instrument_type="digital-option",
            kind="regular",
            status=status,
            position_id=position_id,
            user_id=user.user_id,
            user_balance_id=balance_id,
            active_id=active_id,
            raw_event={"digital_options_order_changed1": {"id": order_id, "status": status}},
        )

    def _fill(
        self, user: User, balance_id: int, order_id: int, amount: float, fill: _Fill, now: float
    ) -> list[LedgerEvent]:
        ledger = self.state.ledger
        events = ledger.debit(user, balance_id, amount)
        position_id = ledger.next_id()
        found = fill.instrument
        count = amount / fill.ask
        lower, upper = found.neighbours(fill.strike_value)
        strike = next(s for s in found.strikes if s.text == fill.strike_text)
        symbol = found.symbol(fill.direction, strike)
        position = Position(
            id=position_id,
            external_id=position_id,
            status="open",
            instrument_type="digital-option",
            instrument_id=symbol,
            active_id=found.spec.id,
            direction=fill.direction,
            investment=amount,
            invest=amount,
            open_time=int(now),
            expiration_time=found.expiration,
            expiration_size=found.period,
            open_quote=fill.spot,
            expected_profit=round(count * 100 - amount, 2),
            user_id=user.user_id,
            user_balance_id=balance_id,
            source="digital-options",
            version=1,
            raw_event={
                "order_ids": [order_id],
                "digital_options_position_changed1": {
                    "order_ids": [order_id],
                    "instrument_dir": fill.direction,
                    "instrument_expiration": found.expiration * 1000,
                    "instrument_period": found.period,
                    "instrument_strike": fill.strike_text,
                    "instrument_index": found.index,
                },
                "instrument_id": symbol,
                "instrument_underlying": found.spec.name,
                "instrument_strike_value": round(fill.strike_value * 1_000_000),
                "buy_amount": amount,
                "sell_amount": 0,
                "count": count,
                "currency_rate": 1,
                "extra_data": {
                    "lower_instrument_strike": round((lower.value or 0) * 1_000_000),
                    "upper_instrument_strike": round((upper.value or 0) * 1_000_000),
                    "lower_instrument_id": found.symbol(fill.direction, lower),
                    "upper_instrument_id": found.symbol(fill.direction, upper),
                },
            },
        )
        order = self._order(user, balance_id, order_id, found.spec.id, "filled", position_id)
        terms = {"count": count, "strike": fill.strike_value, "ask": fill.ask}
        ledger.add(Record(user, position, order, self.name, terms))
        return [*events, OrderUpdated(user, order), PositionUpdated(user, position)]

    # -- closing -----------------------------------------------------------------------

    def _close(self, user: User, body: ClosePositionBody, now: float) -> Reply:
        try:
            self.close(user, int(body.position_id), now)
        except (SimError, ValueError) as exc:
            reason = exc.message if isinstance(exc, SimError) else f"unknown position {body.position_id!r}"
            return "result", Result(success=False, reason=reason)
        return "result", Result(success=True)

    def close(self, user: User, position_id: int, now: float) -> float:
        """Close a position early at its strike's bid; returns what it paid.

        Raises:
            SimError: not the user's open digital position, too late, or the market is closed.
        """
        record = self.state.ledger.record(position_id)
        if record is None or record.user is not user or record.product != self.name:
            raise SimError(REJECTED, f"digital position {position_id} not found")
        if record.position.status != "open":
            raise SimError(REJECTED, f"position {position_id} is already closed")
        expires = record.position.expiration_time or 0
        if now >= expires - DEADTIME:
            raise SimError(REJECTED, f"close time is over: position {position_id} expires at {expires}")
        amount = self.sale_price(record, now)
        if amount is None:
            raise SimError(REJECTED, "The active is closed for trading now.")
        self._finish(record, "default", amount, now, self.state.price_at(record.position.active_id or 0, now))
        return amount

    def sale_price(self, record: Record, now: float) -> float | None:
        """What closing the position now pays: ``count × bid`` of its strike."""
        position = record.position
        active_id = position.active_id or 0
        spot = self.state.price_at(active_id, now)
        spec = self.state.model.spec(active_id)
        found = instrument(
            self.state.model, spec, position.expiration_size or 60, position.expiration_time or 0
        )
        if spot is None or found is None:
            return None
        quote = found.quote(
            position.direction or "call", record.terms["strike"], spot, now, self.state.commissions[active_id]
        )
        count: float = record.terms["count"]
        return round(count * quote.bid, 2)

    def _finish(self, record: Record, reason: str, paid: float, when: float, quote: float | None) -> None:
        stake = record.position.investment or 0.0
        result = reason
        if reason == "expired":
            result = "win" if paid > stake else ("equal" if paid == stake else "loose")
        raw_event = dict(record.position.raw_event or {})
        if reason == "default":
            raw_event["sell_amount"] = paid
        events = self.state.ledger.finish(
            record,
            result=result,
            reason=reason,
            paid=paid,
            when=when,
            quote=quote,
            expiration_value=quote if reason == "expired" else None,
            raw_event=raw_event,
        )
        self.host.publish(events)

    # -- time --------------------------------------------------------------------------

    def step(self, t: float) -> None:
        if self._rejections:
            rejections, self._rejections = self._rejections, []
            self.host.publish([OrderUpdated(user, order) for user, order in rejections])
        self._settle(t)
        self._push_prices(t)
        self._push_generated(t)
        self._push_underlyings(t)

    def _settle(self, t: float) -> None:
        ledger = self.state.ledger
        due = sorted(
            (r for r in ledger.open_records(self.name) if (r.position.expiration_time or 0) <= t),
            key=lambda r: (r.position.expiration_time or 0, r.key),
        )
        for record in due:
            position = record.position
            expires = position.expiration_time or 0
            close = self.state.price_at(position.active_id or 0, expires)
            if close is None:
                close = position.open_quote or 0.0
            strike = record.terms["strike"]
            stake = position.investment or 0.0
            if close == strike:
                paid = stake
            elif (close > strike) == (position.direction == "call"):
                paid = round(record.terms["count"] * 100, 2)
            else:
                paid = 0.0
            self._finish(record, "expired", paid, expires, close)

    def _instrument_by_index(self, spec: ActiveSpec, index: int) -> Instrument | None:
        expiration, period = index // 1000 * 60, index % 1000 * 60
        return instrument(self.state.model, spec, period, expiration) if period in PERIODS else None

    def _push_prices(self, t: float) -> None:
        streams = self.host.hub.streams(_PRICES)
        for (asset_id, index), conns in list(streams.items()):
            spec = self._spec(asset_id)
            found = self._instrument_by_index(spec, index) if spec is not None else None
            spot = self.state.price_at(asset_id, t)
            if spec is None or found is None or spot is None or t >= found.expiration:
                continue
            prices = found.prices(spot, t, self.state.commissions[asset_id])
            payload = DigitalClientPrices(
                instrument_index=index,
                asset_id=asset_id,
                quote_time=int(t * 1000),
                prices=prices,
                instrument_type="digital-option",
            )
            self._send_all(_PRICES, "trading-settings", payload, conns)

    def _send_all(self, name: str, service: str, payload: Any, conns: set[Any]) -> None:
        self.host.send_each(conns, (push_frame(name, service, payload),))

    def _push_generated(self, t: float) -> None:
        slot = math.floor(t / min(PERIODS))
        if slot == self._generated_slot:
            return
        self._generated_slot = slot
        boundary = slot * min(PERIODS)
        for asset_id in self.host.hub.keys_for("instrument-generated", "asset_id"):
            spec = self._spec(asset_id) if isinstance(asset_id, int) else None
            for period in PERIODS if spec is not None else ():
                if boundary % period == 0:
                    assert spec is not None
                    found = instrument(self.state.model, spec, period, boundary + 2 * period)
                    if found is not None:
                        self.host.push("instrument-generated", found.model(), {"asset_id": asset_id})

    def _push_underlyings(self, t: float) -> None:
        changed = False
        for spec in self.state.model.actives:
            state = is_open(spec, t)
            if self._open_state.setdefault(spec.id, state) != state:
                self._open_state[spec.id] = state
                changed = True
        if changed:
            self.host.push("underlying-list-changed", underlying_list(self.state.model, t), {})

    def _spec(self, active_id: int) -> ActiveSpec | None:
        try:
            return self.state.model.spec(active_id)
        except KeyError:
            return None
