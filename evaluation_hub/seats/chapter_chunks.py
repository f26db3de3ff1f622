"""The sealed chapter chunks this hub process holds for seats (章节密文缓存).

Chapter release (``evaluation_hub.seats.chapters``) seals each seated expert's chapters for
their seat and puts the result here, keyed by content hash; the seat websocket answers a
seat's chunk requests from it (``chunk``). The chunks stay in this process's memory until the
session's reading is over (``seat_protocol.session_states.READING_OVER``, see
``evaluation_hub.seats.session_notices``): they are derived data, cheap to rebuild from the
database and the package directory by releasing again, and they must not outlive the process
in clear reach of the database's readers.

A release made while a seat had no connection to this process waits here
(``wait_for``) until the seat connects: its catch-up (``evaluation_hub.seats.catch_up``) takes
the manifest (``take_waiting``). Pure in-memory state, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seat_protocol.messages import CHUNK_SIZE as PROTOCOL_CHUNK_SIZE
from seat_protocol.messages import ChapterManifest

__all__ = ["ChapterChunks"]


@dataclass
class ChapterChunks:
    """Sealed chunks by content hash, and which seat each prepared set belongs to."""

    chunk_size: int = PROTOCOL_CHUNK_SIZE
    _chunks: dict[str, bytes] = field(default_factory=dict)
    # seat key -> (manifest, its chunk hashes); the latest release for that seat
    _seats: dict[str, tuple[ChapterManifest, frozenset[str]]] = field(default_factory=dict)
    # seat keys whose manifest could not be handed to a channel yet (no connection so far)
    _waiting: set[str] = field(default_factory=set)

    def put(self, seat_key: str, manifest: ChapterManifest, chunks: dict[str, bytes]) -> None:
        self._seats[seat_key] = (manifest, frozenset(chunks))
        self._chunks.update(chunks)
        self._drop_unreferenced()

    def forget_session(self, session_id: str) -> list[str]:
        """Drop every seat's release of ``session_id`` (its reading is over); the seat keys."""
        gone = [
            key for key, (manifest, _) in self._seats.items() if manifest.session_id == session_id
        ]
        for key in gone:
            del self._seats[key]
            self._waiting.discard(key)
        self._drop_unreferenced()
        return gone

    def _drop_unreferenced(self) -> None:
        live = {h for _, hashes in self._seats.values() for h in hashes}
        for digest in [h for h in self._chunks if h not in live]:
            del self._chunks[digest]

    def chunk(self, seat_key: str, sha256: str) -> bytes | None:
        """The chunk if it belongs to this seat's latest release (defence in depth: the
        protocol machine already refuses hashes outside the seat's manifests)."""
        entry = self._seats.get(seat_key)
        if entry is None or sha256 not in entry[1]:
            return None
        return self._chunks.get(sha256)

    def wait_for(self, seat_key: str) -> None:
        """The seat's latest manifest is to be delivered when it connects."""
        self._waiting.add(seat_key)

    def take_waiting(self, seat_key: str) -> ChapterManifest | None:
        """The manifest released while the seat had no connection here, once (the caller
        hands it to the seat's channel, which the seat now has)."""
        if seat_key not in self._waiting or seat_key not in self._seats:
            return None
        self._waiting.discard(seat_key)
        return self._seats[seat_key][0]

    def manifest(self, seat_key: str) -> ChapterManifest | None:
        entry = self._seats.get(seat_key)
        return entry[0] if entry else None

    @property
    def held_bytes(self) -> int:
        return sum(len(c) for c in self._chunks.values())
