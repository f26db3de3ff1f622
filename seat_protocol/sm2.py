"""SM2 signatures (GB/T 32918.2, GM/T 0003.2) over the ``gmssl`` package's curve arithmetic.

``gmssl`` (pure Python) does the point arithmetic and the bare sign/verify of a digest; this
module is the smallest wrapper that makes it safe to use, because the package as released
(3.2.x) leaves these to the caller or gets them wrong:

* the per-signature secret ``k`` comes from :mod:`secrets` here; gmssl's own default draws it
  from :mod:`random` (Mersenne Twister), which would let an observer recover the private key;
* ``Z_A`` (the hash of the signer's identity and key) and ``e = SM3(Z_A || M)`` are computed
  here with ``cryptography``'s SM3 and the default identity ``1234567812345678`` (GM/T 0009);
* ``r`` and ``s`` are checked to lie in ``[1, n-1]`` and public keys to lie on the curve before
  any arithmetic (gmssl checks neither);
* public keys are set on gmssl's object directly: its constructor strips *every* leading
  ``0`` and ``4`` hex digit (``str.lstrip("04")``), corrupting one key in eight;
* key derivation ``P = dG``, the uncompressed point encoding, and the DER forms
  (SubjectPublicKeyInfo and PKCS#8 with the SM2 curve OID 1.2.156.10197.1.301), which
  ``cryptography`` does not know for this curve and OpenSSL 3 reads.

Signatures are the 64-byte ``r || s`` (the same size as Ed25519's).

Public-key encryption (GB/T 32918.4, output ``C1 || C3 || C2``) is written here over gmssl's
scalar multiplication, because gmssl's own ``encrypt`` draws its ``k`` from :mod:`random` and
runs its KDF over the hex text of the point instead of its bytes. It wraps the short content
keys of sealed chapters (``chapter_crypto``). Pure: no I/O.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from gmssl import sm2 as _gmssl_sm2

__all__ = [
    "DEFAULT_ID",
    "SM2DecryptionError",
    "SM2PrivateKey",
    "SM2PublicKey",
    "sm3",
]

CURVE: dict[str, str] = dict(_gmssl_sm2.default_ecc_table)
_P = int(CURVE["p"], 16)
_A = int(CURVE["a"], 16)
_B = int(CURVE["b"], 16)
_N = int(CURVE["n"], 16)
#: the signer identity both ends use unless told otherwise (GM/T 0009-2012 §10)
DEFAULT_ID = b"1234567812345678"

# DER prefixes for the one form we write and read: id-ecPublicKey with the SM2 curve, an
# uncompressed point, and an ECPrivateKey of 32 bytes carrying its public key.
_ALGORITHM = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")
_SPKI_PREFIX = bytes.fromhex("3059") + _ALGORITHM + bytes.fromhex("034200")
_PKCS8_PREFIX = bytes.fromhex("308187020100") + _ALGORITHM + bytes.fromhex("046d306b0201010420")
_PKCS8_MIDDLE = bytes.fromhex("a144034200")


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


class SM2DecryptionError(ValueError):
    """An SM2 ciphertext is malformed, altered, or for another key."""


def kdf(z: bytes, length: int) -> bytes:
    """The SM3 key derivation function of GB/T 32918.4 §5.4.3."""
    out = b""
    counter = 1
    while len(out) < length:
        out += sm3(z + counter.to_bytes(4, "big"))
        counter += 1
    return out[:length]


def _multiply(k: int, x: int, y: int, table: dict[str, str]) -> tuple[int, int]:
    width = len(table["n"])
    engine = _engine(table, "0" * width, "")
    point = engine._kg(k, f"{x:0{width}x}{y:0{width}x}")
    if point is None:
        raise SM2DecryptionError("the point at infinity")
    return int(point[:width], 16), int(point[width:], 16)


def _engine(table: dict[str, str], private_hex: str, public_hex: str) -> Any:
    engine = _gmssl_sm2.CryptSM2(private_key=private_hex, public_key="", ecc_table=table)
    engine.public_key = public_hex  # see the module docstring: never through the constructor
    return engine


def _on_curve(x: int, y: int, table: dict[str, str]) -> bool:
    p, a, b = (int(table[k], 16) for k in ("p", "a", "b"))
    return 0 <= x < p and 0 <= y < p and (y * y - x * x * x - a * x - b) % p == 0


class SM2PublicKey:
    """A point on the SM2 curve; ``verify`` raises ``InvalidSignature`` like ``cryptography``'s."""

    def __init__(self, x: int, y: int, *, table: dict[str, str] = CURVE) -> None:
        if not _on_curve(x, y, table):
            raise ValueError("not a point on the SM2 curve")
        self.x, self.y, self._table = x, y, table
        self._width = len(table["n"])

    @classmethod
    def from_encoded(cls, raw: bytes) -> SM2PublicKey:
        """From the 65-byte uncompressed form ``04 || x || y``."""
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError("an SM2 public key is 65 bytes: 04 || x || y")
        return cls(int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big"))

    @classmethod
    def from_spki_der(cls, der: bytes) -> SM2PublicKey:
        if len(der) != len(_SPKI_PREFIX) + 65 or not der.startswith(_SPKI_PREFIX):
            raise ValueError("not an SM2 SubjectPublicKeyInfo")
        return cls.from_encoded(der[len(_SPKI_PREFIX) :])

    def encoded(self) -> bytes:
        return b"\x04" + self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    def spki_der(self) -> bytes:
        return _SPKI_PREFIX + self.encoded()

    def _hex(self) -> str:
        return f"{self.x:0{self._width}x}{self.y:0{self._width}x}"

    def digest_to_sign(self, data: bytes, identity: bytes = DEFAULT_ID) -> bytes:
        """``e = SM3(Z_A || M)`` with ``Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA)``."""
        if len(identity) * 8 > 0xFFFF:
            raise ValueError("signer identity too long")
        t = self._table
        z = sm3(
            (len(identity) * 8).to_bytes(2, "big")
            + identity
            + bytes.fromhex(t["a"] + t["b"] + t["g"] + self._hex())
        )
        return sm3(z + data)

    def verify(self, signature: bytes, data: bytes, *, identity: bytes = DEFAULT_ID) -> None:
        n = int(self._table["n"], 16)
        if len(signature) != 64:
            raise InvalidSignature("an SM2 signature is 64 bytes (r || s)")
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        if not (1 <= r < n and 1 <= s < n) or (r + s) % n == 0:
            raise InvalidSignature("SM2 signature out of range")
        engine = _engine(self._table, "0" * self._width, self._hex())
        try:
            ok = engine.verify(signature.hex(), self.digest_to_sign(data, identity))
        except (TypeError, ValueError):  # the point at infinity: gmssl returns None
            ok = False
        if not ok:
            raise InvalidSignature("the SM2 signature does not verify")

    def encrypt(self, message: bytes, *, k: int | None = None) -> bytes:
        """``C1 || C3 || C2`` (GB/T 32918.4 §6.1); ``k`` only for known-answer tests."""
        if not message:
            raise ValueError("SM2 encrypts at least one byte")
        g = int(self._table["g"][: self._width], 16), int(self._table["g"][self._width :], 16)
        while True:
            nonce = k if k is not None else secrets.randbelow(int(self._table["n"], 16) - 1) + 1
            x1, y1 = _multiply(nonce, *g, self._table)
            x2, y2 = _multiply(nonce, self.x, self.y, self._table)
            shared = x2.to_bytes(32, "big") + y2.to_bytes(32, "big")
            t = kdf(shared, len(message))
            if any(t):
                break
            if k is not None:
                raise ValueError("this k gives an all-zero key stream; draw another")
        c1 = b"\x04" + x1.to_bytes(32, "big") + y1.to_bytes(32, "big")
        c2 = bytes(a ^ b for a, b in zip(message, t, strict=True))
        c3 = sm3(shared[:32] + message + shared[32:])
        return c1 + c3 + c2

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self) -> int:
        return hash((self.x, self.y))


