"""The option pricing model: what a digital strike costs and what a binary option sells back for.

Pure functions of numbers, no state and no imports from the rest of iqwire, so the
simulator (``iqwire.sim``) and the backtest (``iqwire.bot``) price options with the
same formulas and a strategy sees the same economics offline and in paper trading.
``docs/simulator.md`` ("Option pricing") states the model; every choice is in
``docs/protocol-notes.md``.

**Probability.** The simulator's log-price is a driftless random walk with
``volatility`` (relative standard deviation per square-root second), so after
``seconds`` the log-return is normal with standard deviation
``volatility * sqrt(seconds)`` and a cash-or-nothing call struck at ``strike``
finishes in the money with probability::

    P(call) = Φ( ln(spot / strike) / (volatility * sqrt(seconds)) )      P(put) = 1 - P(call)

**Digital prices** are quoted per 100 of payout: the option pays 100 if it finishes
in the money. ``mid = 100 * P``; ``ask = mid + h`` and ``bid = mid - h``, where the
half-spread ``h`` is fixed by the active's commission so that the spot strike
(``P = 1/2``) pays exactly ``100 - commission`` percent::

    h = 10000 / (200 - commission) - 50         (commission 12: h = 3.19...)

An amount ``A`` bought at ``ask`` holds ``A / ask`` units and pays ``100 * A / ask``
if it wins; selling early pays ``A * bid / ask``. Prices are cut to hundredths
(``ask`` down, so the spot payout is never below ``100 - commission``; ``bid``
down) and kept within ``[0, 100]``.

**Binary and turbo buy-back.** An option of stake ``S`` and payout ``p`` % pays
``S * (100 + p) / 100`` if it finishes in the money (a call above its open
price, a put below). Sold early, it pays that amount times ``bid / 100`` of a
digital struck at the open price with the same spread.

Example::

    from iqwire.pricing import digital_quote, spot_payout

    quote = digital_quote("call", spot=1.08, strike=1.08, volatility=2e-5, seconds=60, commission=12)
    quote.ask, quote.payout          # (53.19, 88.005...) — the spot strike pays 100 - commission
    spot_payout(12)                  # 88.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "DigitalQuote",
    "buyback_price",
    "digital_quote",
    "half_spread",
    "probability_in_the_money",
    "profit_percent",
    "spot_payout",
]


def _cdf(x: float) -> float:
    """The standard normal distribution function Φ."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def probability_in_the_money(
    direction: str, spot: float, strike: float, volatility: float, seconds: float
) -> float:
    """The probability that a cash-or-nothing option finishes in the money.

    ``direction`` is ``"call"`` (the price ends above ``strike``) or ``"put"``
    (below). With no time left (or no volatility) it is 1, 0 or 1/2 at the strike.

    >>> probability_in_the_money("call", 1.08, 1.08, 2e-5, 60)
    0.5

    Raises:
        ValueError: a direction other than call/put, or a non-positive price.
    """
    if direction not in ("call", "put"):
        raise ValueError(f"direction must be 'call' or 'put', not {direction!r}")
    if spot <= 0 or strike <= 0:
        raise ValueError("spot and strike must be positive")
    spread = volatility * math.sqrt(max(seconds, 0.0))
    distance = math.log(spot / strike)
    if spread <= 0 or distance == 0:
        call = 0.5 if distance == 0 else (1.0 if distance > 0 else 0.0)
    else:
        call = _cdf(distance / spread)
    return call if direction == "call" else 1.0 - call


def spot_payout(commission: float) -> float:
    """The spot strike's payout in percent: ``100 - commission``."""
    return 100.0 - commission


def half_spread(commission: float) -> float:
    """Half the digital bid/ask spread (per 100 of payout) that makes the spot pay ``100 - commission``.

    >>> round(half_spread(12), 4)
    3.1915
    """
    if not 0 <= commission < 100:
        raise ValueError(f"commission must be in [0, 100), got {commission}")
    return 10_000.0 / (200.0 - commission) - 50.0


def _cents_down(value: float) -> float:
    # A hair above the exact cent counts as that cent (float noise must not cost one).
    return math.floor(value * 100 + 1e-7) / 100


@dataclass(frozen=True, slots=True)
class DigitalQuote:
    """A digital strike's prices per 100 of payout, and what buying at ``ask`` pays."""

    ask: float
    bid: float
    probability: float

    @property
    def payout(self) -> float:
        """Profit in percent of the amount when bought at ``ask`` and won: ``(100 - ask) / ask * 100``."""
        return profit_percent(self.ask)


def profit_percent(ask: float) -> float:
    """The profit percent of a digital bought at ``ask``: ``(100 - ask) * 100 / ask``.

    >>> round(profit_percent(53.19), 3)
    88.005
    """
    if ask <= 0:
        raise ValueError(f"ask must be positive, got {ask}")
    return (100.0 - ask) * 100.0 / ask


def digital_quote(
    direction: str, spot: float, strike: float, volatility: float, seconds: float, commission: float
) -> DigitalQuote:
    """Ask and bid of a digital ``direction`` option at ``strike`` with ``seconds`` left.

    >>> digital_quote("put", 1.08, 1.08, 2e-5, 60, 12).ask
    53.19
    """
    probability = probability_in_the_money(direction, spot, strike, volatility, seconds)
    h = half_spread(commission)
    mid = 100.0 * probability
    ask = min(100.0, max(_cents_down(mid + h), 0.01))
    bid = min(ask, max(0.0, _cents_down(mid - h)))
    return DigitalQuote(ask=ask, bid=bid, probability=probability)


def buyback_price(
    direction: str,
    stake: float,
    payout: float,
    open_price: float,
    spot: float,
    volatility: float,
    seconds: float,
    commission: float,
) -> float:
    """What a binary/turbo option sells back for now, in money, rounded to cents.

    >>> buyback_price("call", 10, 88, 1.08, 1.08, 2e-5, 60, 12)
    8.8
    """
    quote = digital_quote(direction, spot, open_price, volatility, seconds, commission)
    return round(stake * (100.0 + payout) / 100.0 * quote.bid / 100.0, 2)
