"""The simulator's margin instruments: which actives trade on margin, on what terms.

Each family (forex, CFD, crypto) lists actives of the shared price model; a
:class:`MarginTerms` gives the leverages, quantity step, pip size and overnight
fees of one. Quotes come from the same ticks as the options (bid and ask are the
tick minus and plus half the active's spread), so a margin position and a blitz
option on the same active see the same market.

Example::

    terms = terms_for("forex", 1)
    terms.instrument_id                            # 'forex.EURUSD'
    leverage_allowed(terms, 500, Decimal(10_000))  # True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from iqwire.margin_math import leverage_for_equity
from iqwire.models.margin import (
    DynamicLeverageProfile,
    LeverageStep,
    MarginInstrument,
    MarginInstrumentsList,
    OvernightFee,
    Tradable,
    Underlying,
    UnderlyingList,
    UnderlyingSession,
)
from iqwire.sim.actives import DAY, ActiveSpec, is_open, schedule

__all__ = [
    "MARGIN_CALL_LEVEL",
    "MARGIN_TERMS",
    "ROLLOVER_HOUR_UTC",
    "STOP_OUT_LEVEL",
    "MarginQuote",
    "MarginTerms",
    "instruments_list",
    "leverage_allowed",
    "overnight_fee",
    "quote_of",
    "resolve_instrument",
    "terms_for",
    "terms_of_active",
    "underlying_list",
]

#: A margin call is pushed when the margin level (equity / margin, %) falls below this.
MARGIN_CALL_LEVEL = Decimal(100)
#: Below this margin level positions are closed, biggest loss first.
STOP_OUT_LEVEL = Decimal(50)
#: Swap is charged once a day at this hour (UTC), on positions open at that instant.
ROLLOVER_HOUR_UTC = 0


@dataclass(frozen=True, slots=True)
class MarginTerms:
    """How one active trades on margin.

    ``steps`` are the dynamic leverage profile: from an equity (USD) up, the
    leverage allowed; ``fee_long``/``fee_short`` are percent of the notional per
    night. ``aliases`` are the community client's names for the active.
    """

    family: str
    active_id: int
    name: str
    leverages: tuple[int, ...]
    default_leverage: int
    min_qty: Decimal
    qty_step: Decimal
    pip_scale: int
    fee_long: Decimal
    fee_short: Decimal
    steps: tuple[tuple[Decimal, int], ...]
    aliases: tuple[str, ...] = ()

    @property
    def instrument_id(self) -> str:
        """The instrument's id on the wire: ``<family>.<name>``."""
        return f"{self.family}.{self.name}"

    @property
    def instrument_type(self) -> str:
        """``marginal-<family>``."""
        return f"marginal-{self.family}"

    @property
    def currency_pair(self) -> tuple[str, str]:
        """Base and quote currency (a CFD's base is its ticker); every instrument here is quoted in USD."""
        name = self.name.removesuffix("-OTC")
        return (name, "USD") if self.family == "cfd" else (name[:-3], name[-3:])

    @property
    def pip(self) -> Decimal:
        """One pip in price units."""
        return Decimal(1).scaleb(-self.pip_scale)


