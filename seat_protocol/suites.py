"""The cryptographic suites (密码套件) a deployment chooses between, in one place.

* ``default``: Ed25519 signatures, SHA-256 hashes, AES-256-GCM sealing (X25519 for the
  seat's chapter keys, see ``chapter_crypto``).
* ``national``: SM2 signatures (GB/T 32918.2, identity ``1234567812345678``), SM3 hashes
  (GB/T 32905), SM4-GCM sealing (GB/T 32907, GCM per GB/T 36624), for deployments that must
  pass a commercial-cryptography assessment (密评).

Everything that hashes, signs or seals for the hub, the seat and the archive asks its suite:
hashes are 32 bytes (64 hex digits) and signatures 64 bytes in both, so stored columns and
wire checks hold either. Keys differ in size (Ed25519 public keys are 32 bytes, SM2 ones the
65-byte ``04 || x || y``), so a key's encoding says which suite it belongs to
(:func:`suite_of_public_bytes`). A suite's ``name`` is what the data records (the audit
chain's settings, the archive manifest); :func:`suite_named` refuses a name it does not know.

Pure: no I/O; randomness only through ``os.urandom``/``secrets``. Never imports evaluation_hub.
"""

from __future__ import annotations

import hmac
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from seat_protocol.sm2 import SM2PrivateKey, SM2PublicKey

__all__ = [
    "DEFAULT",
    "NATIONAL",
    "SM4GCM",
    "SUITES",
    "Aead",
    "Hasher",
    "PublicKey",
    "SigningKey",
    "Suite",
    "UnknownSuite",
    "suite_named",
    "suite_of_key",
    "suite_of_public_bytes",
]


class UnknownSuite(ValueError):
    """A suite name that is neither ``default`` nor ``national``."""


@runtime_checkable
class PublicKey(Protocol):
    """Verifies; raises ``cryptography.exceptions.InvalidSignature`` on a bad signature."""

    def verify(self, signature: bytes, data: bytes, /) -> None: ...


@runtime_checkable
class SigningKey(Protocol):
    def sign(self, data: bytes, /) -> bytes: ...

    def public_key(self) -> PublicKey: ...


class Aead(Protocol):
    """``AESGCM``'s interface: ``encrypt`` appends the 16-byte tag, ``decrypt`` raises
    ``InvalidTag``; ``decrypt`` takes a view too (a chunk still in the frame it came in)."""

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(
        self, nonce: bytes, data: bytes | memoryview, associated_data: bytes | None
    ) -> bytes: ...


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def finalize(self) -> bytes: ...


class SM4GCM:
    """SM4 in GCM mode with ``AESGCM``'s interface (a 128-bit key, a 96-bit nonce)."""

    _TAG = 16

    def __init__(self, key: bytes) -> None:
        if len(key) != 16:
            raise ValueError(f"an SM4 key is 16 bytes, got {len(key)}")
        self._key = key

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        encryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        if associated_data:
            encryptor.authenticate_additional_data(associated_data)
        sealed = encryptor.update(data) + encryptor.finalize()
        return sealed + encryptor.tag

    def decrypt(
        self, nonce: bytes, data: bytes | memoryview, associated_data: bytes | None
    ) -> bytes:
        if len(data) < self._TAG:
            raise InvalidTag()
        decryptor = Cipher(
            algorithms.SM4(self._key), modes.GCM(nonce, bytes(data[-self._TAG :]))
        ).decryptor()
        if associated_data:
            decryptor.authenticate_additional_data(associated_data)
        return decryptor.update(data[: -self._TAG]) + decryptor.finalize()


