"""The sans-I/O protocol core: envelope codec, message catalog, session state machine.

Nothing here opens a socket, starts an event loop or reads a clock: bytes and
time go in, bytes and events come out. Test it without a network.

Example::

    from iqwire.protocol import Session, Authenticated
    session = Session()
    out = session.authenticate("my-ssid")
    events = session.receive(b'{"name":"authenticated","request_id":"1","msg":true}')
    assert events == [Authenticated(ok=True, request_id="1")]
"""

from iqwire.protocol import catalog
from iqwire.protocol.envelope import Frame, RawFrame, decode_frame, decode_raw_frame, encode_frame
from iqwire.protocol.events import (
    Authenticated,
    Event,
    Front,
    MalformedFrame,
    Push,
    Pushes,
    RequestExpired,
    Response,
    ResultAck,
    TimeSync,
)
from iqwire.protocol.session import Session, Subscription
from iqwire.protocol.state import SessionState

__all__ = [
    "Authenticated",
    "Event",
    "Frame",
    "Front",
    "MalformedFrame",
    "Push",
    "Pushes",
    "RawFrame",
    "RequestExpired",
    "Response",
    "ResultAck",
    "Session",
    "SessionState",
    "Subscription",
    "TimeSync",
    "catalog",
    "decode_frame",
    "decode_raw_frame",
    "encode_frame",
]
