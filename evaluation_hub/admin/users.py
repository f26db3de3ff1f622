"""User accounts (用户账号): adding users, disabling or re-enabling them and resetting their
passwords; each change and its audit event commit in one unit of work.

Who administers which account (``evaluation_hub.access``): a system administrator (系统管理员)
every account; a venue admin (场地管理员) the accounts of their own venue
(``Action.MANAGE_VENUE_USERS``), never a system administrator's
(``Action.MANAGE_SYSTEM_ADMINS``) nor another venue's. The CLI acts as a system administrator.
The principal is checked on the account's venue before anything else is looked at. A venue's
roles (venue admin, host operator, supervisor) belong to exactly one venue, a system
administrator to none. The password is hashed here (``admin.passwords``, in a worker thread:
scrypt is slow on purpose) and goes nowhere else: not into a result, a log line or the audit
chain. Disabling a user or resetting a password ends every token issued to that user before
(``admin.tokens.end_tokens`` moves the user's token version on, in the same unit of work), and
every request re-reads the user (``admin.tokens.token_holder``), so a disabled user's tokens
stop working at once.

An account added without a password (``user import``) is disabled and cannot sign in until an
administrator sets its password and enables it.

Audit events, subject ``user:<username>``, actor the administrator's username:

    admin.user_added       user_id, username, display_name, role, venue_id, venue_code, active
    admin.user_disabled    user_id, username
    admin.user_enabled     user_id, username
    admin.password_reset   user_id, username
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access
from evaluation_hub.access import USER_ROLES as ROLES
from evaluation_hub.admin.errors import (
    MAX_DISPLAY_NAME,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    AccountUnchanged,
    BadDisplayName,
    BadUsername,
    OwnAccount,
    PasswordTooLong,
    UnknownRole,
    UnknownUser,
    UnknownVenue,
    UsernameTaken,
    VenueNotAllowed,
    VenueRequired,
    WeakPassword,
)
from evaluation_hub.admin.passwords import hash_password
from evaluation_hub.admin.tokens import end_tokens
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import User, Venue
from evaluation_hub.principal import Principal

if TYPE_CHECKING:
    from evaluation_hub.services import Services

__all__ = [
    "NO_PASSWORD",
    "UserAccount",
    "add_user",
    "check_account",
    "list_users",
    "reset_password",
    "set_active",
]

#: the stored hash of an account with no password yet: no password ever matches it
NO_PASSWORD = "!"

# A sign-in name: it is also the audit subject (``user:<username>``), so no spaces.
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class UserAccount:
    """A user as administration sees it: never the password, never its hash."""

    id: int
    username: str
    display_name: str
    role: str
    venue_id: int | None
    venue_code: str | None
    venue_name: str | None
    active: bool

    @property
    def role_name(self) -> str:
        return access.ROLE_NAMES[self.role]


def _database(hub: Services | Database) -> Database:
    # The CLI has a database and no running hub; the HTTP shell and the demo pass Services.
    return hub if isinstance(hub, Database) else hub.db


def _require(actor: Principal, role: str, venue: Venue | None) -> None:
    """Whether ``actor`` may administer an account of ``role`` at ``venue``: a system
    administrator's account is the system administrators' alone; a venue's, its admin's too."""
    if role == access.Role.SYSTEM_ADMIN or venue is None:
        access.require(actor, access.Action.MANAGE_SYSTEM_ADMINS, access.Target())
    else:
        target = access.Target(venue_id=venue.id, venue_name=venue.name)
        access.require(actor, access.Action.MANAGE_VENUE_USERS, target)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword()
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooLong()


async def _hash(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def _venue(s: AsyncSession, venue: str | int) -> Venue:
    column = Venue.id if isinstance(venue, int) else Venue.code
    found = (await s.execute(select(Venue).where(column == venue))).scalar_one_or_none()
    if found is None:
        raise UnknownVenue(venue)
    return found


async def _user(s: AsyncSession, user: str | int) -> tuple[User, Venue | None]:
    column = User.id if isinstance(user, int) else User.username
    row = (
        await s.execute(select(User).where(column == user).with_for_update())
    ).scalar_one_or_none()
    if row is None:
        raise UnknownUser(str(user) if isinstance(user, str) else f"#{user}")
    venue = None if row.venue_id is None else await s.get(Venue, row.venue_id)
    return row, venue


def _account(user: User, venue: Venue | None) -> UserAccount:
    return UserAccount(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        venue_id=user.venue_id,
        venue_code=None if venue is None else venue.code,
        venue_name=None if venue is None else venue.name,
        active=user.active,
    )


def check_account(username: str, role: str, has_venue: bool, display_name: str) -> None:
    """The rules of an account's fields (pure): ``UnknownRole``, ``BadUsername``,
    ``BadDisplayName``, ``VenueNotAllowed`` or ``VenueRequired``."""
    if role not in ROLES:
        raise UnknownRole(role)
    if not _USERNAME.fullmatch(username):
        raise BadUsername(username)
    if len(display_name) > MAX_DISPLAY_NAME:
        raise BadDisplayName()
    if role == access.Role.SYSTEM_ADMIN and has_venue:
        raise VenueNotAllowed()
    if role != access.Role.SYSTEM_ADMIN and not has_venue:
        raise VenueRequired(role)


async def add_user(
    hub: Services | Database,
    actor: Principal,
    username: str,
    role: str,
    venue: str | int | None,
    password: str | None,
    display_name: str = "",
    *,
    now: datetime,
) -> UserAccount:
    """Add a user who signs in with ``username`` and ``password`` (新增用户).

    ``venue`` is the venue's code (``"KM"``) or id; ``None`` for a system administrator.
    ``password`` ``None`` adds the account disabled, with no password (``user import``).
    ``UnknownVenue`` for a venue that does not exist, then ``Forbidden`` unless ``actor`` may
    administer accounts of ``role`` at ``venue`` (before anything else is checked), then
    refused (nothing written) with ``UnknownRole``, ``BadUsername``, ``WeakPassword``,
    ``PasswordTooLong``, ``BadDisplayName``, ``VenueRequired``, ``VenueNotAllowed`` or
    ``UsernameTaken``.
    """
    db = _database(hub)
    if role == access.Role.SYSTEM_ADMIN or venue is None:
        _require(actor, role, None)
    if venue is not None:
        async with db.read() as s:
            _require(actor, role, await _venue(s, venue))
    check_account(username, role, venue is not None, display_name)
    if password is not None:
        _check_password(password)
    # Hashed before the unit of work so the database's write lock is not held for it.
    password_hash = NO_PASSWORD if password is None else await _hash(password)
    async with db.write() as s:
        home = None if venue is None else await _venue(s, venue)
        taken = (await s.execute(select(User.id).where(User.username == username))).first()
        if taken is not None:
            raise UsernameTaken(username)
        user = User(
            username=username,
            display_name=display_name,
            role=role,
            venue_id=None if home is None else home.id,
            password_hash=password_hash,
            active=password is not None,
        )
        s.add(user)
        try:
            await s.flush()
        except IntegrityError as exc:  # added by someone else since the check above
            raise UsernameTaken(username) from exc
        account = _account(user, home)
        await append_event(
            s,
            kind="admin.user_added",
            subject=f"user:{username}",
            actor=actor.username,
            payload={
                "user_id": account.id,
                "username": account.username,
                "display_name": account.display_name,
                "role": account.role,
                "venue_id": account.venue_id,
                "venue_code": account.venue_code,
                "active": account.active,
            },
            at=now,
        )
        return account


async def _authorised_user(
    s: AsyncSession, actor: Principal, user: str | int
) -> tuple[User, Venue | None]:
    row, venue = await _user(s, user)
    _require(actor, row.role, venue)
    return row, venue


async def set_active(
    hub: Services | Database, actor: Principal, user: str | int, active: bool, *, now: datetime
) -> UserAccount:
    """Disable (停用) or re-enable (启用) a user's account (by username or id); disabling ends
    the user's tokens at once.

    Refused with ``UnknownUser``, ``Forbidden`` unless ``actor`` administers the account, then
    ``AccountUnchanged`` (already so) or ``OwnAccount`` (disabling one's own account).
    """
    async with _database(hub).write() as s:
        row, venue = await _authorised_user(s, actor, user)
        if not active and row.username == actor.username:
            raise OwnAccount(row.username)
        if row.active == active:
            raise AccountUnchanged(row.username, active=active)
        row.active = active
        if not active:
            end_tokens(row)
        await s.flush()
        await append_event(
            s,
            kind="admin.user_enabled" if active else "admin.user_disabled",
            subject=f"user:{row.username}",
            actor=actor.username,
            payload={"user_id": row.id, "username": row.username},
            at=now,
        )
        return _account(row, venue)


async def reset_password(
    hub: Services | Database, actor: Principal, user: str | int, password: str, *, now: datetime
) -> UserAccount:
    """Give a user a new password (重置密码), set by the administrator; the old one, and every
    token issued under it, stop working at once.

    Refused with ``UnknownUser``, ``Forbidden`` unless ``actor`` administers the account, then
    ``WeakPassword`` or ``PasswordTooLong``.
    """
    db = _database(hub)
    async with db.read() as s:
        await _authorised_user(s, actor, user)
    _check_password(password)
    password_hash = await _hash(password)
    async with db.write() as s:
        row, venue = await _authorised_user(s, actor, user)
        row.password_hash = password_hash
        end_tokens(row)
        await s.flush()
        await append_event(
            s,
            kind="admin.password_reset",
            subject=f"user:{row.username}",
            actor=actor.username,
            payload={"user_id": row.id, "username": row.username},
            at=now,
        )
        return _account(row, venue)


async def list_users(
    hub: Services | Database, actor: Principal, venue_id: int | None = None
) -> list[UserAccount]:
    """The accounts of one venue (``venue_id``), or every account; never a password or hash.

    ``UnknownVenue``, then ``Forbidden`` unless ``actor`` administers that venue's accounts
    (every account: a system administrator).
    """
    query: Select[tuple[User, Venue]] = (
        select(User, Venue).outerjoin(Venue, Venue.id == User.venue_id).order_by(User.id)
    )
    async with _database(hub).read() as s:
        if venue_id is None:
            access.require(actor, access.Action.MANAGE_USERS, access.Target())
        else:
            venue = await _venue(s, venue_id)
            target = access.Target(venue_id=venue.id, venue_name=venue.name)
            access.require(actor, access.Action.MANAGE_VENUE_USERS, target)
            query = query.where(User.venue_id == venue.id)
        return [_account(user, venue) for user, venue in (await s.execute(query)).all()]