class Suite:
    """One suite; the two instances are :data:`DEFAULT` and :data:`NATIONAL`."""

    name: str
    #: how people and documents name it, e.g. ``SM2/SM3/SM4-GCM``
    label: str
    signature_name: str
    hash_name: str
    aead_name: str
    public_key_size: int
    signature_size = 64
    digest_size = 32

    def hash_algorithm(self) -> hashes.HashAlgorithm:
        raise NotImplementedError

    # --- hashing --------------------------------------------------------------------------

    def hasher(self) -> Hasher:
        return hashes.Hash(self.hash_algorithm())

    def digest(self, data: bytes) -> bytes:
        h = self.hasher()
        h.update(data)
        return h.finalize()

    def hexdigest(self, data: bytes) -> str:
        return self.digest(data).hex()

    def mac(self, key: bytes, data: bytes) -> bytes:
        """HMAC with the suite's hash."""
        return hmac.new(key, data, self.hash_name.lower().replace("-", "")).digest()

    def derive_key(self, secret: bytes, info: bytes, length: int) -> bytes:
        """HKDF with the suite's hash."""
        return HKDF(algorithm=self.hash_algorithm(), length=length, salt=None, info=info).derive(
            secret
        )

    # --- signatures -----------------------------------------------------------------------

    def generate_signing_key(self) -> SigningKey:
        raise NotImplementedError

    def owns(self, key: SigningKey | PublicKey) -> bool:
        """Whether ``key`` is a key of this suite."""
        raise NotImplementedError

    def public_bytes(self, key: PublicKey) -> bytes:
        """The raw encoding enrolled and sent on the wire (32 or 65 bytes)."""
        raise NotImplementedError

    def load_public(self, raw: bytes) -> PublicKey:
        """A public key from :meth:`public_bytes`; ``ValueError`` if it is not one."""
        raise NotImplementedError

    def key_id(self, key: PublicKey) -> str:
        """Hex hash of the raw public key: how checkpoints and manifests name a key."""
        return self.hexdigest(self.public_bytes(key))

    def private_pem(self, key: SigningKey) -> bytes:
        raise NotImplementedError

    def load_private_pem(self, pem: bytes) -> SigningKey:
        """``ValueError`` if ``pem`` is not an unencrypted private key of this suite."""
        raise NotImplementedError

    def public_pem(self, key: PublicKey) -> bytes:
        raise NotImplementedError

    def load_public_pem(self, pem: bytes) -> PublicKey:
        """``ValueError`` if ``pem`` is not a SubjectPublicKeyInfo of this suite."""
        raise NotImplementedError

    # --- sealing --------------------------------------------------------------------------

    #: the AEAD key length :meth:`aead` takes
    aead_key_size: int

    def aead(self, key: bytes) -> Aead:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<suite {self.name}: {self.label}>"


class _Default(Suite):
    name = "default"
    label = "Ed25519/SHA-256/AES-256-GCM"
    signature_name = "Ed25519"
    hash_name = "SHA-256"
    aead_name = "AES-256-GCM"
    public_key_size = 32
    aead_key_size = 32

    def hash_algorithm(self) -> hashes.HashAlgorithm:
        return hashes.SHA256()

    def generate_signing_key(self) -> SigningKey:
        return Ed25519PrivateKey.generate()

    def owns(self, key: SigningKey | PublicKey) -> bool:
        return isinstance(key, Ed25519PrivateKey | Ed25519PublicKey)

    def public_bytes(self, key: PublicKey) -> bytes:
        if not isinstance(key, Ed25519PublicKey):
            raise TypeError(f"{type(key).__name__} is not an Ed25519 public key")
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def load_public(self, raw: bytes) -> PublicKey:
        if len(raw) != 32:
            raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
        return Ed25519PublicKey.from_public_bytes(raw)

    def private_pem(self, key: SigningKey) -> bytes:
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError(f"{type(key).__name__} is not an Ed25519 private key")
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def load_private_pem(self, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"holds a {type(key).__name__}, not an Ed25519 key")
        return key

    def public_pem(self, key: PublicKey) -> bytes:
        if not isinstance(key, Ed25519PublicKey):
            raise TypeError(f"{type(key).__name__} is not an Ed25519 public key")
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def load_public_pem(self, pem: bytes) -> PublicKey:
        key = serialization.load_pem_public_key(pem)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"holds a {type(key).__name__}, not an Ed25519 key")
        return key

    def aead(self, key: bytes) -> Aead:
        return AESGCM(key)


