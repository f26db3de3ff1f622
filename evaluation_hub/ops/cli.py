"""``evaluation-hub backup --to DIR`` and ``evaluation-hub restore --from DIR``.

Whoever can run these against the hub's database administers it: they act as the system
administrator ``cli:<OS user>`` (``admin.cli.cli_actor``), and the audit chain names that
account (``ops.backup``, ``ops.restore``). Exit status 0 done; 2 refused or failed (the reason
on stderr; a refused restore leaves the target as empty as it was).
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["add_commands"]


def _database_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DB "
        "(default: $EVALHUB_DATABASE_URL or STATE_DIR/hub.db)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="the hub's state directory (default: $EVALHUB_STATE_DIR or var)",
    )


def add_commands(subparsers: Any) -> None:
    backup = subparsers.add_parser(
        "backup",
        help="back the database up into a new directory, with the audit chain head recorded",
        description="PostgreSQL through pg_dump (custom format), SQLite through its online "
        "backup API; writes the dump and manifest.json (schema revision, audit chain head, "
        "sha256 of the dump). Acts as the system administrator cli:<your OS user>.",
    )
    _database_args(backup)
    backup.add_argument(
        "--to", required=True, type=Path, metavar="DIR", help="a new or empty directory"
    )
    backup.set_defaults(func=run_backup)
    restore = subparsers.add_parser(
        "restore",
        help="restore a backup into an empty database, refusing one whose audit chain does not verify",
        description="Checks the dump against its manifest, restores it into the empty target "
        "database and verifies the audit chain (links, signed checkpoints, the recorded head); "
        "anything wrong and nothing is restored.",
    )
    _database_args(restore)
    restore.add_argument("--from", dest="source", required=True, type=Path, metavar="DIR")
    restore.add_argument(
        "--public-key",
        type=Path,
        metavar="PATH",
        help="the hub's audit public key (PEM; default: the state directory's hub-key.pub)",
    )
    restore.set_defaults(func=run_restore)


def _config(args: argparse.Namespace) -> Any:
    from evaluation_hub.config import HubConfig

    return HubConfig.from_env(state_dir=args.state_dir, database_url=args.database_url)


def run_backup(args: argparse.Namespace) -> int:
    from evaluation_hub.admin.cli import cli_actor
    from evaluation_hub.db.engine import Database
    from evaluation_hub.ops.backup import Manifest, backup

    config = _config(args)

    async def run() -> Manifest:
        db = Database(config.database_url, pool_size=1)
        try:
            await db.check_migrated()
            return await backup(db, cli_actor(), args.to, now=datetime.now(UTC))
        finally:
            await db.dispose()

    manifest = asyncio.run(run())
    head = manifest.audit_head
    print(
        f"backup written to {args.to}: {manifest.file} ({manifest.size} bytes, sha256 "
        f"{manifest.sha256}), schema {manifest.schema_revision}, audit chain head "
        + ("none" if head is None else f"{head.seq} {head.hash}")
    )
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from evaluation_hub.admin.cli import cli_actor
    from evaluation_hub.audit.keys import load_public_key
    from evaluation_hub.db.engine import Database
    from evaluation_hub.ops.restore import Restored, restore

    config = _config(args)
    public_key = load_public_key(args.public_key or config.hub_key_file.with_suffix(".pub"))

    async def run() -> Restored:
        db = Database(config.database_url, pool_size=1)
        try:
            return await restore(db, cli_actor(), args.source, public_key, now=datetime.now(UTC))
        finally:
            await db.dispose()

    done = asyncio.run(run())
    print(
        f"restored {args.source} ({done.manifest.created_at}): audit chain verified, "
        f"{done.events} events, {done.checkpoints} checkpoints"
    )
    return 0
