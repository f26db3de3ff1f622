"""The ``evaluation-hub archive`` command: write a session's bundle, or verify one.

    evaluation-hub archive SESSION [--out PATH] [--with-recordings DIR]...
                                   [--database-url URL] [--hub-key PATH]
    evaluation-hub archive verify BUNDLE [--public-key PATH]

``--out`` names a directory, or a tar file if it ends in ``.tar``, ``.tar.gz`` or ``.tgz``;
``verify`` takes either (a tar is read in place, never unpacked, and refused if unsafe).
``--with-recordings`` is given once per hub process (each records into its own directory): a
segment of the session found in none of them is named on standard error and listed in the
bundle as not included.

Exit status: 0 written / the bundle verifies; 1 the bundle does not verify (the first problem
is printed); 2 usage error, or the bundle could not be written or checked (the reason is on
standard error). This module parses, reads the clock and prints; the work is in ``writer`` and
``verify``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["add_commands"]

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2


def add_commands(subparsers: Any) -> None:
    """Add ``archive`` to the ``evaluation-hub`` argument parser's subcommands."""
    archive = subparsers.add_parser(
        "archive",
        help="write a session's archive bundle, or verify one",
        usage="%(prog)s SESSION [--out PATH] [--with-recordings DIR]... [--database-url URL] "
        "[--hub-key PATH]\n       %(prog)s verify BUNDLE [--public-key PATH]",
        description="Write the archive bundle of evaluation session SESSION (a directory with "
        "a signed manifest, or a tar file of it when --out ends in .tar, .tar.gz or .tgz; see "
        "docs/archive.md), or check a bundle directory or tar file with `archive verify "
        "BUNDLE`. Exit 0 if written or verified, 1 if the bundle does not verify, 2 on usage "
        "errors or when the bundle cannot be written or read.",
    )
    archive.add_argument("target", metavar="SESSION|verify")
    archive.add_argument("bundle", nargs="?", metavar="BUNDLE", type=Path)
    archive.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="the bundle to create: a directory, or a tar file if PATH ends in .tar, .tar.gz "
        "(gzip) or .tgz (default: a directory archive-session-N-<UTC time>)",
    )
    archive.add_argument(
        "--with-recordings",
        type=Path,
        metavar="DIR",
        action="append",
        help="copy the session's recording segments from DIR into the bundle; give it once "
        "per hub process (each records into its own directory)",
    )
    archive.add_argument(
        "--database-url", help="default: $EVALHUB_DATABASE_URL or the embedded var/hub.db"
    )
    archive.add_argument(
        "--hub-key",
        type=Path,
        metavar="PATH",
        help="the hub's Ed25519 private key (default: $EVALHUB_HUB_KEY_FILE or var/hub-key.pem)",
    )
    archive.add_argument(
        "--public-key",
        type=Path,
        metavar="PATH",
        help="verify: require the bundle to be signed by this hub public key (PEM)",
    )
    archive.set_defaults(func=lambda args: run(archive, args))


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.target == "verify":
        if args.bundle is None:
            parser.error("archive verify needs the BUNDLE (a directory or a tar file)")
        for name in ("out", "with_recordings", "hub_key", "database_url"):
            if getattr(args, name) is not None:
                parser.error(f"--{name.replace('_', '-')} does not apply to archive verify")
        return _verify(args.bundle, args.public_key)
    try:
        session_id = int(args.target)
    except ValueError:
        parser.error(f"SESSION must be a session number or 'verify', not {args.target!r}")
    if args.bundle is not None:
        parser.error(f"unexpected argument {args.bundle}; use --out PATH for the bundle")
    if args.public_key is not None:
        parser.error("--public-key applies to archive verify only")
    return _create(session_id, args)


def _verify(bundle: Path, public_key_path: Path | None) -> int:
    import tarfile

    from evaluation_hub.archive.verify import verify_bundle
    from evaluation_hub.audit.errors import AuditError
    from evaluation_hub.audit.keys import load_public_key

    try:
        readable = bundle.is_dir() or (bundle.is_file() and tarfile.is_tarfile(bundle))
    except OSError as exc:
        print(f"archive verify: cannot read {bundle}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not readable:
        print(f"archive verify: {bundle} is not a bundle directory or tar file", file=sys.stderr)
        return EXIT_USAGE
    public_key = None
    if public_key_path is not None:
        try:
            public_key = load_public_key(public_key_path)
        except AuditError as exc:
            print(f"archive verify: {exc}", file=sys.stderr)
            return EXIT_USAGE
    report = verify_bundle(bundle, public_key)
    print(report.summary())
    if report.ok and public_key is None:
        print(
            "note: checked against the key inside the bundle; pass --public-key with the hub's "
            "published key to prove who signed it"
        )
    return EXIT_OK if report.ok else EXIT_PROBLEM


def _create(session_id: int, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from evaluation_hub.archive.recordings import RecordingSegment, missing_message
    from evaluation_hub.archive.writer import create_archive
    from evaluation_hub.audit.keys import load_private_key
    from evaluation_hub.config import HubConfig
    from evaluation_hub.db.engine import Database
    from evaluation_hub.errors import HubError
    from evaluation_hub.sealing import Sealer
    from seat_protocol.suites import suite_of_key

    url = args.database_url or os.environ.get("EVALHUB_DATABASE_URL") or HubConfig.database_url
    key_path = args.hub_key or Path(
        os.environ.get("EVALHUB_HUB_KEY_FILE") or HubConfig.hub_key_file
    )
    now = datetime.now(UTC)
    out = args.out or Path(f"archive-session-{session_id}-{now:%Y%m%dT%H%M%SZ}")
    # The sealing key lets the evaluation section re-derive the report; never create one here.
    sealing_env = os.environ.get("EVALHUB_SEALING_KEY")
    sealing_file = Path(os.environ.get("EVALHUB_SEALING_KEY_FILE") or HubConfig.sealing_key_file)
    sealing_known = bool(sealing_env) or sealing_file.exists()
    missing: list[RecordingSegment] = []

    async def write() -> Any:
        # Sealed values open in the suite they were sealed in: the hub key's, which the writer
        # checks is the chain's.
        sealer = (
            Sealer.from_env_or_file(sealing_env, sealing_file, suite_of_key(key))
            if sealing_known
            else None
        )
        database = Database(url, pool_size=1)
        try:
            await database.check_migrated()
            return await create_archive(
                database,
                session_id,
                key=key,
                now=now,
                out=out,
                actor=f"cli:{getpass.getuser()}",
                recordings_dirs=args.with_recordings or (),
                sealer=sealer,
                missing=missing,
            )
        finally:
            await database.dispose()

    try:
        key = load_private_key(key_path)
        manifest = asyncio.run(write())
    except HubError as exc:
        print(f"archive: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (SQLAlchemyError, OSError) as exc:
        print(f"archive: cannot write the bundle: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for segment in missing:
        print(f"archive: {missing_message(segment, args.with_recordings)}", file=sys.stderr)
    print(f"archive of session {session_id} written to {out}: {len(manifest.files)} files")
    return EXIT_OK
