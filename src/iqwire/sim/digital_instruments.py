"""Digital option instruments: which exist when, their strikes, symbols and prices.

Pure functions of the time and the price model, so any instrument can be rebuilt
at any moment without stored state:

- **Periods** 60, 300 and 900 s. For each period two instruments are offered: the
  nearest expiry (a multiple of the period) still more than ``DEADTIME`` seconds
  away, and the one after it. An instrument is *generated* two periods before its
  expiry, and ``instrument-generated`` is pushed then.
- **Strikes**: the spot strike ``SPT`` (its strike is the price at purchase) and
  ``2 × STRIKES_EACH_SIDE`` fixed strikes around the price at generation, spaced
  ``max(one pip, price × volatility × √period / 2)``, rounded to the active's
  decimals.
- **Symbols** (also the community client's instrument ids):
  ``do<NAME><YYYYMMDDHHMM expiry, UTC>PT<minutes>M<C|P><SPT or the strike>``, e.g.
  ``doEURUSD-OTC202612071510PT1MCSPT``.
- **Index**: ``expiration // 60 * 1000 + period // 60``, unique per active.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from iqwire.models.digital import (
    DigitalInstrument,
    DigitalSession,
    DigitalStrike,
    DigitalUnderlying,
    DigitalUnderlyingList,
    StrikePrice,
    StrikeSide,
)
from iqwire.pricing import DigitalQuote, digital_quote
from iqwire.sim.actives import ActiveSpec, is_open, schedule
from iqwire.sim.errors import UNKNOWN_NAME, SimError
from iqwire.sim.prices import PriceModel

__all__ = [
    "DEADTIME",
    "PERIODS",
    "SPOT",
    "Instrument",
    "Strike",
    "by_name",
    "instrument",
    "offered",
    "parse_symbol",
    "sessions",
    "symbol",
    "underlying_list",
]

PERIODS = (60, 300, 900)
#: Purchase (and early close) ends this many seconds before the expiry.
DEADTIME = 10
STRIKES_EACH_SIDE = 4
SPOT = "SPT"
_SYMBOL = re.compile(
    r"^do(?P<name>.+?)(?P<stamp>\d{12})PT(?P<minutes>\d+)M(?P<side>[CP])(?P<strike>SPT|[0-9.]+)$"
)


@dataclass(frozen=True)
class Strike:
    """One strike: its text on the wire (``"SPT"`` or the price) and its price (``None`` for spot)."""

    text: str
    value: float | None


@dataclass(frozen=True)
class Instrument:
    """One expiry of one period of one active, with its strikes (spot first)."""

    spec: ActiveSpec
    period: int
    expiration: int
    strikes: tuple[Strike, ...]

    @property
    def index(self) -> int:
        """The instrument's index (unique per active)."""
        return self.expiration // 60 * 1000 + self.period // 60

    @property
    def generated_at(self) -> int:
        """When it was generated: two periods before its expiry."""
        return self.expiration - 2 * self.period

    def symbol(self, direction: str, strike: Strike) -> str:
        """The strike's symbol in a direction."""
        return symbol(self.spec.name, self.expiration, self.period, direction, strike.text)

    def model(self) -> DigitalInstrument:
        """The wire shape (``get-instruments`` entry, ``instrument-generated`` push)."""
        data = [
            DigitalStrike(direction=direction, strike=strike.text, symbol=self.symbol(direction, strike))
            for strike in self.strikes
            for direction in ("call", "put")
        ]
        return DigitalInstrument(
            asset_id=self.spec.id,
            index=self.index,
            instrument_type="digital-option",
            period=self.period,
            expiration=self.expiration,
            deadtime=DEADTIME,
            data=data,
        )

    def quote(
        self, direction: str, strike_value: float, spot: float, now: float, commission: float
    ) -> DigitalQuote:
        """A strike's ask and bid now (the spot strike is priced at the spot)."""
        return digital_quote(
            direction, spot, strike_value, self.spec.volatility, self.expiration - now, commission
        )

    def prices(self, spot: float, now: float, commission: float) -> list[StrikePrice]:
        """Every strike's call and put prices now: one computation per strike, for every subscriber."""
        out = []
        for strike in self.strikes:
            value = spot if strike.value is None else strike.value
            call = self.quote("call", value, spot, now, commission)
            put = self.quote("put", value, spot, now, commission)
            out.append(
                StrikePrice(
                    strike=strike.text,
                    call=StrikeSide(symbol=self.symbol("call", strike), ask=call.ask, bid=call.bid),
                    put=StrikeSide(symbol=self.symbol("put", strike), ask=put.ask, bid=put.bid),
                )
            )
        return out

    def neighbours(self, value: float) -> tuple[Strike, Strike]:
        """The fixed strikes just below (or at) and above ``value`` (the ends when outside)."""
        fixed = [s for s in self.strikes if s.value is not None]
        lower = max(
            (s for s in fixed if (s.value or 0) <= value), key=lambda s: s.value or 0, default=fixed[0]
        )
        upper = min(
            (s for s in fixed if (s.value or 0) >= value), key=lambda s: s.value or 0, default=fixed[-1]
        )
        return lower, upper


