"""The base class of every payload model."""

from __future__ import annotations

import msgspec

__all__ = ["Model"]


class Model(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A wire payload: decoded straight from bytes, unknown fields ignored.

    Optional fields default to ``None`` and are left out when encoded, so a
    model round-trips to the same JSON it came from.
    """
