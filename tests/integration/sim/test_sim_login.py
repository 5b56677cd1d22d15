"""HTTP login, 2FA and logout, then WebSocket authentication, checked on the raw wire."""

from __future__ import annotations

import re

import httpx
import msgspec
import pytest
from sim_wire import DEMO_EMAIL, DEMO_PASSWORD, DEMO_USER_ID, RawClient, login

from iqwire.models import Profile
from iqwire.sim import Simulator

TWO_FA_EMAIL, TWO_FA_PASSWORD, TWO_FA_CODE = "2fa@example.com", "demo", "123456"
SSID_FORMAT = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("path", ["/api/v2/login", "/v2/login"])
async def test_json_login_returns_the_ssid_in_body_and_cookie(http: httpx.AsyncClient, path: str) -> None:
    response = await http.post(path, json={"identifier": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "success"
    assert SSID_FORMAT.fullmatch(body["ssid"])
    assert response.cookies["ssid"] == body["ssid"]


async def test_form_encoded_login_is_accepted(http: httpx.AsyncClient) -> None:
    # The older community Python client posts a form and reads the Set-Cookie header.
    response = await http.post("/api/v2/login", data={"identifier": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert response.status_code == 200
    assert response.json()["code"] == "success"
    assert SSID_FORMAT.fullmatch(response.cookies["ssid"])


async def test_identifier_is_case_insensitive(http: httpx.AsyncClient) -> None:
    response = await http.post("/v2/login", json={"identifier": "Demo@Example.COM", "password": "demo"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("identifier", "password"),
    [(DEMO_EMAIL, "wrong"), ("nobody@example.com", DEMO_PASSWORD), (DEMO_EMAIL, "")],
)
async def test_wrong_credentials_get_401(http: httpx.AsyncClient, identifier: str, password: str) -> None:
    response = await http.post("/api/v2/login", json={"identifier": identifier, "password": password})
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "invalid_credentials"
    assert body["message"]
    assert "ssid" not in response.cookies


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'"text"'])
async def test_malformed_json_gets_400(http: httpx.AsyncClient, content: bytes) -> None:
    response = await http.post("/api/v2/login", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


async def test_missing_fields_get_400(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/v2/login", json={"identifier": DEMO_EMAIL})
    assert response.status_code == 400


async def test_ssids_are_random_and_distinct_per_login(sim: Simulator) -> None:
    ssids = [await login(sim.http_url) for _ in range(5)]
    assert len(set(ssids)) == 5
    assert all(SSID_FORMAT.fullmatch(s) for s in ssids)  # 128 bits of hex


async def test_two_factor_login(http: httpx.AsyncClient, sim: Simulator) -> None:
    first = await http.post("/api/v2/login", json={"identifier": TWO_FA_EMAIL, "password": TWO_FA_PASSWORD})
    assert first.status_code == 200
    body = first.json()
    assert body["code"] == "verify"
    assert body["token"]
    assert "ssid" not in body
    assert "ssid" not in first.cookies

    wrong = await http.post("/api/v2/verify/2fa", json={"token": body["token"], "code": "000000"})
    assert wrong.status_code == 401
    assert "ssid" not in wrong.json()

    verified = await http.post("/api/v2/verify/2fa", json={"token": body["token"], "code": TWO_FA_CODE})
    assert verified.status_code == 200
    session = verified.json()
    assert session["code"] == "success"
    assert verified.cookies["ssid"] == session["ssid"]

    # The token is spent; and the SSID authenticates the 2FA user.
    again = await http.post("/api/v2/verify/2fa", json={"token": body["token"], "code": TWO_FA_CODE})
    assert again.status_code == 401
    async with RawClient.open(sim.ws_url) as raw:
        assert (await raw.authenticate(session["ssid"]))["msg"] is True
        profile = await raw.request("core.get-profile", "1.0", {})
        assert profile["msg"]["result"]["email"] == TWO_FA_EMAIL


async def test_verify_with_an_unknown_token_gets_401(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/v2/verify/2fa", json={"token": "f" * 32, "code": TWO_FA_CODE})
    assert response.status_code == 401


async def test_logout_expires_the_ssid(http: httpx.AsyncClient, sim: Simulator) -> None:
    response = await http.post("/api/v2/login", json={"identifier": DEMO_EMAIL, "password": DEMO_PASSWORD})
    ssid = response.json()["ssid"]
    async with RawClient.open(sim.ws_url) as raw:
        assert (await raw.authenticate(ssid))["msg"] is True

    # httpx keeps the ssid cookie from the login response and sends it back.
    logout = await http.post("/api/v2/logout")
    assert logout.status_code == 200
    assert logout.json()["code"] == "success"

    async with RawClient.open(sim.ws_url) as raw:
        assert (await raw.authenticate(ssid))["msg"] is False
    http.cookies.clear()
    again = await http.post("/api/v2/logout", headers={"Cookie": f"ssid={ssid}"})
    assert again.status_code == 401


async def test_logout_without_a_session_gets_401(http: httpx.AsyncClient) -> None:
    assert (await http.post("/api/v2/logout")).status_code == 401


# -- WebSocket session --------------------------------------------------------------------


async def test_time_sync_greets_every_connection(anon: RawClient, sim: Simulator) -> None:
    first = await anon.wait_for(lambda f: True)
    assert first["name"] == "timeSync"
    assert first["msg"] == int(sim.now() * 1000)
    assert "request_id" not in first
    assert "microserviceName" not in first


@pytest.mark.parametrize("request_id", ["1", "1770899100123", ""])
async def test_authenticate_succeeds_with_the_request_id(anon: RawClient, ssid: str, request_id: str) -> None:
    reply = await anon.authenticate(ssid, request_id)
    assert reply["name"] == "authenticated"
    assert reply["msg"] is True
    assert reply["request_id"] == request_id
    assert reply["client_session_id"]
    front = await anon.wait_for(lambda f: f.get("name") == "front")
    assert isinstance(front["msg"], str)
    assert front["msg"]


@pytest.mark.parametrize("bad", ["0" * 32, "", "not-an-ssid"])
async def test_authenticate_with_a_bad_ssid_fails(anon: RawClient, bad: str) -> None:
    reply = await anon.authenticate(bad, "7")
    assert reply["name"] == "authenticated"
    assert reply["msg"] is False
    assert reply["request_id"] == "7"
    # Still not authenticated, and still connected.
    denied = await anon.request("core.get-profile", "1.0", {}, "8")
    assert denied["status"] == 4001


async def test_authenticate_without_an_ssid_fails(anon: RawClient) -> None:
    reply = await anon.call("authenticate", {"protocol": 3}, "3")
    assert reply["msg"] is False


async def test_rpc_before_authenticate_is_refused(anon: RawClient, ssid: str) -> None:
    reply = await anon.request("core.get-profile", "1.0", {}, "early")
    assert reply["status"] >= 4000
    assert reply["status"] == 4001
    assert reply["request_id"] == "early"
    assert set(reply["msg"]) == {"message"}  # an error, no data
    subscribe = await anon.subscribe("balance-changed", "1.0", request_id="s_1")
    assert subscribe["status"] == 4001
    # The connection stays up and can authenticate afterwards.
    assert (await anon.authenticate(ssid))["msg"] is True
    assert (await anon.request("core.get-profile", "1.0", {}, "later"))["status"] == 2000


async def test_legacy_ssid_frame_is_answered_by_a_profile_push(anon: RawClient, ssid: str) -> None:
    await anon.send({"name": "ssid", "msg": ssid})
    push = await anon.wait_for(lambda f: f.get("name") == "profile")
    assert "request_id" not in push
    profile = msgspec.convert(push["msg"], Profile)
    assert profile.user_id == DEMO_USER_ID
    assert {int(b.type) for b in profile.balances or []} == {1, 2, 4}
    # And the connection is authenticated.
    assert (await anon.request("core.get-profile", "1.0", {}))["status"] == 2000


async def test_legacy_ssid_frame_with_a_bad_ssid_gets_false(anon: RawClient) -> None:
    await anon.send({"name": "ssid", "msg": "0" * 32})
    push = await anon.wait_for(lambda f: f.get("name") == "profile")
    assert push["msg"] is False


async def test_set_options_is_acknowledged(raw: RawClient) -> None:
    reply = await raw.call("setOptions", {"sendResults": True}, "opt-1")
    assert reply == {"name": "result", "msg": {"success": True}, "request_id": "opt-1", "status": 2000}


async def test_route_translations_name_every_active(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/lang/route-translations", params={"route": "en", "groups[]": "front"})
    assert response.status_code == 200
    body = response.json()
    assert body["isSuccessful"] is True
    assert body["result"]["en"]["front.EURUSD-OTC"] == "EUR/USD (OTC)"
