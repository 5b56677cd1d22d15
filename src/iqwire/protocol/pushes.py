"""Catalogued pushes decoded in one pass: the session's hot path.

A frame of a catalogued push name is decoded straight from its bytes through one
msgspec tagged union keyed by ``name`` (one member per push name: the whole frame,
``msg`` typed as that push's payload, the envelope's other fields typed as in
:class:`~iqwire.protocol.envelope.RawFrame`), with no dict and no second stage.
Whatever does not fit — replies, system frames, unknown names, a payload of
another shape, bad input — fails that pass, and the session's general path
decides what it is.
"""

from __future__ import annotations

from typing import Any, Union

import msgspec

from iqwire.protocol import catalog

__all__ = ["decode_push_frame"]


def _push_frame_decoder() -> Any:
    """One decoder for every catalogued push: a tagged union keyed by ``name``.

    Each member accepts exactly what the two-stage path would accept as that push.
    The tag is also a class attribute, ``tag``, so the event needs no second lookup.
    """
    members = []
    for index, (name, payload_type) in enumerate(catalog.PUSHES.items()):
        member = msgspec.defstruct(
            f"_PushFrame{index}",
            [
                ("msg", payload_type),
                ("request_id", str | None, None),
                ("local_time", int | None, None),
                ("status", int | None, None),
                ("microserviceName", str | None, None),
                ("session_id", str | None, None),
                ("client_session_id", str | None, None),
            ],
            tag_field="name",
            tag=name,
            gc=False,  # decoded JSON holds no cycles; one of these is made per push
        )
        member.tag = name  # type: ignore[attr-defined]
        members.append(member)
    return msgspec.json.Decoder(Union[tuple(members)]).decode  # noqa: UP007


#: Decodes one frame of a catalogued push (its ``request_id`` may be set: the caller
#: checks); raises on anything else. ``msgspec`` does not check the UTF-8 of bytes it
#: skips: the caller checks frames that are not ASCII.
decode_push_frame = _push_frame_decoder()
