"""Margin instruments as the trader knows them: leverages, quantity steps, hours, and the margin formula.

The server lists, per family (``forex``, ``cfd``, ``crypto``), its underlyings
(``get-underlying-list``) and for each one the tradable instruments
(``get-instruments-list``): the leverages offered, the default, the dynamic
leverage profile (less leverage for a bigger equity), the minimal quantity, the
quantity step and the session that is open. :class:`Instruments` loads a family
once and finds an instrument by name, instrument id or active id;
:func:`calculate_margin` is the one formula, shared with the simulator
(:mod:`iqwire.margin_math`).

Example::

    forex = await trader.instruments("forex")
    eurusd = next(i for i in forex if i.name == "EURUSD-OTC")
    print(eurusd.leverages, eurusd.qty_step, calculate_margin(1000, 1.08, 100))   # ... 10.80
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from iqwire import margin_math
from iqwire.errors import InvalidOrder, MarketClosed, UnknownAsset
from iqwire.models.margin import MARGIN_FAMILIES, GetInstrumentsListBody, MarginInstrumentsList
from iqwire.models.requests import EmptyBody
from iqwire.protocol import catalog
from iqwire.trading.client import TradingClient

__all__ = ["FAMILIES", "Instrument", "Instruments", "calculate_margin", "to_quantity"]

#: The margin families, in the order a name is searched.
FAMILIES: tuple[str, ...] = tuple(MARGIN_FAMILIES)

_CENT = Decimal("0.01")


def to_quantity(value: str | float | int | Decimal, what: str = "quantity") -> Decimal:
    """A quantity or price as a Decimal (floats through ``repr``, so ``0.1`` stays ``0.1``).

    Raises:
        InvalidOrder: not a finite positive number.
    """
    try:
        number = margin_math.to_decimal(value)
    except ValueError:
        raise InvalidOrder(f"{what} must be a number, not {value!r}") from None
    if number <= 0:
        raise InvalidOrder(f"{what} must be positive, not {value!r}")
    return number


def calculate_margin(
    quantity: str | float | int | Decimal,
    price: str | float | int | Decimal,
    leverage: int,
    rate: str | float | int | Decimal = 1,
) -> Decimal:
    """The margin a position locks, to the cent: ``quantity × price × rate / leverage``.

    The simulator computes the same (:func:`iqwire.margin_math.margin`), at the fill
    price: the ask for a buy, the bid for a sell.

    Example::

        calculate_margin(10_000, "1.08002", 100)   # Decimal('108.00')

    Raises:
        InvalidOrder: a quantity, price or leverage that is not positive.
    """
    if leverage < 1:
        raise InvalidOrder(f"leverage must be at least 1, not {leverage}")
    exact = margin_math.margin(
        to_quantity(quantity), to_quantity(price, "price"), leverage, to_quantity(rate, "rate")
    )
    return exact.quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Instrument:
    """One margin instrument: what may be traded and on which terms.

    ``id`` is the instrument id the orders name (``"forex.EURUSD-OTC"`` in the
    simulator); ``leverage_steps`` the dynamic profile, ``(equity USD, leverage)``
    in increasing equity; ``tradable_from``/``tradable_to`` the open session, unix
    seconds.

    Example::

        instrument.check_quantity(Decimal(1500))    # InvalidOrder: steps of 1000
    """

    family: str
    id: str
    active_id: int
    name: str
    leverages: tuple[int, ...]
    default_leverage: int
    min_qty: Decimal
    qty_step: Decimal
    tradable_from: int
    tradable_to: int
    is_suspended: bool = False
    allow_long: bool = True
    allow_short: bool = True
    leverage_steps: tuple[tuple[Decimal, int], ...] = ()

    @property
    def instrument_type(self) -> str:
        """The ``instrument_type`` of its orders and positions (``marginal-forex``...)."""
        return catalog.margin_instrument_type(self.family)

    def is_open_at(self, t: float) -> bool:
        """Whether it can be traded at ``t`` (unix seconds)."""
        return not self.is_suspended and self.tradable_from <= t < self.tradable_to

    def max_leverage(self, equity_usd: Decimal) -> int:
        """The highest leverage allowed at this equity (the dynamic profile)."""
        top = max(self.leverages) if self.leverages else self.default_leverage
        if not self.leverage_steps:
            return top
        return min(top, margin_math.leverage_for_equity(top, self.leverage_steps, equity_usd))

    def check_quantity(self, quantity: Decimal) -> None:
        """Raise :class:`InvalidOrder` unless ``quantity`` is at least ``min_qty`` and on the step."""
        if quantity < self.min_qty or (quantity - self.min_qty) % self.qty_step != 0:
            raise InvalidOrder(
                f"quantity {quantity} is not allowed for {self.name}: at least {self.min_qty}, "
                f"in steps of {self.qty_step} (nothing was sent)"
            )

    def check_leverage(self, leverage: int, equity_usd: Decimal) -> None:
        """Raise :class:`InvalidOrder` unless ``leverage`` is offered and allowed at this equity."""
        if self.leverages and leverage not in self.leverages:
            offered = ", ".join(str(x) for x in self.leverages)
            raise InvalidOrder(
                f"leverage {leverage} is not offered for {self.name} (offered: {offered}; nothing was sent)"
            )
        top = self.max_leverage(equity_usd)
        if leverage > top:
            raise InvalidOrder(
                f"leverage {leverage} is above {top}, the most allowed for {self.name} at an equity of "
                f"{equity_usd} USD (nothing was sent)"
            )

    def check_open(self, t: float) -> None:
        """Raise :class:`MarketClosed` unless it can be traded at ``t``."""
        if not self.is_open_at(t):
            raise MarketClosed(f"{self.name} is closed for trading now (nothing was sent)")


def _from_list(family: str, listing: MarginInstrumentsList) -> list[Instrument]:
    profiles = {
        profile.id: tuple((Decimal(str(step.equity)), step.leverage) for step in profile.items)
        for profile in listing.dynamic_leverage_profiles
    }
    return [
        Instrument(
            family=family,
            id=item.id,
            active_id=item.active_id,
            name=item.name,
            leverages=tuple(item.leverages or (item.default_leverage,)),
            default_leverage=item.default_leverage,
            min_qty=margin_math.to_decimal(item.min_qty),
            qty_step=margin_math.to_decimal(item.qty_step),
            tradable_from=item.tradable.start,
            tradable_to=item.tradable.to,
            is_suspended=item.is_suspended,
            allow_long=item.allow_long_position,
            allow_short=item.allow_short_position,
            leverage_steps=profiles.get(item.leverage_profile, ()),
        )
        for item in listing.items
    ]


class Instruments:
    """The margin instruments of each family, loaded once per family and kept.

    Example::

        instruments = Instruments(client)
        eurusd = await instruments.find("EURUSD-OTC")          # any family
        btc = await instruments.find(816, families=("crypto",))
    """

    def __init__(self, client: TradingClient) -> None:
        self._client = client
        self._families: dict[str, list[Instrument]] = {}
        self._lock = asyncio.Lock()

    async def family(self, family: str, *, refresh: bool = False) -> list[Instrument]:
        """Every instrument of a family (``forex``, ``cfd`` or ``crypto``).

        Raises:
            InvalidOrder: not a margin family.
        """
        if family not in FAMILIES:
            raise InvalidOrder(f"no margin family {family!r}: use one of {', '.join(FAMILIES)}")
        async with self._lock:
            if refresh or family not in self._families:
                self._families[family] = await self._load(family)
            return list(self._families[family])

    async def _load(self, family: str) -> list[Instrument]:
        underlyings = await self._client.call(catalog.margin_underlyings(family), EmptyBody())
        found: list[Instrument] = []
        for underlying in underlyings.items:
            listing = await self._client.call(
                catalog.margin_instruments(family), GetInstrumentsListBody(active_id=underlying.active_id)
            )
            found.extend(_from_list(family, listing))
        return found

    async def find(self, name_or_id: str | int, *, families: Sequence[str] = FAMILIES) -> Instrument:
        """The instrument named by its instrument id, name (case-insensitive) or active id.

        Raises:
            UnknownAsset: no instrument of these families answers to it.
        """
        text = str(name_or_id).strip()
        number = int(text) if text.isdigit() else None
        wanted = text.lower().removeprefix("front.")
        for family in families:
            for instrument in await self.family(family):
                if (
                    instrument.active_id == number
                    or instrument.id.lower() == wanted
                    or instrument.name.lower() == wanted
                ):
                    return instrument
        raise UnknownAsset(
            f"no margin instrument {name_or_id!r} in {', '.join(families)}; "
            "see trader.instruments(family) for the names"
        )
