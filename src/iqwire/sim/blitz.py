"""Blitz options: seconds-long expiries counted from the purchase, never sold early.

``binary-options.open-option`` 2.0 with ``option_type_id`` 12. The server's expiry
is ``floor(now) + expiration_size``; a client's nonzero ``expired`` may be off by
``expiry_tolerance`` seconds (the web client sends server time + size, the SDK 0).
Settlement is :func:`iqwire.sim.fixed_payout.settle` at the expiry.
"""

from __future__ import annotations

from iqwire.models import BLITZ_OPTION_TYPE_ID, InstrumentGroup, OpenOptionRequest, Option
from iqwire.sim import fixed_payout
from iqwire.sim.accounts import User
from iqwire.sim.errors import REJECTED, SimError
from iqwire.sim.product import OptionOpener, Product

__all__ = ["Blitz"]


class Blitz(Product):
    """Blitz options (``option_type_id`` 12)."""

    name = "blitz"
    features = ("blitz-instrument",)

    def option_openers(self) -> dict[int, OptionOpener]:
        return {BLITZ_OPTION_TYPE_ID: self.open}

    def init_groups(self, now: float) -> dict[str, InstrumentGroup]:
        actives = {
            str(spec.id): self.state.init_active(spec, now, spec.expirations)
            for spec in self.state.model.actives
        }
        return {"blitz": InstrumentGroup(actives=actives)}

    def open(self, user: User, body: OpenOptionRequest, now: float) -> Option:
        """Validate and place a blitz option at ``now``, and push what it changed.

        Raises:
            SimError: with the status and message the platform would send.
        """
        spec = self.state.require_active(body.active_id)
        listing = self.state.listing(spec)
        fixed_payout.check_order(user, body)
        size = body.expiration_size
        if size is None or size not in spec.expirations:
            allowed = ", ".join(str(e) for e in spec.expirations)
            raise SimError(
                REJECTED, f"expiration_size {size} is not offered for this active (offered: {allowed})"
            )
        created = int(now)
        expires = created + size
        tolerance = self.state.ledger.expiry_tolerance
        if body.expired != 0 and abs(body.expired - expires) > tolerance:
            raise SimError(
                REJECTED, f"expired {body.expired} does not match server time + expiration_size ({expires})"
            )
        fixed_payout.check_market(user, body, listing, expires, now)
        payout = fixed_payout.check_payout(body, listing, BLITZ_OPTION_TYPE_ID)
        terms = fixed_payout.OptionTerms(
            instrument_type="blitz-option",
            option_type="blitz",
            option_type_id=BLITZ_OPTION_TYPE_ID,
            created=created,
            expires=expires,
            expiration_size=size,
            payout=payout,
        )
        option, events = fixed_payout.open_option(
            self.state.ledger, user, body, listing, terms, now, self.name
        )
        self.host.publish(events)
        return option

    def step(self, t: float) -> None:
        self.host.publish(fixed_payout.settle_due(self.state.ledger, self.name, t, self.state.price_at))
