"""What the simulated platform knows: prices, accounts, positions, payouts, currencies.

:class:`SimState` holds it and answers the questions every product and RPC asks
(an active by id, what it offers now, the traders' mood). It sends nothing: the
engine turns changes into frames.
"""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

from iqwire.models import (
    Active,
    Currency,
    InitActive,
    InitOption,
    InitProfit,
    InstrumentsList,
    InstrumentStatus,
)
from iqwire.sim.accounts import Accounts
from iqwire.sim.actives import ActiveSpec, is_open, schedule
from iqwire.sim.config import SimConfig
from iqwire.sim.errors import UNKNOWN_NAME, SimError
from iqwire.sim.fixed_payout import Listing
from iqwire.sim.ledger import Ledger
from iqwire.sim.margin_instruments import terms_of_active
from iqwire.sim.prices import PriceModel, UnknownActive

__all__ = ["SimState", "hash_unit"]

log = logging.getLogger("iqwire.sim")


def hash_unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (stable across runs)."""
    digest = uuid.uuid5(uuid.NAMESPACE_OID, ":".join(map(str, parts))).int
    return (digest % 1_000_000_007) / 1_000_000_007


class SimState:
    """The platform's data, shared by the engine, the RPC handlers and the products."""

    def __init__(self, seed: int, config: SimConfig) -> None:
        self.seed = seed
        self.config = config
        self.model = PriceModel(seed)
        self.accounts = Accounts(config.accounts)
        self.ledger = Ledger(expiry_tolerance=config.expiry_tolerance)
        self.user_settings: dict[int, dict[str, Any]] = {}
        self.commissions: dict[int, float] = {spec.id: spec.commission for spec in self.model.actives}
        self.currencies: dict[str, Currency] = _currencies()

    def require_active(self, active_id: int) -> ActiveSpec:
        """The active's spec, or a 4004 error for an unknown id."""
        try:
            return self.model.spec(active_id)
        except UnknownActive:
            raise SimError(UNKNOWN_NAME, f"unknown active {active_id}") from None

    def listing(self, spec: ActiveSpec) -> Listing:
        """What an option product needs of an active: hours, prices, commission, limits."""
        return Listing(
            active_id=spec.id,
            ticker=spec.name,
            is_open=lambda t: is_open(spec, t),
            price_at=lambda t: self.model.tick(spec.id, t),
            commission=self.commissions[spec.id],
            min_amount=spec.min_amount,
            max_amount=spec.max_amount,
        )

    def price_at(self, active_id: int, t: float) -> float | None:
        """The last tick at or before ``t`` (``None`` while closed)."""
        return self.model.tick(active_id, t)

    def mood(self, active_id: int, now: float) -> float:
        """Traders' mood (share of call) for an active at a time: seeded, in [0.2, 0.8]."""
        slot = math.floor(now / self.config.mood_interval)
        return round(0.2 + 0.6 * hash_unit(self.seed, "mood", active_id, slot), 2)

    def set_commission(self, active_id: int, commission: float) -> None:
        """Change an active's commission; requests with the old payout now get 4117."""
        self.require_active(active_id)
        self.commissions[active_id] = commission
        log.info("commission of active %s is now %s%% (seed=%s)", active_id, commission, self.seed)

    # -- payloads ----------------------------------------------------------------------

    def init_active(
        self, spec: ActiveSpec, now: float, expirations: tuple[int, ...], **extra: Any
    ) -> InitActive:
        """One active of an initialization-data group; ``extra`` adds product fields."""
        option = InitOption(
            profit=InitProfit(commission=self.commissions[spec.id]),
            expiration_times=list(expirations),
            count=extra.pop("count", len(expirations)),
            special=extra.pop("special", None),
        )
        fields: dict[str, Any] = {"deadtime": 0, **extra}
        return InitActive(
            id=spec.id,
            name=f"front.{spec.name}",
            ticker=spec.name,
            description=spec.description,
            image=f"/img/actives/{spec.ticker.lower()}.png",
            enabled=True,
            is_suspended=not is_open(spec, now),
            schedule=schedule(spec, now - 86_400, now + 7 * 86_400),
            option=option,
            minimal_bet=spec.min_amount,
            maximal_bet=spec.max_amount,
            precision=spec.precision,
            **fields,
        )

    def active_model(self, active_id: int, now: float) -> Active:
        """The ``active`` payload of one active."""
        spec = self.require_active(active_id)
        # A margin instrument's pip and currencies are what the SDK's margin calculator reads.
        terms = terms_of_active(spec.id)
        base, quote = terms.currency_pair if terms is not None else (None, None)
        return Active(
            id=spec.id,
            name=spec.name,
            description=spec.description,
            ticker=spec.ticker,
            image=f"/img/actives/{spec.ticker.lower()}.png",
            is_otc=spec.is_otc,
            is_suspended=not is_open(spec, now),
            enabled=True,
            precision=spec.precision,
            pip_scale=terms.pip_scale if terms is not None else spec.precision,
            currency_left_side=base,
            currency_right_side=quote,
            spread_plus=spec.spread / 2,
            spread_minus=spec.spread / 2,
            type=spec.kind,
            schedule=schedule(spec, now - 86_400, now + 7 * 86_400),
        )

    def instrument_statuses(self, now: float) -> InstrumentsList:
        """The ``instruments-list`` payload: every active's status now."""
        items = [
            InstrumentStatus(
                active_id=spec.id, name=spec.name, is_suspended=False, is_open=is_open(spec, now)
            )
            for spec in self.model.actives
        ]
        return InstrumentsList(type="blitz-option", items=items)


def _currencies() -> dict[str, Currency]:
    def currency(cid: int, name: str, symbol: str, rate_usd: float, minor: int = 2) -> Currency:
        return Currency(
            id=cid,
            name=name,
            description=name,
            symbol=symbol,
            mask=f"{symbol}%s",
            unit=1,
            rate=rate_usd,
            rate_usd=rate_usd,
            min_deal_amount=1,
            max_deal_amount=20_000,
            minor_units=minor,
            is_visible=True,
            is_tradable=True,
            is_crypto=False,
            is_inout=True,
        )

    return {
        "USD": currency(1, "USD", "$", 1.0),
        "EUR": currency(2, "EUR", "€", 1.08),
        "BRL": currency(6, "BRL", "R$", 0.2),
    }
