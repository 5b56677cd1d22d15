"""Secrets: a full flow at DEBUG logging leaks the password, SSIDs and cookies nowhere.

Captured: every log record (caplog, at DEBUG on every logger), stdout and stderr
(capsys), the frame recording (``record_to=``), ``repr()``/``str()`` of the client,
trade, result, portfolio, positions, balances and other objects, and every message
of the errors a bad login, a bad SSID and a closed client raise (with their causes).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from iqwire.client import Client
from iqwire.errors import AuthError, IqwireError
from iqwire.sim import ManualClock, SimConfig, Simulator
from iqwire.sim.config import AccountConfig
from iqwire.trading import Trader
from iqwire.transport import http_login

PASSWORD = "Pa55-w0rd-ZQX-7731"
EMAIL = "secret.keeper@example.com"
USER_ID = 141_527_700


def _chain(exc: BaseException) -> list[str]:
    texts = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen), *(str(a) for a in seen.args)]
        seen = seen.__cause__ or seen.__context__
    return texts


async def test_a_full_flow_at_debug_never_shows_the_password_ssid_or_cookie(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("iqwire.client.frames").setLevel(logging.DEBUG)
    recording = tmp_path / "session.jsonl"
    config = SimConfig(
        accounts=(AccountConfig(email=EMAIL, password=PASSWORD, user_id=USER_ID, real_amount=50),)
    )
    texts: list[str] = []
    ssids: set[str] = set()
    async with Simulator(seed=3, clock=ManualClock(1_770_899_100), config=config) as sim:
        # The HTTP login's cookie is the SSID: collect it as a secret too.
        async with httpx.AsyncClient() as http:
            response = await http.post(sim.login_url, json={"identifier": EMAIL, "password": PASSWORD})
        cookies = {c.value for c in response.cookies.jar}
        assert cookies
        ssids |= cookies
        client = Client(
            email=EMAIL,
            password=PASSWORD,
            ws_url=sim.ws_url,
            login_url=sim.login_url,
            request_timeout=5.0,
            reconnect_delay=(0.01, 0.1),
            record_to=recording,
        )
        texts += [repr(client), str(client)]
        async with client:
            trader = Trader(client)
            assert client.ssid is not None
            ssids.add(client.ssid)
            print(client, client.state, trader.portfolio)
            profile = await client.get_profile()
            balances = await client.get_balances()
            trade = await trader.buy_blitz(76, "call", 10, expiration=5)
            waiter = asyncio.create_task(trade.outcome())
            await sim.advance(6)
            result = await asyncio.wait_for(waiter, 5)
            # A reconnect with the same SSID, then one that must log in again (the SSID expired).
            await _reconnect(sim, client)
            sim.engine.accounts.logout(client.ssid)
            await _reconnect(sim, client)
            assert client.ssid is not None
            ssids.add(client.ssid)
            assert len(ssids) >= 3
            positions = await client.get_positions()
            texts += [
                repr(x) for x in (client, trade, result, trader.portfolio, profile, *balances, *positions)
            ]
            texts += [str(x) for x in (client, trade, result, trader.portfolio, client.connection._session)]
            texts += [
                repr(client.connection._session),
                repr(client.connection._transport),
                repr(client.recorder),
                repr(sim.credentials),
            ]
            texts += [repr(vars(trade)), repr(trader.portfolio.closed), repr(trader.portfolio.balances)]
        # Errors: a wrong password, a refused SSID, a closed client, the raw login helper.
        bad = Client(email=EMAIL, password=PASSWORD + "x", ws_url=sim.ws_url, login_url=sim.login_url)
        with pytest.raises(AuthError) as refused:
            await bad.connect()
        texts += [*_chain(refused.value), repr(bad)]
        await bad.close()
        stale = Client(ssid=next(iter(ssids)), ws_url=sim.ws_url, login_url=sim.login_url, reconnect=False)
        sim.engine.accounts.logout(next(iter(ssids)))
        with pytest.raises(AuthError) as stale_error:
            await stale.connect()
        texts += [*_chain(stale_error.value), repr(stale)]
        await stale.close()
        with pytest.raises(IqwireError) as closed:
            await client.get_profile()
        texts += _chain(closed.value)
        login = await http_login(sim.login_url, EMAIL, PASSWORD)
        ssids.add(login.ssid)
        texts += [repr(login), str(login)]

    captured = capsys.readouterr()
    texts += [captured.out, captured.err]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.args) for record in caplog.records]
    texts += [caplog.text]
    texts.append(recording.read_text(encoding="utf-8"))
    assert any("authenticate" in line for line in recording.read_text().splitlines())
    haystack = "\n".join(texts)
    assert len(caplog.records) > 100  # DEBUG really was on (the frames were logged)
    assert PASSWORD not in haystack
    assert PASSWORD + "x" not in haystack
    for secret in ssids:
        assert secret not in haystack, f"an SSID leaked: {_where(texts, secret)}"


async def _reconnect(sim: Simulator, client: Client) -> None:
    count = client.reconnects
    await sim.drop_connections()
    for _ in range(500):
        if client.reconnects > count and client.is_connected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the client did not reconnect")


def _where(texts: list[str], secret: str) -> str:
    for text in texts:
        if secret in text:
            index = text.index(secret)
            return text[max(0, index - 200) : index + 50]
    return ""
