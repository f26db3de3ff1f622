"""Sealing secrets (draw seeds, shuffle seeds) under a key that never enters the database.

The key comes from ``EVALHUB_SEALING_KEY`` (32 bytes, URL-safe base64) or from a key file
(created with mode 0600 on first use). Every hub process of one deployment must share it.
Sealed values are AES-256-GCM (default suite) or SM4-GCM (national suite, under a 128-bit key
derived from the sealing key with HKDF-SM3) with a random 96-bit nonce and a caller-given
purpose bound in as associated data, so a value sealed for one purpose (a session's draw) cannot
be passed off as another. The first byte of a sealed value says which (1: AES-256-GCM, 2:
SM4-GCM); a sealer opens only its own suite's. Never log a key or an unsealed value.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag

from evaluation_hub.errors import ConfigError, HubError
from evaluation_hub.secretfile import read_or_create
from seat_protocol.suites import DEFAULT, NATIONAL, Suite

__all__ = ["Sealer", "SealingError"]

_VERSIONS = {DEFAULT.name: b"\x01", NATIONAL.name: b"\x02"}


class SealingError(HubError):
    """A sealed value could not be opened (wrong key, wrong purpose or damaged)."""


class Sealer:
    def __init__(self, key: bytes, suite: Suite = DEFAULT) -> None:
        if len(key) != 32:
            raise ConfigError(f"the sealing key must be 32 bytes, got {len(key)}")
        self.suite = suite
        self._version = _VERSIONS[suite.name]
        # The default suite seals under the key itself (as sealed values always were); the
        # national one under an SM4 key derived from it.
        self._aead = suite.aead(
            key
            if suite.aead_key_size == len(key)
            else suite.derive_key(key, b"evaluation-hub/seal/v1", suite.aead_key_size)
        )
        # A separate key for MACs, so sealing and authenticating never share key material.
        self._mac_key = suite.derive_key(key, b"evaluation-hub/mac/v1", 32)

    @classmethod
    def from_env_or_file(
        cls, env_value: str | None, key_file: Path, suite: Suite = DEFAULT
    ) -> Sealer:
        if env_value:
            try:
                key = base64.urlsafe_b64decode(env_value + "=" * (-len(env_value) % 4))
            except ValueError as exc:
                raise ConfigError("EVALHUB_SEALING_KEY must be URL-safe base64") from exc
            return cls(key, suite)
        return cls(read_or_create(key_file), suite)

    def seal(self, value: bytes, purpose: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._version + nonce + self._aead.encrypt(nonce, value, purpose.encode())
        return base64.urlsafe_b64encode(sealed).decode()

    def mac(self, value: bytes, purpose: str) -> str:
        """A keyed MAC (HMAC-SHA256, or HMAC-SM3 in the national suite; hex) of ``value`` bound
        to ``purpose``: for short secrets such as check-in PINs, whose plain hashes could be
        searched offline."""
        return self.suite.mac(self._mac_key, purpose.encode() + b"\0" + value).hex()

    def open(self, sealed: str, purpose: str) -> bytes:
        try:
            raw = base64.urlsafe_b64decode(sealed)
            if raw[:1] != self._version:
                other = [name for name, v in _VERSIONS.items() if v == raw[:1]]
                if other:
                    raise SealingError(
                        f"the value for {purpose} was sealed in the {other[0]} cryptographic "
                        f"suite, this hub seals in the {self.suite.name} suite"
                    )
                raise SealingError("unknown sealed-value version")
            return self._aead.decrypt(raw[1:13], raw[13:], purpose.encode())
        except (InvalidTag, ValueError) as exc:
            raise SealingError(
                f"cannot open the sealed value for {purpose}: wrong sealing key or damaged data"
            ) from exc
