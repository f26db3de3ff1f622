"""Load or create the hub's Ed25519 signing key (PEM files); the only file I/O of the audit package.

The private key is a PKCS#8 PEM file created with mode 0600 and refused if group or others
may read it (like ssh does), because whoever reads it can forge checkpoints. The public key
is a SubjectPublicKeyInfo PEM file that can be handed to anyone who verifies a chain.
This module never logs or prints key material.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from evaluation_hub.audit.errors import AuditKeyError

__all__ = [
    "load_or_create_private_key",
    "load_private_key",
    "load_public_key",
    "write_public_key",
]


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The hub's signing key from ``path``; refuses a file group or others can read."""
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
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(str(path), "is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(str(path), f"holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    """Load the signing key, or create a new one at ``path`` (mode 0600) if there is none."""
    if path.exists():
        return load_private_key(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
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
        return load_private_key(path)
    except OSError as exc:
        raise AuditKeyError(str(path), f"cannot be created ({exc.strerror})") from exc
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A verifying key from a public-key PEM file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditKeyError(str(path), f"cannot be read ({exc.strerror})") from exc
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(
            str(path), "is not a PEM public key (-----BEGIN PUBLIC KEY-----)"
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError(str(path), f"holds a {type(key).__name__}, not an Ed25519 key")
    return key


def write_public_key(private_key: Ed25519PrivateKey, path: Path) -> None:
    """Write the public half of ``private_key`` to ``path`` for verifiers."""
    pem = private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    try:
        path.write_bytes(pem)
    except OSError as exc:
        raise AuditKeyError(str(path), f"cannot be written ({exc.strerror})") from exc
