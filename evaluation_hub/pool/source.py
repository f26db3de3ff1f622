"""An uploaded pool file as a use case takes it: the bytes, or how to read them.

The HTTP shell passes a reader, so the request body is read only after the use case has checked
the principal (a refusal never reads the upload); the CLI and tests pass the bytes they hold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

__all__ = ["FileSource", "file_bytes"]

FileSource = bytes | Callable[[], Awaitable[bytes]]


async def file_bytes(source: FileSource) -> bytes:
    """The file's bytes; call it after the principal is checked."""
    return source if isinstance(source, bytes) else await source()
