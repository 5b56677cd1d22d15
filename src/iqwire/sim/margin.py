"""Margin forex, CFD and crypto: the simulator's product module.

The official SDK's calls per family (``marginal-<family>-instruments.*``,
``marginal-<family>.place-*-order``, ``close-position``, ``cancel-pending-order``)
and the marginal portfolio; the community client's older dialect is
``sim/margin_legacy.py``. The book (:mod:`iqwire.sim.margin_book`) decides;
this module reads requests, prices the quotes and turns the book's events into
pushes: ``order-changed``, ``position-changed`` and the billing
``balance-changed`` as they happen; ``marginal-portfolio`` ``balance-changed`` at
most once a simulated second, only for accounts with open positions (the live
position figures go out through the shared ``positions-state`` feed, from
:meth:`Margin.value`); ``margin-call`` when the level crosses the call level.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal

from iqwire.margin_math import to_decimal
from iqwire.models import Result
from iqwire.models.binary import PositionState
from iqwire.models.margin import (
    MARGIN_FAMILIES,
    CancelPendingOrderBody,
    ExchangeRate,
    GetInstrumentsListBody,
    GetOvernightFeeBody,
    MarginalBalance,
    MarginalBalanceBody,
    MarginClosePositionBody,
    MarginOrderPlaced,
    PlaceMarginOrderBody,
    TpSl,
)
from iqwire.sim import margin_legacy
from iqwire.sim.accounts import User
from iqwire.sim.actives import is_open
from iqwire.sim.errors import BAD_REQUEST, REJECTED, UNKNOWN_NAME, SimError
from iqwire.sim.frames import push_frame
from iqwire.sim.ledger import BalanceUpdated, OrderUpdated, PositionUpdated, Record
from iqwire.sim.margin_book import MarginBook
from iqwire.sim.margin_instruments import (
    MARGIN_TERMS,
    MarginQuote,
    MarginTerms,
    instruments_list,
    overnight_fee,
    quote_of,
    resolve_instrument,
    terms_for,
    underlying_list,
)
from iqwire.sim.margin_records import (
    AccountChanged,
    Level,
    MarginAccount,
    MarginCalled,
    MarginEvent,
    MarginOrder,
    OrderChanged,
    OrderRequest,
    PositionChanged,
    cents,
)
from iqwire.sim.margin_wire import (
    balance_model,
    margin_call_model,
    order_model,
    position_model,
    position_state,
)
from iqwire.sim.product import Handler, HandlerKey, Product, ProductHost, Reply

__all__ = ["Margin", "parse_level", "parse_number"]

_PORTFOLIO = "marginal-portfolio"


def parse_number(value: object, what: str) -> Decimal:
    """A wire number (string or number) as a Decimal, or a 4000 error naming the field."""
    try:
        return to_decimal(value)  # type: ignore[arg-type]  # anything str() reads is checked here
    except ValueError:
        raise SimError(BAD_REQUEST, f"{what} must be a number, not {value!r}") from None


def parse_level(raw: TpSl | None) -> Level | None:
    """A ``{value, type}`` take-profit or stop-loss (the book checks the type)."""
    return None if raw is None else Level(raw.type, parse_number(raw.value, "take-profit/stop-loss value"))


def parse_leverage(value: object) -> int:
    """A leverage: a whole number (``"100"`` or ``100``)."""
    leverage = parse_number(value, "leverage")
    if leverage != leverage.to_integral_value():
        raise SimError(REJECTED, f"leverage must be a whole number, not {value!r}")
    return int(leverage)


class Margin(Product):
    """Margin trading on forex, CFD and crypto instruments."""

    name = "margin"
    features = ("margin-forex-instrument", "margin-cfd-instrument", "margin-crypto-instrument")

    def __init__(self, host: ProductHost) -> None:
        super().__init__(host)
        self.book = MarginBook(self.state.ledger.next_id)
        self._second = math.floor(host.now)
        self._pushed: dict[int, MarginalBalance] = {}
        self._open_state = {t.active_id: self._is_open(t, host.now) for t in MARGIN_TERMS}
        self.legacy = margin_legacy.LegacyMargin(self)

    # -- the RPC table ------------------------------------------------------------------

    def handlers(self) -> dict[HandlerKey, Handler]:
        table: dict[HandlerKey, Handler] = {"marginal-portfolio.get-marginal-balance": self._marginal_balance}
        for family in MARGIN_FAMILIES:
            table.update(self._family_handlers(family))
        table.update(self.legacy.handlers())
        return table

    def _family_handlers(self, family: str) -> dict[HandlerKey, Handler]:
        instruments = f"marginal-{family}-instruments"

        def underlyings(user: User, body: Any, now: float) -> Reply:
            return "underlying-list", underlying_list(family, self.state.model.spec, now)

        def instruments_of(user: User, body: GetInstrumentsListBody, now: float) -> Reply:
            return "instruments-list", instruments_list(
                family, self.state.require_active(body.active_id), now
            )

        def fee(user: User, body: GetOvernightFeeBody, now: float) -> Reply:
            return "overnight-fee", overnight_fee(self.terms(family, body.active_id), body.user_group_id or 1)

        def placer(kind: Literal["market", "limit", "stop"]) -> Handler:
            def place(user: User, body: PlaceMarginOrderBody, now: float) -> Reply:
                return "order-placed", MarginOrderPlaced(id=self.place_sdk(user, family, kind, body, now).id)

            return place

        def close(user: User, body: MarginClosePositionBody, now: float) -> Reply:
            position = self.book.find_position(user, body.position_id)
            self._check_family(position.order.terms, family)
            self.emit(self.book.close(position, self.quote(position.order.terms.active_id, now), now))
            return "result", Result(success=True)

        def cancel(user: User, body: CancelPendingOrderBody, now: float) -> Reply:
            order = self.book.orders.get(body.order_id)
            if order is not None:
                self._check_family(order.terms, family)
            self.emit(self.book.cancel(user, body.order_id, now))
            return "result", Result(success=True)

        return {
            f"{instruments}.get-underlying-list": underlyings,
            f"{instruments}.get-instruments-list": instruments_of,
            f"{instruments}.get-overnight-fee": fee,
            f"marginal-{family}.place-market-order": placer("market"),
            f"marginal-{family}.place-limit-order": placer("limit"),
            f"marginal-{family}.place-stop-order": placer("stop"),
            f"marginal-{family}.close-position": close,
            f"marginal-{family}.cancel-pending-order": cancel,
        }

    @staticmethod
    def _check_family(terms: MarginTerms, family: str) -> None:
        if terms.family != family:
            raise SimError(
                REJECTED, f"this is a marginal-{terms.family} order or position, not marginal-{family}"
            )

    def terms(self, family: str, active_id: int) -> MarginTerms:
        """An active's terms in a family, or a 4004 error."""
        terms = terms_for(family, active_id)
        if terms is None:
            raise SimError(UNKNOWN_NAME, f"active {active_id} is not a marginal-{family} underlying")
        return terms

    def _marginal_balance(self, user: User, body: MarginalBalanceBody, now: float) -> Reply:
        balance = user.balance(body.user_balance_id)
        if balance is not None and not balance.is_marginal:
            raise SimError(REJECTED, f"balance {body.user_balance_id} is not a marginal balance")
        account = self.book.account(user, body.user_balance_id)
        return "marginal-balance", self.balance_of(account)

    def balance_of(self, account: MarginAccount) -> MarginalBalance:
        """The ``marginal-balance`` figures of an account now."""
        return balance_model(account, self.book.figures(account), account.user.config.currency)

    # -- orders --------------------------------------------------------------------------

    def quote(self, active_id: int, t: float) -> MarginQuote | None:
        """The bid/ask of an active at ``t`` (``None`` while it is closed)."""
        spec = self.state.model.spec(active_id)
        return quote_of(spec, self.state.price_at(active_id, t), t)

    def place_sdk(
        self,
        user: User,
        family: str,
        kind: Literal["market", "limit", "stop"],
        body: PlaceMarginOrderBody,
        now: float,
    ) -> MarginOrder:
        """A place-order of the SDK's dialect."""
        terms = resolve_instrument(family, body.instrument_id)
        if terms is None and body.instrument_active_id is not None:
            terms = terms_for(family, body.instrument_active_id)
        if terms is None:
            raise SimError(UNKNOWN_NAME, f"unknown marginal-{family} instrument {body.instrument_id!r}")
        raw_price = body.limit_price if kind == "limit" else body.stop_price
        request = OrderRequest(
            side=body.side,
            balance_id=body.user_balance_id,
            count=parse_number(body.count, "count"),
            leverage=parse_leverage(body.leverage),
            type=kind,
            price=None if raw_price is None else parse_number(raw_price, f"{kind}_price"),
            take_profit=parse_level(body.take_profit),
            stop_loss=parse_level(body.stop_loss),
        )
        return self.place(user, terms, request, now)

    def place(self, user: User, terms: MarginTerms, request: OrderRequest, now: float) -> MarginOrder:
        """Place an order with the book and push what it changed."""
        order, events = self.book.place(user, terms, request, self.quote(terms.active_id, now), now)
        self.emit(events)
        return order

    # -- events into pushes ------------------------------------------------------------

    def emit(self, events: Iterable[MarginEvent]) -> None:
        """Record the book's events in the shared ledger and push them."""
        dirty: dict[int, MarginAccount] = {}
        for event in events:
            if isinstance(event, OrderChanged):
                self._order_changed(event.order, event.modified)
            elif isinstance(event, PositionChanged):
                position = event.position
                model = position_model(position)
                user = position.order.account.user
                record = self.state.ledger.record(position.external_id)
                if record is None:
                    self.state.ledger.add(Record(user, model, order_model(position.order), self.name))
                else:
                    self.state.ledger.update(record, model)
                self.host.publish([PositionUpdated(user, model)])
            elif isinstance(event, AccountChanged):
                account = event.account
                dirty[account.balance_id] = account
                if event.cash_moved:
                    balance = account.user.balance(account.balance_id)
                    if balance is not None:
                        balance.amount = float(cents(account.cash))
                    self.host.publish([BalanceUpdated(account.user, account.balance_id)])
            elif isinstance(event, MarginCalled):
                self._push_service(
                    "margin-call",
                    _PORTFOLIO,
                    margin_call_model(event.account, event.figures),
                    event.account.user,
                )
        for account in dirty.values():
            self._push_balance(account)

    def _order_changed(self, order: MarginOrder, modified: bool) -> None:
        model = order_model(order)
        user = order.account.user
        self.state.ledger.add_order(user, model)
        self.host.publish([OrderUpdated(user, model)])
        if modified:
            service = f"marginal-{order.terms.family}"
            self._push_service("order-modified", service, model.raw_event, user)

    def _push_service(self, name: str, service: str, payload: Any, user: User | None) -> None:
        """A push of one microservice (names like ``balance-changed`` are shared); ``user``: private."""
        data: bytes | None = None
        for conn, _ in self.host.hub.subscribers(name, {}, user, service):
            if data is None:
                data = push_frame(name, service, payload)
            self.host.send(conn, data)

    def _push_balance(self, account: MarginAccount) -> None:
        balance = self.balance_of(account)
        if self._pushed.get(account.balance_id) == balance:
            return
        self._pushed[account.balance_id] = balance
        self._push_service("balance-changed", _PORTFOLIO, balance, account.user)

    # -- time ------------------------------------------------------------------------------

    def step(self, t: float) -> None:
        self.emit(self.book.step(t, lambda active_id: self.quote(active_id, t)))
        second = math.floor(t)
        if second == self._second:
            return
        self._second = second
        self._follow_outside_changes()
        for account in {
            p.order.account.balance_id: p.order.account for p in self.book.open_positions()
        }.values():
            self._push_balance(account)
            self._refresh_records(account)
        self._push_underlying_changes(t)
        self._push_exchange_rates(t)

    def _follow_outside_changes(self) -> None:
        """A demo reset or an option bought on the marginal balance moved its amount: book it."""
        for account in self.book.accounts.values():
            balance = account.user.balance(account.balance_id)
            if balance is None:
                continue
            amount = cents(Decimal(str(balance.amount)))
            if amount != cents(account.cash):
                account.book("outside change (reset or options)", amount - account.cash)
                self._push_balance(account)

    def _refresh_records(self, account: MarginAccount) -> None:
        """``get-positions`` shows the live figures too (no push: ``positions-state`` carries them)."""
        for position in self.book.open_positions(account):
            record = self.state.ledger.record(position.external_id)
            if record is not None:
                self.state.ledger.update(record, position_model(position))

    def value(self, record: Record, now: float) -> PositionState | None:
        position = self.book.positions.get(record.key)
        return None if position is None or position.status != "open" else position_state(position)

    def _push_exchange_rates(self, t: float) -> None:
        """Once a second, each subscribed currency pair, from the instrument quoting it (or its inverse)."""
        pairs: set[tuple[str, str]] = set()
        for conn in self.host.hub.connections.values():
            for entry in conn.subscriptions:
                if entry.spec.push_name == "exchange-rate-generated":
                    filters = dict(entry.filters)
                    base, quote = filters.get("base_currency"), filters.get("quote_currency")
                    if isinstance(base, str) and isinstance(quote, str):
                        pairs.add((base.upper(), quote.upper()))
        for base, quote in sorted(pairs):
            rate = self._rate(base, quote, t)
            if rate is not None:
                fields = {"base_currency": base, "quote_currency": quote}
                for conn, _ in self.host.hub.subscribers(
                    "exchange-rate-generated", fields, None, "exchange-rates"
                ):
                    self.host.send(conn, push_frame("exchange-rate-generated", "exchange-rates", rate))

    def _rate(self, base: str, quote: str, t: float) -> ExchangeRate | None:
        """A pair's bid/ask: 1 for one currency, else from an open instrument quoting it either way."""
        bid = ask = Decimal(1)
        if base != quote:
            for terms in MARGIN_TERMS:
                pair = terms.currency_pair
                if terms.family == "cfd" or base not in pair or quote not in pair:
                    continue
                market = self.quote(terms.active_id, t)
                if market is None:
                    continue
                if pair == (base, quote):
                    bid, ask = market.bid, market.ask
                else:  # the inverse pair: buying base sells the instrument at its bid
                    bid, ask = (
                        (1 / market.ask).quantize(Decimal("1e-8")),
                        (1 / market.bid).quantize(Decimal("1e-8")),
                    )
                break
            else:
                return None
        return ExchangeRate(
            base_currency=base, quote_currency=quote, ask=str(ask), bid=str(bid), changed_at=round(t * 1000)
        )

    def _is_open(self, terms: MarginTerms, t: float) -> bool:
        return is_open(self.state.model.spec(terms.active_id), t)

    def _push_underlying_changes(self, t: float) -> None:
        changed: set[str] = set()
        for terms in MARGIN_TERMS:
            state = self._is_open(terms, t)
            if state != self._open_state[terms.active_id]:
                self._open_state[terms.active_id] = state
                changed.add(terms.family)
        for family in sorted(changed):
            payload = underlying_list(family, self.state.model.spec, t)
            self._push_service("underlying-list-changed", f"marginal-{family}-instruments", payload, None)
