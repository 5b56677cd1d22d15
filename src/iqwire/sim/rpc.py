"""The simulator's ``sendMessage`` handlers: one function per RPC name.

Each handler gets the engine, the calling connection's user, the decoded body and
the time, and returns ``(response name, payload)`` or raises :class:`SimError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

from iqwire.models import (
    BalanceType,
    CandlesResponse,
    Feature,
    Features,
    FirstCandles,
    HistoryPositions,
    InitializationData,
    OpenOptionRequest,
    Option,
    OptionInsurance,
    OrdersResponse,
    Position,
    PositionsResponse,
    ProfileResponse,
    Result,
    TradersMood,
    TradingGroupParams,
    TradingLimits,
    TradingVolume,
    UserSettings,
)
from iqwire.models.market import Candle
from iqwire.models.requests import (
    GetActiveBody,
    GetBalancesBody,
    GetCandlesBody,
    GetCurrencyBody,
    GetFirstCandlesBody,
    GetHistoryPositionsBody,
    GetOrdersBody,
    GetPositionsBody,
    GetTradersMoodBody,
)
from iqwire.models.trading import timestamp_seconds
from iqwire.sim.accounts import User
from iqwire.sim.errors import FORBIDDEN, NOT_SUPPORTED, UNKNOWN_NAME, VALIDATION, SimError
from iqwire.sim.state import SimState


class RpcHost(Protocol):
    """What the generic RPC handlers use of the engine (which implements it)."""

    @property
    def state(self) -> SimState:
        """The platform's data."""

    def balance_changed(self, user: User, balance_id: int) -> None:
        """Push ``balance-changed`` for one of the user's balances."""

    def feature_statuses(self) -> dict[str, str]:
        """Each product feature, ``enabled`` or ``disabled``."""

    def initialization_data(self, now: float) -> InitializationData:
        """Every product's initialization-data groups."""

    def open_option(self, user: User, body: OpenOptionRequest, now: float) -> Option:
        """Place an option with the product that trades its type."""


__all__ = ["HANDLERS", "MAX_CANDLES", "Handler", "RpcHost", "is_unsupported"]

MAX_CANDLES = 1000
CANDLE_SIZES = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 14400, 86400)

Handler = Callable[[RpcHost, User, Any, float], tuple[str, Any]]

_UNSUPPORTED_PREFIXES = (
    "marginal-",
    "digital-option",
    "digital-options.",
    "tech-instruments.",
)


def is_unsupported(name: str) -> bool:
    """Marginal, digital and charting-tool RPCs: answered with 'not supported'."""
    return name.startswith(_UNSUPPORTED_PREFIXES) and name != "marginal-portfolio.subscribe-balance-changed"


