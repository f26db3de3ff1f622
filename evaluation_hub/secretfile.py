"""Secret files shared by the hub processes of one deployment (token secret, sealing key)."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

__all__ = ["read_or_create"]


def read_or_create(path: Path, size: int = 32) -> bytes:
    """The file's bytes; if it is missing, create it with ``size`` random bytes, mode 0600.

    Creation is atomic (a complete temporary file hard-linked into place), so hub processes
    starting together all end up with the same secret and never read a half-written file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(size))
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return path.read_bytes()
