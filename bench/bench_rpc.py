"""Entry 3, rpc: round-trip latency of ``client.get_profile()`` vs a raw websockets client.

Both talk to the same simulator (its own process, real clock). The raw client
sends the byte-identical ``sendMessage core.get-profile`` frame and awaits the
frame carrying its ``request_id``; the iqwire client awaits the typed
``Profile``. Requests alternate one by one between the two so both see the same
machine (the simulator pinned to one core, the clients to the other).
Goal: p50(client) / p50(raw) <= 1.1; p99 is reported.

Run: ``python bench/bench_rpc.py [--quick] [--transport picows]``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from _common import ServerProcess, entry, log, parser, percentile, pin
from websockets.asyncio.client import ClientConnection, connect

from iqwire import Client
from iqwire.protocol import Session

TEMPLATE = (
    b'{"name":"sendMessage","request_id":"%s","msg":{"name":"core.get-profile","version":"1.0","body":{}}}'
)


def _check_template() -> None:
    """The raw client must send exactly what the iqwire client sends."""
    session = Session()
    session.authenticate("x")
    session.receive(b'{"name":"authenticated","request_id":"1","msg":true}')
    from iqwire.models.requests import EmptyBody

    request_id, data = session.request("core.get-profile", "1.0", EmptyBody())
    assert data == TEMPLATE % request_id.encode(), data


async def _raw_connect(url: str, ssid: str) -> ClientConnection:
    ws = await connect(url, compression=None)
    auth = {"name": "authenticate", "request_id": "1", "msg": {"ssid": ssid, "protocol": 3}}
    await ws.send(json.dumps(auth))
    while b'"authenticated"' not in await ws.recv(decode=False):
        pass
    return ws


async def _raw_block(ws: ClientConnection, first_id: int, count: int) -> list[float]:
    out = []
    for request_id in range(first_id, first_id + count):
        marker = b'"request_id":"%d"' % request_id
        data = TEMPLATE % str(request_id).encode()
        started = time.perf_counter()
        await ws.send(data, text=True)
        while marker not in await ws.recv(decode=False):
            pass
        out.append(time.perf_counter() - started)
    return out


async def _client_block(client: Client, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        await client.get_profile()
        out.append(time.perf_counter() - started)
    return out


async def measure(url: str, ssid: str, count: int, transport: str) -> dict[str, list[float]]:
    raw_ws = await _raw_connect(url, ssid)
    client = Client(ssid=ssid, ws_url=url, reconnect=False, transport=transport)
    latencies: dict[str, list[float]] = {"raw": [], "client": []}
    async with client:
        try:
            # Warm-up (connection, caches, the simulator's first answers): not kept.
            await _raw_block(raw_ws, 10_000_000, 100)
            await _client_block(client, 100)
            # One request each in turn, so both see the same moment of the machine.
            for request_id in range(1000, 1000 + count):
                latencies["raw"] += await _raw_block(raw_ws, request_id, 1)
                latencies["client"] += await _client_block(client, 1)
        finally:
            await raw_ws.close()
    return latencies


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--transport", default="websockets")
    p.add_argument("--uvloop", action="store_true", help="run both clients on uvloop")
    args = p.parse_args()
    _check_template()
    count = 20 if args.quick else 100 * (args.repeats or 30)
    logging.getLogger("iqwire").setLevel(logging.WARNING)
    server = ServerProcess("_sim_server.py")
    with server as port:
        assert server.process is not None
        pin(server.process.pid, 0)  # the simulator on one core, the clients on the other
        pin(0, 1)
        url = f"ws://127.0.0.1:{port}/echo/websocket"
        run = measure(url, server.info["SSID"], count, args.transport)
        if args.uvloop:
            import uvloop

            lat = uvloop.run(run)
        else:
            lat = asyncio.run(run)
    us = {key: (percentile(v, 0.5) * 1e6, percentile(v, 0.99) * 1e6) for key, v in lat.items()}
    log(
        f"rpc over {len(lat['raw'])} requests each: raw p50 {us['raw'][0]:.0f} us p99 {us['raw'][1]:.0f} us; "
        f"client p50 {us['client'][0]:.0f} us p99 {us['client'][1]:.0f} us"
    )
    tags = ([] if args.transport == "websockets" else [args.transport]) + (["uvloop"] if args.uvloop else [])
    suffix = f" [{', '.join(tags)}]" if tags else ""
    entry(
        f"rpc p50{suffix}: client.get_profile vs raw websockets",
        us["client"][0],
        us["raw"][0],
        "us",
        None if args.quick else "<= 1.1",
    )
    entry(f"rpc p99{suffix}: client.get_profile vs raw websockets", us["client"][1], us["raw"][1], "us")


if __name__ == "__main__":
    main()
