"""System payloads: acknowledgements, features, error bodies."""

from __future__ import annotations

from typing import Any

from iqwire.models.base import Model

__all__ = ["ErrorBody", "Feature", "Features", "Result"]


class Result(Model, kw_only=True, frozen=True):
    """The generic ``result`` ACK (``setOptions``, subscriptions, result-only RPCs)."""

    success: bool
    reason: str | None = None


class Feature(Model, kw_only=True, frozen=True):
    """One feature flag of ``features.get-features``."""

    name: str
    status: str
    id: int | None = None
    category: str | None = None
    version: float | None = None
    params: dict[str, Any] | None = None


class Features(Model, kw_only=True, frozen=True):
    """The ``features`` response."""

    features: list[Feature]


class ErrorBody(Model, kw_only=True, frozen=True):
    """The ``msg`` of an error response (status >= 4000)."""

    message: str | None = None
    result: dict[str, Any] | None = None