class SM2PrivateKey:
    """A private scalar ``d`` in ``[1, n-2]`` and its public point ``dG``."""

    def __init__(self, d: int, *, table: dict[str, str] = CURVE) -> None:
        n = int(table["n"], 16)
        if not 1 <= d <= n - 2:
            raise ValueError("an SM2 private key lies in [1, n-2]")
        self._d, self._table = d, table
        self._width = len(table["n"])
        point = _engine(table, f"{d:0{self._width}x}", "")._kg(d, table["g"])
        self._public = SM2PublicKey(
            int(point[: self._width], 16), int(point[self._width :], 16), table=table
        )

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        return cls(secrets.randbelow(_N - 2) + 1)

    @classmethod
    def from_pkcs8_der(cls, der: bytes) -> SM2PrivateKey:
        size = len(_PKCS8_PREFIX) + 32 + len(_PKCS8_MIDDLE) + 65
        if len(der) != size or not der.startswith(_PKCS8_PREFIX):
            raise ValueError("not an SM2 PKCS#8 private key")
        start = len(_PKCS8_PREFIX)
        key = cls(int.from_bytes(der[start : start + 32], "big"))
        if der[start + 32 + len(_PKCS8_MIDDLE) :] != key.public_key().encoded():
            raise ValueError("the SM2 private key's public key does not match it")
        return key

    def pkcs8_der(self) -> bytes:
        return _PKCS8_PREFIX + self._d.to_bytes(32, "big") + _PKCS8_MIDDLE + self._public.encoded()

    def public_key(self) -> SM2PublicKey:
        return self._public

    def scalar_bytes(self) -> bytes:
        """The 32-byte private scalar ``d`` (how a seat keeps its key on disk, 0600)."""
        return self._d.to_bytes(32, "big")

    def decrypt(self, ciphertext: bytes) -> bytes:
        """The message of ``C1 || C3 || C2``; ``SM2DecryptionError`` if it does not check."""
        if len(ciphertext) <= 65 + 32:
            raise SM2DecryptionError("an SM2 ciphertext is longer than 97 bytes")
        try:
            c1 = SM2PublicKey(
                int.from_bytes(ciphertext[1:33], "big"),
                int.from_bytes(ciphertext[33:65], "big"),
                table=self._table,
            )
            if ciphertext[0] != 4:
                raise ValueError("C1 is not an uncompressed point")
        except ValueError as exc:
            raise SM2DecryptionError("C1 is not a point on the curve") from exc
        c3, c2 = ciphertext[65:97], ciphertext[97:]
        x2, y2 = _multiply(self._d, c1.x, c1.y, self._table)
        shared = x2.to_bytes(32, "big") + y2.to_bytes(32, "big")
        t = kdf(shared, len(c2))
        if not any(t):
            raise SM2DecryptionError("the key stream is all zeros")
        message = bytes(a ^ b for a, b in zip(c2, t, strict=True))
        if not hmac.compare_digest(sm3(shared[:32] + message + shared[32:]), c3):
            raise SM2DecryptionError("the SM2 ciphertext was altered or is for another key")
        return message

    def sign(self, data: bytes, *, identity: bytes = DEFAULT_ID, k: int | None = None) -> bytes:
        """The 64-byte ``r || s`` over ``data``; ``k`` only for known-answer tests."""
        e = self._public.digest_to_sign(data, identity)
        engine = _engine(self._table, f"{self._d:0{self._width}x}", self._public._hex())
        n = int(self._table["n"], 16)
        while True:
            nonce = k if k is not None else secrets.randbelow(n - 1) + 1
            signature = engine.sign(e, f"{nonce:0{self._width}x}")
            if signature is not None:
                return bytes.fromhex(signature)
            if k is not None:
                raise ValueError("this k gives no signature; draw another")
