"""The first system administrator (初始化): ``evaluation-hub init`` on a freshly migrated
database creates the one account from which every other is then made through the pages.

Nobody is signed in yet, so there is no principal to check: whoever can run the command
against the hub's database administers the hub (the audit chain names the operating-system
account, ``cli:<OS user>``). Refused once any system administrator exists (enabled or not):
from then on accounts are made by an administrator. The check is repeated in the unit of work
that inserts. The password is hashed and goes nowhere else.

Audit event, subject ``user:<username>``, actor ``cli:<OS user>``:

    admin.user_added   user_id, username, display_name, role (system_admin), venue_id (null),
                       venue_code (null), active (true), initial (true)
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select

from evaluation_hub.access import Role
from evaluation_hub.admin.errors import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    AdministratorExists,
    PasswordTooLong,
    WeakPassword,
)
from evaluation_hub.admin.passwords import hash_password
from evaluation_hub.admin.users import UserAccount, check_account
from evaluation_hub.audit.store import append_event
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import User

__all__ = ["create_first_administrator"]


async def create_first_administrator(
    db: Database, username: str, password: str, display_name: str, *, by: str, now: datetime
) -> UserAccount:
    """Create the hub's first system administrator; ``by`` names who ran ``init``.

    Refused with ``AdministratorExists``, ``BadUsername``, ``BadDisplayName``, ``WeakPassword``
    or ``PasswordTooLong``; nothing is written then.
    """
    async with db.read() as s:
        if (await s.execute(select(User.id).where(User.role == Role.SYSTEM_ADMIN))).first():
            raise AdministratorExists()
    check_account(username, Role.SYSTEM_ADMIN, False, display_name)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword()
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooLong()
    password_hash = await asyncio.to_thread(hash_password, password)
    async with db.write() as s:
        # Again inside the unit of work that inserts: another init may have run meanwhile.
        if (await s.execute(select(User.id).where(User.role == Role.SYSTEM_ADMIN))).first():
            raise AdministratorExists()
        user = User(
            username=username,
            display_name=display_name,
            role=Role.SYSTEM_ADMIN,
            venue_id=None,
            password_hash=password_hash,
            active=True,
        )
        s.add(user)
        await s.flush()
        await append_event(
            s,
            kind="admin.user_added",
            subject=f"user:{username}",
            actor=by,
            payload={
                "user_id": user.id,
                "username": username,
                "display_name": display_name,
                "role": Role.SYSTEM_ADMIN.value,
                "venue_id": None,
                "venue_code": None,
                "active": True,
                "initial": True,
            },
            at=now,
        )
        return UserAccount(
            user.id, username, display_name, Role.SYSTEM_ADMIN, None, None, None, True
        )
