"""A chapter's integrity while it is delivered rests on the chunk check alone (the chapter is
not hashed again when it is written, ``seat_agent.chapter_files.write_chapter``): every chunk's
AEAD tag is bound to its chapter (session, seat, position, label), its index and the chapter's
chunk count, under a key the hub derives per text and chunk size. So a tampered chunk, one
from another place of the chapter, one from another chapter, or one sealed for the same
chapter cut short is refused before it is acknowledged, and a chapter counts only once every
chunk its manifest entry names has passed the check. The status check's read-back hash stays
as the backstop (``test_request_window.test_bytes_the_link_did_not_check_never_count``;
docs/seat-protocol.md, *Chunk check*)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from seat_agent.chapters import ChapterCache
from seat_agent.errors import ChapterNotReady
from seat_agent.keys import SeatIdentity, init_state_dir
from seat_protocol.chapter_crypto import SealedChapter, chapter_context, seal_chapter
from seat_protocol.events import (
    ChunkReceived,
    CloseConnection,
    Connected,
    Event,
    MessageReceived,
    SendBytes,
)
from seat_protocol.hub_side import HubChannels
from seat_protocol.messages import AppMessage, ChapterManifest, ChapterStatus, Chunk
from seat_protocol.streams import Channel
from tests.seat_protocol.wire import Link, connect

SEAT = "QJ.QJ-01"
CHUNK = 64
PIECE = CHUNK - 16  # plaintext per chunk (the tag is 16 bytes)
KEY_A, KEY_B = os.urandom(32), os.urandom(32)
# Four chunks each, as text (the cache's read decodes UTF-8).
TEXT_A, TEXT_B = os.urandom(PIECE * 2).hex().encode(), os.urandom(PIECE * 2).hex().encode()


def _seal(
    identity: SeatIdentity, text: bytes, label: str, position: int, key: bytes
) -> SealedChapter:
    # A fixed content key, as the hub derives one per (context, text, chunk size): the
    # truncated chapter below is sealed under the very key of the whole one.
    return seal_chapter(
        text,
        label=label,
        position=position,
        seat_public_key=identity.x25519.public_key(),
        context=chapter_context("S1", SEAT, label, position),
        chunk_size=CHUNK,
        content_key=key,
    )


def _chunk(sealed: SealedChapter, index: int) -> bytes:
    return sealed.chunks[sealed.manifest.chunks[index]]


class Seat:
    """The seat's protocol machine with the cache's chunk check, fed by the hub's machine."""

    def __init__(self, cache: ChapterCache) -> None:
        self.cache = cache
        self.link: Link = connect(
            channels=HubChannels(), seat_channel=Channel(), chunk_check=cache.check_chunk
        )
        self.link.seat_events.clear()

    def deliver(self, name: str, data: bytes) -> list[Event]:
        """The hub sends ``data`` as the chunk named ``name`` (a binary frame); what the seat's
        machine makes of it."""
        self.link.hub.send(Chunk.of(name, data))
        for out in self.link.hub.data_to_send():
            assert isinstance(out, SendBytes)
            self.link.seat.receive_bytes(out.data, 0.0)
        return self.link.seat.events_received()


Setup = tuple[ChapterCache, SeatIdentity, SealedChapter, SealedChapter, list[AppMessage]]


async def _setup(tmp_path: Path) -> Setup:
    """A cache online with a manifest of two chapters of four chunks; what it sends."""
    identity = init_state_dir(tmp_path / "seat", seat_id=SEAT, hub_url="ws://x/ws", hub_id="hub")
    a = _seal(identity, TEXT_A, "ch1-AA", 0, KEY_A)
    b = _seal(identity, TEXT_B, "ch2-BB", 1, KEY_B)
    cache = await ChapterCache.open(identity.state_dir, identity)
    sent: list[AppMessage] = []

    async def send(msg: AppMessage) -> None:
        sent.append(msg)

    cache.bind(send)
    manifest = ChapterManifest(seq=1, session_id="S1", chapters=(a.manifest, b.manifest))
    await cache.on_event(MessageReceived(seat_id=SEAT, message=manifest))
    await cache.on_event(Connected(seat_id=SEAT, lost_incoming=False, peer_lost=False))
    return cache, identity, a, b, sent


