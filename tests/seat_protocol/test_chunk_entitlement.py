"""A seat's channel outlives sessions: the chunks it may fetch are those of the manifests of its
latest ``SESSIONS_KEPT`` sessions, not of every manifest since the hub process started."""

from __future__ import annotations

import hashlib

from seat_protocol.chunk_entitlement import SESSIONS_KEPT
from seat_protocol.events import ChunksRequested, MessageReceived
from seat_protocol.hub_side import HubChannels
from seat_protocol.messages import ChapterManifest, ChunkRequest, ErrorNotice, ManifestChapter, b64
from seat_protocol.streams import Channel
from tests.seat_protocol.wire import SEAT_ID, Link, connect

SESSIONS = 6


def _manifest(session: str, *contents: bytes) -> tuple[ChapterManifest, list[str]]:
    hashes = [hashlib.sha256(c).hexdigest() for c in contents]
    chapter = ManifestChapter(
        label="第二章 C",
        position=1,
        sha256=hashlib.sha256(b"".join(contents)).hexdigest(),
        size=sum(map(len, contents)),
        wrapped_key=b64(bytes(60)),
        chunks=tuple(hashes),
    )
    return ChapterManifest(session_id=session, chapters=(chapter,)), hashes


def _fetch(link: Link, sha256: str) -> bool:
    """Whether the hub takes the seat's request for ``sha256`` (else it refuses it)."""
    link.seat.send(ChunkRequest(chunks=(sha256,)))
    link.pump()
    last_event = link.hub_events[-1] if link.hub_events else None
    if last_event == ChunksRequested(SEAT_ID, (sha256,)):
        link.hub_events.clear()
        return True
    refusal = link.seat_events[-1]
    assert isinstance(refusal, MessageReceived) and isinstance(refusal.message, ErrorNotice)
    assert (refusal.message.code, refusal.message.ref) == ("chunk-not-in-manifest", sha256)
    return False


def test_only_the_latest_sessions_chunks_are_kept_and_fetchable() -> None:
    channels = HubChannels()
    link = connect(channels=channels, seat_channel=Channel())
    hashes: dict[str, list[str]] = {}
    for n in range(1, SESSIONS + 1):
        session = f"S{n}"
        manifest, hashes[session] = _manifest(
            session, f"{session} one".encode(), f"{session} 2".encode()
        )
        link.hub.send(manifest)
        link.pump()
    assert channels.get(SEAT_ID).entitled.held == 2 * SESSIONS_KEPT
    latest = [f"S{n}" for n in range(SESSIONS - SESSIONS_KEPT + 1, SESSIONS + 1)]
    for session, chunks in hashes.items():
        assert _fetch(link, chunks[0]) is (session in latest), session


def test_a_sessions_manifests_add_up_and_a_new_one_makes_it_the_latest() -> None:
    channels = HubChannels()
    link = connect(channels=channels, seat_channel=Channel())
    first, s1_first = _manifest("S1", b"S1 one")
    later, s1_later = _manifest("S1", b"S1 two")
    other, s2 = _manifest("S2", b"S2 one")
    newest, s3 = _manifest("S3", b"S3 one")
    for manifest in (first, other, later, newest):  # S1's second release after S2's
        link.hub.send(manifest)
        link.pump()
    assert channels.get(SEAT_ID).entitled.held == 3  # S1's two releases and S3's; S2 dropped
    assert _fetch(link, s1_first[0]) and _fetch(link, s1_later[0]) and _fetch(link, s3[0])
    assert not _fetch(link, s2[0])