def _pem(label: str, der: bytes) -> bytes:
    import base64

    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode()


def _der(label: str, pem: bytes) -> bytes:
    import base64
    import binascii

    text = pem.decode("ascii", errors="replace").strip()
    head, tail = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if not (text.startswith(head) and text.endswith(tail)):
        raise ValueError(f"not a PEM {label}")
    try:
        return base64.b64decode("".join(text[len(head) : -len(tail)].split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"damaged PEM {label}") from exc


class _National(Suite):
    name = "national"
    label = "SM2/SM3/SM4-GCM"
    signature_name = "SM2"
    hash_name = "SM3"
    aead_name = "SM4-GCM"
    public_key_size = 65
    aead_key_size = 16

    def hash_algorithm(self) -> hashes.HashAlgorithm:
        return hashes.SM3()

    def mac(self, key: bytes, data: bytes) -> bytes:
        # hashlib may lack SM3 (it follows the OpenSSL it was built with); cryptography has it.
        from cryptography.hazmat.primitives import hmac as crypto_hmac

        h = crypto_hmac.HMAC(key, hashes.SM3())
        h.update(data)
        return h.finalize()

    def generate_signing_key(self) -> SigningKey:
        return SM2PrivateKey.generate()

    def owns(self, key: SigningKey | PublicKey) -> bool:
        return isinstance(key, SM2PrivateKey | SM2PublicKey)

    def public_bytes(self, key: PublicKey) -> bytes:
        if not isinstance(key, SM2PublicKey):
            raise TypeError(f"{type(key).__name__} is not an SM2 public key")
        return key.encoded()

    def load_public(self, raw: bytes) -> PublicKey:
        return SM2PublicKey.from_encoded(raw)

    def private_pem(self, key: SigningKey) -> bytes:
        if not isinstance(key, SM2PrivateKey):
            raise TypeError(f"{type(key).__name__} is not an SM2 private key")
        return _pem("PRIVATE KEY", key.pkcs8_der())

    def load_private_pem(self, pem: bytes) -> SigningKey:
        return SM2PrivateKey.from_pkcs8_der(_der("PRIVATE KEY", pem))

    def public_pem(self, key: PublicKey) -> bytes:
        if not isinstance(key, SM2PublicKey):
            raise TypeError(f"{type(key).__name__} is not an SM2 public key")
        return _pem("PUBLIC KEY", key.spki_der())

    def load_public_pem(self, pem: bytes) -> PublicKey:
        return SM2PublicKey.from_spki_der(_der("PUBLIC KEY", pem))

    def aead(self, key: bytes) -> Aead:
        return SM4GCM(key)


DEFAULT: Suite = _Default()
NATIONAL: Suite = _National()
SUITES: dict[str, Suite] = {DEFAULT.name: DEFAULT, NATIONAL.name: NATIONAL}


def suite_named(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise UnknownSuite(
            f"unknown cryptographic suite {name!r}: choose one of {', '.join(SUITES)}"
        ) from None


def suite_of_public_bytes(raw: bytes) -> Suite:
    """The suite whose raw public keys have ``raw``'s size; ``ValueError`` for neither."""
    for suite in SUITES.values():
        if len(raw) == suite.public_key_size:
            return suite
    raise ValueError(f"a public key of {len(raw)} bytes belongs to no suite")


def suite_of_key(key: SigningKey | PublicKey) -> Suite:
    """The suite ``key`` belongs to; ``TypeError`` for a key of neither."""
    for suite in SUITES.values():
        if suite.owns(key):
            return suite
    raise TypeError(f"a {type(key).__name__} belongs to no suite")