def symbol(name: str, expiration: int, period: int, direction: str, strike: str) -> str:
    """``do<NAME><YYYYMMDDHHMM>PT<N>M<C|P><strike>``."""
    stamp = dt.datetime.fromtimestamp(expiration, tz=dt.UTC).strftime("%Y%m%d%H%M")
    side = "C" if direction == "call" else "P"
    return f"do{name}{stamp}PT{period // 60}M{side}{strike}"


@dataclass(frozen=True)
class ParsedSymbol:
    """What an instrument id says: active name, expiry, period, direction, strike text."""

    name: str
    expiration: int
    period: int
    direction: str
    strike: str


def parse_symbol(text: str) -> ParsedSymbol | None:
    """Read an instrument id (``None`` if it is not one)."""
    match = _SYMBOL.match(text)
    if match is None:
        return None
    stamp = dt.datetime.strptime(match["stamp"], "%Y%m%d%H%M").replace(tzinfo=dt.UTC)
    return ParsedSymbol(
        name=match["name"],
        expiration=int(stamp.timestamp()),
        period=int(match["minutes"]) * 60,
        direction="call" if match["side"] == "C" else "put",
        strike=match["strike"],
    )


def instrument(model: PriceModel, spec: ActiveSpec, period: int, expiration: int) -> Instrument | None:
    """The instrument of ``period`` expiring at ``expiration`` (``None`` if the market is closed then)."""
    generated = expiration - 2 * period
    center = model.tick(spec.id, generated)
    if center is None:
        center = model.tick(spec.id, expiration - period)
    if center is None or not is_open(spec, expiration):
        return None
    pip = 10.0**-spec.precision
    step = max(pip, round(center * spec.volatility * math.sqrt(period) / 2, spec.precision))
    strikes = [Strike(SPOT, None)]
    for k in range(-STRIKES_EACH_SIDE, STRIKES_EACH_SIDE + 1):
        if k:
            value = round(center + k * step, spec.precision)
            strikes.append(Strike(f"{value:.{spec.precision}f}", value))
    return Instrument(spec, period, expiration, tuple(strikes))


def offered(model: PriceModel, spec: ActiveSpec, now: float) -> list[Instrument]:
    """The instruments on offer at ``now``: per period, the nearest buyable expiry and the next."""
    out = []
    for period in PERIODS:
        first = (math.floor(now) // period + 1) * period
        while first - DEADTIME <= now:
            first += period
        for expiration in (first, first + period):
            found = instrument(model, spec, period, expiration)
            if found is not None:
                out.append(found)
    return out


def sessions(spec: ActiveSpec, now: float) -> list[DigitalSession]:
    """The active's trading sessions from a day ago to a week ahead."""
    return [
        DigitalSession(open=start, close=end) for start, end in schedule(spec, now - 86_400, now + 7 * 86_400)
    ]


def underlying_list(model: PriceModel, now: float) -> DigitalUnderlyingList:
    """Every active as a digital underlying (``underlying`` repeats the name for the community client)."""
    underlying = [
        DigitalUnderlying(
            active_id=spec.id,
            name=spec.name,
            underlying=spec.name,
            is_suspended=False,
            schedule=sessions(spec, now),
        )
        for spec in model.actives
    ]
    return DigitalUnderlyingList(type="digital-option", underlying=underlying)


def by_name(model: PriceModel, name: str) -> ActiveSpec:
    """The active of an underlying name (case-insensitive).

    Raises:
        SimError: 4004 for an unknown name.
    """
    for spec in model.actives:
        if spec.name.lower() == name.lower():
            return spec
    raise SimError(UNKNOWN_NAME, f"unknown underlying {name!r}")
