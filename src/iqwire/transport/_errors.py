"""Errors of the transport edge, worded once for every transport."""

from __future__ import annotations

import ssl

from iqwire.errors import ConnectionLost

__all__ = ["certificate_error"]


def certificate_error(url: str, exc: ssl.SSLCertVerificationError) -> ConnectionLost:
    """The error for a server certificate that did not verify (raise it ``from exc``)."""
    return ConnectionLost(
        f"TLS certificate of {url} did not verify ({exc.verify_message}); pass ssl_context= with the right CA to trust it"
    )
