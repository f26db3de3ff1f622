"""Restore (恢复) a backup made by :mod:`evaluation_hub.ops.backup` into an empty database.

Refused, with the target left as empty as it was, unless: the manifest is whole and names a
dump of this back end; the dump's SHA-256 is the manifest's; the restored audit chain verifies
(every link and every signed checkpoint, with the hub's public key) and ends at the head the
manifest recorded; the schema revision is the manifest's.

* SQLite: the dump is copied beside the target file, checked there, and only then renamed
  into place (one atomic step).
* PostgreSQL: ``pg_restore --single-transaction`` (all or nothing), then the check; a restore
  that fails it is dropped again (the ``public`` schema emptied), so nothing half-restored is
  left for a hub to start on.

A restored database gets one more audit event, ``ops.restore``, after the verified head.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from evaluation_hub import access
from evaluation_hub.audit.chain import verify
from evaluation_hub.audit.store import append_event, chain_suite, load_chain, load_checkpoints
from evaluation_hub.db.engine import Database, sqlite_path
from evaluation_hub.ops.backup import MANIFEST, MANIFEST_FORMAT, AuditHead, Manifest, file_sha256
from evaluation_hub.ops.errors import RestoreRefused
from evaluation_hub.ops.pgtools import libpq_args, pg_tool
from evaluation_hub.principal import Principal
from seat_protocol.suites import PublicKey

__all__ = ["Restored", "read_manifest", "restore"]

_NOTHING = "; nothing was restored"


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    events: int
    checkpoints: int


def read_manifest(source: Path) -> Manifest:
    path = source / MANIFEST
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RestoreRefused(
            f"{source} has no {MANIFEST}: not a backup, or an unfinished one{_NOTHING}"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RestoreRefused(f"cannot read {path}: {exc}{_NOTHING}") from None
    try:
        head = data["audit_head"]
        manifest = Manifest(
            format=int(data["format"]),
            backend=str(data["backend"]),
            file=str(data["file"]),
            size=int(data["size"]),
            sha256=str(data["sha256"]),
            schema_revision=None
            if data["schema_revision"] is None
            else str(data["schema_revision"]),
            audit_head=None if head is None else AuditHead(int(head["seq"]), str(head["hash"])),
            created_at=str(data["created_at"]),
            created_by=str(data["created_by"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RestoreRefused(
            f"{path} is not a backup manifest ({exc!r} is wrong){_NOTHING}"
        ) from None
    if manifest.format != MANIFEST_FORMAT:
        raise RestoreRefused(
            f"{path} has format {manifest.format}; this hub restores format {MANIFEST_FORMAT}{_NOTHING}"
        )
    if manifest.file not in ("hub.db", "hub.dump"):
        raise RestoreRefused(
            f"{path} names the dump {manifest.file!r}, not hub.db or hub.dump{_NOTHING}"
        )
    return manifest


def _check_dump(source: Path, manifest: Manifest, backend: str) -> Path:
    if manifest.backend != backend:
        raise RestoreRefused(
            f"the backup is of a {manifest.backend} database and the target is {backend}{_NOTHING}"
        )
    dump = source / manifest.file
    if not dump.is_file():
        raise RestoreRefused(f"the dump {dump} is missing{_NOTHING}")
    digest = file_sha256(dump)
    if digest != manifest.sha256:
        raise RestoreRefused(
            f"the dump {dump} does not match its manifest (sha256 {digest}, the manifest "
            f"records {manifest.sha256}): it was changed or damaged{_NOTHING}"
        )
    return dump


async def _verified(db: Database, manifest: Manifest, public_key: PublicKey) -> tuple[int, int]:
    """Verify the chain in ``db`` against the key and the manifest; (events, checkpoints)."""
    async with db.read() as s:
        events = await load_chain(s)
        checkpoints = await load_checkpoints(s)
        suite = await chain_suite(s)  # the chain's own (default or national), as audit verify
        revision = await s.scalar(text("SELECT version_num FROM alembic_version"))
    report = verify(events, checkpoints, public_key, suite=suite)
    if not report.ok:
        raise RestoreRefused(
            f"the audit chain in the backup does not verify: {report.summary()}{_NOTHING}"
        )
    head = None if not events else AuditHead(events[-1].seq, events[-1].hash)
    if head != manifest.audit_head:
        raise RestoreRefused(
            f"the backup's audit chain ends at {_head(head)} but its manifest records "
            f"{_head(manifest.audit_head)}{_NOTHING}"
        )
    if revision != manifest.schema_revision:
        raise RestoreRefused(
            f"the backup's schema revision is {revision}, its manifest records "
            f"{manifest.schema_revision}{_NOTHING}"
        )
    return len(events), len(checkpoints)


def _head(head: AuditHead | None) -> str:
    return "no event (an empty chain)" if head is None else f"event {head.seq} ({head.hash})"


async def _restore_sqlite(
    db: Database, dump: Path, manifest: Manifest, public_key: PublicKey
) -> tuple[int, int]:
    target = sqlite_path(db.url)
    if target.exists() and target.stat().st_size > 0:
        raise RestoreRefused(f"the target database {target} is not empty{_NOTHING}")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staged = target.with_name(target.name + ".restoring")
    await asyncio.to_thread(shutil.copyfile, dump, staged)
    os.chmod(staged, 0o600)
    checking = Database(f"sqlite+aiosqlite:///{staged}", pool_size=1)
    try:
        counts = await _verified(checking, manifest, public_key)
    except BaseException:
        await checking.dispose()
        for leftover in (staged, *(staged.with_name(staged.name + s) for s in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        raise
    await checking.dispose()  # closes the WAL back into the file
    os.replace(staged, target)
    return counts


async def _public_is_empty(db: Database) -> bool:
    async with db.read() as s:
        tables = await s.scalar(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
    return not tables


async def _restore_postgres(
    db: Database, dump: Path, manifest: Manifest, public_key: PublicKey
) -> tuple[int, int]:
    if not await _public_is_empty(db):
        raise RestoreRefused(
            "the target database is not empty: restore into a new database "
            f"(createdb) and point the hub at it{_NOTHING}"
        )
    args, env = libpq_args(db.url)
    process = await asyncio.create_subprocess_exec(
        pg_tool("pg_restore"),
        *args,
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-privileges",
        str(dump),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise RestoreRefused(
            f"pg_restore failed (exit {process.returncode}): "
            f"{err.decode(errors='replace').strip()}{_NOTHING}"
        )
    try:
        return await _verified(db, manifest, public_key)
    except BaseException:
        # The restore committed before it could be checked: take it all away again.
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        raise


async def restore(
    db: Database,
    actor: Principal,
    source: Path,
    public_key: PublicKey,
    *,
    now: datetime,
) -> Restored:
    """Restore the backup in ``source`` into the empty database ``db``."""
    access.require(actor, access.Action.RESTORE_DATABASE, access.Target())
    manifest = read_manifest(source)
    dump = _check_dump(source, manifest, "sqlite" if db.is_sqlite else "postgresql")
    if db.is_sqlite:
        events, checkpoints = await _restore_sqlite(db, dump, manifest, public_key)
    else:
        events, checkpoints = await _restore_postgres(db, dump, manifest, public_key)
    async with db.write() as s:
        await append_event(
            s,
            kind="ops.restore",
            subject=f"backup:{manifest.sha256}",
            actor=actor.username,
            payload={
                "sha256": manifest.sha256,
                "backup_created_at": manifest.created_at,
                "audit_head_seq": None if manifest.audit_head is None else manifest.audit_head.seq,
            },
            at=now,
        )
    return Restored(manifest, events, checkpoints)
