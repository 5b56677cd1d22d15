"""The catalog's typed entries: what the annotation says is what the session decodes."""

from __future__ import annotations

import typing

from iqwire.protocol import ResultAck, catalog


def test_each_typed_rpc_constant_declares_its_real_types() -> None:
    hints = typing.get_type_hints(catalog, include_extras=True)
    checked = 0
    for name, hint in hints.items():
        if typing.get_origin(hint) is not catalog.RpcSpec:
            continue
        spec = getattr(catalog, name)
        body, reply = typing.get_args(hint)
        assert catalog.RPCS[spec.name] is spec, name
        if spec.body_type is not catalog.RAW:
            assert body == spec.body_type, name
        expected = ResultAck if spec.result_only else spec.response_type
        if expected is not catalog.RAW:
            assert reply == expected, name
        checked += 1
    assert checked >= 15


def test_each_typed_subscription_constant_declares_its_payload() -> None:
    hints = typing.get_type_hints(catalog)
    for name, hint in hints.items():
        if typing.get_origin(hint) is catalog.SubscriptionSpec:
            spec = getattr(catalog, name)
            assert typing.get_args(hint) == (spec.payload_type,), name
            assert catalog.subscription(spec.name) is spec


def test_every_push_spelling_has_one_canonical_name_of_the_same_type() -> None:
    for name, payload_type in catalog.PUSHES.items():
        canonical = catalog.canonical_push(name)
        assert catalog.PUSHES[canonical] is payload_type, name
    for spec in catalog.SUBSCRIPTIONS.values():
        assert catalog.canonical_push(spec.push_name) == spec.push_name, spec.name
