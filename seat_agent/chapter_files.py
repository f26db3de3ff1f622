"""The files of the seat's chapter cache (``seat_agent.chapters``): a chapter is one file,
written once all its chunks are here and made durable with one fsync; no I/O elsewhere in the
cache touches these bytes.

A chapter file is the count of chunks and their lengths (big-endian 32-bit integers), then the
sealed chunks in manifest order, still encrypted. It is written as ``<name>.tmp``, synced,
renamed to its name (the chapter's SHA-256) and its directory synced: after a crash the file
is either whole or a ``.tmp`` that the cache deletes when it opens.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from seat_protocol.chapter_crypto import ChapterSealError, open_sealed
from seat_protocol.messages import ChunkData, ManifestChapter
from seat_protocol.sm2 import SM2PrivateKey

__all__ = [
    "ManifestWriter",
    "OpenedFile",
    "manifest_from",
    "manifest_json",
    "open_chapter_file",
    "write_atomic",
    "write_chapter",
]


log = structlog.get_logger(__name__)
# The most buffers one writev takes (1,024 on Linux).
_IOV_MAX = os.sysconf("SC_IOV_MAX")


class ManifestWriter:
    """The cache's ``manifest.json``, written and synced in a worker thread beside the link
    (``ChapterCache._adopt`` says why that is safe); one write at a time."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._task: asyncio.Task[None] | None = None

    async def start(self, data: bytes) -> None:
        """Start writing ``data`` once the previous write (same ``.tmp`` file) is done."""
        await self.written()
        self._task = asyncio.create_task(self._write(data))

    async def written(self) -> None:
        """Wait for the write under way, if any; a cancelled waiter does not cancel it (the
        file is never left half-replaced by us)."""
        task = self._task
        if task is not None:
            await asyncio.wait({task})
            if self._task is task:
                self._task = None

    async def _write(self, data: bytes) -> None:
        try:
            await asyncio.to_thread(write_atomic, self._path, data)
        except OSError as exc:
            # The cache keeps the manifest in memory and goes on; a restarted agent reads the
            # previous one and fetches this manifest's chapters again.
            log.error("seat.chapter_manifest_write_failed", error=str(exc))


def manifest_json(session_id: str, chapters: tuple[ManifestChapter, ...]) -> str:
    """The cache's ``manifest.json``: the manifest as received."""
    body = {
        "session_id": session_id,
        "chapters": [{**asdict(c), "chunks": list(c.chunks)} for c in chapters],
    }
    return json.dumps(body, ensure_ascii=False)


def manifest_from(body: Any) -> tuple[str, tuple[ManifestChapter, ...]]:
    """The session and chapters of a parsed ``manifest.json``."""
    chapters = tuple(
        ManifestChapter(**{**c, "chunks": tuple(c["chunks"])}) for c in body["chapters"]
    )
    return str(body["session_id"]), chapters


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _write_all(fd: int, parts: list[ChunkData]) -> None:
    """Write ``parts`` in order with as few ``writev`` calls as the kernel allows (one, for a
    chapter of up to 1,023 chunks): no copy into one buffer, one syscall instead of two per
    chunk; a short write goes on where it stopped."""
    views = [memoryview(p) for p in parts if p]
    while views:
        written = os.writev(fd, views[:_IOV_MAX])
        while views and written >= len(views[0]):
            written -= len(views.pop(0))
        if written:
            views[0] = views[0][written:]


def write_chapter(path: Path, pieces: list[ChunkData]) -> None:
    """Write a whole chapter's chunks as one file, made durable with one fsync (and one of
    its directory, for the rename); runs in a worker thread (writing and syncing release the
    GIL), so the link keeps receiving the next chapter meanwhile. ``OSError`` if it cannot.

    The chunks are not hashed here: each was checked before the link acknowledged it (by its
    AEAD tag bound to its chapter, index and count, else by its SHA-256:
    ``seat_agent.chunk_seals``), and the cache writes a chapter only once every chunk the
    manifest names for it is here, so the pieces are the manifest's chapter, byte for byte
    (docs/seat-protocol.md, *Chunk check*). The file is checked whenever it is opened
    (``open_chapter_file``: on opening the cache, on every read and in the status check).

    The file is the count of chunks and their lengths (big-endian 32-bit), then the chunks in
    manifest order. Until the rename, the chapter exists only as ``<name>.tmp``, which opening
    the cache deletes: a crash mid-chapter leaves nothing that counts as that chapter."""
    header = struct.pack(f">{len(pieces) + 1}I", len(pieces), *map(len, pieces))
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        _write_all(fd, [header, *pieces])
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


@dataclass(frozen=True)
class OpenedFile:
    """What opening a chapter's file found (``open_chapter_file``)."""

    text: bytes | None  # the chapter's plain text, if it opened
    damaged: bool  # not the manifest's chapter (missing, cut short, altered): fetch it again
    error: str = ""  # why it did not open


def open_chapter_file(
    path: Path,
    chapter: ManifestChapter,
    key: X25519PrivateKey | SM2PrivateKey,
    context: str,
) -> OpenedFile:
    """Read and decrypt the chapter's file, each chunk proven by its AEAD tag
    (``open_sealed``): what opens is the manifest's chapter, byte for byte, so the file is not
    hashed as well (the tags cost about a tenth of a SHA-256 of it: 16 MiB took 2-3 ms against
    22 ms here). Only a file that does not open is hashed, to tell a damaged file (fetch it
    again) from the manifest's bytes that this seat's key cannot open (report it)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return OpenedFile(None, True, "missing")
    split = _split(data, chapter)
    if split is None:
        return OpenedFile(None, True, "cut short or altered")
    body, pieces = split
    try:
        return OpenedFile(open_sealed(chapter, pieces, key, context), False)
    except ChapterSealError as exc:
        return OpenedFile(None, hashlib.sha256(body).hexdigest() != chapter.sha256, str(exc))


def _split(data: bytes, chapter: ManifestChapter) -> tuple[memoryview, list[memoryview]] | None:
    """A chapter file's body (its chunks, concatenated) and each chunk, as views, if its
    header fits the manifest; else None."""
    count = len(chapter.chunks)
    head = 4 * (count + 1)
    if len(data) < head or struct.unpack_from(">I", data)[0] != count:
        return None
    lengths = struct.unpack_from(f">{count}I", data, 4)
    body = memoryview(data)[head:]
    if sum(lengths) != len(body):
        return None
    pieces, at = [], 0
    for length in lengths:
        pieces.append(body[at : at + length])
        at += length
    return body, pieces