def _tampered(a: SealedChapter, b: SealedChapter, short: SealedChapter) -> tuple[str, bytes]:
    data = bytearray(_chunk(a, 1))
    data[5] ^= 1
    return a.manifest.chunks[1], bytes(data)


def _reordered(a: SealedChapter, b: SealedChapter, short: SealedChapter) -> tuple[str, bytes]:
    return a.manifest.chunks[1], _chunk(a, 2)  # authentic, at another place of the chapter


def _foreign(a: SealedChapter, b: SealedChapter, short: SealedChapter) -> tuple[str, bytes]:
    return a.manifest.chunks[1], _chunk(b, 1)  # authentic, the same place of another chapter


def _truncated(a: SealedChapter, b: SealedChapter, short: SealedChapter) -> tuple[str, bytes]:
    # The chapter without its last chunk, sealed by the same key: its chunks carry another
    # count; its last one (same plaintext, same nonce as the whole chapter's chunk 2) would
    # end the chapter early.
    return a.manifest.chunks[2], _chunk(short, 2)


@pytest.mark.parametrize(
    "forge",
    [_tampered, _reordered, _foreign, _truncated],
    ids=["tampered", "reordered", "foreign-chapter", "missing-last-chunk"],
)
async def test_a_chunk_not_the_manifests_for_its_place_is_refused_before_its_ack(
    tmp_path: Path, forge: Callable[..., tuple[str, bytes]]
) -> None:
    cache, identity, a, b, _ = await _setup(tmp_path)
    short = _seal(identity, TEXT_A[: PIECE * 3], "ch1-AA", 0, KEY_A)
    assert _chunk(short, 0) != _chunk(a, 0)  # the count is bound: no chunk is shared
    name, data = forge(a, b, short)
    seat = Seat(cache)
    events = seat.deliver(name, data)
    assert seat.link.seat.data_to_send() == [
        CloseConnection(4001, f"protocol error: chunk data does not match its SHA-256 {name[:16]}")
    ]
    assert seat.link.seat.channel.incoming.last == 0  # not acknowledged: sent again later
    assert not [e for e in events if isinstance(e, ChunkReceived)]


async def test_a_chapter_counts_only_once_every_chunk_it_names_is_checked(tmp_path: Path) -> None:
    cache, identity, a, _, sent = await _setup(tmp_path)
    seat = Seat(cache)
    names = a.manifest.chunks
    # Every chunk of the chapter but its last: the chapter is not written, not readable.
    for name in names[:-1]:
        for event in seat.deliver(name, a.chunks[name]):
            await cache.on_event(event)
    await cache.settled()
    [entry, _] = cache.entries()
    assert (entry.complete, entry.received) == (False, 3 * CHUNK)
    with pytest.raises(ChapterNotReady) as err:
        await cache.read("ch1-AA")
    assert (
        str(err.value)
        == f"章节「ch1-AA」尚未下载完成（已接收 {3 * CHUNK}/{4 * CHUNK} 字节），请稍候"
    )
    sealed_dir = identity.state_dir / "chapters" / "sealed"
    assert list(sealed_dir.iterdir()) == []
    # The last chunk of the chapter cut short does not end it either.
    seat.deliver(names[-1], _chunk(_seal(identity, TEXT_A[: PIECE * 3], "ch1-AA", 0, KEY_A), 2))
    assert seat.link.seat.data_to_send()[-1] == CloseConnection(
        4001, f"protocol error: chunk data does not match its SHA-256 {names[-1][:16]}"
    )
    # The real last chunk (on a new connection): now the chapter is written and reads.
    seat = Seat(cache)
    for event in seat.deliver(names[-1], a.chunks[names[-1]]):
        await cache.on_event(event)
    await cache.settled()
    assert cache.entries()[0].complete
    assert [p.name for p in sealed_dir.iterdir()] == [a.manifest.sha256]
    assert (await cache.read("ch1-AA")).encode() == TEXT_A
    assert not [m for m in sent if isinstance(m, ChapterStatus)]  # chapter 2 is not here yet
