"""How a backtest opens, settles and sells each option product: the simulator's rules and formulas.

The expiry rules are the platform's (and the simulator's) usual settings, the
prices come from :mod:`iqwire.pricing` — the functions the simulator itself
prices with — so a strategy sees the same economics offline and in paper trading:

- **blitz**: expires ``floor(now) + expiration``; win pays the payout.
- **turbo**: expires on the minute grid: ``expiration`` 60 is the first minute more
  than 30 s (the deadtime) away, 120 the next… up to 300; win pays the payout.
- **binary**: the first quarter/half/whole-hour expiry at least ``expiration``
  seconds away and more than 300 s (the deadtime) away; win pays the payout.
- **digital**: ``expiration`` is the period (60, 300, 900): the first multiple of
  it more than 10 s away. Bought at the strike's ``ask`` (the spot strike, or a
  price); wins pay ``100 × amount / ask``, a close exactly at the strike refunds.
- **Early sale** (turbo, binary, digital): turbo/binary at
  :func:`~iqwire.pricing.buyback_price`, digital at ``amount × bid / ask``.

The volatility (σ per √s) is estimated from the prices the replay has reached.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice

from iqwire.errors import InvalidOrder
from iqwire.models import Outcome
from iqwire.pricing import buyback_price, digital_quote, profit_percent

__all__ = [
    "BLITZ_EXPIRATIONS",
    "DIGITAL_PERIODS",
    "PRODUCTS",
    "OptionTerms",
    "estimate_volatility",
    "expiry",
    "open_terms",
    "sale_value",
    "settle",
]

BLITZ_EXPIRATIONS = (5, 10, 15, 30, 60, 120, 300)
PRODUCTS = ("blitz", "turbo", "binary", "digital")
DIGITAL_PERIODS = (60, 300, 900)
_TURBO = ((60,), 5, 30)
_BINARY = ((900, 1800, 3600), 4, 300)
_DIGITAL_DEADTIME = 10
#: Sales end this many seconds before the expiry (the simulator's buy-back deadtimes).
SALE_DEADTIME = {"turbo": 15, "binary": 120, "digital": 10}
#: σ per √s when the replay has too few prices to estimate it (the simulator's FX actives).
DEFAULT_VOLATILITY = 2e-5


def _first(size: int, deadtime: int, now: float) -> int:
    """The first multiple of ``size`` after ``now`` more than ``deadtime`` seconds away."""
    first = (math.floor(now) // size + 1) * size
    while first - deadtime <= now:
        first += size
    return first


def _grid(sizes: tuple[int, ...], count: int, deadtime: int, now: float) -> list[int]:
    out: set[int] = set()
    for size in sizes:
        first = _first(size, deadtime, now)
        out.update(first + k * size for k in range(count))
    return sorted(out)


def expiry(product: str, now: float, expiration: int) -> int:
    """The expiry of an option of ``product`` bought at ``now`` with this ``expiration``.

    >>> expiry("turbo", 1_770_899_100.0, 60)
    1770899160
    >>> expiry("digital", 1_770_899_155.0, 60)      # 12:25:55: the 12:26 expiry is inside its deadtime
    1770899220

    Raises:
        InvalidOrder: the product or the expiration is not offered.
    """
    if product == "blitz":
        if expiration not in BLITZ_EXPIRATIONS:
            raise InvalidOrder(f"expiration {expiration}s is not offered (offered: {BLITZ_EXPIRATIONS})")
        return math.floor(now) + expiration
    if product == "turbo":
        # The grid of one size: its k-th expiry is the first + k minutes (what _grid lists).
        (size,), count, deadtime = _TURBO
        durations = [size * (k + 1) for k in range(count)]
        if expiration not in durations:
            raise InvalidOrder(f"turbo expiration {expiration}s is not offered (offered: {durations})")
        return _first(size, deadtime, now) + durations.index(expiration) * size
    if product == "binary":
        later = [e for e in _grid(*_BINARY, now) if e - now >= expiration]
        if expiration <= 0 or not later:
            raise InvalidOrder(f"no binary expiry {expiration}s or more away is offered")
        return later[0]
    if product == "digital":
        if expiration not in DIGITAL_PERIODS:
            raise InvalidOrder(f"digital period {expiration}s is not offered (periods: {DIGITAL_PERIODS})")
        return _first(expiration, _DIGITAL_DEADTIME, now)
    raise InvalidOrder(f"product must be one of {', '.join(PRODUCTS)}, not {product!r}")


@dataclass(slots=True)
class OptionTerms:
    """What an option was bought on: its expiry, payout percent and, for digital, strike and ask.

    Not frozen: a frozen dataclass sets each field through ``object.__setattr__``,
    and a backtest builds one per trade (nothing changes one after ``open_terms``).
    """

    product: str
    direction: str
    amount: float
    open_price: float
    expires: int
    payout: float
    commission: float
    strike: float | None = None
    ask: float | None = None


def open_terms(
    product: str,
    direction: str,
    amount: float,
    price: float,
    now: float,
    expiration: int,
    *,
    commission: float,
    volatility: float,
    strike: str | float = "spot",
) -> OptionTerms:
    """The terms of an option bought now at ``price`` (the digital strike priced by the model).

    Raises:
        InvalidOrder: as :func:`expiry`, or a strike that cannot be priced.
    """
    expires = expiry(product, now, expiration)
    if product != "digital":
        return OptionTerms(product, direction, amount, price, expires, 100 - commission, commission)
    level = price if strike == "spot" else float(strike)
    if not level > 0:
        raise InvalidOrder(f"strike must be 'spot' or a positive price, not {strike!r}")
    quote = digital_quote(direction, price, level, volatility, expires - now, commission)
    return OptionTerms(
        product, direction, amount, price, expires, profit_percent(quote.ask), commission, level, quote.ask
    )


def settle(terms: OptionTerms, close: float) -> tuple[Outcome, float]:
    """Outcome and P&L at expiry, with ``close`` the last price at or before it."""
    level = terms.strike if terms.strike is not None else terms.open_price
    if close == level:
        return Outcome.EQUAL, 0.0
    if (close > level) != (terms.direction == "call"):
        return Outcome.LOSS, -terms.amount
    if terms.ask is not None:
        return Outcome.WIN, round(100 * terms.amount / terms.ask - terms.amount, 2)
    return Outcome.WIN, _cents(terms.amount * terms.payout / 100)


#: ``[(x, round(x, 2))]``: the last float :func:`_cents` rounded (one pair, replaced whole).
_last_cents: list[tuple[float, float]] = [(math.nan, math.nan)]


def _cents(x: float) -> float:
    """``round(x, 2)``, remembering the last answer.

    A run's wins mostly pay the same stake times the same payout, and ``round``
    converts through decimal digits (~0.3 µs warm, ~1 µs amid a backtest's replay)
    where a repeated answer costs a comparison. Exactly ``round(x, 2)``: only a
    ``float`` (not a subclass) is remembered, and only an equal non-zero one reuses
    the answer (``0.0 == -0.0``, and ``round`` keeps the sign).
    """
    if type(x) is not float:
        return round(x, 2)
    last_x, rounded = _last_cents[0]  # (another thread may replace the pair, never half of it)
    if x == last_x and x:
        return rounded
    rounded = round(x, 2)
    _last_cents[0] = (x, rounded)
    return rounded


def sale_value(terms: OptionTerms, spot: float, now: float, volatility: float) -> float:
    """What selling (closing) the option at ``now`` pays back, in money.

    Raises:
        InvalidOrder: a blitz option (it cannot be sold), or the sale time is over.
    """
    seconds = terms.expires - now
    if terms.product == "blitz":
        raise InvalidOrder("blitz options cannot be sold before expiry")
    if seconds <= SALE_DEADTIME.get(terms.product, 0):
        raise InvalidOrder(f"sale time is over: the option expires in {seconds:.0f}s")
    if terms.ask is not None and terms.strike is not None:
        bid = digital_quote(terms.direction, spot, terms.strike, volatility, seconds, terms.commission).bid
        return round(terms.amount * bid / terms.ask, 2)
    return buyback_price(
        terms.direction,
        terms.amount,
        terms.payout,
        terms.open_price,
        spot,
        volatility,
        seconds,
        terms.commission,
    )


def estimate_volatility(times: Sequence[float], prices: Sequence[float], window: int = 300) -> float:
    """σ per √s from the last ``window`` prices: the root mean square log return over √ of its step.

    >>> round(estimate_volatility([0, 1, 2, 3], [1.0, 1.0001, 1.0, 1.0001]), 6)
    0.0001
    """
    times, prices = times[-window:], prices[-window:]
    if len(times) < len(prices):
        raise ValueError(f"{len(prices)} prices but only {len(times)} times")
    squares = 0.0
    span = 0.0
    if prices:
        # One pass over pairs (a backtest estimates it for every digital option it buys).
        log = math.log
        before_t, before_p = times[0], prices[0]
        for t, p in zip(islice(times, 1, None), islice(prices, 1, None), strict=False):
            step = t - before_t
            if step > 0 and p > 0 and before_p > 0:
                squares += log(p / before_p) ** 2
                span += step
            before_t, before_p = t, p
    if span <= 0 or squares <= 0:
        return DEFAULT_VOLATILITY
    return math.sqrt(squares / span)
