"""The administrative changes (操作日志): who changed which venue, seat or account, when, and
what it was before and after, read from the audit chain itself.

An administrative change is an audit event of kind ``admin.*`` (venues, accounts, the expert
pool) or ``directory.*`` (seats). Each is attributed to the venue it concerns: a venue's own
events (subject ``venue:<code>``), a seat's (its payload's ``venue``), an account's (the
account's venue); the expert pool and system administrators' accounts concern no venue. A
system administrator sees every change (``access.Action.SEE_ALL_CHANGES``); a venue admin
those of their own venue only (``access.Action.SEE_VENUE_CHANGES``), checked before any
event is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from evaluation_hub import access
from evaluation_hub.admin.errors import UnknownVenue
from evaluation_hub.audit.models import AuditEventRow
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import User, Venue
from evaluation_hub.principal import Principal

if TYPE_CHECKING:
    from evaluation_hub.services import Services

__all__ = ["ADMIN_KINDS", "AdminChange", "ChangeLog", "admin_changes", "venue_of"]

#: the kinds of audit event that are administrative changes (prefixes)
ADMIN_KINDS = ("admin.", "directory.")
#: the most changes one page of the log holds
MAX_LIMIT = 500


@dataclass(frozen=True)
class AdminChange:
    seq: int
    at: datetime
    actor: str
    kind: str
    subject: str
    #: the venue the change concerns (its code); None: no venue (the pool, system accounts)
    venue_code: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class ChangeLog:
    #: the venue whose changes these are; None: every change
    venue_code: str | None
    changes: tuple[AdminChange, ...]
    #: pass as ``before`` for the next (older) page; None: no older change
    next_before: int | None


def venue_of(subject: str, payload: dict[str, Any], homes: dict[str, str | None]) -> str | None:
    """The code of the venue an administrative event concerns (``homes``: each username's
    venue code)."""
    kind, _, name = subject.partition(":")
    if kind == "venue":
        return name
    for key in ("venue_code", "venue"):
        value = payload.get(key)
        if isinstance(value, str):
            return value
    if kind == "user":
        return homes.get(name)
    return None


def _database(hub: Services | Database) -> Database:
    return hub if isinstance(hub, Database) else hub.db


async def admin_changes(
    hub: Services | Database,
    actor: Principal,
    *,
    venue_id: int | None = None,
    before: int | None = None,
    limit: int = 100,
) -> ChangeLog:
    """The administrative changes, newest first: every one (``venue_id`` None), or those
    concerning one venue; ``before`` a sequence number, to page back.

    ``UnknownVenue``; ``Forbidden`` unless ``actor`` may see them (checked before any event is
    read).
    """
    limit = max(1, min(limit, MAX_LIMIT))
    async with _database(hub).read() as s:
        code: str | None = None
        if venue_id is None:
            access.require(actor, access.Action.SEE_ALL_CHANGES, access.Target())
        else:
            venue = await s.get(Venue, venue_id)
            if venue is None:
                raise UnknownVenue(venue_id)
            target = access.Target(venue_id=venue.id, venue_name=venue.name)
            access.require(actor, access.Action.SEE_VENUE_CHANGES, target)
            code = venue.code
        accounts = select(User.username, Venue.code).outerjoin(Venue, Venue.id == User.venue_id)
        homes: dict[str, str | None] = dict((await s.execute(accounts)).tuples().all())
        query = (
            select(AuditEventRow)
            .where(or_(*(AuditEventRow.kind.startswith(p) for p in ADMIN_KINDS)))
            .order_by(AuditEventRow.seq.desc())
        )
        if before is not None:
            query = query.where(AuditEventRow.seq < before)
        found: list[AdminChange] = []
        more = False
        for row in (await s.execute(query)).scalars():
            where = venue_of(row.subject, row.payload, homes)
            if code is not None and where != code:
                continue
            if len(found) == limit:
                more = True
                break
            found.append(
                AdminChange(
                    row.seq, row.at, row.actor, row.kind, row.subject, where, dict(row.payload)
                )
            )
    return ChangeLog(code, tuple(found), found[-1].seq if more else None)
