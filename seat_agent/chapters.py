"""The seat's chapter cache (章节缓存): the expert's chapters, fetched from the hub and kept
encrypted on this terminal's disk until the session ends.

The hub sends a ``chapter_manifest`` (the expert's chapters in their shuffled order, labels
only, each with its content key wrapped for this seat's X25519 key and the SHA-256 of each
encrypted chunk). ``ChapterCache`` then asks for the chunks it lacks, a few at a time, checks
every chunk against its hash and writes it, still encrypted, under ``<state dir>/chapters/``.
A chapter is decrypted only in :meth:`ChapterCache.read`, in memory, to show it.

Resumable: what is on disk survives a dropped link or a restart of the agent and is never asked
for again; chunks asked for on a connection that the protocol resumes arrive through its resend,
so they are not asked for twice either. A chunk damaged on disk is found when the cache opens
or when the chapter is read; it is deleted and fetched again.

Once every chunk of the manifest is on disk, the cache opens every chapter (each chunk and the
whole chapter hash-checked, then decrypted and authenticated) and tells the hub with one
``chapter_status`` message naming the manifest: the hub shows the host that the seat has its
material (已校验), or which chapters it could not open. Reported once per manifest in this
process, and again after a restart of the agent (the hub records a repeat once).

Wiped (every cached byte deleted) when the hub says the session's reading is over (a
``session_state`` notice for the cached session), or when :meth:`wipe` is called.

Layout: ``chapters/manifest.json`` (the manifest as received) and ``chapters/chunks/<sha256>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog

from seat_agent.errors import ChapterNotReady, ChapterUnreadable
from seat_agent.keys import SeatIdentity
from seat_protocol.chapter_crypto import ChapterSealError, chapter_context, open_chapter
from seat_protocol.events import ChunkReceived, Connected, Disconnected, Event, MessageReceived
from seat_protocol.messages import (
    MAX_CHUNKS_PER_REQUEST,
    AppMessage,
    ChapterManifest,
    ChapterStatus,
    ChunkRequest,
    ErrorNotice,
    ManifestChapter,
    SessionStateNotice,
)
from seat_protocol.session_states import READING_OVER

__all__ = ["CachedChapter", "ChapterCache", "Sender"]

log = structlog.get_logger(__name__)

Sender = Callable[[AppMessage], Awaitable[object]]

CHAPTER_DIR = "chapters"
MANIFEST_FILE = "manifest.json"
# Chunks asked for and not yet received: bounds what the hub queues for this seat (and keeps
# unacknowledged in memory) to a few megabytes, while keeping the line busy. The cache asks
# again once half of the window has arrived, so one request (and its ack) goes out per
# WINDOW // 2 chunks rather than per chunk, while at least half a window stays in flight.
WINDOW = 16
# The hub's refusals of a chunk request: asking again cannot help until a new manifest comes.
_REFUSALS = frozenset({"chunk-not-in-manifest", "chunk-unavailable"})


@dataclass(frozen=True)
class CachedChapter:
    """One chapter as the expert's page shows it; ``received / size`` is the progress."""

    label: str
    title: str
    position: int
    size: int
    received: int
    complete: bool


def _manifest_json(session_id: str, chapters: tuple[ManifestChapter, ...]) -> str:
    body = {
        "session_id": session_id,
        "chapters": [{**asdict(c), "chunks": list(c.chunks)} for c in chapters],
    }
    return json.dumps(body, ensure_ascii=False)


def _manifest_from(body: Any) -> tuple[str, tuple[ManifestChapter, ...]]:
    chapters = tuple(
        ManifestChapter(**{**c, "chunks": tuple(c["chunks"])}) for c in body["chapters"]
    )
    return str(body["session_id"]), chapters


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _write_chunk(path: Path, digest: str, data: bytes) -> bool:
    """Check ``data`` against its hash and write it as ``path``; False (nothing written) if
    it does not match. Runs in a worker thread: hashing and writing release the GIL.

    Atomic (a temporary file renamed into place) but not fsync'd, unlike the manifest: a chunk
    file is named by its hash and re-hashed whenever the cache opens or reads it, so one that a
    power failure lost or truncated is found, deleted and fetched again. Syncing each chunk
    would cost a disk flush per 256 KiB (several milliseconds each) for nothing."""
    if hashlib.sha256(data).hexdigest() != digest:
        return False
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return True


