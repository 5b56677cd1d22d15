"""A whole session in raw WebSocket frames: login → authenticate → balances → candles →
subscribe → blitz buy → settlement. No iqwire client involved: it shows the wire as it is.

Start a simulator (``iqwire sim --port 8765``) and run::

    python examples/raw_session.py http://127.0.0.1:8765
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

_ids = itertools.count(1)


async def call(ws: ClientConnection, name: str, msg: Any) -> dict[str, Any]:
    """Send a frame and return the answer with the same request_id (pushes are skipped).

    With ``sendResults`` on, an RPC may first get a ``result`` ACK: the typed reply follows.
    """
    request_id = str(next(_ids))
    await ws.send(json.dumps({"name": name, "request_id": request_id, "msg": msg}))
    while True:
        frame = json.loads(await ws.recv())
        if frame.get("request_id") != request_id:
            continue
        if name == "sendMessage" and frame.get("name") == "result" and frame["msg"].get("success"):
            continue
        return dict(frame)


async def rpc(ws: ClientConnection, name: str, version: str, body: dict[str, Any]) -> dict[str, Any]:
    """A sendMessage RPC."""
    return await call(ws, "sendMessage", {"name": name, "version": version, "body": body})


async def session(base_url: str, email: str = "demo@example.com", password: str = "demo") -> dict[str, Any]:
    """Run the session; return the closed position."""
    async with httpx.AsyncClient() as http:
        login = await http.post(f"{base_url}/api/v2/login", json={"identifier": email, "password": password})
        login.raise_for_status()
        ssid = login.json()["ssid"]
    ws_url = base_url.replace("http", "ws", 1) + "/echo/websocket"
    async with connect(ws_url) as ws:
        authenticated = await call(ws, "authenticate", {"ssid": ssid, "protocol": 3})
        assert authenticated["msg"] is True, "the SSID was refused"
        await call(ws, "setOptions", {"sendResults": True})
        profile = (await rpc(ws, "core.get-profile", "1.0", {}))["msg"]["result"]
        balances = (await rpc(ws, "internal-billing.get-balances", "1.0", {"types_ids": [1, 4, 2]}))["msg"]
        demo = next(b for b in balances if b["type"] == 4)
        print(f"user {profile['user_id']}: demo balance {demo['amount']} {demo['currency']}")
        candles = (await rpc(ws, "get-candles", "2.0", {"active_id": 76, "size": 60, "count": 3}))["msg"][
            "candles"
        ]
        print("last candles:", [(c["from"], c["open"], c["max"], c["min"], c["close"]) for c in candles])
        for sub in (
            {
                "name": "candle-generated",
                "version": "1.0",
                "params": {"routingFilters": {"active_id": 76, "size": 1}},
            },
            {
                "name": "portfolio.position-changed",
                "version": "3.0",
                "params": {
                    "routingFilters": {"user_id": profile["user_id"], "instrument_type": "blitz-option"}
                },
            },
        ):
            await call(ws, "subscribeMessage", sub)
        init = (await rpc(ws, "get-initialization-data", "4.0", {}))["msg"]
        commission = init["blitz"]["actives"]["76"]["option"]["profit"]["commission"]
        option = await rpc(
            ws,
            "binary-options.open-option",
            "2.0",
            {
                "user_balance_id": demo["id"],
                "active_id": 76,
                "option_type_id": 12,
                "direction": "call",
                "expired": 0,  # the SDK's form: the server adds expiration_size to its own time
                "price": 10,
                "profit_percent": 100 - commission,
                "expiration_size": 5,
            },
        )
        print(
            f"option {option['msg']['id']} opened at {option['msg']['value']}, expires {option['msg']['exp']}"
        )
        while True:
            frame = json.loads(await ws.recv())
            if frame["name"] == "position-changed" and frame["msg"]["status"] == "closed":
                position: dict[str, Any] = frame["msg"]
                print(f"closed: {position['close_reason']} pnl {position['pnl']}")
                return position


if __name__ == "__main__":
    asyncio.run(session(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8765"))
