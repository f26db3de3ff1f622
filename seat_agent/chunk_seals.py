"""How the seat's chapter cache checks a chunk before the link acknowledges it
(``ChapterCache.check_chunk``, set as ``SeatLink.chunk_check``).

A chunk of the manifest whose chapter key this seat's key unwraps is proven by its AEAD tag:
AES-GCM (SM4-GCM) verifies the tag over the whole chunk under the chapter's content key ``K``
with the chunk's own nonce and associated data (``seat_protocol.chapter_crypto``: the context
naming session, seat, position and label, then the chunk's index and the chapter's chunk
count), about a sixth of what a SHA-256 of it costs. Why that is enough: ``K`` is known only to
the hub and to this seat (it comes wrapped for this seat's key in the manifest the hub sent
over the authenticated link); the hub derives it from the chapter's context, its text's hash
and the chunk size (one ``K``, one text, one way of cutting it), and a chunk's nonce and
associated data are those of one place in one chapter, so a chunk that verifies is the hub's
sealed piece for exactly that place, byte for byte. Altered, truncated, extended, reordered,
moved from another chapter, seat or session, or sealed for a shorter (truncated) chapter, it
fails.

Anything else is checked by its SHA-256, exactly as before: a chunk that fails the tag (it is
then taken only if it is the named bytes), a chunk of a chapter whose key does not unwrap here
(that chapter is then reported as not opening), a name outside the manifest. This check is the
one the chapter's integrity rests on while it is delivered: a chapter is written (and counts)
once every chunk its manifest entry names has passed it, and its file is not hashed again at
write (``chapter_files.write_chapter``); whenever the file is opened (opening the cache, showing
it, the status check) every chunk's tag is checked again at its place, and the file is hashed
against the manifest's chapter hash only if it does not open (``chapter_files.open_chapter_file``).
Pure: no I/O.
"""

from __future__ import annotations

from seat_agent.keys import SeatIdentity
from seat_protocol.chapter_crypto import (
    ChapterSealError,
    ChunkSeal,
    chapter_context,
    chapter_key,
    chunk_seals,
)
from seat_protocol.messages import ChunkData, ManifestChapter
from seat_protocol.seat_side import sha256_matches

__all__ = ["ChunkSeals"]


class ChunkSeals:
    """The chunks of one manifest, each provable by its tag once its chapter's key is
    unwrapped: lazily, on the first chunk of that chapter (one X25519 agreement, about a
    tenth of a millisecond), so adopting a manifest costs nothing before chunks are asked for."""

    def __init__(
        self,
        session_id: str = "",
        identity: SeatIdentity | None = None,
        chapters: tuple[ManifestChapter, ...] = (),
    ) -> None:
        self._session_id = session_id
        self._identity = identity
        # chunk name -> its chapter; chapter hash -> its seals (None: the key did not unwrap)
        self._chapter_of = {d: c for c in chapters for d in c.chunks} if identity else {}
        self._seals: dict[str, dict[str, ChunkSeal] | None] = {}

    def names(self) -> frozenset[str]:
        return frozenset(self._chapter_of)

    def check(self, sha256: str, data: ChunkData) -> bool:
        """Whether ``data`` may be taken as the chunk named ``sha256`` (see the module)."""
        chapter = self._chapter_of.get(sha256)
        if chapter is not None:
            seals = self._seals_of(chapter)
            if seals is not None and seals[sha256].opens(data):
                return True
        return sha256_matches(sha256, data)

    def _seals_of(self, chapter: ManifestChapter) -> dict[str, ChunkSeal] | None:
        if chapter.sha256 not in self._seals:
            assert self._identity is not None
            context = chapter_context(
                self._session_id, self._identity.seat_id, chapter.label, chapter.position
            )
            try:
                aead = chapter_key(chapter, self._identity.x25519, context)
            except ChapterSealError:
                self._seals[chapter.sha256] = None  # its chunks are checked by SHA-256
            else:
                self._seals[chapter.sha256] = chunk_seals(chapter, aead, context)
        return self._seals[chapter.sha256]