def _terms(
    family: str,
    active: tuple[int, str],
    leverages: tuple[int, ...],
    quantity: tuple[str, str],
    pip_scale: int,
    fees: tuple[str, str],
    aliases: tuple[str, ...] = (),
) -> MarginTerms:
    active_id, name = active
    top = max(leverages)
    # Larger accounts get less leverage: the top step up to 50,000 USD of equity, then a fifth of it.
    steps = ((Decimal(0), top), (Decimal(50_000), max(1, top // 5)))
    return MarginTerms(
        family=family,
        active_id=active_id,
        name=name,
        leverages=leverages,
        default_leverage=min(leverages[len(leverages) // 2], top),
        min_qty=Decimal(quantity[0]),
        qty_step=Decimal(quantity[1]),
        pip_scale=pip_scale,
        fee_long=Decimal(fees[0]),
        fee_short=Decimal(fees[1]),
        steps=steps,
        aliases=aliases,
    )


_FOREX_LEVERAGES = (50, 100, 200, 300, 500, 1000)
_CFD_LEVERAGES = (1, 2, 3, 5, 10, 20)
_CRYPTO_LEVERAGES = (1, 2, 3, 5, 10, 20, 50, 100)

#: Every margin instrument: 3 forex pairs (one OTC), 2 US stocks, 2 cryptos (24/7).
MARGIN_TERMS: tuple[MarginTerms, ...] = (
    _terms("forex", (1, "EURUSD"), _FOREX_LEVERAGES, ("1000", "1000"), 4, ("0.008", "0.004")),
    _terms("forex", (2, "GBPUSD"), _FOREX_LEVERAGES, ("1000", "1000"), 4, ("0.009", "0.003")),
    _terms("forex", (76, "EURUSD-OTC"), _FOREX_LEVERAGES, ("1000", "1000"), 4, ("0.008", "0.004")),
    _terms("cfd", (31, "AMZN"), _CFD_LEVERAGES, ("0.01", "0.01"), 2, ("0.02", "0.01"), ("AMAZON",)),
    _terms("cfd", (32, "AAPL"), _CFD_LEVERAGES, ("0.01", "0.01"), 2, ("0.02", "0.01"), ("APPLE",)),
    _terms("crypto", (816, "BTCUSD"), _CRYPTO_LEVERAGES, ("0.001", "0.001"), 2, ("0.05", "0.05")),
    _terms("crypto", (2276, "XRPUSD-OTC"), _CRYPTO_LEVERAGES, ("1", "1"), 4, ("0.05", "0.05"), ("XRPUSD",)),
)

_BY_KEY = {(t.family, t.active_id): t for t in MARGIN_TERMS}


def terms_of_active(active_id: int) -> MarginTerms | None:
    """The margin terms of an active in whichever family trades it, or ``None``."""
    return next((t for t in MARGIN_TERMS if t.active_id == active_id), None)


def terms_for(family: str, active_id: int) -> MarginTerms | None:
    """The terms of an active in a family, or ``None`` when it does not trade there."""
    return _BY_KEY.get((family, active_id))


def resolve_instrument(family: str, key: str | int) -> MarginTerms | None:
    """An instrument of a family by instrument id, active id, name or community alias (any case)."""
    text = str(key).strip().upper()
    for terms in MARGIN_TERMS:
        if terms.family != family:
            continue
        names = {terms.instrument_id.upper(), str(terms.active_id), terms.name.upper(), *terms.aliases}
        if text in names:
            return terms
    return None


def leverage_allowed(terms: MarginTerms, leverage: int, equity_usd: Decimal) -> bool:
    """Whether ``leverage`` is offered and within the dynamic profile at this equity."""
    top = leverage_for_equity(max(terms.leverages), terms.steps, equity_usd)
    return leverage in terms.leverages and leverage <= top


@dataclass(frozen=True, slots=True)
class MarginQuote:
    """Bid and ask of an active at one instant (``time`` in seconds)."""

    active_id: int
    bid: Decimal
    ask: Decimal
    time: float

    @property
    def mid(self) -> Decimal:
        """Halfway between bid and ask."""
        return (self.bid + self.ask) / 2


def quote_of(spec: ActiveSpec, price: float | None, t: float) -> MarginQuote | None:
    """The quote of an active from its tick (``None`` while it is closed)."""
    if price is None:
        return None
    half = spec.spread / 2
    bid = Decimal(str(round(price - half, spec.precision)))
    ask = Decimal(str(round(price + half, spec.precision)))
    return MarginQuote(spec.id, bid, ask, t)


def _sessions(spec: ActiveSpec, now: float) -> list[UnderlyingSession]:
    return [UnderlyingSession(open=a, close=b) for a, b in schedule(spec, now - DAY, now + 7 * DAY)]


def underlying_list(family: str, specs: Callable[[int], ActiveSpec], now: float) -> UnderlyingList:
    """Every underlying of a family, with its sessions from a day ago to a week ahead."""
    items = []
    for terms in MARGIN_TERMS:
        if terms.family == family:
            spec = specs(terms.active_id)
            items.append(
                Underlying(
                    active_id=spec.id, name=terms.name, is_suspended=False, schedule=_sessions(spec, now)
                )
            )
    return UnderlyingList(items=items, type=f"marginal-{family}")


def _tradable(spec: ActiveSpec, now: float) -> Tradable:
    """The session holding ``now`` (or the next one); an always-open active lists a week from today."""
    if spec.always_open:
        day = math.floor(now / DAY) * DAY
        return Tradable(start=day, to=day + 7 * DAY)
    upcoming = [s for s in schedule(spec, now, now + 7 * DAY) if s[1] > now]
    first = upcoming[0]
    return Tradable(start=first[0], to=first[1])


def instruments_list(family: str, spec: ActiveSpec, now: float) -> MarginInstrumentsList:
    """The instruments of one underlying (one per active here) and their leverage profiles."""
    terms = terms_for(family, spec.id)
    if terms is None:
        return MarginInstrumentsList(items=[], dynamic_leverage_profiles=[])
    instrument = MarginInstrument(
        id=terms.instrument_id,
        active_id=spec.id,
        name=terms.name,
        default_leverage=terms.default_leverage,
        leverage_profile=spec.id,
        is_suspended=not is_open(spec, now),
        min_qty=str(terms.min_qty),
        qty_step=str(terms.qty_step),
        tradable=_tradable(spec, now),
        leverages=list(terms.leverages),
    )
    profile = DynamicLeverageProfile(
        id=spec.id, items=[LeverageStep(equity=float(e), leverage=lev) for e, lev in terms.steps]
    )
    return MarginInstrumentsList(items=[instrument], dynamic_leverage_profiles=[profile])


def overnight_fee(terms: MarginTerms, user_group_id: int = 1) -> OvernightFee:
    """The swap terms of an instrument."""
    return OvernightFee(
        active_id=terms.active_id,
        instrument_type=terms.instrument_type,
        user_group_id=user_group_id,
        long_percent=str(terms.fee_long),
        short_percent=str(terms.fee_short),
        rollover_hour_utc=ROLLOVER_HOUR_UTC,
    )
