"""The seat's chapter cache on its own, fed link events by hand: how it paces its chunk
requests, that only bytes matching their hash count, and the one ``chapter_status``
it sends once every chapter of the manifest opened."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from seat_agent.chapters import ChapterCache
from seat_agent.errors import ChapterNotReady
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
    assert sent.statuses == []  # said only once the chapter is written and synced
    await cache.settled()
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
    # One file for the chapter: the chunk count and lengths, then the chunks in order.
    (chapter,) = manifest.chapters
    stored = [p.name for p in (identity.state_dir / "chapters" / "sealed").iterdir()]
    assert stored == [chapter.sha256]
    head = struct.pack(f">{len(order) + 1}I", len(order), *(len(chunks[h]) for h in order))
    assert (identity.state_dir / "chapters" / "sealed" / chapter.sha256).read_bytes() == (
        head + b"".join(chunks[h] for h in order)
    )


async def test_bytes_the_link_did_not_check_never_count(tmp_path: Path) -> None:
    """The cache takes chunks as the link checked them (``check_chunk``, before the ack) and
    does not hash a chapter again when it writes it (docs/seat-protocol.md, *Chunk check*).
    Wrong bytes reaching it anyway (a wiring bug: the machine never hands such a chunk over)
    are found by the status check's read-back hash before anything is reported: the file is
    deleted, the chapter does not count and its chunks are asked for again."""
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
    assert sent.batches[1:] == [(second,)]
    await cache.on_event(ChunkReceived(second, chunks[second]))
    await cache.settled()
    chapter_dir = identity.state_dir / "chapters" / "sealed"
    assert list(chapter_dir.iterdir()) == []
    assert cache.entries()[0].received == 0
    assert not cache.entries()[0].complete
    assert sent.statuses == []
    assert sent.batches[2:] == [(first,)]  # the chapter again, from its first chunk
    await cache.on_event(ChunkReceived(first, chunks[first]))
    assert sent.batches[3:] == [(second,)]
    await cache.on_event(ChunkReceived(second, chunks[second]))
    await cache.settled()
    assert [p.name for p in chapter_dir.iterdir()] == [manifest.chapters[0].sha256]
    assert cache.entries()[0].complete
    assert [(s.verified, s.failed) for s in sent.statuses] == [(1, ())]


async def test_the_window_is_at_least_one_chunk(tmp_path: Path) -> None:
    identity = _identity(tmp_path)
    with pytest.raises(ValueError, match="the request window must be at least one chunk"):
        await ChapterCache.open(identity.state_dir, identity, window=0)


async def test_a_chapter_cut_off_by_a_crash_is_refused_and_fetched_again_whole(
    tmp_path: Path,
) -> None:
    """Two chapters; the first is whole on disk, the second was arriving (3 of 5 chunks in
    memory, its file half-written as ``.tmp``) when the agent died. Reopened, the first counts
    and is never asked for again; the second is not readable and is fetched again whole."""
    identity = _identity(tmp_path)
    one, first_chunks = _sealed(identity, 3)
    two = seal_chapter(
        os.urandom(48 * 5),
        label="ch2-AA",
        position=1,
        seat_public_key=identity.x25519.public_key(),
        context=chapter_context("S1", SEAT, "ch2-AA", 1),
        chunk_size=CHUNK,
    )
    manifest = ChapterManifest(seq=1, session_id="S1", chapters=(one.chapters[0], two.manifest))
    chunks = {**first_chunks, **two.chunks}
    cache = await ChapterCache.open(identity.state_dir, identity, window=8)
    sent = _Requests()
    cache.bind(sent)
    await cache.on_event(Connected(SEAT, lost_incoming=False, peer_lost=False))
    await cache.on_event(MessageReceived(SEAT, manifest))
    for digest in one.chapters[0].chunks + two.manifest.chunks[:3]:
        await cache.on_event(ChunkReceived(digest, chunks[digest]))
    await cache.settled()
    assert [e.complete for e in cache.entries()] == [True, False]
    sealed = identity.state_dir / "chapters" / "sealed"
    # The crash: the process is gone (its memory with it) mid-write of the second chapter.
    (sealed / (two.manifest.sha256 + ".tmp")).write_bytes(
        b"\0\0\0\5" + chunks[two.manifest.chunks[0]]
    )
    del cache

    reopened = await ChapterCache.open(identity.state_dir, identity, window=8)
    assert sorted(p.name for p in sealed.iterdir()) == [one.chapters[0].sha256]
    entries = reopened.entries()
    assert [(e.complete, e.received) for e in entries] == [(True, entries[0].size), (False, 0)]
    with pytest.raises(ChapterNotReady) as err:
        await reopened.read("ch2-AA")
    assert (
        str(err.value) == f"章节「ch2-AA」尚未下载完成（已接收 0/{two.manifest.size} 字节），请稍候"
    )
    again = _Requests()
    reopened.bind(again)
    await reopened.on_event(Connected(SEAT, lost_incoming=False, peer_lost=True))
    assert again.batches == [two.manifest.chunks]  # the whole second chapter, nothing of the first
    for digest in two.manifest.chunks:
        await reopened.on_event(ChunkReceived(digest, chunks[digest]))
    await reopened.settled()
    assert all(e.complete for e in reopened.entries())
    assert len(again.statuses) == 1 and again.statuses[0].verified == 2


async def test_a_chapter_file_damaged_on_disk_is_dropped_when_the_cache_opens(
    tmp_path: Path,
) -> None:
    identity = _identity(tmp_path)
    manifest, chunks = _sealed(identity, 2)
    cache = await ChapterCache.open(identity.state_dir, identity)
    cache.bind(_Requests())
    await cache.on_event(Connected(SEAT, lost_incoming=False, peer_lost=False))
    await cache.on_event(MessageReceived(SEAT, manifest))
    for digest in manifest.chapters[0].chunks:
        await cache.on_event(ChunkReceived(digest, chunks[digest]))
    await cache.settled()
    path = identity.state_dir / "chapters" / "sealed" / manifest.chapters[0].sha256
    path.write_bytes(path.read_bytes()[:-1])  # truncated
    reopened = await ChapterCache.open(identity.state_dir, identity)
    assert not path.exists()
    assert [e.complete for e in reopened.entries()] == [False]


async def test_chapters_written_before_their_manifest_was_durable_do_not_count_after_a_crash(
    tmp_path: Path,
) -> None:
    """The manifest is written beside the link (chunks are asked for before its fsync): if
    the agent dies before it is on disk, a restart reads the previous manifest (here: none),
    and the chapter files of the new one are deleted, not taken as verified."""
    identity = _identity(tmp_path)
    manifest, chunks = _sealed(identity, 3)
    cache = await ChapterCache.open(identity.state_dir, identity)
    sent = _Requests()
    cache.bind(sent)
    await cache.on_event(Connected(SEAT, lost_incoming=False, peer_lost=False))
    await cache.on_event(MessageReceived(SEAT, manifest))
    assert sent.batches == [manifest.chapters[0].chunks]  # asked for at once
    for digest, data in chunks.items():
        await cache.on_event(ChunkReceived(digest, data))
    await cache.settled()
    assert cache.chapters_stored == 1 and len(sent.statuses) == 1
    sealed = identity.state_dir / "chapters" / "sealed" / manifest.chapters[0].sha256
    assert sealed.exists()
    # As if the crash came before the manifest's write reached the disk.
    (identity.state_dir / "chapters" / "manifest.json").unlink()
    reopened = await ChapterCache.open(identity.state_dir, identity)
    assert reopened.entries() == [] and reopened.chapters_stored == 0
    assert not sealed.exists()


async def test_a_new_manifest_without_a_stored_chapter_deletes_its_file(tmp_path: Path) -> None:
    """A chapter the hub no longer names (a re-release without it) is forgotten: its file is
    deleted (off the event loop) and it no longer counts; the new manifest's chapter is asked
    for from its first chunk."""
    identity = _identity(tmp_path)
    old, old_chunks = _sealed(identity, 2)
    cache = await ChapterCache.open(identity.state_dir, identity, window=4)
    sent = _Requests()
    cache.bind(sent)
    await cache.on_event(Connected(SEAT, lost_incoming=False, peer_lost=False))
    await cache.on_event(MessageReceived(SEAT, old))
    for digest in old.chapters[0].chunks:
        await cache.on_event(ChunkReceived(digest, old_chunks[digest]))
    await cache.settled()
    sealed = identity.state_dir / "chapters" / "sealed"
    assert [p.name for p in sealed.iterdir()] == [old.chapters[0].sha256]
    assert cache.chapters_stored == 1

    new, _ = _sealed(identity, 3)
    await cache.on_event(MessageReceived(SEAT, new))
    assert list(sealed.iterdir()) == []
    assert cache.chapters_stored == 0
    assert sent.batches[-1] == new.chapters[0].chunks
