"""Chapters encrypted for one seat only (工位专属加密), in content-addressed chunks.

Both ends import this: the hub seals each expert's shuffled chapter for the X25519 key of the
seat the expert sits at; the seat keeps the chunks encrypted on disk and opens a chapter only to
show it. The format:

* A fresh random 256-bit content key ``K`` per (seat, chapter).
* The plaintext is cut into pieces; piece ``i`` of ``n`` is sealed with AES-256-GCM under ``K``
  with nonce ``0x00000000 || i (8 bytes, big-endian)`` and associated data
  ``context || 0x00 || i || n``, so chunks cannot be reordered, dropped, repeated or moved to
  another chapter without failing authentication.
* Each sealed piece is a chunk named by its SHA-256 (content addressing: a seat asks for the
  chunks it lacks, checks each one on arrival, and resumes where it stopped).
* ``K`` is wrapped for the seat (an HPKE-like construction): an ephemeral X25519 key agreement
  with the seat's public key, HKDF-SHA256 (salt: ephemeral || seat public key) to a wrapping
  key, AES-256-GCM over ``K`` with ``context`` as associated data. ``wrapped_key`` is
  base64(ephemeral public key || nonce || sealed K).
* ``sha256`` in the manifest is the SHA-256 of the chunks concatenated in order; ``size`` is
  their total length (what the seat shows progress against).

In the national suite (the seat enrolled SM2 keys, ``seat_protocol.suites``) ``K`` is a 128-bit
SM4 key, each piece is sealed with SM4-GCM the same way, and ``K`` is wrapped with SM2
public-key encryption (GB/T 32918.4, ``C1 || C3 || C2``) for the seat's SM2 encryption key:
``wrapped_key`` is base64 of that ciphertext. Chunk names and the manifest hash stay SHA-256 in
both suites: they address content (a damaged chunk is refused before decryption); what keeps a
chunk secret and unaltered is the AEAD under ``K``.

Only the seat's X25519 (or SM2 encryption) private key opens a chapter. Pure: no I/O, randomness only from
``os.urandom`` through ``cryptography`` (or passed in for tests). Never imports evaluation_hub.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from seat_protocol.exceptions import SeatProtocolError
from seat_protocol.messages import CHUNK_SIZE, ChunkData, ManifestChapter
from seat_protocol.sm2 import SM2DecryptionError, SM2PrivateKey, SM2PublicKey
from seat_protocol.suites import DEFAULT, NATIONAL, Aead

__all__ = [
    "ChapterSealError",
    "ChunkSeal",
    "SealedChapter",
    "chapter_context",
    "chapter_key",
    "check_chunk",
    "chunk_seals",
    "open_chapter",
    "open_sealed",
    "seal_chapter",
]

_WRAP_INFO = b"seat-protocol/chapter-key-wrap/v1"
_TAG = 16


class ChapterSealError(SeatProtocolError):
    """A chapter or chunk failed its integrity or authenticity check, or is not for this seat."""


@dataclass(frozen=True)
class SealedChapter:
    manifest: ManifestChapter
    chunks: dict[str, bytes]  # SHA-256 hex -> sealed chunk, in manifest order


def _raw(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _wrapping_key(shared: bytes, ephemeral: bytes, seat: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=ephemeral + seat, info=_WRAP_INFO
    ).derive(shared)


def _aad(context: str, index: int, count: int) -> bytes:
    return context.encode() + b"\0" + index.to_bytes(8, "big") + count.to_bytes(8, "big")


def _nonce(index: int) -> bytes:
    return b"\0\0\0\0" + index.to_bytes(8, "big")


def chapter_context(session_id: str, seat_id: str, label: str, position: int) -> str:
    """The ``context`` both ends use for one chapter of one session at one seat: a chunk or a
    wrapped key moved to another session, seat, label or place fails to open."""
    return f"seat-protocol/chapter/v1|{session_id}|{seat_id}|{position}|{label}"


def seal_chapter(
    plaintext: bytes,
    *,
    label: str,
    position: int,
    seat_public_key: X25519PublicKey | SM2PublicKey,
    context: str,
    chunk_size: int = CHUNK_SIZE,
    content_key: bytes | None = None,
) -> SealedChapter:
    """Encrypt ``plaintext`` for one seat; ``context`` binds it to its session and place.
    An SM2 seat key seals in the national suite (SM4-GCM, SM2-wrapped content key)."""
    if chunk_size <= _TAG:
        raise ValueError(f"chunk_size must exceed {_TAG}")
    suite = NATIONAL if isinstance(seat_public_key, SM2PublicKey) else DEFAULT
    key = content_key or os.urandom(suite.aead_key_size)
    piece = chunk_size - _TAG
    pieces = [plaintext[i : i + piece] for i in range(0, len(plaintext), piece)] or [b""]
    aead: Aead = suite.aead(key)
    sealed = [
        aead.encrypt(_nonce(i), p, _aad(context, i, len(pieces))) for i, p in enumerate(pieces)
    ]
    chunks = {hashlib.sha256(c).hexdigest(): c for c in sealed}
    if isinstance(seat_public_key, SM2PublicKey):
        wrapped = seat_public_key.encrypt(key)
    else:
        ephemeral = X25519PrivateKey.generate()
        ephemeral_raw = _raw(ephemeral.public_key())
        wrap_key = _wrapping_key(
            ephemeral.exchange(seat_public_key), ephemeral_raw, _raw(seat_public_key)
        )
        nonce = os.urandom(12)
        wrapped = ephemeral_raw + nonce + AESGCM(wrap_key).encrypt(nonce, key, context.encode())
    manifest = ManifestChapter(
        label=label,
        position=position,
        sha256=hashlib.sha256(b"".join(sealed)).hexdigest(),
        size=sum(len(c) for c in sealed),
        wrapped_key=base64.b64encode(wrapped).decode(),
        chunks=tuple(hashlib.sha256(c).hexdigest() for c in sealed),
    )
    return SealedChapter(manifest, chunks)


def check_chunk(digest: str, data: bytes) -> None:
    """A received chunk must hash to the name it was asked for."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ChapterSealError(
            f"chunk {digest[:12]}… arrived damaged (its SHA-256 is {actual[:12]}…)"
        )


