"""``evaluation-hub user add``: add a user from the hub's host, as the system administrator.

Whoever can run this command against the hub's database administers the hub, so the command
acts as the principal ``cli:<OS user>`` in the system administrator's role, and the audit chain
(``admin.user_added``) names the operating-system account that added the user.

The password is read from ``--password-file`` (one line; ``-`` reads it from standard input) or
asked for twice on the terminal without echo. It is never a command-line argument (arguments
show in ``ps`` and in shell history), never printed and never logged. Exit status: 0 added;
2 nothing was added (the refusal, or the password input problem, is printed on stderr).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaluation_hub.access import USER_ROLES as ROLES
from evaluation_hub.principal import Principal

if TYPE_CHECKING:
    from evaluation_hub.admin.users import UserAccount

__all__ = ["add_commands", "cli_actor", "describe", "read_password", "run_add"]

EXIT_OK = 0
EXIT_NOT_ADDED = 2


class PasswordInputError(Exception):
    """The password could not be read; the message says what to do instead."""


def add_commands(subparsers: Any) -> None:
    """Add ``user add`` to the ``evaluation-hub`` argument parser's subcommands."""
    user = subparsers.add_parser("user", help="user accounts")
    commands = user.add_subparsers(dest="user_command", required=True)
    add = commands.add_parser(
        "add",
        help="add a user who signs in to the hub (acts as the system administrator)",
        description="Add a user; the password comes from --password-file or is prompted for "
        "(never from the command line). The audit chain records who added the user as "
        "cli:<your OS user>.",
    )
    add.add_argument(
        "--database-url",
        help="sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DB "
        "(default: $EVALHUB_DATABASE_URL or var/hub.db)",
    )
    add.add_argument("username", help="the sign-in name (letters, digits, . _ -)")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--venue-code", help="the venue the user belongs to (every role but system_admin)"
    )
    add.add_argument("--display-name", default="", help="the name pages show, e.g. 主场业务员 李明")
    add.add_argument(
        "--password-file",
        metavar="PATH",
        help="read the password from PATH, a single line ('-': standard input); "
        "without it the password is asked for on the terminal",
    )
    add.set_defaults(func=run_add)


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
    """The new user's password, from ``path`` (``-``: standard input) or the terminal."""
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


def run_add(args: argparse.Namespace) -> int:
    """Run ``user add`` for parsed ``args``; returns the exit status."""
    import asyncio
    from datetime import UTC, datetime

    from evaluation_hub.admin.users import add_user
    from evaluation_hub.config import HubConfig
    from evaluation_hub.db.engine import Database

    try:
        password = read_password(args.password_file, args.username)
    except PasswordInputError as exc:
        print(f"user add: {exc}; nothing was added", file=sys.stderr)
        return EXIT_NOT_ADDED
    config = HubConfig.from_env(database_url=args.database_url)

    async def add() -> UserAccount:
        db = Database(config.database_url)
        try:
            await db.check_migrated()
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
        finally:
            await db.dispose()

    account = asyncio.run(add())
    print(describe(account))
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
