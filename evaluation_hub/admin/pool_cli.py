"""``evaluation-hub expert import FILE [--dry-run]`` / ``expert list`` and ``evaluation-hub
blacklist import FILE [--dry-run]`` / ``blacklist list``: the expert pool from the hub's host.

As ``user add`` (``evaluation_hub.admin.cli``), whoever can run this against the hub's
database administers it: the command acts as ``cli:<OS user>`` in the system administrator's
role, and the audit chain names that account. Exit status: 0 imported (or, with --dry-run,
would import); 2 nothing was imported (every bad row is printed on stderr, by line and column).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evaluation_hub.config import HubConfig
    from evaluation_hub.db.engine import Database
    from evaluation_hub.pool.importing import PoolImport
    from evaluation_hub.services import Services

__all__ = ["add_commands", "describe_import"]

EXIT_OK = 0
EXIT_NOT_IMPORTED = 2


def _database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DB "
        "(default: $EVALHUB_DATABASE_URL or var/hub.db)",
    )


def add_commands(subparsers: Any) -> None:
    """Add ``expert`` and ``blacklist`` to the ``evaluation-hub`` argument parser."""
    for group, what, doc in (
        ("expert", "the expert pool (专家库)", "the pool's export"),
        ("blacklist", "the credit blacklist (信用黑名单)", "the blacklist's export"),
    ):
        parser = subparsers.add_parser(group, help=what)
        commands = parser.add_subparsers(dest=f"{group}_command", required=True)
        run = commands.add_parser(
            "import",
            help=f"import {doc} (CSV or XLSX, docs/expert-pool.md): all rows or none",
        )
        _database(run)
        run.add_argument("file", type=Path, help="the CSV (UTF-8 or GB18030) or XLSX file")
        run.add_argument(
            "--dry-run", action="store_true", help="check the file and count, change nothing"
        )
        run.set_defaults(func=_run_import, pool_group=group)
        listing = commands.add_parser("list", help=f"list {what}")
        _database(listing)
        listing.set_defaults(func=_run_list, pool_group=group)


def _services(config: HubConfig, db: Database) -> Services:
    import os
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from evaluation_hub.booking.regions import load_distances
    from evaluation_hub.bus.memory import MemoryBus
    from evaluation_hub.sealing import Sealer
    from evaluation_hub.services import Services

    # The pool's use cases seal nothing and sign no checkpoint: a throw-away sealing key and
    # hub key keep this command from reading (or creating) the hub's own key files.
    return Services(
        config=config,
        db=db,
        sealer=Sealer(os.urandom(32)),
        bus=MemoryBus(),
        hub_key=Ed25519PrivateKey.generate(),
        distances=load_distances(),
        clock=lambda: datetime.now(UTC),
    )


def describe_import(group: str, result: PoolImport) -> str:
    what = "experts" if group == "expert" else "blacklist entries"
    verb = "would import" if result.dry_run else "imported"
    return (
        f"{verb} {result.rows} {what} from {result.format} (sha256 {result.sha256}): "
        f"{result.added} added, {result.updated} updated, {result.unchanged} unchanged"
    )


def _run(args: argparse.Namespace, body: Any) -> int:
    import asyncio

    from evaluation_hub.admin.cli import cli_actor
    from evaluation_hub.config import HubConfig
    from evaluation_hub.db.engine import Database
    from evaluation_hub.errors import ProblemError

    config = HubConfig.from_env(database_url=args.database_url)

    async def go() -> int:
        db = Database(config.database_url)
        try:
            await db.check_migrated()
            return int(await body(_services(config, db), cli_actor()))
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except ProblemError as exc:
        print(f"{args.pool_group}: {exc.detail}", file=sys.stderr)
        for p in exc.extra.get("problems", []):
            where = f"line {p['line']}" + (f", column {p['column']}" if p["column"] else "")
            print(f"  {where}: {p['message']}", file=sys.stderr)
        return EXIT_NOT_IMPORTED


def _run_import(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from evaluation_hub.pool.blacklist import import_blacklist
    from evaluation_hub.pool.importing import import_experts

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"{args.pool_group} import: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_NOT_IMPORTED
    use_case = import_experts if args.pool_group == "expert" else import_blacklist

    async def body(hub: Services, actor: Any) -> int:
        result = await use_case(hub, actor, data, dry_run=args.dry_run, now=datetime.now(UTC))
        print(describe_import(args.pool_group, result))
        return EXIT_OK

    return _run(args, body)


def _run_list(args: argparse.Namespace) -> int:
    from evaluation_hub.pool.blacklist import list_blacklist
    from evaluation_hub.pool.importing import list_pool

    async def body(hub: Services, actor: Any) -> int:
        if args.pool_group == "expert":
            for e in await list_pool(hub, actor):
                former = "; ".join(f"{f.employer}:{f.left_year}" for f in e.former_employers)
                print(
                    "\t".join(
                        (
                            e.code,
                            e.name,
                            e.employer,
                            former,
                            e.home_region,
                            "、".join(e.specialties),
                            e.phone,
                        )
                    )
                )
        else:
            for b in await list_blacklist(hub, actor):
                print("\t".join((b.expert_code, b.name, b.employer, b.reason, b.until.isoformat())))
        return EXIT_OK

    return _run(args, body)
