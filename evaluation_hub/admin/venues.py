"""Registering a venue (登记场地): a trading centre's evaluation venue joins the directory.

Only a system administrator registers venues (``access.Action.ADD_VENUE``); the venue's seats
are then published by its own admin (``booking.directory.create_seat``). A venue's code is the
first half of every seat key (``KM.KM-01``, ``seat_protocol.seat_key``), so it is short,
upper-case letters and digits, and never changes. The registration and its audit event commit
in one unit of work.

Audit event, subject ``venue:<code>``, actor the administrator's username:

    admin.venue_added   venue_id, code, name, region_code, supervising_department,
                        contact_name, contact_phone
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from evaluation_hub import access
from evaluation_hub.admin.errors import (
    BadRegionCode,
    BadVenueCode,
    FieldRequired,
    FieldTooLong,
    VenueCodeTaken,
)
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking.directory import VenueRecord
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Venue
from evaluation_hub.principal import Principal

if TYPE_CHECKING:
    from evaluation_hub.services import Services

__all__ = ["REGION_CODE", "VenueDraft", "add_venue", "checked_text"]

# Upper-case letters and digits: the code prefixes seat keys (``<code>.<label>``).
_CODE = re.compile(r"[A-Z][A-Z0-9]{0,15}")
#: a 6-digit administrative division code (行政区划代码), 530100 for 昆明市
REGION_CODE = re.compile(r"[1-9][0-9]{5}")


@dataclass(frozen=True)
class VenueDraft:
    """A venue to register, as the administrator describes it."""

    code: str
    name: str
    #: the venue's administrative division (行政区划代码), used to seat experts near home
    region_code: str
    #: the department supervising the venue's centre (监督部门)
    supervising_department: str
    contact_name: str = ""
    contact_phone: str = ""


def checked_text(value: str, label: str, limit: int, *, required: bool = True) -> str:
    """``value`` without surrounding blanks; ``FieldRequired``/``FieldTooLong`` otherwise."""
    text = value.strip()
    if required and not text:
        raise FieldRequired(label)
    if len(text) > limit:
        raise FieldTooLong(label, limit)
    return text


def _checked(draft: VenueDraft) -> VenueDraft:
    if not _CODE.fullmatch(draft.code):
        raise BadVenueCode(draft.code)
    if not REGION_CODE.fullmatch(draft.region_code):
        raise BadRegionCode("行政区划代码", draft.region_code)
    return VenueDraft(
        code=draft.code,
        name=checked_text(draft.name, "场地名称", 200),
        region_code=draft.region_code,
        supervising_department=checked_text(draft.supervising_department, "监督部门", 200),
        contact_name=checked_text(draft.contact_name, "联系人", 100, required=False),
        contact_phone=checked_text(draft.contact_phone, "联系电话", 40, required=False),
    )


async def add_venue(
    hub: Services | Database, actor: Principal, draft: VenueDraft, *, now: datetime
) -> VenueRecord:
    """Register a venue (登记场地).

    Refused (before anything is written) with ``BadVenueCode``, ``BadRegionCode``,
    ``FieldRequired``, ``FieldTooLong`` or ``VenueCodeTaken``; ``Forbidden`` unless ``actor``
    is a system administrator.
    """
    access.require(actor, access.Action.ADD_VENUE, access.Target())
    venue = _checked(draft)
    db = hub if isinstance(hub, Database) else hub.db
    async with db.write() as s:
        taken = (await s.execute(select(Venue.id).where(Venue.code == venue.code))).first()
        if taken is not None:
            raise VenueCodeTaken(venue.code)
        row = Venue(
            code=venue.code,
            name=venue.name,
            region_code=venue.region_code,
            supervising_department=venue.supervising_department,
            contact_name=venue.contact_name,
            contact_phone=venue.contact_phone,
        )
        s.add(row)
        try:
            await s.flush()
        except IntegrityError as exc:  # registered by someone else since the check above
            raise VenueCodeTaken(venue.code) from exc
        record = VenueRecord(
            row.id,
            row.code,
            row.name,
            row.region_code,
            row.supervising_department,
            row.contact_name,
            row.contact_phone,
        )
        await append_event(
            s,
            kind="admin.venue_added",
            subject=f"venue:{record.code}",
            actor=actor.username,
            payload={
                "venue_id": record.id,
                "code": record.code,
                "name": record.name,
                "region_code": record.region_code,
                "supervising_department": record.supervising_department,
                "contact_name": record.contact_name,
                "contact_phone": record.contact_phone,
            },
            at=now,
        )
        return record
