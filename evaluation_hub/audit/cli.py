"""The ``evaluation-hub audit verify`` command: prove the stored chain or name its first problem.

Exit status: 0 the chain verifies, 1 it does not (the first problem is printed), 2 the check
could not be run (unreadable key file, unreachable or empty-schema database). This module only
parses arguments, reads, and prints; the verdict comes from ``chain.verify``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from evaluation_hub.audit.chain import VerifyReport, verify
from evaluation_hub.audit.errors import AuditError
from evaluation_hub.audit.keys import load_public_key
from evaluation_hub.errors import ConfigError
from seat_protocol.suites import PublicKey, suite_of_key

__all__ = ["add_commands", "run_verify"]

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_CANNOT_CHECK = 2


def add_commands(subparsers: Any) -> None:
    """Add ``audit verify`` to the ``evaluation-hub`` argument parser's subcommands."""
    audit = subparsers.add_parser("audit", help="work with the tamper-evident audit chain")
    commands = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "verify",
        help="verify the stored audit chain and its signed checkpoints",
        description="Walk the audit chain in the database and name the first edited, removed "
        "or reordered event or bad checkpoint. Exit 0 if it verifies, 1 if not, 2 if it "
        "could not be checked.",
    )
    check.add_argument(
        "--database-url",
        required=True,
        help="sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DB",
    )
    check.add_argument(
        "--public-key",
        required=True,
        type=Path,
        metavar="PATH",
        help="PEM file with the hub's public key (Ed25519, or SM2 for a national-suite chain)",
    )
    check.set_defaults(func=run_verify)


def _redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


async def _verify_database(url: str, public_key: PublicKey) -> VerifyReport:
    # Imported here so `evaluation-hub --help` does not load the database layer.
    from evaluation_hub.audit.store import chain_suite, load_chain, load_checkpoints
    from evaluation_hub.db.engine import Database

    database = Database(url, pool_size=1)
    try:
        # Events committed but deferred by a process that stopped before chaining them
        # (``audit.store``, *Deferred*) are chained first: verified, not left out.
        await database.chain_deferred()
        # One read transaction: events and checkpoints come from the same snapshot.
        async with database.read() as db:
            events = await load_chain(db)
            checkpoints = await load_checkpoints(db)
            suite = await chain_suite(db)
    finally:
        await database.dispose()
    held = suite_of_key(public_key)
    if held is not suite:
        raise ConfigError(
            f"the audit chain uses the {suite.name} cryptographic suite ({suite.label}), but "
            f"--public-key holds an {held.signature_name} key: pass the hub's "
            f"{suite.signature_name} public key"
        )
    report = verify(events, checkpoints, public_key, suite=suite)
    if suite.name != "default":  # the default's output stays what it always was
        print(f"cryptographic suite: {suite.name} ({suite.label})")
    return report


def run_verify(args: argparse.Namespace) -> int:
    """Run ``audit verify`` for parsed ``args``; returns the exit status."""
    try:
        public_key = load_public_key(args.public_key)
    except AuditError as exc:
        print(f"audit verify: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CHECK
    try:
        report = asyncio.run(_verify_database(args.database_url, public_key))
    except ConfigError as exc:
        print(f"audit verify: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CHECK
    except (SQLAlchemyError, OSError) as exc:
        print(
            f"audit verify: cannot read the audit chain from {_redacted(args.database_url)}: "
            f"{type(exc).__name__}: {exc}; check --database-url and that the database is migrated",
            file=sys.stderr,
        )
        return EXIT_CANNOT_CHECK
    print(report.summary())
    return EXIT_OK if report.ok else EXIT_PROBLEM
