"""Which chunks a seat may fetch: exactly those named by the chapter manifests sent to it, of
its latest ``SESSIONS_KEPT`` sessions.

A seat's channel (``seat_protocol.hub_side.HubChannel``) lives as long as the hub process, and
the seat reads in session after session: keeping every manifest's chunk hashes would grow for
the process's life. Only the latest sessions' are kept: the hub serves a seat no more than its
latest release anyway (``evaluation_hub.seats.chapter_chunks``), so an older session's chunk
could not be fetched even if it were allowed. Within a session every manifest's chunks add up.
Pure, no I/O.
"""

from __future__ import annotations

from seat_protocol.messages import ChapterManifest

__all__ = ["SESSIONS_KEPT", "ChunkEntitlement"]

SESSIONS_KEPT = 2


class ChunkEntitlement:
    """Chunk hashes by session, the session of the latest manifest last."""

    def __init__(self, sessions_kept: int = SESSIONS_KEPT) -> None:
        self._sessions_kept = sessions_kept
        self._by_session: dict[str, set[str]] = {}

    def grant(self, manifest: ChapterManifest) -> None:
        """The seat was sent ``manifest``: it may fetch its chunks."""
        chunks = self._by_session.pop(manifest.session_id, set())
        self._by_session[manifest.session_id] = chunks  # now the latest
        for chapter in manifest.chapters:
            chunks.update(chapter.chunks)
        while len(self._by_session) > self._sessions_kept:
            del self._by_session[next(iter(self._by_session))]

    def allows(self, sha256: str) -> bool:
        return any(sha256 in chunks for chunks in self._by_session.values())

    @property
    def held(self) -> int:
        """Chunk hashes kept (of every kept session)."""
        return sum(len(chunks) for chunks in self._by_session.values())
