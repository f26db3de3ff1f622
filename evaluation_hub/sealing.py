"""Sealing secrets (draw seeds, shuffle seeds) under a key that never enters the database.

The key comes from ``EVALHUB_SEALING_KEY`` (32 bytes, URL-safe base64) or from a key file
(created with mode 0600 on first use). Every hub process of one deployment must share it.
Sealed values are AES-256-GCM with a random 96-bit nonce and a caller-given purpose bound in as
associated data, so a value sealed for one purpose (a session's draw) cannot be passed off as
another. Never log a key or an unsealed value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from evaluation_hub.errors import ConfigError, HubError
from evaluation_hub.secretfile import read_or_create

__all__ = ["Sealer", "SealingError"]

_VERSION = b"\x01"


class SealingError(HubError):
    """A sealed value could not be opened (wrong key, wrong purpose or damaged)."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigError(f"the sealing key must be 32 bytes, got {len(key)}")
        self._aead = AESGCM(key)
        # A separate key for MACs, so sealing and authenticating never share key material.
        self._mac_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"evaluation-hub/mac/v1"
        ).derive(key)

    @classmethod
    def from_env_or_file(cls, env_value: str | None, key_file: Path) -> Sealer:
        if env_value:
            try:
                key = base64.urlsafe_b64decode(env_value + "=" * (-len(env_value) % 4))
            except ValueError as exc:
                raise ConfigError("EVALHUB_SEALING_KEY must be URL-safe base64") from exc
            return cls(key)
        return cls(read_or_create(key_file))

    def seal(self, value: bytes, purpose: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = _VERSION + nonce + self._aead.encrypt(nonce, value, purpose.encode())
        return base64.urlsafe_b64encode(sealed).decode()

    def mac(self, value: bytes, purpose: str) -> str:
        """A keyed MAC (HMAC-SHA256, hex) of ``value`` bound to ``purpose``: for short secrets
        such as check-in PINs, whose plain hashes could be searched offline."""
        return hmac.new(self._mac_key, purpose.encode() + b"\0" + value, hashlib.sha256).hexdigest()

    def open(self, sealed: str, purpose: str) -> bytes:
        try:
            raw = base64.urlsafe_b64decode(sealed)
            if raw[:1] != _VERSION:
                raise SealingError("unknown sealed-value version")
            return self._aead.decrypt(raw[1:13], raw[13:], purpose.encode())
        except (InvalidTag, ValueError) as exc:
            raise SealingError(
                f"cannot open the sealed value for {purpose}: wrong sealing key or damaged data"
            ) from exc
