"""The seat's chapter cache (章节缓存): the expert's chapters, fetched from the hub and kept
encrypted on this terminal's disk until the session ends.

The hub sends a ``chapter_manifest`` (the expert's chapters in their shuffled order, labels
only, each with its content key wrapped for this seat's X25519 key and the SHA-256 of each
encrypted chunk). ``ChapterCache`` then asks for the chunks it lacks, a few at a time, and
keeps each (checked before the link acknowledges it: by its AEAD tag at its place, else its
SHA-256, ``seat_agent.chunk_seals``) in memory until its chapter is whole, every chunk the
manifest names for it checked; then the chapter is written, still encrypted, as one file under
``<state dir>/chapters/sealed/`` with one fsync (``seat_agent.chapter_files``), beside the link:
the next chapter keeps arriving meanwhile. No chunk is synced on its own. Plain text is kept
only by :meth:`ChapterCache.read`, in memory, to show it (the tag checks and the status check
decrypt into buffers dropped at once).

Crash safety: a chapter counts (``complete``, readable, reported) only once its file is written
and synced. A crash or stop mid-chapter leaves at most a ``.tmp`` file, which opening the cache
deletes, and the chunks held in memory are gone: that chapter is fetched again whole. A chapter
file that does not match the manifest's chapter hash (damaged on disk) is found when the cache
opens, when the chapter is read, or before the status is reported; it is deleted and fetched
again. Whole chapters survive a dropped link or a restart of the agent and are never asked for
again; chunks asked for on a connection that the protocol resumes arrive through its resend,
so they are not asked for twice either.

Once every chapter of the manifest is on disk, the cache opens every chapter (decrypted chunk
by chunk, every tag verified at its place; hashed only if it does not open) and tells the hub with one
``chapter_status`` message naming the manifest: the hub shows the host that the seat has its
material (已校验), or which chapters it could not open. Reported once per manifest in this
process, and again after a restart of the agent (the hub records a repeat once).

Wiped (every cached byte deleted) when the hub says the session's reading is over (a
``session_state`` notice for the cached session), or when :meth:`wipe` is called.

Layout: ``chapters/manifest.json`` (the manifest as received, fsync'd) and
``chapters/sealed/<chapter sha256>``. A ``chapters/chunks/`` directory (one file per chunk, from
agents before whole-chapter files) is deleted when the cache opens; its chapters are fetched
again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import structlog

from seat_agent.chapter_files import (
    ManifestWriter,
    OpenedFile,
    manifest_from,
    manifest_json,
    open_chapter_file,
    write_chapter,
)
from seat_agent.chunk_seals import ChunkSeals
from seat_agent.errors import ChapterNotReady, ChapterUnreadable
from seat_agent.keys import SeatIdentity
from seat_protocol.chapter_crypto import chapter_context
from seat_protocol.events import ChunkReceived, Connected, Disconnected, Event, MessageReceived
from seat_protocol.messages import (
    MAX_CHUNKS_PER_REQUEST,
    AppMessage,
    ChapterManifest,
    ChapterStatus,
    ChunkData,
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
SEALED_DIR = "sealed"  # one file per chapter, named by the chapter's SHA-256
LEGACY_CHUNK_DIR = "chunks"  # one file per chunk (agents before whole-chapter files)
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


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _owners_of(chapters: tuple[ManifestChapter, ...]) -> dict[str, list[ManifestChapter]]:
    owners: dict[str, list[ManifestChapter]] = {}
    for chapter in chapters:
        for digest in chapter.chunks:
            owners.setdefault(digest, []).append(chapter)
    return owners


class ChapterCache:
    """This seat's encrypted chapters on disk; feed it every link event (``on_event``)."""

    def __init__(self, root: Path, identity: SeatIdentity, *, window: int = WINDOW) -> None:
        if window < 1:
            raise ValueError("the request window must be at least one chunk")
        self._root = root
        self._window = window
        self._chapter_dir = root / SEALED_DIR
        self._identity = identity
        self._session_id: str | None = None
        self._chapters: tuple[ManifestChapter, ...] = ()
        # Chunk name -> what authenticates it at its place in the manifest (``check_chunk``),
        # for the chapters whose content key this seat's key unwrapped.
        self._seals = ChunkSeals()
        # Chunks of chapters not yet on disk, checked (``check_chunk``), in memory until their chapter is
        # whole and written (one file, one fsync per chapter).
        self._pending: dict[str, ChunkData] = {}
        self._stored: set[str] = set()  # chapter hashes whose file is written and synced
        self._writing: dict[str, asyncio.Task[None]] = {}  # chapter hash -> its write
        # The latest manifest's write to disk, beside the link (see ``_adopt``).
        self._manifest = ManifestWriter(root / MANIFEST_FILE)
        # Chunk name -> the chapters of the manifest that name it.
        self._owners: dict[str, list[ManifestChapter]] = {}
        self._wipes = 0  # a write that finishes after a wipe is thrown away
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
        """Open the cache under ``state_dir``; chapters already there are checked, kept if
        whole and deleted if damaged or cut off by a crash (they will be fetched again)."""
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

    async def settled(self) -> None:
        """Wait until the manifest and every chapter whose chunks are all here are written
        and synced."""
        await self._manifest.written()
        while self._writing:
            await asyncio.wait(set(self._writing.values()))

    def entries(self) -> list[CachedChapter]:
        """The chapters in the expert's shuffled order, with their download progress; a
        chapter is complete once it is written to disk and synced."""
        out = []
        for c in sorted(self._chapters, key=lambda c: c.position):
            complete = c.sha256 in self._stored
            received = c.size if complete else sum(len(self._pending.get(h, b"")) for h in c.chunks)
            out.append(CachedChapter(c.label, c.title, c.position, c.size, received, complete))
        return out

    async def read(self, label: str) -> str:
        """The chapter's text, decrypted in memory; ``ChapterNotReady`` if not all here."""
        async with self._lock:
            chapter = next((c for c in self._chapters if c.label == label), None)
            if chapter is None or self._session_id is None:
                raise ChapterNotReady(f"章节「{label}」不在本工位的评审材料中，或材料已清除")
            if chapter.sha256 not in self._stored:
                received = sum(len(self._pending.get(h, b"")) for h in chapter.chunks)
                raise ChapterNotReady(
                    f"章节「{label}」尚未下载完成（已接收 {received}/{chapter.size} 字节），请稍候"
                )
            opened = await asyncio.to_thread(self._open_file, self._session_id, chapter)
            if opened.damaged:
                self._forget(chapter)
                log.warning("seat.chapter_damaged", label=label)
                self._notify()
                await self._request_more()
                raise ChapterNotReady(
                    f"章节「{label}」的本地缓存校验未通过，已自动重新下载，请稍候再打开"
                )
            if opened.text is not None:
                with contextlib.suppress(UnicodeDecodeError):
                    return opened.text.decode("utf-8")
            log.error("seat.chapter_unreadable", label=label, error=opened.error or "not UTF-8")
            raise ChapterUnreadable(
                f"章节「{label}」无法用本工位的密钥解密，请联系现场工作人员重新发放章节"
            )

    def check_chunk(self, sha256: str, data: ChunkData) -> bool:
        """Whether ``data`` may be taken (and acknowledged) as the chunk named ``sha256``; the
        link calls this for every chunk before acknowledging it (``SeatLink.chunk_check``): by
        its AEAD tag if it is a chunk of the manifest, else by its SHA-256
        (``seat_agent.chunk_seals``)."""
        return self._seals.check(sha256, data)

    @property
    def chapters_stored(self) -> int:
        """How many chapters of the manifest are written and synced (cheap: for progress)."""
        return len(self._stored)

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

    def _path(self, chapter: ManifestChapter) -> Path:
        return self._chapter_dir / chapter.sha256

    def _open_file(self, session_id: str | None, chapter: ManifestChapter) -> OpenedFile:
        """``open_chapter_file`` as a chapter of ``session_id`` (None: no manifest, stale)."""
        if session_id is None:
            return OpenedFile(None, True, "no manifest")
        context = chapter_context(
            session_id, self._identity.seat_id, chapter.label, chapter.position
        )
        return open_chapter_file(self._path(chapter), chapter, self._identity.x25519, context)

    def _load(self) -> None:
        self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Chunk files of an agent from before whole-chapter files: fetched again.
        shutil.rmtree(self._root / LEGACY_CHUNK_DIR, ignore_errors=True)
        self._chapter_dir.mkdir(mode=0o700, exist_ok=True)
        manifest = self._root / MANIFEST_FILE
        if manifest.exists():
            try:
                self._session_id, self._chapters = manifest_from(
                    json.loads(manifest.read_text("utf-8"))
                )
            except (ValueError, KeyError, TypeError):
                log.warning("seat.chapter_manifest_unreadable")
                self._session_id, self._chapters = None, ()
        if self._session_id is not None:
            self._seals = ChunkSeals(self._session_id, self._identity, self._chapters)
        self._owners = _owners_of(self._chapters)
        wanted = {c.sha256: c for c in self._chapters}
        for path in self._chapter_dir.iterdir():
            chapter = wanted.get(path.name)
            if chapter is not None and not self._open_file(self._session_id, chapter).damaged:
                self._stored.add(chapter.sha256)
            else:
                path.unlink(missing_ok=True)  # damaged, cut off mid-write (.tmp) or stale

    def _forget(self, chapter: ManifestChapter) -> None:
        self._stored.discard(chapter.sha256)
        with contextlib.suppress(FileNotFoundError):
            self._path(chapter).unlink()

    def _have(self, chapter: ManifestChapter, digest: str) -> bool:
        return chapter.sha256 in self._stored or digest in self._pending

    def _missing(self) -> Iterator[str]:
        """The chunks not here, in reading order, each once; lazily, as a request takes only
        what its window has room for (it runs after every chunk)."""
        seen: set[str] = set()
        for c in sorted(self._chapters, key=lambda c: c.position):
            if c.sha256 in self._stored:
                continue
            for h in c.chunks:
                if h not in self._pending and h not in seen:
                    seen.add(h)
                    yield h

    async def _request_more(self) -> None:
        if not self._online or self._stalled or self._send is None:
            return
        room = self._window - len(self._requested)
        if self._requested and room < max(1, self._window // 2):
            return  # more than half a window in flight: ask when half of it has arrived
        ask = list(islice((h for h in self._missing() if h not in self._requested), max(0, room)))
        for i in range(0, len(ask), MAX_CHUNKS_PER_REQUEST):
            batch = tuple(ask[i : i + MAX_CHUNKS_PER_REQUEST])
            self._requested.update(batch)
            await self._send(ChunkRequest(chunks=batch))

    async def _adopt(self, msg: ChapterManifest) -> None:
        # Written and synced beside the link, so chunks are asked for without waiting for an
        # fsync. Safe: the manifest on disk only decides which chapter files a restarted agent
        # keeps (``_load``); after a crash before it is durable the previous one (or none) is
        # read and this one's chapter files, not named there, are deleted and fetched again.
        # The status waits for it; so do a wipe and the next manifest (one writer at a time).
        await self._manifest.start(manifest_json(msg.session_id, msg.chapters).encode("utf-8"))
        self._seals = ChunkSeals(msg.session_id, self._identity, msg.chapters)
        kept = {c.sha256 for c in msg.chapters}
        dropped = [c for c in self._chapters if c.sha256 not in kept]
        if dropped:
            # Deleted off the loop (8 chapters of 2 MiB took 6.6 ms on it). A file is named by
            # its chapter's hash, so no chapter of this manifest shares a dropped one's path.
            self._stored.difference_update(c.sha256 for c in dropped)
            await asyncio.to_thread(_unlink_all, [self._path(c) for c in dropped])
        wanted = {h for c in msg.chapters for h in c.chunks}
        self._pending = {h: d for h, d in self._pending.items() if h in wanted}
        self._session_id, self._chapters = msg.session_id, msg.chapters
        self._owners = _owners_of(msg.chapters)
        self._requested &= wanted
        self._stalled = False
        log.info(
            "seat.chapter_manifest",
            session_id=msg.session_id,
            chapters=len(msg.chapters),
            chunks=len(wanted),
            stored=len(self._stored & kept),
        )
        self._notify()
        for chapter in msg.chapters:
            self._write_if_whole(chapter)
        await self._request_more()
        await self._report_if_complete()

    async def _store(self, digest: str, data: ChunkData) -> None:
        # Kept as they came: the link checked each (``check_chunk``) before acknowledging it,
        # which is what makes a chapter of them the manifest's (``seat_agent.chunk_seals``).
        self._requested.discard(digest)
        owners = self._owners.get(digest, ())
        if any(not self._have(c, digest) for c in owners):
            self._pending[digest] = data
            self._notify()
            for chapter in owners:
                self._write_if_whole(chapter)
        await self._request_more()

    def _write_if_whole(self, chapter: ManifestChapter) -> None:
        """Start writing the chapter (beside the link) once all its chunks are here."""
        if chapter.sha256 in self._stored or chapter.sha256 in self._writing:
            return
        if not all(h in self._pending for h in chapter.chunks):
            return
        pieces = [self._pending[h] for h in chapter.chunks]
        task = asyncio.create_task(self._write(chapter, pieces, self._wipes))
        self._writing[chapter.sha256] = task

    async def _write(self, chapter: ManifestChapter, pieces: list[ChunkData], wipes: int) -> None:
        path = self._path(chapter)
        try:
            await asyncio.to_thread(write_chapter, path, pieces)
        except OSError as exc:
            log.error("seat.chapter_write_failed", label=chapter.label, error=str(exc))
            written = False  # nothing counts as written: its chunks are fetched again
        else:
            written = True
        async with self._lock:
            try:
                await self._written(chapter, path, written, wipes)
            finally:
                # Only now: ``settled`` waits for this task while it is listed, status included.
                del self._writing[chapter.sha256]

    async def _written(
        self, chapter: ManifestChapter, path: Path, written: bool, wipes: int
    ) -> None:
        if wipes != self._wipes or chapter not in self._chapters:
            # Wiped, or replaced by another manifest while it was being written.
            await asyncio.to_thread(path.unlink, True)  # missing_ok
            return
        for digest in chapter.chunks:
            self._pending.pop(digest, None)
        if written:
            self._stored.add(chapter.sha256)
        self._notify()
        await self._request_more()
        await self._report_if_complete()

    async def _report_if_complete(self) -> None:
        """Open every chapter once all are on disk, and tell the hub how that went."""
        session_id, chapters = self._session_id, self._chapters
        if session_id is None or not chapters or self._send is None:
            return
        if any(c.sha256 not in self._stored for c in chapters):
            return
        digest = ChapterStatus.digest_of(session_id, chapters)
        if digest == self._reported:
            return
        await self._manifest.written()
        verified, failed, damaged = await asyncio.to_thread(self._open_all, session_id, chapters)
        if damaged:
            # A chapter rotted on disk since it was written: fetch it again, report once back.
            for chapter in damaged:
                self._forget(chapter)
            log.warning("seat.chapter_damaged", chapters=len(damaged))
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
    ) -> tuple[int, list[str], list[ManifestChapter]]:
        """(chapters opened, labels that would not open, chapters damaged on disk); in a
        worker thread. The plain text is dropped at once: only ``read`` keeps it, in memory."""
        verified: int = 0
        failed: list[str] = []
        damaged: list[ManifestChapter] = []
        for chapter in sorted(chapters, key=lambda c: c.position):
            opened = self._open_file(session_id, chapter)
            if opened.damaged:
                damaged.append(chapter)
            elif opened.text is None:
                log.error("seat.chapter_unreadable", label=chapter.label, error=opened.error)
                failed.append(chapter.label)
            else:
                verified += 1
        return verified, failed, damaged

    async def _wipe(self) -> None:
        await self._manifest.written()
        self._wipes += 1
        await asyncio.to_thread(shutil.rmtree, self._root, True)
        await asyncio.to_thread(self._root.mkdir, 0o700, True, True)
        await asyncio.to_thread(self._chapter_dir.mkdir, 0o700, False, True)
        self._session_id, self._chapters = None, ()
        self._seals = ChunkSeals()
        self._owners = {}
        self._pending.clear()
        self._stored.clear()
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
