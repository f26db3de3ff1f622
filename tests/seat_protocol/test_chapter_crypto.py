"""Chapters sealed for one seat: round trip, and every kind of tampering refused."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from seat_protocol.chapter_crypto import (
    ChapterSealError,
    SealedChapter,
    check_chunk,
    open_chapter,
    seal_chapter,
)

SEAT = X25519PrivateKey.generate()
OTHER_SEAT = X25519PrivateKey.generate()
CONTEXT = "session:7:label:丙:position:2"


def sealed(text: bytes, chunk_size: int = 64) -> SealedChapter:
    return seal_chapter(
        text,
        label="丙",
        position=2,
        seat_public_key=SEAT.public_key(),
        context=CONTEXT,
        chunk_size=chunk_size,
    )


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000), st.integers(min_value=17, max_value=300))
def test_round_trip(text: bytes, chunk_size: int) -> None:
    chapter = seal_chapter(
        text,
        label="丙",
        position=2,
        seat_public_key=SEAT.public_key(),
        context=CONTEXT,
        chunk_size=chunk_size,
    )
    assert all(len(c) <= chunk_size for c in chapter.chunks.values())
    assert chapter.manifest.size == sum(len(c) for c in chapter.chunks.values())
    assert open_chapter(chapter.manifest, chapter.chunks, SEAT, CONTEXT) == text


def test_ciphertext_reveals_no_plaintext_and_is_fresh_per_seal() -> None:
    text = "第二章 施工组织设计：本标段采用分段流水作业。".encode() * 20
    a, b = sealed(text), sealed(text)
    assert all(b"\xe6\x96\xbd\xe5\xb7\xa5" not in c for c in a.chunks.values())  # "施工"
    assert set(a.chunks).isdisjoint(b.chunks)  # fresh content keys: nothing links two seals


def test_only_the_seat_opens_it() -> None:
    chapter = sealed(b"chapter text")
    with pytest.raises(ChapterSealError, match="cannot be opened with this seat's key"):
        open_chapter(chapter.manifest, chapter.chunks, OTHER_SEAT, CONTEXT)
    with pytest.raises(ChapterSealError, match="cannot be opened with this seat's key"):
        open_chapter(chapter.manifest, chapter.chunks, SEAT, "session:7:label:甲:position:1")


def test_tampering_is_refused() -> None:
    chapter = sealed(b"x" * 500)
    digests = list(chapter.manifest.chunks)
    damaged = dict(chapter.chunks)
    damaged[digests[0]] = bytes([damaged[digests[0]][0] ^ 1]) + damaged[digests[0]][1:]
    with pytest.raises(ChapterSealError, match="arrived damaged"):
        open_chapter(chapter.manifest, damaged, SEAT, CONTEXT)
    with pytest.raises(ChapterSealError, match=r"lacks 1 of \d+ chunks"):
        open_chapter(chapter.manifest, {d: chapter.chunks[d] for d in digests[1:]}, SEAT, CONTEXT)
    swapped = dataclasses.replace(chapter.manifest, chunks=(digests[1], digests[0], *digests[2:]))
    with pytest.raises(ChapterSealError, match="does not match its manifest hash"):
        open_chapter(swapped, chapter.chunks, SEAT, CONTEXT)
    # Even with a consistent manifest, reordered or truncated chunks fail authentication.
    reordered = (digests[1], digests[0], *digests[2:])
    forged = dataclasses.replace(
        chapter.manifest,
        chunks=reordered,
        sha256=hashlib.sha256(b"".join(chapter.chunks[d] for d in reordered)).hexdigest(),
    )
    with pytest.raises(ChapterSealError, match="cannot be opened"):
        open_chapter(forged, chapter.chunks, SEAT, CONTEXT)
    truncated = dataclasses.replace(
        chapter.manifest,
        chunks=tuple(digests[:-1]),
        sha256=hashlib.sha256(b"".join(chapter.chunks[d] for d in digests[:-1])).hexdigest(),
    )
    with pytest.raises(ChapterSealError, match="cannot be opened"):
        open_chapter(truncated, chapter.chunks, SEAT, CONTEXT)


def test_check_chunk() -> None:
    chapter = sealed(b"abc")
    ((digest, data),) = chapter.chunks.items()
    check_chunk(digest, data)
    with pytest.raises(ChapterSealError) as err:
        check_chunk(digest, data + b"!")
    assert str(err.value).startswith(f"chunk {digest[:12]}… arrived damaged")
