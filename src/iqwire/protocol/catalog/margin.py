"""The catalog's margin entries: forex, CFD and crypto, the SDK's names and the old dialect."""

from __future__ import annotations

from typing import Any

from iqwire.models import Order, Position, PositionsResponse, Result
from iqwire.models.margin import (
    MARGIN_FAMILIES,
    AvailableLeverages,
    AvailableLeveragesBody,
    CancelPendingOrderBody,
    ChangeTpslBody,
    ExchangeRate,
    GetInstrumentsListBody,
    GetOrderBody,
    GetOvernightFeeBody,
    GetPositionBody,
    LegacyGetPositionsBody,
    MarginalBalance,
    MarginalBalanceBody,
    MarginCall,
    MarginClosePositionBody,
    MarginInstrumentsList,
    MarginOrderPlaced,
    OvernightFee,
    PlaceMarginOrderBody,
    PlaceOrderTempBody,
    UnderlyingList,
)
from iqwire.models.requests import EmptyBody
from iqwire.protocol.catalog.specs import RAW, MoneyMove, RpcSpec, SubscriptionSpec

__all__ = [
    "GET_MARGINAL_BALANCE",
    "MARGINAL_BALANCE_CHANGED",
    "MARGIN_CALL",
    "MARGIN_CHANGE_TPSL",
    "SUBSCRIBE_MARGINAL_BALANCE",
    "margin_rpcs",
    "margin_subscriptions",
]

GET_MARGINAL_BALANCE: RpcSpec[MarginalBalanceBody, MarginalBalance] = RpcSpec(
    "marginal-portfolio.get-marginal-balance",
    ("1.0",),
    MarginalBalanceBody,
    "marginal-balance",
    MarginalBalance,
)
SUBSCRIBE_MARGINAL_BALANCE: RpcSpec[MarginalBalanceBody, Any] = RpcSpec(
    "marginal-portfolio.subscribe-balance-changed",
    ("1.0",),
    MarginalBalanceBody,
    "result",
    Result,
    result_only=True,
)
#: ``change-tpsl`` 2.0: the one TP/SL change the simulator (and the community client) speaks.
MARGIN_CHANGE_TPSL: RpcSpec[ChangeTpslBody, Any] = RpcSpec(
    "change-tpsl",
    ("2.0",),
    ChangeTpslBody,
    "tpsl-changed",
    RAW,
    money=MoneyMove("modify", balance_field=None, ids_field="position_id"),
)
#: The marginal balance's figures; its push shares the name ``balance-changed`` with the billing one.
MARGINAL_BALANCE_CHANGED: SubscriptionSpec[MarginalBalance] = SubscriptionSpec(
    "marginal-portfolio.balance-changed",
    ("1.0",),
    (),
    "balance-changed",
    MarginalBalance,
    "marginal-portfolio",
)
MARGIN_CALL: SubscriptionSpec[MarginCall] = SubscriptionSpec(
    "marginal-portfolio.margin-call", ("1.0",), (), "margin-call", MarginCall, "marginal-portfolio"
)


def margin_rpcs() -> tuple[RpcSpec[Any, Any], ...]:
    """Margin forex, CFD and crypto: the SDK's names per family, then the old dialect (§10)."""
    r: type[RpcSpec[Any, Any]] = RpcSpec
    specs: list[RpcSpec[Any, Any]] = [GET_MARGINAL_BALANCE, SUBSCRIBE_MARGINAL_BALANCE]
    for family in MARGIN_FAMILIES:
        instruments = f"marginal-{family}-instruments"
        specs += [
            r(f"{instruments}.get-underlying-list", ("1.0",), EmptyBody, "underlying-list", UnderlyingList),
            r(
                f"{instruments}.get-instruments-list",
                ("1.0",),
                GetInstrumentsListBody,
                "instruments-list",
                MarginInstrumentsList,
            ),
            r(
                f"{instruments}.get-overnight-fee",
                ("1.0",),
                GetOvernightFeeBody,
                "overnight-fee",
                OvernightFee,
            ),
        ]
        specs += [
            r(
                f"marginal-{family}.place-{kind}-order",
                ("1.0",),
                PlaceMarginOrderBody,
                "order-placed",
                MarginOrderPlaced,
                money=MoneyMove("open"),
            )
            for kind in ("market", "limit", "stop")
        ]
        specs += [
            r(
                f"marginal-{family}.close-position",
                ("1.0",),
                MarginClosePositionBody,
                "result",
                Result,
                result_only=True,
                money=MoneyMove("close", balance_field=None, ids_field="position_id"),
            ),
            r(
                f"marginal-{family}.cancel-pending-order",
                ("1.0",),
                CancelPendingOrderBody,
                "result",
                Result,
                result_only=True,
                money=MoneyMove("cancel", balance_field=None, ids_field="order_id", ids_kind="order"),
            ),
        ]
    # The community client's dialect: one reply name per request, status 2000 on success.
    specs += [
        r(
            "get-available-leverages",
            ("2.0",),
            AvailableLeveragesBody,
            "available-leverages",
            AvailableLeverages,
        ),
        r(
            "place-order-temp",
            ("4.0",),
            PlaceOrderTempBody,
            "order-placed-temp",
            MarginOrderPlaced,
            money=MoneyMove("open"),
        ),
        r("get-order", (), GetOrderBody, "order", Order),
        r("get-position", (), GetPositionBody, "position", Position),
        r("get-positions", (), LegacyGetPositionsBody, "positions", PositionsResponse),
        r("get-deferred-orders", ("1.0",), LegacyGetPositionsBody, "deferred-orders", RAW),
        r(
            "close-position",
            ("1.0",),
            MarginClosePositionBody,
            "position-closed",
            Position,
            money=MoneyMove("close", balance_field=None, ids_field="position_id"),
        ),
        r(
            "cancel-order",
            ("1.0",),
            CancelPendingOrderBody,
            "order-canceled",
            Order,
            money=MoneyMove("cancel", balance_field=None, ids_field="order_id", ids_kind="order"),
        ),
        MARGIN_CHANGE_TPSL,
        r("change-auto-margin-call", ("2.0",), RAW, "auto-margin-call-changed", RAW),
        r("get-overnight-fee", ("1.0",), GetOvernightFeeBody, "overnight-fee", OvernightFee),
    ]
    return tuple(specs)


def margin_subscriptions() -> tuple[SubscriptionSpec[Any], ...]:
    s: type[SubscriptionSpec[Any]] = SubscriptionSpec
    specs: list[SubscriptionSpec[Any]] = [MARGINAL_BALANCE_CHANGED, MARGIN_CALL]
    specs.append(
        s(
            "exchange-rates.exchange-rate-generated",
            ("2.0",),
            ("base_currency", "quote_currency"),
            "exchange-rate-generated",
            ExchangeRate,
            "exchange-rates",
        )
    )
    for family in MARGIN_FAMILIES:
        instruments = f"marginal-{family}-instruments"
        specs += [
            s(f"marginal-{family}.order-modified", ("1.0",), (), "order-modified", RAW, f"marginal-{family}"),
            # Typed as UnderlyingList by the consumer: the push shares its name with the digital one.
            s(
                f"{instruments}.underlying-list-changed",
                ("1.0",),
                (),
                "underlying-list-changed",
                RAW,
                instruments,
            ),
        ]
    return tuple(specs)
