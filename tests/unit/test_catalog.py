"""The message catalog covers the reference, and every entry survives any reply shape."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from unit_helpers import frame_bytes, ready_session

from iqwire.protocol import MalformedFrame, Push, Response, ResultAck, catalog

REFERENCE = Path("/work/shared/protocol-reference.md")

#: §4 of the reference: every RPC whose priority is not SKIP (``chat.*`` rows left out).
REFERENCE_RPCS = [
    # 4.1 core and account
    "core.get-profile",
    "get-user-profile-client",
    "get-user-settings",
    "set-user-settings",
    "update-user-availability",
    # 4.2 billing
    "internal-billing.get-balances",
    # 4.3 assets and market data
    "get-initialization-data",
    "get-active",
    "get-actives-index",
    "get-candles",
    "get-first-candles",
    "get-traders-mood",
    "get-currency",
    "get-currency-list",
    "get-currencies-list",
    # 4.4 binary / blitz options
    "binary-options.open-option",
    # 4.5 portfolio
    "portfolio.get-positions",
    "portfolio.get-orders",
    "portfolio.get-history-positions",
    # 4.6 marginal trading
    "marginal-portfolio.get-marginal-balance",
    "marginal-portfolio.subscribe-balance-changed",
    "marginal-cfd-instruments.get-instruments-list",
    "marginal-cfd-instruments.get-overnight-fee",
    "marginal-cfd-instruments.get-underlying-list",
    "marginal-forex-instruments.get-instruments-list",
    "marginal-forex-instruments.get-overnight-fee",
    "marginal-forex-instruments.get-underlying-list",
    "marginal-crypto-instruments.get-overnight-fee",
    "marginal-crypto-instruments.get-underlying-list",
    # 4.7 digital options
    "digital-option-instruments.get-underlying-list",
    # 4.8 trading settings and tools
    "trading-settings.get-trading-group-params",
    "tech-instruments.get-script-indicators",
    "tech-instruments.get-standard-library",
    "tech-instruments.get-templates",
    # 4.9 / 4.10
    "cashback.get-option-insurance",
    "user-activity.get-trading-volume",
]

#: §5.2 of the reference: every subscription whose priority is not SKIP.
REFERENCE_SUBSCRIPTIONS = [
    "candle-generated",
    "portfolio.position-changed",
    "portfolio.order-changed",
    "traders-mood-changed",
    "profile-changed",
    "balance-changed",
    "currency-updated",
    "instruments-list",
    "active",
    "marginal-portfolio.balance-changed",
    "marginal-portfolio.margin-call",
    "marginal-forex.order-modified",
    "marginal-cfd.order-modified",
    "marginal-crypto.order-modified",
]

_ROW = re.compile(r"^\|\s*`(?P<name>[^`]+)`\s*\|(?P<rest>.*)\|\s*$")


def _table_names(text: str, start: str, end: str) -> list[str]:
    """Backticked first-column names of the table rows between two headings, SKIP rows left out."""
    section = text[text.index(start) : text.index(end)]
    names = []
    for line in section.splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        priority = match["rest"].split("|")[-1].strip().strip("*")
        if "*" in match["name"] or priority == "SKIP":
            continue
        names.append(match["name"])
    return names


@pytest.fixture(scope="module")
def reference_text() -> str:
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} is not available (CI checks the embedded lists only)")
    return REFERENCE.read_text(encoding="utf-8")


def test_embedded_rpc_list_matches_the_reference(reference_text: str) -> None:
    parsed = _table_names(reference_text, "## 4. `sendMessage` RPC Catalog", "## 5. Subscription Catalog")

    assert parsed == REFERENCE_RPCS


def test_embedded_subscription_list_matches_the_reference(reference_text: str) -> None:
    parsed = _table_names(reference_text, "### 5.2 Subscription Matrix", "## 6. Server")

    assert parsed == REFERENCE_SUBSCRIPTIONS


def test_table_parser_skips_skip_rows_and_wildcards() -> None:
    text = """## A
