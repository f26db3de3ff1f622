"""Venues (场地管理): a trading centre's evaluation venue joins the directory, its particulars
change, and it is disabled (停用) or re-enabled.

Only a system administrator registers venues (``access.Action.ADD_VENUE``) and changes them
(``access.Action.EDIT_VENUE``); the venue's seats are then published by its own admin
(``booking.directory.create_seat``). A venue's code is the first half of every seat key
(``KM.KM-01``, ``seat_protocol.seat_key``), so it is short, upper-case letters and digits, and
never changes. Its region code must be one the region table holds (``configs/regions``: seat
allocation measures distances between those regions). A disabled venue takes no new bookings
(``sessions.seat_requests`` refuses them, the free-seat query and the allocator skip its
seats); what it already holds stays. Each change and its audit event commit in one unit of
work.

Audit events, subject ``venue:<code>``, actor the administrator's username:

    admin.venue_added     venue_id, code, name, region_code, supervising_department,
                          contact_name, contact_phone, latitude, longitude (decimal text
                          or null), enabled
    admin.venue_changed   venue_id, code, changed: {field: {from, to}} (only fields that changed)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, fields
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from evaluation_hub import access
from evaluation_hub.admin.errors import (
    BadCoordinates,
    BadRegionCode,
    BadVenueCode,
    FieldRequired,
    FieldTooLong,
    UnknownRegion,
    UnknownVenue,
    VenueCodeTaken,
)
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking.directory import VenueRecord, venue_record
from evaluation_hub.booking.regions import load_distances
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Venue
from evaluation_hub.errors import InvalidInput
from evaluation_hub.principal import Principal

if TYPE_CHECKING:
    from evaluation_hub.services import Services

__all__ = [
    "REGION_CODE",
    "VenueChanges",
    "VenueDraft",
    "add_venue",
    "change_venue",
    "checked_draft",
    "checked_text",
    "known_regions",
    "list_venues",
    "venue_fields",
    "venue_id_of",
    "venue_problems",
]

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
    #: WGS-84 degrees of the venue; both or neither
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class VenueChanges:
    """A venue's fields to set; ``None`` leaves a field as it is (the code never changes).
    Coordinates change together: give both."""

    name: str | None = None
    region_code: str | None = None
    supervising_department: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    enabled: bool | None = None


def checked_text(value: str, label: str, limit: int, *, required: bool = True) -> str:
    """``value`` without surrounding blanks; ``FieldRequired``/``FieldTooLong`` otherwise."""
    text = value.strip()
    if required and not text:
        raise FieldRequired(label)
    if len(text) > limit:
        raise FieldTooLong(label, limit)
    return text


def known_regions(hub: Services | Database) -> Collection[str]:
    """The region codes the hub's region table holds (the CLI, with no running hub, reads the
    default table the hub itself loads)."""
    distances = load_distances() if isinstance(hub, Database) else hub.distances
    return frozenset(distances.codes)


def _region(code: str, regions: Collection[str]) -> str:
    if not REGION_CODE.fullmatch(code):
        raise BadRegionCode("行政区划代码", code)
    if code not in regions:
        raise UnknownRegion(code)
    return code


def _coordinates(
    latitude: float | None, longitude: float | None
) -> tuple[float | None, float | None]:
    if latitude is None and longitude is None:
        return None, None
    if latitude is None or longitude is None:
        raise BadCoordinates()
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise BadCoordinates()
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise BadCoordinates()
    return float(latitude), float(longitude)


_LIMITS = {
    "name": ("场地名称", 200, True),
    "supervising_department": ("监督部门", 200, True),
    "contact_name": ("联系人", 100, False),
    "contact_phone": ("联系电话", 40, False),
}


def checked_draft(draft: VenueDraft, regions: Collection[str]) -> VenueDraft:
    """``draft`` with its text trimmed, or the refusal of its first bad field (pure)."""
    _check_code(draft.code)
    texts = {
        name: checked_text(getattr(draft, name), label, limit, required=required)
        for name, (label, limit, required) in _LIMITS.items()
    }
    latitude, longitude = _coordinates(draft.latitude, draft.longitude)
    return VenueDraft(
        code=draft.code,
        region_code=_region(draft.region_code, regions),
        latitude=latitude,
        longitude=longitude,
        **texts,
    )


def _audited(value: Any) -> Any:
    # The audit chain holds no floats (their text is not canonical): coordinates go as text.
    return str(value) if isinstance(value, float) else value


def _check_code(code: str) -> None:
    if not _CODE.fullmatch(code):
        raise BadVenueCode(code)


def venue_problems(draft: VenueDraft, regions: Collection[str]) -> list[tuple[str, str]]:
    """Every bad field of ``draft``, as (field name, message): what an import reports."""
    rules: list[tuple[str, Callable[[], object]]] = [("code", partial(_check_code, draft.code))]
    rules += [
        (name, partial(checked_text, getattr(draft, name), label, limit, required=required))
        for name, (label, limit, required) in _LIMITS.items()
    ]
    rules += [
        ("region_code", partial(_region, draft.region_code, regions)),
        ("latitude", partial(_coordinates, draft.latitude, draft.longitude)),
    ]
    found: list[tuple[str, str]] = []
    for name, rule in rules:
        try:
            rule()
        except InvalidInput as exc:
            found.append((name, exc.detail))
    return found


def venue_fields(record: VenueRecord) -> dict[str, Any]:
    """A venue's fields as the audit chain records them (coordinates as decimal text)."""
    return {f.name: _audited(getattr(record, f.name)) for f in fields(record) if f.name != "id"}