def _profile(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    return "profile", ProfileResponse(result=user.profile(), is_successful=True)


def _user_profile_client(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    return "user-profile-client", {"user_id": user.user_id, "user_group": "regular", "is_vip": False}


def _user_settings(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    settings = engine.state.user_settings.setdefault(user.user_id, {"chart_type": "candles", "sound": False})
    return "user-settings", UserSettings(
        user_id=user.user_id, settings=settings, timezone="UTC", language="en"
    )


def _set_user_settings(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    if not isinstance(body, dict):
        raise SimError(4000, "body must be an object of settings")
    engine.state.user_settings.setdefault(user.user_id, {}).update(body)
    return "set-user-settings-reply", {"success": True}


def _result_ok(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    return "result", Result(success=True)


def _balances(engine: RpcHost, user: User, body: GetBalancesBody, now: float) -> tuple[str, Any]:
    return "balances", user.balance_models(set(body.types_ids) if body.types_ids else None)


def _legacy_balances(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    # The community client's get-balances 1.0 sends no body at all.
    types = body.get("types_ids") if isinstance(body, dict) else None
    return "balances", user.balance_models(set(types) if isinstance(types, list) and types else None)


def _reset_training_balance(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    balance_id = body.get("user_balance_id") if isinstance(body, dict) else None
    balance = user.balance(balance_id) if isinstance(balance_id, int) else None
    if balance is None:
        raise SimError(FORBIDDEN, f"balance {balance_id} does not belong to this user")
    if balance.type is not BalanceType.DEMO:
        return "result", Result(success=False, reason="only a demo balance can be reset")
    balance.amount = 10_000.0
    engine.balance_changed(user, balance.id)
    return "result", Result(success=True)


def _initialization_data(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    return "initialization-data", engine.initialization_data(now)


def _active(engine: RpcHost, user: User, body: GetActiveBody, now: float) -> tuple[str, Any]:
    target = body.target
    if target is None:
        raise SimError(4000, "get-active needs 'active_id' (1.0) or 'id' (5.0)")
    return "active", engine.state.active_model(target, now)


def _actives_index(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    actives = [
        {"id": spec.id, "name": spec.name, "ticker": spec.ticker, "is_otc": spec.is_otc, "type": spec.kind}
        for spec in engine.state.model.actives
    ]
    return "actives-index", {"actives": actives}


def _candles(engine: RpcHost, user: User, body: GetCandlesBody, now: float) -> tuple[str, Any]:
    engine.state.require_active(body.active_id)
    size = body.size
    if size not in CANDLE_SIZES:
        raise SimError(VALIDATION, f"size must be one of {', '.join(map(str, CANDLE_SIZES))}")
    if body.count is not None and not 0 < body.count <= MAX_CANDLES:
        raise SimError(
            VALIDATION,
            "count must be less than or equal to 1000",
            fields={"count": "must be less than or equal to 1000"},
        )
    if body.start is not None and body.start > now:
        raise SimError(
            VALIDATION, "from must not be in the future", fields={"from": ["from must not be in the future"]}
        )
    forming = not body.only_closed  # only_closed leaves the forming candle out before counting
    if body.from_id is not None or body.to_id is not None:
        candles = _candles_by_id(engine, body, now)
    elif body.start is not None:
        first = math.ceil(body.start / size) * size
        last = min(body.end if body.end is not None else now, now)
        limit = body.count if body.count is not None else MAX_CANDLES
        candles = _first(engine, body.active_id, size, first, last, limit, now, forming)
    else:
        last = min(body.end if body.end is not None else now, now)
        count = body.count if body.count is not None else MAX_CANDLES
        candles = _last(engine, body.active_id, size, last, count, now, forming)
    return "candles", CandlesResponse(candles=candles)


def _range(
    engine: RpcHost, active_id: int, size: int, first: float, last: float, now: float, forming: bool = True
) -> list[Candle]:
    """Candles whose ``from`` lies in [first, last], the forming one included unless ``forming`` is off."""
    start = int(first)
    stop = int(last) + 1
    if stop <= start:  # ``to`` before ``from``, or before the listing
        return []
    closed = engine.state.model.candles(active_id, size, start, stop, only_closed_at=now)
    live = engine.state.model.candle_at(active_id, size, now) if forming else None
    if live is not None and live.end > now and start <= live.start < stop:
        closed.append(live)
    return closed


def _first(
    engine: RpcHost,
    active_id: int,
    size: int,
    first: float,
    last: float,
    count: int,
    now: float,
    forming: bool,
) -> list[Candle]:
    """The first ``count`` candles with ``from`` in [first, last], looking no further than needed
    (a ``from`` far in the past must not build every candle since then)."""
    listed = engine.state.model.spec(active_id).listed_at
    first = max(first, listed // size * size)
    span = count * size
    while True:
        stop = min(first + span, last)
        candles = _range(engine, active_id, size, first, stop, now, forming)
        if len(candles) >= count or stop >= last:
            return candles[:count]
        span *= 4


def _last(
    engine: RpcHost, active_id: int, size: int, last: float, count: int, now: float, forming: bool
) -> list[Candle]:
    listed = engine.state.model.spec(active_id).listed_at
    span = count * size
    while True:
        first = max(last - span, listed)
        candles = _range(engine, active_id, size, first, last, now, forming)
        if len(candles) >= count or first <= listed:
            return candles[-count:]
        span *= 4


def _candles_by_id(engine: RpcHost, body: GetCandlesBody, now: float) -> list[Candle]:
    size = body.size
    if body.from_id is None or body.to_id is None:
        raise SimError(VALIDATION, "from_id and to_id go together", fields={"to_id": "required with from_id"})
    if body.to_id < body.from_id:
        raise SimError(VALIDATION, "to_id must not be below from_id", fields={"to_id": "must be >= from_id"})
    if body.to_id - body.from_id + 1 > MAX_CANDLES:
        raise SimError(
            VALIDATION,
            "count must be less than or equal to 1000",
            fields={"count": "must be less than or equal to 1000"},
        )
    first = engine.state.model.from_of(body.active_id, size, body.from_id)
    last = engine.state.model.from_of(body.active_id, size, body.to_id)
    if first > now:
        return []
    return _range(engine, body.active_id, size, first, min(last, now), now, not body.only_closed)


def _first_candles(engine: RpcHost, user: User, body: GetFirstCandlesBody, now: float) -> tuple[str, Any]:
    engine.state.require_active(body.active_id)
    by_size = {size: engine.state.model.first_candle(body.active_id, size) for size in CANDLE_SIZES}
    return "first-candles", FirstCandles(candles_by_size=by_size)


def _traders_mood(engine: RpcHost, user: User, body: GetTradersMoodBody, now: float) -> tuple[str, Any]:
    engine.state.require_active(body.asset_id)
    return "traders-mood", TradersMood(
        asset_id=body.asset_id, value=engine.state.mood(body.asset_id, now), instrument=body.instrument
    )


def _currency(engine: RpcHost, user: User, body: GetCurrencyBody, now: float) -> tuple[str, Any]:
    currency = engine.state.currencies.get(body.name.upper())
    if currency is None:
        raise SimError(UNKNOWN_NAME, f"unknown currency {body.name!r}")
    return "currency", currency


def _currency_list(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    return "currency-list", {"currencies": list(engine.state.currencies.values())}


def _currencies_list(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    return "currencies-list", {"currencies": list(engine.state.currencies.values())}


def _open_option(engine: RpcHost, user: User, body: OpenOptionRequest, now: float) -> tuple[str, Any]:
    return "option", engine.open_option(user, body, now)


def _check_balance(user: User, balance_id: int | None) -> None:
    if balance_id is not None and user.balance(balance_id) is None:
        raise SimError(FORBIDDEN, f"balance {balance_id} does not belong to this user")


def _filter(positions: list[Position], balance_id: int | None, types: list[str] | None) -> list[Position]:
    return [
        p
        for p in positions
        if (balance_id is None or p.user_balance_id == balance_id)
        and (not types or p.instrument_type in types)
    ]


def _positions(engine: RpcHost, user: User, body: GetPositionsBody, now: float) -> tuple[str, Any]:
    _check_balance(user, body.user_balance_id)
    selected = _filter(engine.state.ledger.open_positions(user), body.user_balance_id, body.instrument_types)
    page = selected[body.offset : body.offset + body.limit]
    return "positions", PositionsResponse(positions=page, limit=body.limit, total=len(selected))


def _orders(engine: RpcHost, user: User, body: GetOrdersBody, now: float) -> tuple[str, Any]:
    _check_balance(user, body.user_balance_id)
    orders = [
        o
        for o in engine.state.ledger.orders(user)
        if (body.user_balance_id is None or o.user_balance_id == body.user_balance_id)
        and (body.kind != "deferred" or not o.is_terminal)
        and (not body.instrument_types or o.instrument_type in body.instrument_types)
    ]
    return "orders", OrdersResponse(orders=orders, items=orders)


def _history(engine: RpcHost, user: User, body: GetHistoryPositionsBody, now: float) -> tuple[str, Any]:
    _check_balance(user, body.user_balance_id)
    if body.user_id is not None and body.user_id != user.user_id:
        raise SimError(FORBIDDEN, "user_id does not match the authenticated user")
    selected = _filter(
        engine.state.ledger.closed_positions(user), body.user_balance_id, body.instrument_types
    )
    if body.external_id is not None:
        selected = [p for p in selected if p.option_id == body.external_id]
    if body.end is not None:
        end = body.end
        # Margin positions carry ms, options seconds: compare in seconds.
        selected = [p for p in selected if timestamp_seconds(p.close_time or 0) <= end]
    offset = body.offset or 0
    limit = body.limit or 30
    return "history-positions", HistoryPositions(
        positions=selected[offset : offset + limit], limit=limit, total=len(selected)
    )


def _trading_group_params(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    limits = {"blitz-option": TradingLimits(min_amount=1, max_amount=20_000, max_open_positions=1000)}
    return "trading-group-params", TradingGroupParams(user_group_id=1, limits=limits)


def _trading_volume(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    volume = sum(
        p.amount or 0
        for p in engine.state.ledger.open_positions(user) + engine.state.ledger.closed_positions(user)
    )
    return "trading-volume", TradingVolume(
        volume=round(volume, 2), currency=user.config.currency, user_id=user.user_id, period="all"
    )


def _option_insurance(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    return "option-insurance", OptionInsurance(
        enabled=False, percent=0, max_amount=0, currency=user.config.currency
    )


def _features(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    features = [
        Feature(id=index + 1, name=name, category="client-sdk-js", version=1.0, status=status, params={})
        for index, (name, status) in enumerate(engine.feature_statuses().items())
    ]
    return "features", Features(features=features)


def _not_supported(engine: RpcHost, user: User, body: Any, now: float) -> tuple[str, Any]:
    raise SimError(NOT_SUPPORTED, "not supported by the simulator")


HANDLERS: dict[str, Handler] = {
    "core.get-profile": _profile,
    "get-user-profile-client": _user_profile_client,
    "get-user-settings": _user_settings,
    "set-user-settings": _set_user_settings,
    "update-user-availability": _result_ok,
    "internal-billing.get-balances": _balances,
    "balances.get-available-balances": _balances,
    "get-balances": _legacy_balances,
    "internal-billing.reset-training-balance": _reset_training_balance,
    "get-initialization-data": _initialization_data,
    "binary-options.get-initialization-data": _initialization_data,
    "get-active": _active,
    "get-actives-index": _actives_index,
    "get-candles": _candles,
    "quotes-history.get-candles": _candles,
    "get-first-candles": _first_candles,
    "get-traders-mood": _traders_mood,
    "get-currency": _currency,
    "get-currency-list": _currency_list,
    "get-currencies-list": _currencies_list,
    "binary-options.open-option": _open_option,
    "portfolio.get-positions": _positions,
    "portfolio.get-orders": _orders,
    "portfolio.get-history-positions": _history,
    "marginal-portfolio.subscribe-balance-changed": _result_ok,
    "trading-settings.get-trading-group-params": _trading_group_params,
    "user-activity.get-trading-volume": _trading_volume,
    "cashback.get-option-insurance": _option_insurance,
    "features.get-features": _features,
}
