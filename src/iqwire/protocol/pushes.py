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

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, Literal, Union

import msgspec

from iqwire.protocol import catalog
from iqwire.protocol.catalog.specs import SubscriptionSpec
from iqwire.protocol.envelope import RawFrame, encode_frame
from iqwire.protocol.events import Push, Pushes

__all__ = ["PUSH_FRAME_NAMES", "decode_push_frame", "decode_push_run"]

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

#: The names :data:`decode_push_frame` decodes (its union's tags), as bytes: a frame whose
#: ``name`` is none of them fails it (a reply, a system frame), so a caller may skip it.
PUSH_FRAME_NAMES = frozenset(
    name.encode() for name in catalog.PUSHES if name not in catalog.SERVICE_PUSH_NAMES
)


# -- a run of frames in one call ------------------------------------------------------------


def _run_decoder(spec: SubscriptionSpec[Any]) -> Callable[[Sequence[bytes | str]], Pushes | None]:
    r"""The decoder of a run of ``spec``'s pushes, every frame in the server's compact layout.

    A frame of that layout is ``HEAD{...}TAIL``, ``HEAD`` being
    ``{"name":"candle-generated","msg":`` and ``TAIL`` ``,"microserviceName":"quotes"}``
    (encoded from the catalog's push name and service). The payload objects of a
    run's frames, one a line, are decoded in one call (``decode_lines``), with the
    payload type the push union gives that name, so no ``Push`` and no call is made
    per frame.

    Why that answers exactly as :data:`decode_push_frame` on each frame: every line
    is then exactly one JSON value. The frames are checked to be ``HEAD{...}TAIL``
    (the run rebuilt from the cut-out objects equals the frames), so lines meet at
    ``}`` newline ``{``. A raw newline cannot stand inside a JSON string (msgspec
    refuses it, in skipped values too; a unit test pins this), so the ``}`` before
    each junction closes an object; inside an array or an object the token after a
    value must be ``,``, ``]`` or ``}``, and a ``{`` follows: that ``}`` ends a
    top-level value. So each line holds whole values, at least one (it starts with
    ``{`` after a top-level end), and ``n`` values from ``n`` lines is one each.

    Anything else — another key order, whitespace around the payload, another
    envelope field or service, text frames, a frame that is not ASCII (msgspec does
    not check the UTF-8 of what it skips), a payload of another shape, bad JSON —
    returns ``None``: the caller decodes frame by frame and finds out what each is.
    """
    name, service = spec.push_name, spec.microservice_name
    if name in catalog.SERVICE_PUSH_NAMES:  # typed by service: decode_push_frame refuses them
        raise ValueError(f"'{name}' pushes are typed by their service, not by their name")
    layout = encode_frame(RawFrame(name=name, msg=msgspec.Raw(b"{@}"), microservice_name=service))
    head, _, tail = layout.partition(b"@")  # HEAD + "{", "}" + TAIL
    assert b"@" not in tail and b"\n" not in layout  # a compact encoding of plain names
    junction = tail + b"\n" + head
    start, end = len(head), -len(tail)
    cut = itemgetter(slice(start, end))  # a frame's object without its braces, with no Python frame
    decode_lines = msgspec.json.Decoder(catalog.PUSHES[name]).decode_lines

    def decode_run(frames: Sequence[bytes | str]) -> Pushes | None:
        try:
            data = b"\n".join(frames)  # type: ignore[arg-type]  # text frames raise
        except TypeError:  # text frames: the general path decodes them
            return None
        inner: list[bytes] = list(map(cut, frames))
        rebuilt = junction.join(inner)
        if not (
            len(data) == start + len(rebuilt) - end  # with the next two: every frame is HEAD{...}TAIL
            and data.startswith(rebuilt, start)
            and data.startswith(head)
            and data.endswith(tail)
            and data.isascii()
        ):
            return None
        del data, rebuilt  # freed first, their memory (still in the CPU's cache) can hold the lines
        inner[0] = b"{" + inner[0]
        inner[-1] += b"}"
        try:
            payloads = decode_lines(b"}\n{".join(inner))  # one copy of the payloads, not three
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        if len(payloads) != len(frames):
            return None
        return Pushes(name=name, payloads=payloads, microservice_name=service)

    return decode_run


#: The :class:`Pushes` event of a run of ``candle-generated`` frames from ``quotes`` in the
#: server's layout (the candle stream's bursts), decoded in one call; ``None`` for any
#: other run, which the caller decodes frame by frame.
decode_push_run = _run_decoder(catalog.CANDLE_GENERATED)
