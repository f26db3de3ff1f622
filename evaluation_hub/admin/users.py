"""User accounts (用户账号): the system administrator adds users, disables or re-enables them
and resets their passwords; each change and its audit event commit in one unit of work.

Only a system administrator (系统管理员) administers accounts (``access.Action.MANAGE_USERS``);
the CLI acts as one. A venue's roles (venue admin, host operator, supervisor) belong to exactly
one venue, a system administrator to none. The password is hashed here (``admin.passwords``,
in a worker thread: scrypt is slow on purpose) and goes nowhere else: not into a result, a log
line or the audit chain. Disabling a user or resetting a password ends every token issued to
that user before (``admin.tokens.end_tokens`` moves the user's token version on, in the same
unit of work), so a stolen or forgotten session does not outlive either.

Audit events, subject ``user:<username>``, actor the administrator's username:

    admin.user_added       user_id, username, display_name, role, venue_id, venue_code
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

from sqlalchemy import select
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

__all__ = ["UserAccount", "add_user", "reset_password", "set_active"]

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


def _require(actor: Principal) -> None:
    access.require(actor, access.Action.MANAGE_USERS, access.Target())


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


async def _user(s: AsyncSession, username: str) -> tuple[User, Venue | None]:
    user = (
        await s.execute(select(User).where(User.username == username).with_for_update())
    ).scalar_one_or_none()
    if user is None:
        raise UnknownUser(username)
    venue = None if user.venue_id is None else await s.get(Venue, user.venue_id)
    return user, venue


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


async def add_user(
    hub: Services | Database,
    actor: Principal,
    username: str,
    role: str,
    venue: str | int | None,
    password: str,
    display_name: str = "",
    *,
    now: datetime,
) -> UserAccount:
    """Add a user who signs in with ``username`` and ``password`` (新增用户).

    ``venue`` is the venue's code (``"KM"``) or id; ``None`` for a system administrator.
    Refused (before anything is written) with ``UnknownRole``, ``BadUsername``,
    ``WeakPassword``, ``PasswordTooLong``, ``BadDisplayName``, ``VenueRequired``,
    ``VenueNotAllowed``, ``UnknownVenue`` or ``UsernameTaken``; ``Forbidden`` unless ``actor``
    is a system administrator.
    """
    _require(actor)
    if role not in ROLES:
        raise UnknownRole(role)
    if not _USERNAME.fullmatch(username):
        raise BadUsername(username)
    _check_password(password)
    if len(display_name) > MAX_DISPLAY_NAME:
        raise BadDisplayName()
    if role == access.Role.SYSTEM_ADMIN and venue is not None:
        raise VenueNotAllowed()
    if role != access.Role.SYSTEM_ADMIN and venue is None:
        raise VenueRequired(role)
    # Hashed before the unit of work so the database's write lock is not held for it.
    password_hash = await _hash(password)
    async with _database(hub).write() as s:
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
            active=True,
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
            },
            at=now,
        )
        return account


async def set_active(
    hub: Services | Database, actor: Principal, username: str, active: bool, *, now: datetime
) -> UserAccount:
    """Disable (停用) or re-enable (启用) a user's account; disabling ends the user's tokens.

    Refused with ``UnknownUser``, ``AccountUnchanged`` (already so) or ``OwnAccount`` (an
    administrator disabling their own account); ``Forbidden`` unless ``actor`` is a system
    administrator.
    """
    _require(actor)
    async with _database(hub).write() as s:
        user, venue = await _user(s, username)
        if not active and user.username == actor.username:
            raise OwnAccount(username)
        if user.active == active:
            raise AccountUnchanged(username, active=active)
        user.active = active
        if not active:
            end_tokens(user)
        await s.flush()
        await append_event(
            s,
            kind="admin.user_enabled" if active else "admin.user_disabled",
            subject=f"user:{username}",
            actor=actor.username,
            payload={"user_id": user.id, "username": user.username},
            at=now,
        )
        return _account(user, venue)


async def reset_password(
    hub: Services | Database, actor: Principal, username: str, password: str, *, now: datetime
) -> UserAccount:
    """Give a user a new password (重置密码); the old one, and every token issued under it,
    stop working at once.

    Refused with ``WeakPassword``, ``PasswordTooLong`` or ``UnknownUser``; ``Forbidden`` unless
    ``actor`` is a system administrator.
    """
    _require(actor)
    _check_password(password)
    password_hash = await _hash(password)
    async with _database(hub).write() as s:
        user, venue = await _user(s, username)
        user.password_hash = password_hash
        end_tokens(user)
        await s.flush()
        await append_event(
            s,
            kind="admin.password_reset",
            subject=f"user:{username}",
            actor=actor.username,
            payload={"user_id": user.id, "username": user.username},
            at=now,
        )
        return _account(user, venue)
