"""Write a session's bundle: record the archive in the audit chain, run the sections, sign.

Steps: (1) in one write transaction, append ``archive.requested`` on ``session:<id>`` and sign a
checkpoint at it, so the session's whole audit slice is covered by a signature; (2) load the
slice; (3) run every section and write its files into a hidden sibling directory, hashing as
it goes; (4) write ``manifest.json`` and ``manifest.sig``; (5) rename the directory into place,
or, when ``out`` ends in ``.tar``, ``.tar.gz`` or ``.tgz``, pack it into that tar file
(``tarball.write_tar``: deterministic, renamed into place) and remove the directory. A failure
removes the partial directory and tar, so ``--out`` either holds a complete bundle or nothing.
The ``archive.requested`` event stays in the chain either way: an attempt to archive is itself
a fact worth keeping.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from evaluation_hub.archive.auditslice import load_slice
from evaluation_hub.archive.bundle import MANIFEST, SIGNATURE, FileEntry, Manifest, sign_manifest
from evaluation_hub.archive.errors import ArchiveError
from evaluation_hub.archive.recordings import RecordingSegment
from evaluation_hub.archive.sections import ArchiveContext, BundleFile, preparations, sections
from evaluation_hub.archive.tarball import is_tar_path, tar_top, write_tar
from evaluation_hub.audit.checkpoint import CheckpointPolicy, key_fingerprint
from evaluation_hub.audit.store import append_event, chain_suite, maybe_checkpoint
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import EvaluationSession
from evaluation_hub.sealing import Sealer
from seat_protocol.suites import SigningKey

__all__ = ["ARCHIVE_EVENT", "create_archive"]

ARCHIVE_EVENT = "archive.requested"
_CHUNK = 1 << 20


def _write(root: Path, f: BundleFile) -> tuple[str, int]:
    target = root / f.path
    target.parent.mkdir(parents=True, exist_ok=True)
    if f.data is not None:
        target.write_bytes(f.data)
        return hashlib.sha256(f.data).hexdigest(), len(f.data)
    assert f.source is not None
    digest = hashlib.sha256()
    size = 0
    with f.source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    sha = digest.hexdigest()
    if f.expect_sha256 is not None and sha != f.expect_sha256:
        raise ArchiveError(
            f"{f.source} has SHA-256 {sha}, but its audit event recorded {f.expect_sha256}: "
            "the recording was altered after it was closed; it is not archived"
        )
    return sha, size


def _check_paths(out: Path, recordings_dirs: Sequence[Path]) -> None:
    if out.exists():
        raise ArchiveError(f"{out} already exists; choose a new --out path")
    if is_tar_path(out) and not tar_top(out):
        raise ArchiveError(f"{out} names no bundle before its tar suffix; choose a new --out path")
    for directory in recordings_dirs:
        if not directory.is_dir():
            raise ArchiveError(f"recordings directory {directory} does not exist")


def _start(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    partial.mkdir()
    return partial


def _finish(partial: Path, out: Path, manifest: Manifest, key: SigningKey) -> None:
    body = manifest.to_bytes()
    (partial / MANIFEST).write_bytes(body)
    (partial / SIGNATURE).write_text(sign_manifest(body, key) + "\n", encoding="ascii")
    if is_tar_path(out):
        write_tar(partial, out, mtime=manifest.created_at)
        shutil.rmtree(partial, ignore_errors=True)
    else:
        partial.rename(out)


async def create_archive(
    db: Database,
    session_id: int,
    *,
    key: SigningKey,
    now: datetime,
    out: Path,
    actor: str,
    recordings_dirs: Sequence[Path] = (),
    sealer: Sealer | None = None,
    missing: list[RecordingSegment] | None = None,
) -> Manifest:
    """Write the bundle of ``session_id`` to ``out``; returns its manifest.

    ``out`` must not exist; it becomes a directory, or a tar file if its name ends in ``.tar``,
    ``.tar.gz`` or ``.tgz``. ``recordings_dirs``: every hub process's recordings directory,
    where the session's segments are looked for (none: they are listed, not included); the
    segments found in none of them are added to ``missing`` (and listed as not included).
    """
    _check_paths(out, recordings_dirs)
    names = [name for name, _ in sections()]
    async with db.read() as s:
        if await s.get(EvaluationSession, session_id) is None:
            raise ArchiveError(f"evaluation session {session_id} does not exist")
        suite = await chain_suite(s)
        if not suite.owns(key):
            raise ArchiveError(
                f"the audit chain uses the {suite.name} cryptographic suite ({suite.label}): "
                f"the archive must be signed with the hub's {suite.signature_name} key"
            )
    for prepare in preparations():
        await prepare(db, session_id, sealer, actor, now)
    async with db.write() as s:
        await append_event(
            s,
            kind=ARCHIVE_EVENT,
            subject=f"session:{session_id}",
            actor=actor,
            payload={"sections": names, "with_recordings": bool(recordings_dirs)},
            at=now,
        )
        # Every event up to this one is now vouched for by a signature.
        await maybe_checkpoint(s, key, now, CheckpointPolicy(every_events=1))
    async with db.read() as s:
        audit = await load_slice(s, session_id)
    ctx = ArchiveContext(
        db, session_id, now, audit, key.public_key(), tuple(recordings_dirs), sealer
    )
    partial = _start(out)
    try:
        entries: dict[str, FileEntry] = {}
        for name, build in sections():
            for f in await build(ctx):
                if f.path in entries:
                    raise ArchiveError(
                        f"sections {entries[f.path].section!r} and {name!r} both write {f.path}"
                    )
                sha, size = _write(partial, f)
                entries[f.path] = FileEntry(f.path, name, sha, size)
        manifest = Manifest(
            session_id=session_id,
            created_at=now,
            key_id=key_fingerprint(key.public_key()),
            sections=tuple(names),
            files=tuple(entries.values()),
            suite=suite.name,
        )
        _finish(partial, out, manifest, key)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if missing is not None:
        missing.extend(ctx.missing)
    return manifest