def _intact(path: Path, digest: str) -> int | None:
    """The size of the chunk file if it hashes to its name, else None (missing or damaged)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        return None
    return len(data)


class ChapterCache:
    """This seat's encrypted chapters on disk; feed it every link event (``on_event``)."""

    def __init__(self, root: Path, identity: SeatIdentity, *, window: int = WINDOW) -> None:
        if window < 1:
            raise ValueError("the request window must be at least one chunk")
        self._root = root
        self._window = window
        self._chunk_dir = root / "chunks"
        self._identity = identity
        self._session_id: str | None = None
        self._chapters: tuple[ManifestChapter, ...] = ()
        self._present: dict[str, int] = {}  # chunk hash -> size, intact on disk
        self._requested: set[str] = set()  # asked for, not yet received
        self._online = False
        self._stalled = False  # the hub refused a request; wait for a new manifest
        self._reported: str | None = None  # the manifest whose status went to the hub
        self._send: Sender | None = None
        self._listeners: list[Callable[[], None]] = []
        self._lock = asyncio.Lock()

    # --- the public interface -----------------------------------------------------------

    @classmethod
    async def open(
        cls, state_dir: Path, identity: SeatIdentity, *, window: int = WINDOW
    ) -> ChapterCache:
        """Open the cache under ``state_dir``; chunks already there are checked, kept if
        intact and deleted if damaged (they will be fetched again)."""
        cache = cls(state_dir / CHAPTER_DIR, identity, window=window)
        await asyncio.to_thread(cache._load)
        return cache

    def bind(self, send: Sender) -> None:
        """How the cache sends its chunk requests (``SeatLink.send``)."""
        self._send = send

    async def on_event(self, event: Event) -> None:
        async with self._lock:
            if isinstance(event, Connected):
                self._online = True
                self._stalled = False
                if event.lost_incoming or event.peer_lost:
                    # Requests or chunks in flight may be gone with the lost messages.
                    self._requested.clear()
                await self._request_more()
                await self._report_if_complete()
            elif isinstance(event, Disconnected):
                self._online = False
            elif isinstance(event, ChunkReceived):
                await self._store(event.sha256, event.data)
            elif isinstance(event, MessageReceived):
                msg = event.message
                if isinstance(msg, ChapterManifest):
                    await self._adopt(msg)
                elif isinstance(msg, SessionStateNotice):
                    if msg.session_id == self._session_id and msg.state in READING_OVER:
                        log.info("seat.chapters_session_ended", state=msg.state)
                        await self._wipe()
                elif isinstance(msg, ErrorNotice) and msg.code in _REFUSALS:
                    log.warning("seat.chunks_refused", code=msg.code, ref=msg.ref)
                    self._requested.clear()
                    self._stalled = True

    def entries(self) -> list[CachedChapter]:
        """The chapters in the expert's shuffled order, with their download progress."""
        out = []
        for c in sorted(self._chapters, key=lambda c: c.position):
            received = sum(self._present.get(h, 0) for h in c.chunks)
            complete = all(h in self._present for h in c.chunks)
            out.append(CachedChapter(c.label, c.title, c.position, c.size, received, complete))
        return out

    async def read(self, label: str) -> str:
        """The chapter's text, decrypted in memory; ``ChapterNotReady`` if not all here."""
        async with self._lock:
            chapter = next((c for c in self._chapters if c.label == label), None)
            if chapter is None or self._session_id is None:
                raise ChapterNotReady(f"章节「{label}」不在本工位的评审材料中，或材料已清除")
            if not all(h in self._present for h in chapter.chunks):
                received = sum(self._present.get(h, 0) for h in chapter.chunks)
                raise ChapterNotReady(
                    f"章节「{label}」尚未下载完成（已接收 {received}/{chapter.size} 字节），请稍候"
                )
            chunks = await asyncio.to_thread(self._read_chunks, chapter)
            damaged = [h for h in chapter.chunks if h not in chunks]
            if damaged:
                for digest in damaged:
                    self._forget(digest)
                log.warning("seat.chapter_damaged", label=label, chunks=len(damaged))
                self._notify()
                await self._request_more()
                raise ChapterNotReady(
                    f"章节「{label}」的本地缓存校验未通过，已自动重新下载，请稍候再打开"
                )
            context = chapter_context(
                self._session_id, self._identity.seat_id, chapter.label, chapter.position
            )
            try:
                plain = open_chapter(chapter, chunks, self._identity.x25519, context)
                return plain.decode("utf-8")
            except (ChapterSealError, UnicodeDecodeError) as exc:
                log.error("seat.chapter_unreadable", label=label, error=str(exc))
                raise ChapterUnreadable(
                    f"章节「{label}」无法用本工位的密钥解密，请联系现场工作人员重新发放章节"
                ) from None

    def add_listener(self, callback: Callable[[], None]) -> None:
        """``callback()`` after every change of the chapters or their progress."""
        self._listeners.append(callback)

    async def wipe(self) -> None:
        """Delete every cached byte (the session ended)."""
        async with self._lock:
            await self._wipe()

    # --- inside ------------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        return self._session_id

    def _load(self) -> None:
        self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._chunk_dir.mkdir(mode=0o700, exist_ok=True)
        manifest = self._root / MANIFEST_FILE
        if manifest.exists():
            try:
                self._session_id, self._chapters = _manifest_from(
                    json.loads(manifest.read_text("utf-8"))
                )
            except (ValueError, KeyError, TypeError):
                log.warning("seat.chapter_manifest_unreadable")
                self._session_id, self._chapters = None, ()
        wanted = {h for c in self._chapters for h in c.chunks}
        for path in self._chunk_dir.iterdir():
            size = _intact(path, path.name) if path.name in wanted else None
            if size is None:
                path.unlink()  # damaged, half-written or of an older manifest
            else:
                self._present[path.name] = size

    def _read_chunks(self, chapter: ManifestChapter) -> dict[str, bytes]:
        """The chapter's chunks that are intact on disk."""
        out = {}
        for digest in chapter.chunks:
            with contextlib.suppress(FileNotFoundError):
                data = (self._chunk_dir / digest).read_bytes()
                if hashlib.sha256(data).hexdigest() == digest:
                    out[digest] = data
        return out

    def _forget(self, digest: str) -> None:
        self._present.pop(digest, None)
        with contextlib.suppress(FileNotFoundError):
            (self._chunk_dir / digest).unlink()

    def _missing(self) -> list[str]:
        seen: set[str] = set()
        out = []
        for c in sorted(self._chapters, key=lambda c: c.position):
            for h in c.chunks:
                if h not in self._present and h not in seen:
                    seen.add(h)
                    out.append(h)
        return out

    async def _request_more(self) -> None:
        if not self._online or self._stalled or self._send is None:
            return
        room = self._window - len(self._requested)
        if self._requested and room < max(1, self._window // 2):
            return  # more than half a window in flight: ask when half of it has arrived
        ask = [h for h in self._missing() if h not in self._requested][: max(0, room)]
        for i in range(0, len(ask), MAX_CHUNKS_PER_REQUEST):
            batch = tuple(ask[i : i + MAX_CHUNKS_PER_REQUEST])
            self._requested.update(batch)
            await self._send(ChunkRequest(chunks=batch))

    async def _adopt(self, msg: ChapterManifest) -> None:
        wanted = {h for c in msg.chapters for h in c.chunks}
        await asyncio.to_thread(
            _write_atomic,
            self._root / MANIFEST_FILE,
            _manifest_json(msg.session_id, msg.chapters).encode("utf-8"),
        )
        for digest in [h for h in self._present if h not in wanted]:
            self._forget(digest)
        self._session_id, self._chapters = msg.session_id, msg.chapters
        self._requested &= wanted
        self._stalled = False
        log.info(
            "seat.chapter_manifest",
            session_id=msg.session_id,
            chapters=len(msg.chapters),
            chunks=len(wanted),
            present=len(self._present),
        )
        self._notify()
        await self._request_more()
        await self._report_if_complete()

    async def _store(self, digest: str, data: bytes) -> None:
        self._requested.discard(digest)
        wanted = any(digest in c.chunks for c in self._chapters)
        if wanted and digest not in self._present:
            # The protocol checked the hash already; checked again (off the event loop) right
            # before the write, so nothing but matching bytes is ever stored.
            if not await asyncio.to_thread(_write_chunk, self._chunk_dir / digest, digest, data):
                log.error("seat.chunk_damaged_on_arrival", sha256=digest)
            else:
                self._present[digest] = len(data)
                self._notify()
        await self._request_more()
        await self._report_if_complete()

    async def _report_if_complete(self) -> None:
        """Open every chapter once all chunks are here, and tell the hub how that went."""
        session_id, chapters = self._session_id, self._chapters
        if session_id is None or not chapters or self._send is None:
            return
        if any(h not in self._present for c in chapters for h in c.chunks):
            return
        digest = ChapterStatus.digest_of(session_id, chapters)
        if digest == self._reported:
            return
        verified, failed, damaged = await asyncio.to_thread(self._open_all, session_id, chapters)
        if damaged:
            # A chunk rotted on disk since it arrived: fetch it again, report once it is back.
            for chunk in damaged:
                self._forget(chunk)
            log.warning("seat.chapter_damaged", chunks=len(damaged))
            self._notify()
            await self._request_more()
            return
        self._reported = digest
        log.info("seat.chapters_checked", verified=verified, failed=len(failed))
        await self._send(
            ChapterStatus(
                session_id=session_id,
                manifest=digest,
                chapters=len(chapters),
                verified=verified,
                failed=tuple(failed),
            )
        )

    def _open_all(
        self, session_id: str, chapters: tuple[ManifestChapter, ...]
    ) -> tuple[int, list[str], list[str]]:
        """(chapters opened, labels that would not open, chunk hashes damaged on disk); in a
        worker thread. The plain text is dropped at once: only ``read`` keeps it, in memory."""
        verified, failed, damaged = 0, [], []
        for chapter in sorted(chapters, key=lambda c: c.position):
            chunks = self._read_chunks(chapter)
            missing = [h for h in chapter.chunks if h not in chunks]
            if missing:
                damaged.extend(missing)
                continue
            context = chapter_context(
                session_id, self._identity.seat_id, chapter.label, chapter.position
            )
            try:
                open_chapter(chapter, chunks, self._identity.x25519, context)
            except ChapterSealError as exc:
                log.error("seat.chapter_unreadable", label=chapter.label, error=str(exc))
                failed.append(chapter.label)
            else:
                verified += 1
        return verified, failed, damaged

    async def _wipe(self) -> None:
        await asyncio.to_thread(shutil.rmtree, self._root, True)
        await asyncio.to_thread(self._root.mkdir, 0o700, True, True)
        await asyncio.to_thread(self._chunk_dir.mkdir, 0o700, False, True)
        self._session_id, self._chapters = None, ()
        self._present.clear()
        self._requested.clear()
        self._reported = None
        log.info("seat.chapters_wiped")
        self._notify()

    def _notify(self) -> None:
        for callback in list(self._listeners):
            try:
                callback()
            except Exception:
                log.exception("seat.chapter_listener_failed")