def chapter_key(
    manifest: ManifestChapter,
    seat_private_key: X25519PrivateKey | SM2PrivateKey,
    context: str,
) -> Aead:
    """The chapter's content key ``K``, unwrapped with the seat's private key, as its AEAD;
    ``ChapterSealError`` if the wrapped key is not for this key and ``context``."""
    try:
        raw = base64.b64decode(manifest.wrapped_key)
        if isinstance(seat_private_key, SM2PrivateKey):
            return NATIONAL.aead(seat_private_key.decrypt(raw))
        ephemeral_raw, nonce, sealed_key = raw[:32], raw[32:44], raw[44:]
        seat_raw = _raw(seat_private_key.public_key())
        shared = seat_private_key.exchange(X25519PublicKey.from_public_bytes(ephemeral_raw))
        key = AESGCM(_wrapping_key(shared, ephemeral_raw, seat_raw)).decrypt(
            nonce, sealed_key, context.encode()
        )
        return AESGCM(key)
    except (InvalidTag, ValueError, SM2DecryptionError) as exc:
        raise ChapterSealError(
            f"chapter {manifest.label} cannot be opened with this seat's key: it was sealed for "
            "another seat or another place, or it was altered"
        ) from exc


@dataclass(frozen=True)
class ChunkSeal:
    """What authenticates one chunk at its place in its chapter: the chapter's AEAD under
    ``K``, the chunk's nonce and its associated data (context, index, count)."""

    aead: Aead
    nonce: bytes
    aad: bytes

    def opens(self, data: ChunkData) -> bool:
        """Whether ``data`` is authentic ciphertext for exactly this place: AES-GCM (or
        SM4-GCM) verifies its tag over the whole chunk before it releases any plaintext; the
        plaintext is dropped at once."""
        try:
            self.aead.decrypt(self.nonce, data, self.aad)
        except (InvalidTag, ValueError):
            return False
        return True


def chunk_seals(manifest: ManifestChapter, aead: Aead, context: str) -> dict[str, ChunkSeal]:
    """Each chunk's :class:`ChunkSeal`, by its name (SHA-256 hex), for a chapter whose key
    ``chapter_key`` unwrapped."""
    count = len(manifest.chunks)
    return {
        digest: ChunkSeal(aead, _nonce(i), _aad(context, i, count))
        for i, digest in enumerate(manifest.chunks)
    }


def open_chapter(
    manifest: ManifestChapter,
    chunks: Mapping[str, bytes],
    seat_private_key: X25519PrivateKey | SM2PrivateKey,
    context: str,
) -> bytes:
    """Decrypt a chapter from its chunks with the seat's private key; any tampering fails."""
    missing = [d for d in manifest.chunks if d not in chunks]
    if missing:
        raise ChapterSealError(
            f"chapter {manifest.label} lacks {len(missing)} of {len(manifest.chunks)} chunks"
        )
    ordered = [chunks[d] for d in manifest.chunks]
    for digest, data in zip(manifest.chunks, ordered, strict=True):
        check_chunk(digest, data)
    if hashlib.sha256(b"".join(ordered)).hexdigest() != manifest.sha256:
        raise ChapterSealError(f"chapter {manifest.label} does not match its manifest hash")
    return open_sealed(manifest, ordered, seat_private_key, context)


def open_sealed(
    manifest: ManifestChapter,
    ordered: Sequence[ChunkData],
    seat_private_key: X25519PrivateKey | SM2PrivateKey,
    context: str,
) -> bytes:
    """Decrypt a chapter from its chunks in manifest order, proven by their AEAD tags alone
    (no SHA-256): each tag binds the chunk to its chapter's key, its place and the chapter's
    chunk count (``seat_agent.chunk_seals`` says why that is the manifest's chapter, byte for
    byte), so this opens exactly the hub's sealed chapter or raises ``ChapterSealError``
    (sealed for another seat or place, altered, reordered, cut short or extended)."""
    count = len(manifest.chunks)
    if len(ordered) != count:
        raise ChapterSealError(f"chapter {manifest.label} has {len(ordered)} of its {count} chunks")
    aead = chapter_key(manifest, seat_private_key, context)
    try:
        return b"".join(
            aead.decrypt(_nonce(i), c, _aad(context, i, count)) for i, c in enumerate(ordered)
        )
    except (InvalidTag, ValueError) as exc:
        raise ChapterSealError(
            f"chapter {manifest.label} cannot be opened with this seat's key: it was sealed for "
            "another seat or another place, or it was altered"
        ) from exc
