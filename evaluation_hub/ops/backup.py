"""Backups (备份) of the hub database, with the audit chain's head recorded beside the dump.

A backup directory holds the dump and ``manifest.json``, written last (a directory without a
manifest is an unfinished backup, never restored):

* PostgreSQL: ``hub.dump``, ``pg_dump``'s custom format, taken in a snapshot exported from a
  REPEATABLE READ transaction in which the chain head and schema revision are read too, so the
  manifest describes exactly what was dumped while the hub keeps writing;
* SQLite: ``hub.db``, a copy made with SQLite's online backup API (consistent while the hub
  writes), from which the head and revision are then read.

The manifest records the format, the back end, the dump's file name, size and SHA-256, the
schema revision, the audit chain's head (sequence and hash; none for an empty chain), when and
by whom. The backup is then itself an audit event (``ops.backup``) of the backed-up database,
naming the dump's SHA-256 and the head it covers. Restoring is ``ops.restore``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.engine import Database, sqlite_path
from evaluation_hub.ops.errors import BackupError
from evaluation_hub.ops.pgtools import libpq_args, pg_tool
from evaluation_hub.principal import Principal

__all__ = ["MANIFEST", "MANIFEST_FORMAT", "AuditHead", "Manifest", "backup", "file_sha256"]

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
_READ_HEAD = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
_READ_REVISION = "SELECT version_num FROM alembic_version"


@dataclass(frozen=True)
class AuditHead:
    seq: int
    hash: str


@dataclass(frozen=True)
class Manifest:
    format: int
    backend: str  # "postgresql" or "sqlite"
    file: str
    size: int
    sha256: str
    schema_revision: str | None
    audit_head: AuditHead | None
    created_at: str
    created_by: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _empty_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(
            f"{target} is not an empty directory: back up into a new directory, never over "
            "an earlier backup"
        )
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(target, 0o700)  # the dump holds scores and sealed seeds


def _sqlite_copy(source: Path, dest: Path) -> tuple[str | None, AuditHead | None]:
    """Copy with the online backup API, then read the revision and head from the copy."""
    if not source.exists():
        raise BackupError(f"the SQLite database {source} does not exist")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            revision = dst.execute(_READ_REVISION).fetchone()
            head = dst.execute(_READ_HEAD).fetchone()
        finally:
            dst.close()
    finally:
        src.close()
    return (
        None if revision is None else str(revision[0]),
        None if head is None else AuditHead(int(head[0]), str(head[1])),
    )


async def _pg_dump(db: Database, dest: Path) -> tuple[str | None, AuditHead | None]:
    async with db.engine.connect() as plain:
        conn = await plain.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            snapshot = await conn.scalar(text("SELECT pg_export_snapshot()"))
            revision = await conn.scalar(text(_READ_REVISION))
            head = (await conn.execute(text(_READ_HEAD))).first()
            args, env = libpq_args(db.url)
            process = await asyncio.create_subprocess_exec(
                pg_tool("pg_dump"),
                *args,
                "--format=custom",
                f"--snapshot={snapshot}",
                "--no-owner",
                "--file",
                str(dest),
                env={**os.environ, **env},
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await process.communicate()
            if process.returncode != 0:
                raise BackupError(
                    f"pg_dump failed (exit {process.returncode}): "
                    f"{err.decode(errors='replace').strip()}"
                )
    return (
        None if revision is None else str(revision),
        None if head is None else AuditHead(int(head[0]), str(head[1])),
    )


async def backup(db: Database, actor: Principal, target: Path, *, now: datetime) -> Manifest:
    """Back the database up into the new (or empty) directory ``target``."""
    access.require(actor, access.Action.BACKUP_DATABASE, access.Target())
    _empty_target(target)
    name = "hub.db" if db.is_sqlite else "hub.dump"
    dump = target / name
    try:
        if db.is_sqlite:
            revision, head = await asyncio.to_thread(_sqlite_copy, sqlite_path(db.url), dump)
        else:
            revision, head = await _pg_dump(db, dump)
        os.chmod(dump, 0o600)
        manifest = Manifest(
            format=MANIFEST_FORMAT,
            backend="sqlite" if db.is_sqlite else "postgresql",
            file=name,
            size=dump.stat().st_size,
            sha256=await asyncio.to_thread(file_sha256, dump),
            schema_revision=revision,
            audit_head=head,
            created_at=now.isoformat(),
            created_by=actor.username,
        )
        async with db.write() as s:
            await append_event(
                s,
                kind="ops.backup",
                subject=f"backup:{manifest.sha256}",
                actor=actor.username,
                payload=_audited(manifest),
                at=now,
            )
    except BaseException:
        dump.unlink(missing_ok=True)
        raise
    # Last, and whole: a directory without a manifest is an unfinished backup.
    partial = target / (MANIFEST + ".partial")
    partial.write_text(manifest.to_json(), encoding="utf-8")
    os.replace(partial, target / MANIFEST)
    return manifest


def _audited(manifest: Manifest) -> dict[str, Any]:
    head = manifest.audit_head
    return {
        "backend": manifest.backend,
        "sha256": manifest.sha256,
        "size": manifest.size,
        "schema_revision": manifest.schema_revision,
        "audit_head_seq": None if head is None else head.seq,
        "audit_head_hash": None if head is None else head.hash,
    }
