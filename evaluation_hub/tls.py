"""TLS for ``evaluation-hub serve`` (HTTPS for pages and the API, WSS for the seat link, one
port): the server context, and the pin seat terminals record for the hub's key.

TLS 1.2 at least; the certificate chain and key are PEM files (``--tls-cert``/``--tls-key`` or
``EVALHUB_TLS_CERT``/``EVALHUB_TLS_KEY``). A seat terminal pins the SHA-256 of the
certificate's public key (``seat_protocol.auth.spki_sha256``) when it enrols, so a renewed
certificate for the same key needs nothing at the seats; a new key means re-pinning every
terminal (``seat-agent enroll --hub-pin``). Problems are ``ConfigError`` at start-up.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from evaluation_hub.errors import ConfigError
from seat_protocol.auth import spki_sha256

__all__ = ["certificate_pin", "server_context"]


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The hub's server-side TLS context for ``cert`` (chain, leaf first) and ``key``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise ConfigError(f"TLS: {exc.filename} does not exist") from exc
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"TLS: cannot use certificate {cert} with key {key} ({exc}); both must be PEM files "
            "and the key must belong to the certificate"
        ) from exc
    return context


def certificate_pin(cert: Path) -> str:
    """The pin of the first (leaf) certificate in the PEM file ``cert``."""
    try:
        leaf = x509.load_pem_x509_certificates(cert.read_bytes())[0]
    except (OSError, ValueError, IndexError) as exc:
        raise ConfigError(f"TLS: {cert} holds no readable PEM certificate ({exc})") from exc
    return spki_sha256(leaf.public_bytes(Encoding.DER))
