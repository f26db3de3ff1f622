"""The recordings' disk: whether an error means it is full, how much room is left, a closed
segment's SHA-256, and retention (:func:`prune`, on the pure rule
:func:`media.segmenting.expired_segments`)."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import Final

from media.segmenting import StoredSegment, expired_segments

__all__ = ["free_bytes", "out_of_space", "prune", "sha256_of"]

# What a full disk looks like to a writer: no space, the user's quota, or the file size limit.
_OUT_OF_SPACE: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def out_of_space(exc: BaseException) -> bool:
    """Whether an error means the disk (or the quota, or the file size limit) is full."""
    return isinstance(exc, OSError) and exc.errno in _OUT_OF_SPACE


def free_bytes(directory: Path) -> int:
    """Bytes an unprivileged writer may still use on ``directory``'s file system."""
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def prune(
    directory: Path,
    *,
    keep_seconds: float | None = None,
    keep_count: int | None = None,
    now: float,
    pattern: str = "*.webm",
) -> list[Path]:
    """Delete the closed segments in ``directory`` that retention no longer keeps.

    ``now`` is seconds since the epoch, compared with each file's modification time (when
    the segment was closed). Segments still being written (``.part``) are never touched.
    Returns the paths this call deleted, oldest first. Several hub processes may prune one
    shared directory at once: a file another deleted first is neither an error nor counted.
    """
    stored = []
    for path in directory.glob(pattern):
        try:
            status = path.stat()
        except FileNotFoundError:
            continue  # pruned by another process since the listing
        if stat.S_ISREG(status.st_mode):
            stored.append(StoredSegment(closed_at=status.st_mtime, name=path.name))
    doomed = expired_segments(stored, keep_seconds=keep_seconds, keep_count=keep_count, now=now)
    deleted = []
    for segment in doomed:
        path = directory / segment.name
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        deleted.append(path)
    return deleted
