"""The sealed chapter chunks this hub process holds for seats (章节密文缓存).

Chapter release (``evaluation_hub.seats.chapters``) seals each seated expert's chapters for
their seat and puts the result here, keyed by content hash; the seat websocket answers a
seat's chunk requests from it (``chunk``). The chunks stay in this process's memory until the
session's reading is over (``seat_protocol.session_states.READING_OVER``, see
``evaluation_hub.seats.session_notices``): they are derived data, re-derived from the
database and the package directory by any hub process the seat connects to
(``evaluation_hub.seats.chapter_handover``), and they must not outlive the process in clear
reach of the database's readers.

A release made while a seat had no connection to this process waits here
(``wait_for``) until the seat connects: its catch-up (``evaluation_hub.seats.catch_up``) takes
the manifest (``take_waiting``).

Delivery progress (送达进度): every chunk handed to a seat is noted (``served``), and the call
that completes the seat's latest manifest says so, once, so the seat's delivery can be recorded
as received (``evaluation_hub.seats.deliveries``). Chunks of an earlier release that the new
manifest names again count as handed over: a seat keeps what it has and asks only for the rest.
Pure in-memory state, no I/O.
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
    # seat key -> the chunks of its latest manifest handed to it so far (in this process)
    _served: dict[str, set[str]] = field(default_factory=dict)
    # seat keys whose latest manifest has had every chunk handed over (told once)
    _complete: set[str] = field(default_factory=set)

    def put(self, seat_key: str, manifest: ChapterManifest, chunks: dict[str, bytes]) -> None:
        hashes = frozenset(chunks)
        self._seats[seat_key] = (manifest, hashes)
        self._served[seat_key] = self._served.get(seat_key, set()) & hashes
        self._complete.discard(seat_key)
        self._chunks.update(chunks)
        self._drop_unreferenced()

    def served(self, seat_key: str, sha256: str) -> ChapterManifest | None:
        """Note that ``sha256`` was handed to the seat; the seat's latest manifest if this
        completed it (once per manifest), else None."""
        entry = self._seats.get(seat_key)
        if entry is None or sha256 not in entry[1]:
            return None
        self._served.setdefault(seat_key, set()).add(sha256)
        return self.completed(seat_key)

    def completed(self, seat_key: str) -> ChapterManifest | None:
        """The seat's latest manifest if every chunk of it has been handed over and nobody
        was told yet (then it is told: once per manifest), else None."""
        entry = self._seats.get(seat_key)
        if entry is None or seat_key in self._complete:
            return None
        if not entry[1] <= self._served.get(seat_key, set()):
            return None
        self._complete.add(seat_key)
        return entry[0]

    def forget_session(self, session_id: str) -> list[str]:
        """Drop every seat's release of ``session_id`` (its reading is over); the seat keys."""
        gone = [
            key for key, (manifest, _) in self._seats.items() if manifest.session_id == session_id
        ]
        for key in gone:
            del self._seats[key]
            self._waiting.discard(key)
            self._served.pop(key, None)
            self._complete.discard(key)
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

    @property
    def held_chunks(self) -> int:
        return len(self._chunks)

    @property
    def served_chunks(self) -> int:
        """Chunks of the seats' latest releases handed over so far (the metrics read it)."""
        return sum(len(served) for served in self._served.values())
