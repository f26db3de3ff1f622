"""``evaluation-hub init`` and ``evaluation-hub user add|list|import``: accounts from the hub's
host, for setting up and for automation.

Whoever can run these commands against the hub's database administers the hub, so they act as
the principal ``cli:<OS user>`` in the system administrator's role, and the audit chain names
the operating-system account that made each change. ``init`` creates the first system
administrator of a fresh (migrated) database and refuses once one exists.

A password is read from ``--password-file`` (one line; ``-`` reads it from standard input) or
asked for twice on the terminal without echo. It is never a command-line argument (arguments
show in ``ps`` and in shell history), never printed and never logged. Imported users get no
password (``admin.imports``). ``--dry-run`` checks everything, reports what would change and
changes nothing. Exit status: 0 done (or, with ``--dry-run``, it would be done); 2 nothing was
changed (the refusal, or the password input problem, is printed on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from evaluation_hub.access import ROLE_NAMES
from evaluation_hub.access import USER_ROLES as ROLES
from evaluation_hub.principal import Principal

if TYPE_CHECKING:
    from evaluation_hub.admin.imports import ImportReport
    from evaluation_hub.admin.users import UserAccount
    from evaluation_hub.db.engine import Database

__all__ = [
    "add_commands",
    "cli_actor",
    "database_option",
    "describe",
    "print_report",
    "read_csv",
    "read_password",
    "run_add",
    "with_database",
]

EXIT_OK = 0
EXIT_NOT_ADDED = 2
T = TypeVar("T")


class PasswordInputError(Exception):
    """The password could not be read; the message says what to do instead."""


def database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DB "
        "(default: $EVALHUB_DATABASE_URL or var/hub.db)",
    )


def _dry_run_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="check and report what would change; change nothing"
    )


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-file",
        metavar="PATH",
        help="read the password from PATH, a single line ('-': standard input); "
        "without it the password is asked for twice on the terminal",
    )


def add_commands(subparsers: Any) -> None:
    """Add ``init`` and ``user …`` to the ``evaluation-hub`` argument parser's subcommands."""
    init = subparsers.add_parser(
        "init",
        help="create the first system administrator of a fresh (migrated) database",
        description="Create the hub's one first system administrator; refused once a system "
        "administrator exists. The password is asked for twice (or read from --password-file), "
        "never printed or logged.",
    )
    database_option(init)
    init.add_argument("--username", default="admin", help="the sign-in name (default: admin)")
    init.add_argument("--display-name", default="系统管理员", help="the name pages show")
    _password_option(init)
    init.set_defaults(func=run_init)

    user = subparsers.add_parser("user", help="user accounts")
    commands = user.add_subparsers(dest="user_command", required=True)
    add = commands.add_parser(
        "add",
        help="add a user who signs in to the hub (acts as the system administrator)",
        description="Add a user; the password comes from --password-file or is prompted for "
        "(never from the command line). The audit chain records who added the user as "
        "cli:<your OS user>.",
    )
    database_option(add)
    add.add_argument("username", help="the sign-in name (letters, digits, . _ -)")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--venue-code", help="the venue the user belongs to (every role but system_admin)"
    )
    add.add_argument("--display-name", default="", help="the name pages show, e.g. 主场业务员 李明")
    _password_option(add)
    _dry_run_option(add)
    add.set_defaults(func=run_add)

    listing = commands.add_parser("list", help="list user accounts (tab-separated)")
    database_option(listing)
    listing.add_argument("--venue-code", help="only this venue's accounts")
    listing.set_defaults(func=run_list)

    imports = commands.add_parser(
        "import",
        help="add users from a CSV file (columns: username, role, venue_code, display_name)",
        description="Import accounts from CSV (docs/administration.md). Every row is checked "
        "first; any bad row imports nothing. Existing usernames are left as they are. Imported "
        "accounts have no password and are disabled until an administrator sets one.",
    )
    database_option(imports)
    imports.add_argument("file", type=Path, help="the CSV file (UTF-8, header line first)")
    _dry_run_option(imports)
    imports.set_defaults(func=run_import)


def cli_actor() -> Principal:
    """The system administrator the CLI acts as, named after the OS user running it."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        name = f"uid{os.getuid()}"
    return Principal(f"cli:{name}", "system_admin", None)


def _one_line(text: str, source: str) -> str:
    password = text.removesuffix("\n").removesuffix("\r")
    if "\n" in password or "\r" in password:
        raise PasswordInputError(f"{source} must hold the password on a single line")
    return password


def read_password(path: str | None, username: str) -> str:
    """A password for ``username``, from ``path`` (``-``: standard input) or the terminal."""
    if path == "-":
        return _one_line(sys.stdin.readline(), "standard input")
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PasswordInputError(
                f"cannot read the password file {path}: {type(exc).__name__}"
            ) from None
        return _one_line(text, f"the password file {path}")
    if not sys.stdin.isatty():
        raise PasswordInputError(
            "no terminal to ask for the password on: pass --password-file PATH "
            "(or --password-file - to read it from standard input)"
        )
    password = getpass.getpass(f"Password for {username}: ")
    if getpass.getpass("The same password again: ") != password:
        raise PasswordInputError("the two passwords differ")
    return password


def with_database(args: argparse.Namespace, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` on the (migrated) database the arguments name."""
    from evaluation_hub.config import HubConfig
    from evaluation_hub.db.engine import Database

    config = HubConfig.from_env(database_url=args.database_url)

    async def run() -> T:
        db = Database(config.database_url)
        try:
            await db.check_migrated()
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def read_csv(path: Path) -> str:
    """A CSV file's text; ``ConfigError`` (printed, exit 2) if it cannot be read."""
    from evaluation_hub.errors import ConfigError

    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {type(exc).__name__}") from None


