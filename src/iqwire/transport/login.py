"""HTTP login (``POST /v2/login``) with optional two-factor verification, on httpx."""

from __future__ import annotations

import inspect
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from iqwire.errors import AuthError, ConnectionLost
from iqwire.transport._errors import certificate_error, find_certificate_error

__all__ = ["DEFAULT_LOGIN_URL", "LoginResult", "TwoFactor", "http_login", "http_logout"]

#: The real platform's login endpoint (as the public Python clients use it).
DEFAULT_LOGIN_URL = "https://auth.iqoption.com/api/v2/login"

_COOKIE_VALUE = re.compile(r"(?i)(ssid=)[^;'\"\s]+")


class _RedactCookies(logging.Filter):
    """httpcore logs response headers at DEBUG, and the login's ``Set-Cookie`` is the SSID."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "ssid=" in message.lower():
            record.msg, record.args = _COOKIE_VALUE.sub(r"\1***", message), ()
        return True


def _redact_http_logs() -> None:
    for name in ("httpcore.http11", "httpcore.http2", "httpcore.connection", "httpx"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactCookies) for f in logger.filters):
            logger.addFilter(_RedactCookies())


_redact_http_logs()

#: A two-factor code, or a function (sync or async) that gets the token and returns the code.
TwoFactor = str | Callable[[str], str] | Callable[[str], Awaitable[str]]


@dataclass(frozen=True)
class LoginResult:
    """The SSID a login produced (never shown by ``repr``)."""

    ssid: str

    def __repr__(self) -> str:
        return "LoginResult(ssid='***')"


def _verify_url(login_url: str) -> str:
    base, _, _ = login_url.rpartition("/login")
    return f"{base}/verify/2fa"


def _logout_url(login_url: str) -> str:
    base, _, _ = login_url.rpartition("/login")
    return f"{base}/logout"


def _ssid_from(response: httpx.Response, body: dict[str, Any]) -> str | None:
    ssid = body.get("ssid")
    if isinstance(ssid, str) and ssid:
        return ssid
    cookie = response.cookies.get("ssid")
    return cookie or None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def _code_for(two_factor: TwoFactor | None, token: str) -> str:
    if two_factor is None:
        raise AuthError("the account needs a two-factor code: pass two_factor= (a code or a callback)")
    if isinstance(two_factor, str):
        return two_factor
    code = two_factor(token)
    if inspect.isawaitable(code):
        code = await code
    return str(code)


async def http_login(
    login_url: str,
    email: str,
    password: str,
    *,
    two_factor: TwoFactor | None = None,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 15.0,
) -> LoginResult:
    """Log in over HTTP and return the SSID.

    Example::

        result = await http_login(sim.login_url, "demo@example.com", "demo")

    Raises:
        AuthError: wrong credentials, a missing or wrong two-factor code, or an
            unexpected answer. The message never contains the password.
        ConnectionLost: the login server could not be reached.
        TLSError: the login server's certificate was refused.
    """
    verify: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
    try:
        async with httpx.AsyncClient(verify=verify, timeout=timeout, follow_redirects=False) as http:
            response = await http.post(login_url, json={"identifier": email, "password": password})
            body = _json(response)
            if response.status_code == 200 and body.get("code") == "verify":
                token = body.get("token")
                if not isinstance(token, str):
                    raise AuthError("login asked for two-factor verification but sent no token")
                code = await _code_for(two_factor, token)
                response = await http.post(_verify_url(login_url), json={"token": token, "code": code})
                body = _json(response)
                if response.status_code != 200 or body.get("code") != "success":
                    raise AuthError(
                        f"two-factor code refused ({response.status_code} {body.get('code', '')})"
                    )
            if response.status_code != 200 or body.get("code") != "success":
                reason = body.get("message") or body.get("code") or response.reason_phrase
                raise AuthError(
                    f"login refused for {email} ({response.status_code}: {reason}); check the credentials"
                )
            ssid = _ssid_from(response, body)
            if ssid is None:
                raise AuthError("login succeeded but the answer carried no SSID")
            return LoginResult(ssid)
    except httpx.HTTPError as exc:
        refused = find_certificate_error(exc)
        if refused is not None:
            raise certificate_error(login_url, refused) from exc
        raise ConnectionLost(
            f"cannot reach the login server {login_url}: {type(exc).__name__}: {exc}"
        ) from exc


async def http_logout(
    login_url: str, ssid: str, *, ssl_context: ssl.SSLContext | None = None, timeout: float = 15.0
) -> bool:
    """Expire an SSID at the server; ``True`` if it was live. Never raises on network errors."""
    verify: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
    try:
        async with httpx.AsyncClient(verify=verify, timeout=timeout, cookies={"ssid": ssid}) as http:
            response = await http.post(_logout_url(login_url))
    except httpx.HTTPError:
        return False
    return response.status_code == 200
