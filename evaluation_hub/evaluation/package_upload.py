"""A bid package uploaded from the host's console (上传标书包), attached like one on the hub's disk.

The host operator has the package as a zip or tar from the bidding system; they should not need
a shell on the hub to put it in a folder. The upload is received, unpacked and attached in one
request:

1. the principal is checked first (only the host's operator may attach), and the session must
   still take a package (before the start, none attached): a refusal reads no byte of the body;
2. the body is streamed to a private file under the state directory (``packages/``, 0700),
   hashed as it arrives and cut off past ``HubConfig.max_package_upload_bytes`` (413);
3. it is unpacked by :func:`evaluation_hub.bids.unpack.unpack_package`, which refuses the whole
   upload at its first unsafe member (absolute path, ``..``, link, device, duplicate, bomb): 422
   ``package-unsafe`` with the member named;
4. the folder is attached by :func:`evaluation_hub.evaluation.package.attach_package`, whose
   full check report (every problem, by file and field) refuses an invalid package; the audit
   event ``evaluation.package_attached`` then also records the upload's name, size and SHA-256
   beside the package's content digest.

The unpacked folder stays as the session's stored package (the package row names it); the
uploaded file itself is removed once unpacked, and so is the folder when anything refuses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from evaluation_hub import access
from evaluation_hub.bids.unpack import UnsafePackage, unpack_package
from evaluation_hub.errors import InvalidInput, TooLarge
from evaluation_hub.evaluation.overview import Overview
from evaluation_hub.evaluation.package import attach_package, require_attachable
from evaluation_hub.principal import Principal
from evaluation_hub.secretfile import PRIVATE_FILE, private_dir
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session

__all__ = ["PACKAGES_DIR", "upload_package"]

#: under the hub's state directory: uploads in progress and the unpacked packages
PACKAGES_DIR = "packages"


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        "package-too-large", f"上传的标书包超过 {limit // (1024 * 1024)} MiB（{limit} 字节）上限"
    )


def _create_private(target: Path) -> BinaryIO:
    """A new file only the hub's user may read (0600 from its creation)."""
    return os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE), "wb")


async def _receive(body: AsyncIterator[bytes], target: Path, limit: int) -> tuple[str, int]:
    """Write ``body`` to ``target``; returns its SHA-256 and size. The disk writes run in a
    worker thread: a slow disk must not stall the event loop's other requests."""
    digest = hashlib.sha256()
    size = 0
    out = await asyncio.to_thread(_create_private, target)
    try:
        async for chunk in body:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            digest.update(chunk)
            await asyncio.to_thread(out.write, chunk)
    finally:
        await asyncio.to_thread(out.close)
    return digest.hexdigest(), size


async def upload_package(
    hub: Services,
    actor: Principal,
    session_id: int,
    body: AsyncIterator[bytes],
    *,
    file_name: str,
    declared_size: int | None,
    now: datetime,
) -> Overview:
    """Receive, unpack and attach an uploaded package; returns the evaluation's overview."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id)
        access.require(actor, access.Action.RUN_EVALUATION, loaded.target)
        await require_attachable(s, loaded.session)
    limit = hub.config.max_package_upload_bytes
    if declared_size is not None and declared_size > limit:
        raise _too_large(limit)
    folder = private_dir(hub.config.state_dir / PACKAGES_DIR)
    token = secrets.token_hex(8)
    received = folder / f"upload-{session_id}-{token}.part"
    try:
        sha256, size = await _receive(body, received, limit)
        if size == 0:
            raise InvalidInput("package-empty", "上传的标书包是空文件")
        dest = folder / f"session-{session_id}-{sha256[:16]}-{token}"
        try:
            root = await asyncio.to_thread(unpack_package, received, dest)
        except UnsafePackage as exc:
            raise InvalidInput("package-unsafe", str(exc)) from None
    finally:
        received.unlink(missing_ok=True)
    upload = {"file_name": file_name, "size": size, "sha256": sha256}
    try:
        return await attach_package(hub, actor, session_id, root, now=now, upload=upload)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
