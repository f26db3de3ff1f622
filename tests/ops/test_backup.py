"""``evaluation-hub backup`` and ``restore`` on both back ends: the manifest records the dump's
hash, the schema revision and the audit chain's head; a restore into an empty database verifies
the chain; a changed dump, or a dump whose chain was edited (with a manifest made to match), is
refused with nothing restored."""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import hashlib
import json
import shutil
import sqlite3
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from evaluation_hub.audit.chain import verify
from evaluation_hub.audit.checkpoint import CheckpointPolicy
from evaluation_hub.audit.keys import load_or_create_private_key, load_public_key, write_public_key
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.audit.store import append_event, load_chain, load_checkpoints, maybe_checkpoint
from evaluation_hub.cli import main
from evaluation_hub.db.engine import Database
from evaluation_hub.db.migrate import head_revision
from evaluation_hub.ops.pgtools import libpq_args, pg_tool
from tests.conftest import FakeClock
from tests.support.postgres_server import PostgresServer

USER = f"cli:{getpass.getuser()}"
NOTHING = "; nothing was restored"


async def cli(*args: str) -> int:
    """The console command, in a thread of its own (it runs its own event loop)."""
    return await asyncio.to_thread(main, list(args))


@dataclasses.dataclass
class Source:
    db: Database
    public_key: Path


@pytest.fixture
async def source(database: Database, clock: FakeClock, tmp_path: Path) -> Source:
    """A hub database with data, audit events and a signed checkpoint."""
    from tests.support.seed import seed

    await seed(database, clock())
    key = load_or_create_private_key(tmp_path / "hub-key.pem")
    write_public_key(key, tmp_path / "hub-key.pub")
    for n in range(3):
        async with database.write() as s:
            await append_event(
                s, kind="test.event", subject=f"thing:{n}", actor="test", payload={"n": n},
                at=clock(),
            )  # fmt: skip
            await maybe_checkpoint(s, key, clock(), CheckpointPolicy(2, timedelta(hours=1)))
        clock.advance(minutes=1)
    return Source(database, tmp_path / "hub-key.pub")


def target_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / name / 'hub.db'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database(f"{name}_{tmp_path.name[-20:]}".replace("-", "_").lower())


async def events_of(url: str) -> list[Any]:
    db = Database(url, pool_size=1)
    try:
        async with db.read() as s:
            return list(await load_chain(s))
    finally:
        await db.dispose()


async def is_empty(url: str) -> bool:
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite+aiosqlite:///"))
        # No database, and nothing staged beside where it would be.
        return not path.parent.exists() or not any(path.parent.iterdir())
    db = Database(url, pool_size=1)
    try:
        async with db.read() as s:
            count = await s.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
        return count == 0
    finally:
        await db.dispose()


def rewrite_manifest(backup: Path) -> None:
    """Make the manifest's hash match the (changed) dump, as a forger would."""
    manifest = json.loads((backup / "manifest.json").read_text())
    dump = backup / manifest["file"]
    manifest["sha256"] = hashlib.sha256(dump.read_bytes()).hexdigest()
    manifest["size"] = dump.stat().st_size
    (backup / "manifest.json").write_text(json.dumps(manifest))