| Name | Version | Priority |
|---|---|---|
| `keep.me` | 1.0 | LOW |
| `keep.high` | 1.0 | **HIGH** |
| `done` | 1.0 | - |
| `drop.me` | ? | SKIP |
| `chat.*` (6 methods) | ? | SKIP |
| `wild.*` | ? | LOW |
## B
| `after` | 1.0 | LOW |
"""

    assert _table_names(text, "## A", "## B") == ["keep.me", "keep.high", "done"]


@pytest.mark.parametrize("name", REFERENCE_RPCS)
def test_every_reference_rpc_is_catalogued(name: str) -> None:
    assert name in catalog.RPCS
    spec = catalog.rpc(name)
    assert spec is not None
    assert spec.name == name


@pytest.mark.parametrize("name", REFERENCE_SUBSCRIPTIONS)
def test_every_reference_subscription_is_catalogued(name: str) -> None:
    assert name in catalog.SUBSCRIPTIONS
    assert catalog.subscription(name) is not None


def test_uncatalogued_names_give_none() -> None:
    assert catalog.rpc("chat.send-message") is None
    assert catalog.subscription("no-such-event") is None
    assert catalog.push_type("no-such-event") is None


@pytest.mark.parametrize("spec", catalog.RPCS.values(), ids=catalog.RPCS.keys())
def test_rpc_spec_is_well_formed(spec: catalog.RpcSpec) -> None:
    assert catalog.RPCS[spec.name] is spec
    assert all(re.fullmatch(r"\d+\.\d+", version) for version in spec.versions)
    assert spec.default_version == (spec.versions[0] if spec.versions else "1.0")
    if spec.result_only:
        assert spec.response_name == "result"
    for alias in spec.aliases:
        assert alias in catalog.RPCS


@pytest.mark.parametrize("spec", set(catalog.SUBSCRIPTIONS.values()), ids=lambda spec: spec.name)
def test_subscription_spec_is_well_formed(spec: catalog.SubscriptionSpec) -> None:
    assert catalog.SUBSCRIPTIONS[spec.name] is spec
    for alias in spec.aliases:
        assert catalog.subscription(alias) is spec
    assert all(re.fullmatch(r"\d+\.\d+", version) for version in spec.versions)
    assert spec.default_version == (spec.versions[0] if spec.versions else None)
    assert spec.microservice_name
    if spec.payload_type is not catalog.RAW:
        by_service = catalog.SERVICE_PUSHES.get((spec.microservice_name, spec.push_name))
        assert (by_service or catalog.push_type(spec.push_name)) is spec.payload_type


def test_push_names_of_both_spellings_share_a_type() -> None:
    assert catalog.push_type("position-changed") is catalog.push_type("portfolio.position-changed")
    assert catalog.push_type("order-changed") is catalog.push_type("portfolio.order-changed")
    assert catalog.push_type("balance-changed") is catalog.push_type("subscription-balance-changed")


#: Reply payloads that match almost no response type: the session must not crash on any.
ODD_PAYLOADS: list[Any] = [{}, [], None, 0, -1.5, "", "text", True, {"unexpected": {"nested": [1]}}, [{}]]


@pytest.mark.parametrize("name", sorted(catalog.RPCS))
def test_every_rpc_survives_any_reply_shape(name: str) -> None:
    spec = catalog.rpc(name)
    assert spec is not None
    reply_name = spec.response_name or "reply"
    for payload in ODD_PAYLOADS:
        session = ready_session()
        request_id, _ = session.request(name)

        events = session.receive(frame_bytes(reply_name, payload, request_id=request_id))

        assert len(events) == 1, events
        (event,) = events
        assert not isinstance(event, MalformedFrame), event
        assert isinstance(event, Response | ResultAck)
        assert event.request_id == request_id
        if isinstance(event, Response):
            assert event.rpc == name
            if event.error is not None:
                assert name in event.error
                assert event.payload == payload
                assert not event.ok
        if isinstance(event, ResultAck) and not event.final:
            assert session.pending_rpc(request_id) == name
        else:
            assert request_id not in session.pending


@pytest.mark.parametrize("name", sorted(catalog.RPCS))
def test_every_rpc_error_status_is_a_response(name: str) -> None:
    for payload in ODD_PAYLOADS:
        session = ready_session()
        request_id, _ = session.request(name)

        (event,) = session.receive(frame_bytes("error", payload, request_id=request_id, status=4000))

        assert isinstance(event, Response)
        assert (event.request_id, event.rpc, event.status, event.ok) == (request_id, name, 4000, False)
        assert session.pending == frozenset()


@pytest.mark.parametrize("spec", set(catalog.SUBSCRIPTIONS.values()), ids=lambda spec: spec.name)
def test_every_push_survives_any_payload(spec: catalog.SubscriptionSpec) -> None:
    session = ready_session()
    session.subscribe(spec.name)
    for payload in ODD_PAYLOADS:
        events = session.receive(
            frame_bytes(spec.push_name, payload, microserviceName=spec.microservice_name)
        )

        assert len(events) == 1, events
        assert isinstance(events[0], Push | MalformedFrame)
