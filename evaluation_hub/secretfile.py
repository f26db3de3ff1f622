"""Secret files shared by the hub processes of one deployment (token secret, sealing key), and
the private folders that hold them.

Everything here is created readable by the owner only: files 0600, folders 0700 (set at
creation, so there is no moment when another local user could read them, and set again so a
permissive umask cannot widen them).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

__all__ = ["private_dir", "private_file", "read_or_create"]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as a 0700 folder; an existing one is narrowed to
    0700. Parents that already exist are left as they are (they may be shared, like /var)."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    if path.stat().st_mode & 0o777 != PRIVATE_DIR:
        os.chmod(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists as a 0600 file (an empty one is created, with that mode from
    the start; an existing one keeps its contents and is narrowed to 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    os.close(fd)
    if path.stat().st_mode & 0o777 != PRIVATE_FILE:
        os.chmod(path, PRIVATE_FILE)
    return path


def read_or_create(path: Path, size: int = 32) -> bytes:
    """The file's bytes; if it is missing, create it with ``size`` random bytes, mode 0600.

    Creation is atomic (a complete temporary file hard-linked into place), so hub processes
    starting together all end up with the same secret and never read a half-written file.
    """
    if not path.exists():
        # A missing folder is made private; an existing one may be shared and is left alone.
        path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(size))
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return path.read_bytes()
