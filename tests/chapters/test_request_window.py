"""The seat's chapter cache on its own, fed link events by hand: how it paces its chunk
requests, that only bytes matching their hash reach the disk, and the one ``chapter_status``
it sends once every chapter of the manifest opened."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seat_agent.chapters import ChapterCache
from seat_agent.keys import SeatIdentity, init_state_dir
from seat_protocol.chapter_crypto import chapter_context, seal_chapter
from seat_protocol.events import ChunkReceived, Connected, MessageReceived
from seat_protocol.messages import AppMessage, ChapterManifest, ChapterStatus, ChunkRequest

SEAT = "QJ.QJ-01"
CHUNK = 64  # 48 bytes of text per chunk after the 16-byte tag


def _identity(tmp_path: Path) -> SeatIdentity:
    return init_state_dir(tmp_path / "seat", seat_id=SEAT, hub_url="ws://x/ws", hub_id="hub")


def _sealed(identity: SeatIdentity, chunks: int) -> tuple[ChapterManifest, dict[str, bytes]]:
    sealed = seal_chapter(
        os.urandom(48 * chunks),
        label="ch1-AA",
        position=0,
        seat_public_key=identity.x25519.public_key(),
        context=chapter_context("S1", SEAT, "ch1-AA", 0),
        chunk_size=CHUNK,
    )
    assert len(sealed.manifest.chunks) == chunks
    return ChapterManifest(seq=1, session_id="S1", chapters=(sealed.manifest,)), sealed.chunks


class _Requests:
    def __init__(self) -> None:
        self.batches: list[tuple[str, ...]] = []
        self.statuses: list[ChapterStatus] = []

    async def __call__(self, msg: AppMessage) -> None:
        if isinstance(msg, ChapterStatus):
            self.statuses.append(msg)
            return
        assert isinstance(msg, ChunkRequest)
        self.batches.append(msg.chunks)


async def test_the_cache_asks_again_when_half_the_window_has_arrived(tmp_path: Path) -> None:
    identity = _identity(tmp_path)
    manifest, chunks = _sealed(identity, 11)
    order = manifest.chapters[0].chunks
    cache = await ChapterCache.open(identity.state_dir, identity, window=4)
    sent = _Requests()
    cache.bind(sent)
    await cache.on_event(Connected(SEAT, lost_incoming=False, peer_lost=False))
    await cache.on_event(MessageReceived(SEAT, manifest))
    assert sent.batches == [order[0:4]]

    async def arrive(digest: str) -> None:
        await cache.on_event(ChunkReceived(digest, chunks[digest]))

    await arrive(order[0])  # 3 in flight: more than half the window
    assert len(sent.batches) == 1
    await arrive(order[1])  # 2 in flight: ask for 2 more
    assert sent.batches[1:] == [order[4:6]]
    for digest in order[2:6]:
        await arrive(digest)
    assert sent.batches[2:] == [order[6:8], order[8:10]]
    for digest in order[6:10]:
        await arrive(digest)
    assert sent.batches[4:] == [order[10:11]]  # the tail is asked for as soon as there is room
    assert sent.statuses == []  # nothing said before every chunk is here
    await arrive(order[10])
    assert len(sent.batches) == 5
    # The whole manifest is here: the seat opened its one chapter and tells the hub, once.
    digest = ChapterStatus.digest_of("S1", manifest.chapters)
    assert [
        (m.session_id, m.manifest, m.chapters, m.verified, m.failed) for m in sent.statuses
    ] == [("S1", digest, 1, 1, ())]
    await cache.on_event(Connected(SEAT, lost_incoming=False, peer_lost=False))
    assert len(sent.statuses) == 1
    # After a restart of the agent, the cache checks its chapters again and says so once more
    # (the hub records a repeat once): a status lost with the old process is not lost.
    reopened = await ChapterCache.open(identity.state_dir, identity, window=4)
    again = _Requests()
    reopened.bind(again)
    await reopened.on_event(Connected(SEAT, lost_incoming=False, peer_lost=True))
    assert again.statuses == sent.statuses and again.batches == []
    assert [h for batch in sent.batches for h in batch] == list(order)  # each asked once
    (entry,) = cache.entries()
    assert entry.complete and entry.received == entry.size
    stored = sorted(p.name for p in (identity.state_dir / "chapters" / "chunks").iterdir())
    assert stored == sorted(order)
    assert all(
        (identity.state_dir / "chapters" / "chunks" / h).read_bytes() == chunks[h] for h in order
    )


async def test_bytes_that_do_not_match_their_hash_are_never_written(tmp_path: Path) -> None:
    identity = _identity(tmp_path)
    manifest, chunks = _sealed(identity, 2)
    first, second = manifest.chapters[0].chunks
    cache = await ChapterCache.open(identity.state_dir, identity, window=1)
    sent = _Requests()
    cache.bind(sent)
    await cache.on_event(Connected(SEAT, lost_incoming=False, peer_lost=False))
    await cache.on_event(MessageReceived(SEAT, manifest))
    assert sent.batches == [(first,)]
    await cache.on_event(ChunkReceived(first, chunks[second]))
    chunk_dir = identity.state_dir / "chapters" / "chunks"
    assert list(chunk_dir.iterdir()) == []
    assert cache.entries()[0].received == 0
    assert sent.batches[1:] == [(first,)]  # asked for again
    await cache.on_event(ChunkReceived(first, chunks[first]))
    assert [p.name for p in chunk_dir.iterdir()] == [first]
    assert sent.batches[2:] == [(second,)]


async def test_the_window_is_at_least_one_chunk(tmp_path: Path) -> None:
    identity = _identity(tmp_path)
    with pytest.raises(ValueError, match="the request window must be at least one chunk"):
        await ChapterCache.open(identity.state_dir, identity, window=0)
