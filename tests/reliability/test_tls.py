"""TLS: the client verifies certificates by default and connects only to a server it can trust.

A local TLS WebSocket server (``websockets`` with a certificate from a throw-away
``trustme`` CA) answers just enough of the protocol to connect: ``timeSync``,
``authenticate`` and ``setOptions``.
"""

from __future__ import annotations

import importlib.util
import json
import ssl
from collections.abc import AsyncIterator

import pytest
import trustme
from websockets.asyncio.server import ServerConnection, serve

from iqwire.client import Client, ConnectionState
from iqwire.errors import ConnectionLost, TLSError
from iqwire.transport import WebSocketTransport


async def _handler(ws: ServerConnection) -> None:
    await ws.send(json.dumps({"name": "timeSync", "msg": 1_770_899_100_000}))
    async for message in ws:
        frame = json.loads(message)
        rid = frame.get("request_id")
        if frame.get("name") == "authenticate":
            await ws.send(json.dumps({"name": "authenticated", "request_id": rid, "msg": True}))
        elif frame.get("name") == "setOptions":
            await ws.send(json.dumps({"name": "result", "request_id": rid, "msg": {"success": True}}))


HAS_PICOWS = importlib.util.find_spec("picows") is not None


@pytest.fixture(params=["websockets", "picows"])
def transport(request: pytest.FixtureRequest) -> str:
    """Both transports: the real server is only ever reached over TLS."""
    if request.param == "picows" and not HAS_PICOWS:
        pytest.skip("picows is not installed")
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def _server(ca: trustme.CA, hostname: str = "localhost") -> AsyncIterator[str]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(hostname).configure_cert(context)
    async with serve(_handler, "127.0.0.1", 0, ssl=context) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"wss://localhost:{port}/echo/websocket"


@pytest.fixture
async def tls_url(ca: trustme.CA) -> AsyncIterator[str]:
    async for url in _server(ca):
        yield url


@pytest.fixture
async def wrong_host_url(ca: trustme.CA) -> AsyncIterator[str]:
    async for url in _server(ca, hostname="ws.example.org"):
        yield url


def _client(url: str, context: ssl.SSLContext | None = None, transport: str = "websockets") -> Client:
    return Client(
        ssid="0" * 32,
        ws_url=url,
        login_url="https://localhost:1/api/v2/login",
        ssl_context=context,
        transport=transport,
    )


async def test_an_untrusted_certificate_is_refused_with_a_clear_error(tls_url: str, transport: str) -> None:
    client = _client(tls_url, transport=transport)
    with pytest.raises(TLSError) as refused:
        await client.connect()
    assert not isinstance(refused.value, ConnectionLost)  # code retrying on loss must not retry this
    message = str(refused.value)
    assert "certificate" in message.lower() and "did not verify" in message
    assert "unable to get local issuer certificate" in message  # names the problem
    assert "ssl_context" in message  # and the way out
    assert client.state is ConnectionState.DISCONNECTED
    await client.close()


async def test_a_context_trusting_another_ca_is_refused(tls_url: str) -> None:
    other = ssl.create_default_context()
    trustme.CA().configure_trust(other)
    with pytest.raises(TLSError, match="certificate"):
        await WebSocketTransport.open(tls_url, ssl_context=other)


async def test_a_certificate_for_another_host_is_refused(
    ca: trustme.CA, wrong_host_url: str, transport: str
) -> None:
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    client = _client(wrong_host_url, trusting, transport)
    with pytest.raises(TLSError) as refused:
        await client.connect()
    assert "hostname mismatch" in str(refused.value).lower()
    await client.close()


async def test_the_connection_succeeds_when_the_context_trusts_the_ca(
    ca: trustme.CA, tls_url: str, transport: str
) -> None:
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with _client(tls_url, trusting, transport) as client:
        assert client.state is ConnectionState.CONNECTED
        assert client.server_time() == pytest.approx(1_770_899_100, abs=5)


def test_the_default_context_verifies_certificates_and_hostnames() -> None:
    context = ssl.create_default_context()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