def _database(hub: Services | Database) -> Database:
    return hub if isinstance(hub, Database) else hub.db


async def add_venue(
    hub: Services | Database, actor: Principal, draft: VenueDraft, *, now: datetime
) -> VenueRecord:
    """Register a venue (登记场地).

    Refused (before anything is written) with ``BadVenueCode``, ``BadRegionCode``,
    ``UnknownRegion``, ``BadCoordinates``, ``FieldRequired``, ``FieldTooLong`` or
    ``VenueCodeTaken``; ``Forbidden`` unless ``actor`` is a system administrator.
    """
    access.require(actor, access.Action.ADD_VENUE, access.Target())
    venue = checked_draft(draft, known_regions(hub))
    async with _database(hub).write() as s:
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
            latitude=venue.latitude,
            longitude=venue.longitude,
            enabled=True,
        )
        s.add(row)
        try:
            await s.flush()
        except IntegrityError as exc:  # registered by someone else since the check above
            raise VenueCodeTaken(venue.code) from exc
        record = venue_record(row)
        await append_event(
            s,
            kind="admin.venue_added",
            subject=f"venue:{record.code}",
            actor=actor.username,
            payload={"venue_id": record.id, **venue_fields(record)},
            at=now,
        )
        return record


async def change_venue(
    hub: Services | Database,
    actor: Principal,
    venue_id: int,
    changes: VenueChanges,
    *,
    now: datetime,
) -> VenueRecord:
    """Change a venue's particulars, or disable (停用) / re-enable (启用) it (修改场地). The audit
    event names each field that changed with its value before and after; a change that changes
    nothing writes nothing.

    Refused with ``UnknownVenue``, then ``Forbidden`` unless ``actor`` is a system
    administrator, then (nothing written) ``BadRegionCode``, ``UnknownRegion``,
    ``BadCoordinates``, ``FieldRequired`` or ``FieldTooLong``.
    """
    async with _database(hub).write() as s:
        row = await s.get(Venue, venue_id, with_for_update=True)
        if row is None:
            raise UnknownVenue(venue_id)
        target = access.Target(venue_id=row.id, venue_name=row.name)
        access.require(actor, access.Action.EDIT_VENUE, target)
        before = venue_record(row)
        for name, (label, limit, required) in _LIMITS.items():
            value = getattr(changes, name)
            if value is not None:
                setattr(row, name, checked_text(value, label, limit, required=required))
        if changes.region_code is not None:
            row.region_code = _region(changes.region_code, known_regions(hub))
        if changes.latitude is not None or changes.longitude is not None:
            row.latitude, row.longitude = _coordinates(changes.latitude, changes.longitude)
        if changes.enabled is not None:
            row.enabled = changes.enabled
        await s.flush()
        after = venue_record(row)
        old, new = venue_fields(before), venue_fields(after)
        changed = {k: {"from": old[k], "to": new[k]} for k in new if new[k] != old[k]}
        if changed:
            await append_event(
                s,
                kind="admin.venue_changed",
                subject=f"venue:{after.code}",
                actor=actor.username,
                payload={"venue_id": after.id, "code": after.code, "changed": changed},
                at=now,
            )
        return after


async def list_venues(hub: Services | Database, actor: Principal) -> list[VenueRecord]:
    """Every venue, enabled or not, by code (the CLI's ``venue list``; the pages read
    ``GET /api/venues``). ``Forbidden`` unless ``actor`` is a system administrator."""
    access.require(actor, access.Action.ADD_VENUE, access.Target())
    async with _database(hub).read() as s:
        rows = (await s.execute(select(Venue).order_by(Venue.code))).scalars()
        return [venue_record(v) for v in rows]


async def venue_id_of(hub: Services | Database, code: str) -> int:
    """The id of the venue with ``code``; ``UnknownVenue`` otherwise (the CLI names venues by
    code)."""
    async with _database(hub).read() as s:
        found = (await s.execute(select(Venue.id).where(Venue.code == code))).scalar_one_or_none()
    if found is None:
        raise UnknownVenue(code)
    return found
