"""Shapes only the community Python client asks for (its ``get-instruments`` 4.0)."""

from __future__ import annotations

from iqwire.models.base import Model
from iqwire.models.digital import DigitalSession

__all__ = ["GetLegacyInstrumentsBody", "LegacyInstrument", "LegacyInstruments"]


class GetLegacyInstrumentsBody(Model, kw_only=True, frozen=True):
    """``get-instruments`` 4.0: ``type`` is ``forex``, ``cfd`` or ``crypto``."""

    type: str


class LegacyInstrument(Model, kw_only=True, frozen=True):
    """One instrument of the list: ``name`` is the active's name, ``schedule`` its sessions."""

    id: str
    name: str
    active_id: int
    schedule: list[DigitalSession]


class LegacyInstruments(Model, kw_only=True, frozen=True):
    """The ``instruments`` reply of ``get-instruments`` 4.0."""

    instruments: list[LegacyInstrument]
    type: str | None = None
