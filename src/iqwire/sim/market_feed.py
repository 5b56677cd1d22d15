"""The market's own pushes: candles, quotes, traders' mood, openings and closings, payouts.

:class:`MarketFeed` runs at every step of the engine and pushes to whoever
subscribed: each forming candle several times a second (and once complete),
``quote-generated``, ``traders-mood-changed`` when the mood moves,
``active``/``instruments-list`` when a market opens or closes, and the seeded
commission changes when they are on.
"""

from __future__ import annotations

import logging
import math

from iqwire.models import Quote, TradersMood
from iqwire.sim.actives import is_open
from iqwire.sim.frames import push_frame
from iqwire.sim.prices import UnknownActive
from iqwire.sim.product import ProductHost
from iqwire.sim.state import hash_unit

__all__ = ["MarketFeed"]

log = logging.getLogger("iqwire.sim")


class MarketFeed:
    """The market pushes of one engine (``host``), starting at ``start``."""

    def __init__(self, host: ProductHost, start: float) -> None:
        self.host = host
        self.state = host.state
        config = host.state.config
        self._mood_slot = math.floor(start / config.mood_interval)
        self._commission_slot = math.floor(start / config.commission_change_interval)
        # Per stream: the ``from`` of the candle pushed last, and whether it was complete.
        self._candle_from: dict[tuple[int, int], tuple[int, bool] | None] = {}
        self._open_state = {spec.id: is_open(spec, start) for spec in self.state.model.actives}

    def push_prices(self, t: float) -> None:
        """Candles and quotes of every subscribed stream at ``t``."""
        self._push_candles(t)
        self._push_quotes(t)

    def push_changes(self, t: float) -> None:
        """Moods, market openings and closings, and commission changes due at ``t``."""
        self._push_moods(t)
        self._push_instrument_changes(t)
        self._change_commissions(t)

    def _push_candles(self, t: float) -> None:
        for key, conns in list(self.host.hub.candle_streams().items()):
            active_id, size = key
            current = self.state.model.candle_at(active_id, size, t)
            previous = self._candle_from.get(key)
            frames: list[bytes] = []
            # The candle pushed last ended: push it complete, unless its last push already was.
            if previous is not None and not previous[1] and (current is None or current.start != previous[0]):
                closed = self.state.model.candles(active_id, size, previous[0], previous[0] + 1)
                if closed:
                    frames.append(push_frame("candle-generated", "quotes", closed[0]))
            if current is not None:
                frames.append(push_frame("candle-generated", "quotes", current))
            self._candle_from[key] = None if current is None else (current.start, current.is_closed)
            if frames:
                self.host.send_each(conns, frames)
        for key in [k for k in self._candle_from if k not in self.host.hub.candle_streams()]:
            del self._candle_from[key]

    def _push_quotes(self, t: float) -> None:
        for active_id in self.host.hub.keys_for("quote-generated", "active_id"):
            if not isinstance(active_id, int):
                continue
            try:
                spec = self.state.model.spec(active_id)
            except UnknownActive:
                continue
            price = self.state.model.tick(active_id, t)
            if price is None:
                continue
            half = spec.spread / 2
            quote = Quote(
                active_id=active_id,
                time=int(t * 1000),
                value=price,
                ask=round(price + half, spec.precision),
                bid=round(price - half, spec.precision),
                phase="T",
            )
            self.host.push("quote-generated", quote, {"active_id": active_id})

    def _push_moods(self, t: float) -> None:
        slot = math.floor(t / self.state.config.mood_interval)
        if slot == self._mood_slot:
            return
        previous = self._mood_slot
        self._mood_slot = slot
        for asset_id in self.host.hub.keys_for("traders-mood-changed", "asset_id"):
            if not isinstance(asset_id, int) or asset_id not in self.state.commissions:
                continue
            value = self.state.mood(asset_id, t)
            if value == self.state.mood(asset_id, previous * self.state.config.mood_interval):
                continue
            mood = TradersMood(
                asset_id=asset_id, value=value, instrument="turbo-option", instrument_type="turbo-option"
            )
            self.host.push(
                # Any instrument type's subscribers: the mood is the asset's, whatever the product.
                "traders-mood-changed",
                mood,
                {"asset_id": asset_id},
            )

    def _push_instrument_changes(self, t: float) -> None:
        changed = False
        for spec in self.state.model.actives:
            state = is_open(spec, t)
            if state != self._open_state[spec.id]:
                self._open_state[spec.id] = state
                changed = True
                log.info("active %s (%s) is now %s", spec.id, spec.name, "open" if state else "closed")
                self.host.push("active", self.state.active_model(spec.id, t), {"id": spec.id})
        if changed:
            self.host.push("instruments-list", self.state.instrument_statuses(t), {"type": "blitz-option"})

    def _change_commissions(self, t: float) -> None:
        if not self.state.config.commission_changes:
            return
        slot = math.floor(t / self.state.config.commission_change_interval)
        if slot == self._commission_slot:
            return
        self._commission_slot = slot
        for spec in self.state.model.actives:
            draw = hash_unit(self.state.seed, "commission", spec.id, slot)
            if draw < 0.3:
                new = max(5.0, min(30.0, spec.commission + round((draw / 0.3) * 6 - 3)))
                if new != self.state.commissions[spec.id]:
                    self.state.set_commission(spec.id, new)
