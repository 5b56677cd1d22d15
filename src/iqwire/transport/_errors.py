"""Errors of the transport edge, worded once for every transport."""

from __future__ import annotations

import ssl

from iqwire.errors import TLSError

__all__ = ["certificate_error", "find_certificate_error"]


def certificate_error(url: str, exc: ssl.SSLCertVerificationError) -> TLSError:
    """The error for a server certificate that did not verify (raise it ``from exc``)."""
    return TLSError(
        f"TLS certificate of {url} did not verify ({exc.verify_message}); pass ssl_context= with the right CA to trust it"
    )


def find_certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate failure behind a library's connection error (httpx wraps it), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