def print_report(report: ImportReport) -> None:
    """What an import or a dry run did (or would do), one line per row."""
    verb = "would add" if report.dry_run else "added"
    print(
        f"{report.what} import{' (dry run, nothing changed)' if report.dry_run else ''}: "
        f"{len(report.added)} {verb}, {len(report.present)} already present"
    )
    for key in report.added:
        print(f"  {verb} {key}")
    for key in report.present:
        print(f"  already present {key}")


def run_import_with(
    args: argparse.Namespace,
    importer: Callable[..., Awaitable[ImportReport]],
) -> int:
    """Run one of ``admin.imports``' importers on ``args.file``; a bad file lists each problem."""
    from evaluation_hub.admin.errors import BadImport

    text = read_csv(args.file)

    async def work(db: Database) -> ImportReport:
        return await importer(db, cli_actor(), text, dry_run=args.dry_run, now=datetime.now(UTC))

    try:
        report = with_database(args, work)
    except BadImport as exc:
        print(
            f"evaluation-hub: {args.file}: {len(exc.problems)} bad, nothing imported",
            file=sys.stderr,
        )
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_NOT_ADDED
    print_report(report)
    return EXIT_OK


def run_import(args: argparse.Namespace) -> int:
    from evaluation_hub.admin.imports import import_users

    return run_import_with(args, import_users)


def run_add(args: argparse.Namespace) -> int:
    """Run ``user add`` for parsed ``args``; returns the exit status."""
    from evaluation_hub.admin.users import add_user

    if args.dry_run:
        return _dry_add(args)
    try:
        password = read_password(args.password_file, args.username)
    except PasswordInputError as exc:
        print(f"user add: {exc}; nothing was added", file=sys.stderr)
        return EXIT_NOT_ADDED

    async def add(db: Database) -> UserAccount:
        return await add_user(
            db,
            cli_actor(),
            args.username,
            args.role,
            args.venue_code,
            password,
            args.display_name,
            now=datetime.now(UTC),
        )

    print(describe(with_database(args, add)))
    return EXIT_OK


def _dry_add(args: argparse.Namespace) -> int:
    """``user add --dry-run``: the account checked as ``user import`` checks a row."""
    import csv
    import io

    from evaluation_hub.admin.errors import UsernameTaken
    from evaluation_hub.admin.imports import import_users

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["username", "role", "venue_code", "display_name"])
    writer.writerow([args.username, args.role, args.venue_code or "", args.display_name])

    async def check(db: Database) -> ImportReport:
        report = await import_users(
            db, cli_actor(), out.getvalue(), dry_run=True, now=datetime.now(UTC)
        )
        if report.present:
            raise UsernameTaken(args.username)
        return report

    with_database(args, check)
    where = "no venue" if args.venue_code is None else f"venue {args.venue_code}"
    print(
        f"user {args.username} would be added: {ROLE_NAMES[args.role]} ({args.role}), {where} "
        "(dry run, nothing changed)"
    )
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    from evaluation_hub.admin.users import list_users
    from evaluation_hub.admin.venues import venue_id_of

    async def listing(db: Database) -> list[UserAccount]:
        venue = None if args.venue_code is None else await venue_id_of(db, args.venue_code)
        return await list_users(db, cli_actor(), venue)

    print("username\trole\tvenue\tactive\tdisplay_name")
    for u in with_database(args, listing):
        active = "enabled" if u.active else "disabled"
        print(f"{u.username}\t{u.role}\t{u.venue_code or '-'}\t{active}\t{u.display_name}")
    return EXIT_OK


def run_init(args: argparse.Namespace) -> int:
    """Run ``init``: the first system administrator, the password asked for twice."""
    from evaluation_hub.admin.first_admin import create_first_administrator

    try:
        password = read_password(args.password_file, args.username)
    except PasswordInputError as exc:
        print(f"init: {exc}; nothing was created", file=sys.stderr)
        return EXIT_NOT_ADDED

    async def create(db: Database) -> UserAccount:
        return await create_first_administrator(
            db,
            args.username,
            password,
            args.display_name,
            by=cli_actor().username,
            now=datetime.now(UTC),
        )

    account = with_database(args, create)
    print(f"system administrator {account.username} created (#{account.id}); sign in at /admin")
    return EXIT_OK


def describe(account: UserAccount) -> str:
    """What ``user add`` prints: who was created, in which role, where."""
    where = (
        "no venue"
        if account.venue_code is None
        else f"venue {account.venue_code} {account.venue_name} (#{account.venue_id})"
    )
    named = f", display name {account.display_name}" if account.display_name else ""
    return (
        f"user {account.username} added (#{account.id}): {account.role_name} ({account.role}), "
        f"{where}{named}"
    )
