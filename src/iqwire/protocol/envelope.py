"""The message envelope: ``{name, request_id, local_time, msg, ...}`` in both directions."""

from __future__ import annotations

from typing import Any

import msgspec

from iqwire.errors import LocalProtocolError, RemoteProtocolError

__all__ = ["Frame", "RawFrame", "check_utf8", "decode_frame", "decode_raw_frame", "encode_frame"]


class Frame(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One WebSocket message, with ``msg`` decoded to plain JSON values.

    ``microserviceName`` on the wire is ``microservice_name`` here. Fields the
    frame did not carry are ``None`` and are left out when encoded.

    Example::

        frame = decode_frame(b'{"name":"timeSync","msg":1770899115227}')
        assert frame.name == "timeSync" and frame.msg == 1770899115227
    """

    name: str
    msg: Any = None
    request_id: str | None = None
    local_time: int | None = None
    status: int | None = None
    microservice_name: str | None = msgspec.field(default=None, name="microserviceName")
    session_id: str | None = None
    client_session_id: str | None = None


class RawFrame(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """The envelope with ``msg`` left undecoded, for a second, typed decoding stage.

    ``gc=False``: it holds only strings, ints and raw bytes, so the garbage
    collector need not track the one made per received frame.
    """

    name: str
    msg: msgspec.Raw = msgspec.Raw(b"null")
    request_id: str | None = None
    local_time: int | None = None
    status: int | None = None
    microservice_name: str | None = msgspec.field(default=None, name="microserviceName")
    session_id: str | None = None
    client_session_id: str | None = None


_frame_decoder = msgspec.json.Decoder(Frame)
_raw_frame_decoder = msgspec.json.Decoder(RawFrame)
_encoder = msgspec.json.Encoder()


def _explain(data: bytes | str | bytearray | memoryview, exc: Exception) -> str:
    if isinstance(exc, msgspec.ValidationError):
        return f"frame has the wrong shape: {exc}"
    if isinstance(exc, msgspec.DecodeError):
        return f"frame is not valid JSON: {exc}"
    return f"frame could not be decoded ({type(exc).__name__}: {exc})"


def decode_frame(data: bytes | str) -> Frame:
    """Decode one frame.

    Raises:
        RemoteProtocolError: the data is not JSON, not an object, has no ``name``, or a
            field has the wrong type. No other exception escapes.
    """
    try:
        return _frame_decoder.decode(data)
    except Exception as exc:  # msgspec raises several types; one boundary, one error
        raise RemoteProtocolError(_explain(data, exc)) from exc


def check_utf8(data: bytes | str) -> None:
    """Raise ``UnicodeDecodeError`` if bytes are not UTF-8.

    ``msg`` stays raw in the first decoding stage, and msgspec does not validate
    the text it skips; ASCII (nearly every frame) needs no further check.
    """
    if isinstance(data, bytes) and not data.isascii():
        data.decode("utf-8")


def decode_raw_frame(data: bytes | str) -> RawFrame:
    """Decode the envelope only; ``msg`` stays raw JSON bytes.

    Raises:
        RemoteProtocolError: as :func:`decode_frame`.
    """
    try:
        check_utf8(data)
        return _raw_frame_decoder.decode(data)
    except Exception as exc:
        raise RemoteProtocolError(_explain(data, exc)) from exc


def encode_frame(frame: Frame | RawFrame) -> bytes:
    """Encode a frame as compact JSON bytes.

    Raises:
        LocalProtocolError: ``msg`` holds something JSON cannot represent.
    """
    try:
        return _encoder.encode(frame)
    except Exception as exc:
        raise LocalProtocolError(f"frame cannot be encoded: {exc}") from exc