async def test_backup_and_restore_round_trip(
    source: Source,
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = await events_of(source.db.url)
    head = before[-1]
    out = tmp_path / "backup"
    capsys.readouterr()
    assert await cli("backup", "--to", str(out), "--database-url", source.db.url) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    name = "hub.db" if backend == "sqlite" else "hub.dump"
    dump = out / name
    digest = hashlib.sha256(dump.read_bytes()).hexdigest()
    created_at = manifest.pop("created_at")
    assert datetime.fromisoformat(created_at).tzinfo is not None
    assert manifest == {
        "format": 1,
        "backend": backend if backend == "sqlite" else "postgresql",
        "file": name,
        "size": dump.stat().st_size,
        "sha256": digest,
        "schema_revision": head_revision(),
        "audit_head": {"seq": head.seq, "hash": head.hash},
        "created_by": USER,
    }
    assert capsys.readouterr().out == (
        f"backup written to {out}: {name} ({dump.stat().st_size} bytes, sha256 {digest}), "
        f"schema {head_revision()}, audit chain head {head.seq} {head.hash}\n"
    )
    assert sorted(p.name for p in out.iterdir()) == sorted([name, "manifest.json"])
    assert out.stat().st_mode & 0o777 == 0o700
    # The backup is an audit event of the database it was taken from.
    after = await events_of(source.db.url)
    assert after[:-1] == before
    assert (after[-1].kind, after[-1].subject, after[-1].actor, after[-1].payload) == (
        "ops.backup",
        f"backup:{digest}",
        USER,
        {
            "backend": manifest["backend"],
            "sha256": digest,
            "size": dump.stat().st_size,
            "schema_revision": head_revision(),
            "audit_head_seq": head.seq,
            "audit_head_hash": head.hash,
        },
    )

    target = target_url(backend, tmp_path, request, "restored")
    pub = str(source.public_key)
    assert (
        await cli("restore", "--from", str(out), "--database-url", target, "--public-key", pub) == 0
    )
    restored = await events_of(target)
    assert restored[:-1] == before
    assert (restored[-1].kind, restored[-1].actor, restored[-1].payload) == (
        "ops.restore",
        USER,
        {"sha256": digest, "backup_created_at": created_at, "audit_head_seq": head.seq},
    )
    capsys.readouterr()
    assert await cli("audit", "verify", "--database-url", target, "--public-key", pub) == 0
    # Into a database that is no longer empty: refused.
    assert (
        await cli("restore", "--from", str(out), "--database-url", target, "--public-key", pub) == 2
    )
    where = (
        f"the target database {Path(target.removeprefix('sqlite+aiosqlite:///'))} is not empty"
        if backend == "sqlite"
        else "the target database is not empty: restore into a new database (createdb) and "
        "point the hub at it"
    )
    assert capsys.readouterr().err == f"evaluation-hub: {where}{NOTHING}\n"


async def tamper_chain(
    backend: str, backup: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> str:
    """Edit audit event 2's payload inside the dump and fix the manifest's hash; the verdict
    ``verify`` gives the edited chain."""
    if backend == "sqlite":
        with sqlite3.connect(backup / "hub.db") as conn:
            conn.execute("""UPDATE audit_events SET payload = '{"n": 99}' WHERE seq = 2""")
        conn.close()
        url = f"sqlite+aiosqlite:///{backup / 'hub.db'}"
        checking = Database(url, pool_size=1)
    else:
        scratch = target_url(backend, tmp_path, request, "scratch")
        args, _ = libpq_args(scratch)
        restore = [pg_tool("pg_restore"), *args, "--no-owner", str(backup / "hub.dump")]
        await asyncio.to_thread(subprocess.run, restore, check=True)
        checking = Database(scratch, pool_size=1)
        async with checking.write() as s:
            await s.execute(text("""UPDATE audit_events SET payload = '{"n": 99}' WHERE seq = 2"""))
        dump = [pg_tool("pg_dump"), *args, "-Fc", "--no-owner", "--file", str(backup / "hub.dump")]
        await asyncio.to_thread(subprocess.run, dump, check=True)
    try:
        async with checking.read() as s:
            report = verify(
                await load_chain(s),
                await load_checkpoints(s),
                load_public_key(tmp_path / "hub-key.pub"),
            )
    finally:
        await checking.dispose()
    assert not report.ok
    rewrite_manifest(backup)
    return report.summary()


async def test_a_tampered_backup_is_refused_and_nothing_is_restored(
    source: Source,
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "backup"
    assert await cli("backup", "--to", str(out), "--database-url", source.db.url) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    target = target_url(backend, tmp_path, request, "target")
    pub = str(source.public_key)

    # A changed byte: the hash says so.
    damaged = tmp_path / "damaged"
    shutil.copytree(out, damaged)
    dump = damaged / manifest["file"]
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    digest = hashlib.sha256(bytes(data)).hexdigest()
    capsys.readouterr()
    assert (
        await cli("restore", "--from", str(damaged), "--database-url", target, "--public-key", pub)
        == 2
    )
    assert capsys.readouterr().err == (
        f"evaluation-hub: the dump {dump} does not match its manifest (sha256 {digest}, the "
        f"manifest records {manifest['sha256']}): it was changed or damaged{NOTHING}\n"
    )
    assert await is_empty(target)

    # An edited audit event, with a manifest made to match: the chain says so.
    forged = tmp_path / "forged"
    shutil.copytree(out, forged)
    summary = await tamper_chain(backend, forged, tmp_path, request)
    capsys.readouterr()
    assert (
        await cli("restore", "--from", str(forged), "--database-url", target, "--public-key", pub)
        == 2
    )
    assert capsys.readouterr().err == (
        f"evaluation-hub: the audit chain in the backup does not verify: {summary}{NOTHING}\n"
    )
    assert await is_empty(target)

    # No manifest (an unfinished backup): refused.
    (forged / "manifest.json").unlink()
    assert (
        await cli("restore", "--from", str(forged), "--database-url", target, "--public-key", pub)
        == 2
    )
    assert capsys.readouterr().err == (
        f"evaluation-hub: {forged} has no manifest.json: not a backup, or an unfinished one{NOTHING}\n"
    )
    assert await is_empty(target)

    # The untouched backup still restores into the same target.
    assert (
        await cli("restore", "--from", str(out), "--database-url", target, "--public-key", pub) == 0
    )


async def test_backup_refuses_a_directory_that_is_not_empty(
    source: Source, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "used"
    out.mkdir()
    (out / "something").write_text("x")
    capsys.readouterr()
    assert await cli("backup", "--to", str(out), "--database-url", source.db.url) == 2
    assert capsys.readouterr().err == (
        f"evaluation-hub: {out} is not an empty directory: back up into a new directory, never "
        "over an earlier backup\n"
    )
    async with source.db.read() as s:
        kinds = list(await s.scalars(select(AuditEventRow.kind)))
    assert "ops.backup" not in kinds
