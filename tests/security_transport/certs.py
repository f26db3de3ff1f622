"""Self-signed hub certificates for the TLS tests, made with ``cryptography`` into a folder."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from cryptography.x509.oid import NameOID

from seat_protocol.auth import spki_sha256

__all__ = ["HubCertificate", "make_certificate"]


@dataclass(frozen=True)
class HubCertificate:
    cert: Path
    key: Path
    private_key: ec.EllipticCurvePrivateKey

    @property
    def pin(self) -> str:
        return spki_sha256(
            x509.load_pem_x509_certificate(self.cert.read_bytes()).public_bytes(Encoding.DER)
        )

    def spki_der(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        )


def make_certificate(
    folder: Path, name: str = "hub", key: ec.EllipticCurvePrivateKey | None = None
) -> HubCertificate:
    """A self-signed certificate for 127.0.0.1 and localhost (a new key unless ``key``)."""
    folder.mkdir(parents=True, exist_ok=True)
    private_key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evaluation-hub.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(private_key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(Encoding.PEM))
    key_path.write_bytes(
        private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    return HubCertificate(cert_path, key_path, private_key)
