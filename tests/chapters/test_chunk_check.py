"""The seat's check of a chunk before it is acknowledged (``ChapterCache.check_chunk``): a
chunk of the manifest is proven by its AEAD tag at its own place, anything else by its SHA-256;
only the exact chunk, or ciphertext authentic for exactly that place, passes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

import seat_agent.chunk_seals
from seat_agent.chapters import ChapterCache
from seat_agent.keys import SeatIdentity, init_state_dir
from seat_protocol.chapter_crypto import SealedChapter, chapter_context, seal_chapter
from seat_protocol.events import MessageReceived
from seat_protocol.messages import ChapterManifest

SEAT = "QJ.QJ-01"
CHUNK = 64


def _identity(tmp_path: Path) -> SeatIdentity:
    return init_state_dir(tmp_path / "seat", seat_id=SEAT, hub_url="ws://x/ws", hub_id="hub")


def _seal(key: X25519PrivateKey, label: str, position: int, chunks: int = 3) -> SealedChapter:
    return seal_chapter(
        os.urandom(48 * chunks),
        label=label,
        position=position,
        seat_public_key=key.public_key(),
        context=chapter_context("S1", SEAT, label, position),
        chunk_size=CHUNK,
    )


async def _cache(identity: SeatIdentity, *chapters: SealedChapter) -> ChapterCache:
    cache = await ChapterCache.open(identity.state_dir, identity)
    manifest = ChapterManifest(seq=1, session_id="S1", chapters=tuple(c.manifest for c in chapters))
    await cache.on_event(MessageReceived(seat_id=SEAT, message=manifest))
    return cache


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


async def test_a_chunk_of_the_manifest_passes_by_its_tag_and_nothing_else_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity = _identity(tmp_path)
    first, second = _seal(identity.x25519, "ch1-AA", 0), _seal(identity.x25519, "ch2-BB", 1)
    cache = await _cache(identity, first, second)
    names = first.manifest.chunks
    # Proven by the AEAD tag alone: no SHA-256 is computed for it.
    hashed: list[str] = []
    real = seat_agent.chunk_seals.sha256_matches

    def counting(sha256: str, data: bytes) -> bool:
        hashed.append(sha256)
        return real(sha256, data)

    monkeypatch.setattr(seat_agent.chunk_seals, "sha256_matches", counting)
    assert all(cache.check_chunk(name, first.chunks[name]) for name in names)
    assert hashed == []

    chunk = first.chunks[names[1]]
    for damaged in (_flip(chunk, 0), _flip(chunk, len(chunk) - 1), chunk[:-1], chunk + b"\0"):
        assert not cache.check_chunk(names[1], damaged)
    # Authentic ciphertext, but of another place: the neighbour, the same place in another
    # chapter, or a chapter sealed for this seat in another session.
    assert not cache.check_chunk(names[1], first.chunks[names[0]])
    assert not cache.check_chunk(names[0], second.chunks[second.manifest.chunks[0]])
    elsewhere = seal_chapter(
        os.urandom(48 * 3),
        label="ch1-AA",
        position=0,
        seat_public_key=identity.x25519.public_key(),
        context=chapter_context("S2", SEAT, "ch1-AA", 0),
        chunk_size=CHUNK,
    )
    assert not cache.check_chunk(names[0], elsewhere.chunks[elsewhere.manifest.chunks[0]])
    # Every refusal above was checked by SHA-256 too (the exact bytes of that name would pass).
    assert len(hashed) == 7


async def test_chunks_no_key_here_opens_are_checked_by_their_sha256(tmp_path: Path) -> None:
    identity = _identity(tmp_path)
    mine = _seal(identity.x25519, "ch1-AA", 0)
    # Sealed for another seat's key: the chunks are still taken if they are exactly the named
    # ones (the chapter is then reported as not opening), never if altered.
    foreign = _seal(X25519PrivateKey.generate(), "ch2-BB", 1)
    cache = await _cache(identity, mine, foreign)
    name = foreign.manifest.chunks[0]
    assert cache.check_chunk(name, foreign.chunks[name])
    assert not cache.check_chunk(name, _flip(foreign.chunks[name], 3))
    # A name outside the manifest: by its SHA-256 alone.
    stray = _seal(identity.x25519, "ch3-CC", 2)
    stray_name = stray.manifest.chunks[0]
    assert cache.check_chunk(stray_name, stray.chunks[stray_name])
    assert not cache.check_chunk(stray_name, mine.chunks[mine.manifest.chunks[0]])


async def test_the_seals_go_with_a_wipe_and_come_back_with_the_cache(tmp_path: Path) -> None:
    identity = _identity(tmp_path)
    chapter = _seal(identity.x25519, "ch1-AA", 0)
    name = chapter.manifest.chunks[0]
    cache = await _cache(identity, chapter)
    await cache.settled()
    # A restarted agent proves chunks of the manifest on disk the same way.
    reopened = await ChapterCache.open(identity.state_dir, identity)
    assert reopened._seals.names() == set(chapter.manifest.chunks)
    assert reopened.check_chunk(name, chapter.chunks[name])
    await cache.wipe()
    assert cache._seals.names() == set()
    assert cache.check_chunk(name, chapter.chunks[name])  # by its SHA-256 now
    assert not cache.check_chunk(name, _flip(chapter.chunks[name], 0))
