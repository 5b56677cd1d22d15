"""Catalogued pushes decoded straight into their events: the session's hot path.

A frame of a catalogued push name is decoded from its bytes in one pass through a
msgspec tagged union keyed by ``name``, whose members are the :class:`Push` event
itself, once per push name: ``payload`` typed as that push's payload and read
from ``msg``, ``microservice_name`` from ``microserviceName``. No envelope, no
dict and no second object is built per frame. A member accepts only a plain push
(``name``, ``msg`` and ``microserviceName``; ``request_id`` or any other envelope
field makes it a frame the session's general path must look at), so whatever
does not fit — replies, system frames, unknown names, pushes typed by their
service, a payload of another shape, bad input — fails this pass and the general
path decides what it is.

The members are private subclasses of :class:`Push` named ``Push``: they print,
compare, hash, pickle and copy as the plain :class:`Push` with the same fields
(unpickled ones are plain), and ``isinstance(event, Push)`` and
``case Push(...)`` match them; ``type(event) is Push`` does not.
"""

from __future__ import annotations

from typing import Any, Literal, Union

import msgspec

from iqwire.protocol import catalog
from iqwire.protocol.events import Push

__all__ = ["decode_push_frame"]

#: The wire name of a member's ``name`` field: the tag already reads ``name``, and
#: a frame that carries this key with another value is refused (``Literal``).
_NAME_KEY = "iqwire:push-name"


def _plain(name: str, payload: Any, microservice_name: str | None) -> Push:
    return Push(name=name, payload=payload, microservice_name=microservice_name)


def _fields(push: Push) -> tuple[Any, ...]:
    return (push.name, push.payload, push.microservice_name)


def _eq(self: Push, other: object) -> Any:
    if isinstance(other, Push):
        return _fields(self) == _fields(other)
    return NotImplemented


def _ne(self: Push, other: object) -> Any:
    equal = _eq(self, other)
    return equal if equal is NotImplemented else not equal


def _hash(self: Push) -> int:
    return hash(_plain(*_fields(self)))


def _reduce(self: Push) -> tuple[Any, ...]:
    return (_plain, _fields(self))


def _member(name: str, payload_type: Any) -> Any:
    return msgspec.defstruct(
        "Push",
        [
            ("name", Literal[name], msgspec.field(default=name, name=_NAME_KEY)),
            ("payload", payload_type, msgspec.field(name="msg")),
            ("microservice_name", str | None, msgspec.field(default=None, name="microserviceName")),
        ],
        bases=(Push,),
        tag_field="name",
        tag=name,
        forbid_unknown_fields=True,
        frozen=True,
        kw_only=True,
        module=__name__,
        namespace={"__eq__": _eq, "__ne__": _ne, "__hash__": _hash, "__reduce__": _reduce},
    )


def _push_frame_decoder() -> Any:
    # Names typed by their service (the marginal balance-changed) are left to the
    # general path: the service decides their payload's type, not the name.
    members = [
        _member(name, payload_type)
        for name, payload_type in catalog.PUSHES.items()
        if name not in catalog.SERVICE_PUSH_NAMES
    ]
    return msgspec.json.Decoder(Union[tuple(members)]).decode  # noqa: UP007


#: The :class:`Push` of a frame of a plain catalogued push; raises on anything else.
#: ``msgspec`` does not check the UTF-8 of bytes it skips: the caller checks frames
#: that are not ASCII.
decode_push_frame = _push_frame_decoder()
