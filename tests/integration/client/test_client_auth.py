"""Logging in: passwords, SSIDs, two-factor codes and callbacks, environment fallbacks."""

from __future__ import annotations

import asyncio

import pytest
from client_helpers import MakeClient, Wiretap, server_connections, wait_until

from iqwire.client import Client, ConnectionState
from iqwire.errors import AuthError
from iqwire.sim import Simulator

TWO_FA_EMAIL = "2fa@example.com"
TWO_FA_PASSWORD = "demo"
TWO_FA_CODE = "123456"
TWO_FA_USER_ID = 141_527_659


async def test_a_wrong_password_is_an_auth_error_that_does_not_show_it(
    make_client: MakeClient, sim: Simulator
) -> None:
    secret = "s3cret-Wrong-Pa55"
    client = await make_client(connect=False, password=secret)

    with pytest.raises(AuthError) as caught:
        await client.connect()

    text = f"{caught.value} {caught.value!r} {caught.value.message}"
    assert "login refused" in text and "credentials" in text
    assert sim.credentials.email in text
    assert secret not in text
    assert secret not in repr(client)
    assert client.state is ConnectionState.DISCONNECTED
    assert server_connections(sim) == []


async def test_an_unknown_account_is_an_auth_error(make_client: MakeClient) -> None:
    client = await make_client(connect=False, email="nobody@example.com", password="whatever")

    with pytest.raises(AuthError, match="login refused"):
        await client.connect()


async def test_a_bad_ssid_is_an_auth_error(make_client: MakeClient, sim: Simulator) -> None:
    bad = "0123456789abcdef0123456789abcdef"
    client = await make_client(connect=False, credentials=False, ssid=bad)

    with pytest.raises(AuthError, match="SSID was refused") as caught:
        await client.connect()

    assert bad not in str(caught.value)
    assert client.state is ConnectionState.DISCONNECTED
    await wait_until(lambda: not server_connections(sim), "the refused connection is closed")


async def test_a_bad_ssid_with_credentials_logs_in_instead(make_client: MakeClient, wiretap: Wiretap) -> None:
    bad = "0123456789abcdef0123456789abcdef"
    client = await make_client(ssid=bad)

    assert client.state is ConnectionState.CONNECTED
    assert [f.msg["ssid"] == bad for f in wiretap.received("authenticate")] == [True, False]
    assert (await client.get_profile()).user_id == await client.user_id()


async def test_an_issued_ssid_connects_without_a_password(make_client: MakeClient, sim: Simulator) -> None:
    client = await make_client(credentials=False, ssid=sim.issue_ssid())

    assert (await client.get_profile()).email == sim.credentials.email


# -- two-factor ---------------------------------------------------------------------------------


async def _two_fa_client(make_client: MakeClient, two_factor: object) -> Client:
    return await make_client(email=TWO_FA_EMAIL, password=TWO_FA_PASSWORD, two_factor=two_factor)


async def test_two_factor_with_a_code(make_client: MakeClient) -> None:
    client = await _two_fa_client(make_client, TWO_FA_CODE)

    profile = await client.get_profile()
    assert (profile.user_id, profile.email) == (TWO_FA_USER_ID, TWO_FA_EMAIL)


async def test_two_factor_with_a_callback(make_client: MakeClient) -> None:
    tokens: list[str] = []

    def code_for(token: str) -> str:
        tokens.append(token)
        return TWO_FA_CODE

    client = await _two_fa_client(make_client, code_for)

    assert len(tokens) == 1 and tokens[0]
    assert await client.user_id() == TWO_FA_USER_ID


async def test_two_factor_with_an_async_callback(make_client: MakeClient) -> None:
    tokens: list[str] = []

    async def code_for(token: str) -> str:
        await asyncio.sleep(0)
        tokens.append(token)
        return TWO_FA_CODE

    client = await _two_fa_client(make_client, code_for)

    assert len(tokens) == 1
    assert await client.user_id() == TWO_FA_USER_ID


@pytest.mark.parametrize("wrong", ["000000", lambda token: "999999"])
async def test_a_wrong_two_factor_code_is_an_auth_error(make_client: MakeClient, wrong: object) -> None:
    with pytest.raises(AuthError, match="two-factor code refused") as caught:
        await _two_fa_client(make_client, wrong)

    assert TWO_FA_PASSWORD not in str(caught.value).replace(TWO_FA_EMAIL, "")


async def test_a_two_factor_account_without_a_code_is_an_auth_error(make_client: MakeClient) -> None:
    with pytest.raises(AuthError, match="two_factor="):
        await _two_fa_client(make_client, None)


# -- where the credentials come from --------------------------------------------------------------


def test_no_credentials_at_all_is_an_auth_error_at_construction() -> None:
    with pytest.raises(AuthError, match="email and password, or ssid"):
        Client()


def test_an_email_without_a_password_is_an_auth_error_at_construction() -> None:
    with pytest.raises(AuthError):
        Client(email="demo@example.com")


async def test_credentials_and_urls_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, sim: Simulator
) -> None:
    monkeypatch.setenv("IQWIRE_EMAIL", sim.credentials.email)
    monkeypatch.setenv("IQWIRE_PASSWORD", sim.credentials.password)
    monkeypatch.setenv("IQWIRE_WS_URL", sim.ws_url)
    monkeypatch.setenv("IQWIRE_LOGIN_URL", sim.login_url)

    async with Client() as client:
        assert (client.ws_url, client.login_url) == (sim.ws_url, sim.login_url)
        assert (await client.get_profile()).email == sim.credentials.email
    assert sim.credentials.password not in repr(client)


async def test_an_ssid_from_the_environment(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> None:
    monkeypatch.setenv("IQWIRE_SSID", sim.issue_ssid())

    async with Client(ws_url=sim.ws_url, login_url=sim.login_url) as client:
        assert (await client.get_profile()).email == sim.credentials.email


async def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> None:
    monkeypatch.setenv("IQWIRE_EMAIL", "trader2@example.com")
    monkeypatch.setenv("IQWIRE_PASSWORD", "wrong")
    monkeypatch.setenv("IQWIRE_WS_URL", "ws://127.0.0.1:9/nowhere")
    monkeypatch.setenv("IQWIRE_LOGIN_URL", "http://127.0.0.1:9/nowhere")

    async with Client(
        sim.credentials.email, sim.credentials.password, ws_url=sim.ws_url, login_url=sim.login_url
    ) as client:
        assert (await client.get_profile()).email == sim.credentials.email


async def test_the_default_urls_are_the_real_platform_over_tls() -> None:
    client = Client(email="someone@example.com", password="x")

    assert client.ws_url.startswith("wss://")
    assert client.login_url.startswith("https://")
    await client.close()
