"""Load or create the hub's signing key (PEM files); the only file I/O of the audit package.

The key is of the deployment's cryptographic suite (``seat_protocol.suites``): Ed25519 for the
default suite, SM2 (PKCS#8 / SubjectPublicKeyInfo with the SM2 curve OID, as OpenSSL 3 writes
them) for the national one. Loading without naming a suite takes whichever the file holds.

The private key is a PKCS#8 PEM file created with mode 0600 and refused if group or others
may read it (like ssh does), because whoever reads it can forge checkpoints. The public key
is a SubjectPublicKeyInfo PEM file that can be handed to anyone who verifies a chain.
This module never logs or prints key material.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from evaluation_hub.audit.errors import AuditKeyError
from seat_protocol.suites import DEFAULT, NATIONAL, PublicKey, SigningKey, Suite, suite_of_key

__all__ = [
    "load_or_create_private_key",
    "load_private_key",
    "load_public_key",
    "write_public_key",
]


def load_private_key(path: Path, suite: Suite | None = None) -> SigningKey:
    """The hub's signing key from ``path``; refuses a file group or others can read, and a key
    of another suite than ``suite`` (any suite's key when ``suite`` is None)."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise AuditKeyError(str(path), f"cannot be read ({exc.strerror})") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuditKeyError(
            str(path),
            f"is accessible to group or others (mode {stat.S_IMODE(mode):04o}); "
            f"run `chmod 600 {path}`",
        )
    sm2: SigningKey | None = None
    with contextlib.suppress(ValueError):
        sm2 = NATIONAL.load_private_pem(data)
    if sm2 is not None:
        if suite is not None and suite is not NATIONAL:
            raise AuditKeyError(
                str(path),
                f"holds an SM2 key, not an {suite.signature_name} key ({suite.name} suite)",
            )
        return sm2
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(str(path), "is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        wanted = "an Ed25519 key" if suite in (None, DEFAULT) else "an SM2 key"
        raise AuditKeyError(str(path), f"holds a {type(key).__name__}, not {wanted}")
    if suite is NATIONAL:
        raise AuditKeyError(
            str(path),
            "holds an Ed25519 key, not an SM2 key (national suite): the national suite needs "
            "its own hub key; set EVALHUB_HUB_KEY_FILE to a new path",
        )
    return key


def load_or_create_private_key(path: Path, suite: Suite = DEFAULT) -> SigningKey:
    """Load the signing key, or create a new one of ``suite`` at ``path`` (mode 0600) if there
    is none."""
    if path.exists():
        return load_private_key(path, suite)
    key = suite.generate_signing_key()
    pem = suite.private_pem(key)
    try:
        # Written in full to a private temporary file, then linked into place: the link fails
        # if another hub process got there first, and nobody ever reads a half-written key.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
            os.link(tmp, path)
        finally:
            os.unlink(tmp)
    except FileExistsError:
        return load_private_key(path, suite)
    except OSError as exc:
        raise AuditKeyError(str(path), f"cannot be created ({exc.strerror})") from exc
    return key


def load_public_key(path: Path) -> PublicKey:
    """A verifying key (of either suite) from a public-key PEM file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditKeyError(str(path), f"cannot be read ({exc.strerror})") from exc
    try:
        return NATIONAL.load_public_pem(data)
    except ValueError:
        pass
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(
            str(path), "is not a PEM public key (-----BEGIN PUBLIC KEY-----)"
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError(str(path), f"holds a {type(key).__name__}, not an Ed25519 key")
    return key


def write_public_key(private_key: SigningKey, path: Path) -> None:
    """Write the public half of ``private_key`` to ``path`` for verifiers."""
    public = private_key.public_key()
    pem = suite_of_key(public).public_pem(public)
    try:
        path.write_bytes(pem)
    except OSError as exc:
        raise AuditKeyError(str(path), f"cannot be written ({exc.strerror})") from exc
