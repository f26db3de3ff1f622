"""The seat directory (工位共享目录): venues, their seats, which seats are free in a window, and
a venue's day of bookings.

Anyone signed in reads the venues and the shared seats; a venue's admin (or the system
administrator, as any venue's admin) publishes and changes its seats, sees its unshared ones
and its timeline (``access.Action.ADMINISTER_VENUE``). Creating or changing a seat is audited
(``directory.seat_created``, ``directory.seat_changed`` with the fields that changed). A seat
label is unique at its venue (409 naming it, also when two requests race for it).

A seat held by a random draw (两随机) is busy only for those who may learn where the draw went
(``records.hold_visible``): before the start, the host's free-seat query lists it like any free
seat, so the one seat missing from a venue cannot tell the host where its experts were drawn.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access, localtime
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking import rules
from evaluation_hub.booking.ledger import load_venue
from evaluation_hub.booking.records import hold_visible, session_started
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Booking, BookingSeat, EvaluationSession, Seat, Venue
from evaluation_hub.errors import Conflict, InvalidInput, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services

__all__ = [
    "CAPABILITIES",
    "SEAT_STATUSES",
    "SeatChanges",
    "SeatDay",
    "SeatQuery",
    "SeatRecord",
    "TimelineHold",
    "VenueRecord",
    "VenueTimeline",
    "change_seat",
    "create_seat",
    "list_seats",
    "list_venues",
    "venue_record",
    "venue_timeline",
]

#: what a seat may be equipped with (设备能力)
CAPABILITIES = ("camera", "microphone", "dual_screen", "speaker", "id_reader")
SEAT_STATUSES = ("available", "maintenance", "retired")


@dataclass(frozen=True)
class VenueRecord:
    id: int
    code: str
    name: str
    region_code: str
    supervising_department: str
    contact_name: str
    contact_phone: str
    latitude: float | None = None
    longitude: float | None = None
    #: a disabled venue (停用) takes no new bookings
    enabled: bool = True


@dataclass(frozen=True)
class SeatRecord:
    id: int
    venue_id: int
    label: str
    room: str
    capabilities: tuple[str, ...]
    status: str
    shared: bool
    venue_name: str
    region_code: str


@dataclass(frozen=True)
class SeatQuery:
    """Which seats to list: every filter given must hold."""

    venue_id: int | None = None
    #: administrative division code prefix (5329 matches 大理州)
    region: str = ""
    capabilities: tuple[str, ...] = ()
    #: only seats available and free for the whole window
    free_in: rules.Window | None = None
    #: also the caller's own venue's seats not shared to the directory
    include_unshared: bool = False


@dataclass(frozen=True)
class SeatChanges:
    """A seat's fields to set; None leaves a field as it is."""

    label: str | None = None
    room: str | None = None
    capabilities: Collection[str] | None = None
    status: str | None = None
    shared: bool | None = None


@dataclass(frozen=True)
class TimelineHold:
    booking_id: int
    session_id: int
    state: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class SeatDay:
    seat: SeatRecord
    holds: tuple[TimelineHold, ...]


@dataclass(frozen=True)
class VenueTimeline:
    venue: VenueRecord
    day: date
    seats: tuple[SeatDay, ...]


def venue_record(v: Venue) -> VenueRecord:
    return VenueRecord(
        v.id,
        v.code,
        v.name,
        v.region_code,
        v.supervising_department,
        v.contact_name,
        v.contact_phone,
        v.latitude,
        v.longitude,
        v.enabled,
    )


_venue = venue_record


def _seat(seat: Seat, venue: Venue) -> SeatRecord:
    return SeatRecord(
        seat.id,
        seat.venue_id,
        seat.label,
        seat.room,
        tuple(sorted(seat.capabilities)),
        seat.status,
        seat.shared,
        venue.name,
        venue.region_code,
    )


def _check_capabilities(wanted: Collection[str]) -> None:
    unknown = [c for c in wanted if c not in CAPABILITIES]
    if unknown:
        raise InvalidInput(
            "bad-query", f"未知的设备能力：{', '.join(unknown)}（可选：{', '.join(CAPABILITIES)}）"
        )


def _database(hub: Services | Database) -> Database:
    # The CLI (``evaluation-hub seat …``) has a database and no running hub.
    return hub if isinstance(hub, Database) else hub.db


def _venue_target(venue: Venue) -> access.Target:
    return access.Target(venue_id=venue.id, venue_name=venue.name)


async def _administered_venue(s: AsyncSession, actor: Principal, venue_id: int) -> Venue:
    venue = await load_venue(s, venue_id)
    access.require(actor, access.Action.ADMINISTER_VENUE, _venue_target(venue))
    return venue


async def list_venues(hub: Services, actor: Principal) -> list[VenueRecord]:
    """Every venue (场地), for anyone signed in."""
    async with hub.db.read() as s:
        return [_venue(v) for v in (await s.execute(select(Venue).order_by(Venue.id))).scalars()]


async def _busy_seats(
    s: AsyncSession, actor: Principal, window: rules.Window, now: datetime
) -> set[int]:
    """The seats held in ``window`` as far as ``actor`` may know: a drawn hold whose venue is
    hidden from them is not counted (``records.hold_visible``)."""
    holds = await s.execute(
        select(
            BookingSeat.seat_id,
            Seat.venue_id,
            Booking.session_id,
            Booking.drawn,
            EvaluationSession.host_venue_id,
            EvaluationSession.starts_at,
        )
        .join(Seat, Seat.id == BookingSeat.seat_id)
        .join(Booking, Booking.id == BookingSeat.booking_id)
        .join(EvaluationSession, EvaluationSession.id == Booking.session_id)
        .where(
            BookingSeat.live.is_(True),
            BookingSeat.starts_at < window.ends_at,
            BookingSeat.ends_at > window.starts_at,
        )
    )
    return {
        seat_id
        for seat_id, venue_id, session_id, drawn, host_venue_id, starts_at in holds.all()
        if hold_visible(
            actor,
            session_id=session_id,
            host_venue_id=host_venue_id,
            venue_id=venue_id,
            drawn=drawn,
            started=session_started(starts_at, now),
        )
    }


async def list_seats(
    hub: Services | Database, actor: Principal, query: SeatQuery, *, now: datetime
) -> list[SeatRecord]:
    """The shared seats matching ``query``, by venue and id; with ``include_unshared`` also the
    unshared seats of venues the caller administers."""
    _check_capabilities(query.capabilities)
    found = select(Seat, Venue).join(Venue).order_by(Venue.id, Seat.id)
    if query.venue_id is not None:
        found = found.where(Seat.venue_id == query.venue_id)
    if query.region:
        found = found.where(Venue.region_code.startswith(query.region))
    window = query.free_in
    async with _database(hub).read() as s:
        rows = list((await s.execute(found)).all())
        busy = await _busy_seats(s, actor, window, now) if window is not None else set()
    out: list[SeatRecord] = []
    for seat, venue in rows:
        own_venue = access.allowed(actor, access.Action.ADMINISTER_VENUE, _venue_target(venue))
        if not seat.shared and not (query.include_unshared and own_venue):
            continue
        if not set(query.capabilities) <= set(seat.capabilities):
            continue
        # A disabled venue (停用) takes no new bookings: none of its seats is free.
        if window is not None and (
            seat.id in busy or seat.status != "available" or not venue.enabled
        ):
            continue
        out.append(_seat(seat, venue))
    return out


async def create_seat(
    hub: Services | Database,
    actor: Principal,
    venue_id: int,
    *,
    label: str,
    room: str = "",
    capabilities: Collection[str] = (),
    status: str = "available",
    shared: bool = True,
    now: datetime,
) -> SeatRecord:
    """Publish a seat of the venue to the directory (发布工位)."""
    label = label.strip()
    async with _database(hub).write() as s:
        venue = await _administered_venue(s, actor, venue_id)
        await _label_free(s, venue, label)
        seat = Seat(
            venue_id=venue.id,
            label=label,
            room=room,
            capabilities=sorted(capabilities),
            status=status,
            shared=shared,
        )
        s.add(seat)
        await _flush_label(s, venue, label)
        await append_event(
            s,
            kind="directory.seat_created",
            subject=f"seat:{seat.id}",
            actor=actor.username,
            payload={"venue": venue.code, **_fields(seat)},
            at=now,
        )
        return _seat(seat, venue)


def _label_taken(venue: Venue, label: str) -> Conflict:
    return Conflict("seat-label-taken", f"场地「{venue.name}」已有编号为 {label} 的工位")


async def _label_free(
    s: AsyncSession, venue: Venue, label: str, *, other_than: int | None = None
) -> None:
    """409 if another seat of the venue has ``label``."""
    query = select(Seat.id).where(Seat.venue_id == venue.id, Seat.label == label)
    if other_than is not None:
        query = query.where(Seat.id != other_than)
    if (await s.execute(query)).first():
        raise _label_taken(venue, label)


async def _flush_label(s: AsyncSession, venue: Venue, label: str) -> None:
    """Flush a new or relabelled seat; the unique (venue, label) constraint refusing it means a
    concurrent request took the label after :func:`_label_free` looked."""
    try:
        async with s.begin_nested():
            await s.flush()
    except IntegrityError as exc:
        raise _label_taken(venue, label) from exc


def _fields(seat: Seat) -> dict[str, Any]:
    return {
        "label": seat.label,
        "room": seat.room,
        "capabilities": list(seat.capabilities),
        "status": seat.status,
        "shared": seat.shared,
    }


async def change_seat(
    hub: Services | Database,
    actor: Principal,
    seat_id: int,
    changes: SeatChanges,
    *,
    now: datetime,
) -> SeatRecord:
    """Change a seat of the venue (修改工位); the audit event names each changed field with its
    value before and after."""
    async with _database(hub).write() as s:
        seat = await s.get(Seat, seat_id)
        if seat is None:
            raise NotFound("seat-not-found", f"工位 #{seat_id} 不存在")
        venue = await _administered_venue(s, actor, seat.venue_id)
        before = _fields(seat)
        label = changes.label.strip() if changes.label is not None else None
        if label is not None and label != seat.label:
            await _label_free(s, venue, label, other_than=seat.id)
        for name, value in (
            ("label", label),
            ("room", changes.room),
            ("status", changes.status),
            ("shared", changes.shared),
        ):
            if value is not None:
                setattr(seat, name, value)
        if changes.capabilities is not None:
            seat.capabilities = sorted(changes.capabilities)
        await _flush_label(s, venue, seat.label)
        after = _fields(seat)
        changed: Mapping[str, Any] = {
            name: {"from": before[name], "to": after[name]}
            for name in after
            if after[name] != before[name]
        }
        if changed:
            await append_event(
                s,
                kind="directory.seat_changed",
                subject=f"seat:{seat.id}",
                actor=actor.username,
                payload={"venue": venue.code, "changed": dict(changed)},
                at=now,
            )
        return _seat(seat, venue)


async def venue_timeline(
    hub: Services, actor: Principal, venue_id: int, day: date
) -> VenueTimeline:
    """Each seat of the venue with the live bookings holding it on a local calendar day."""
    start = localtime.midnight(day)
    end = start + timedelta(days=1)
    async with hub.db.read() as s:
        venue = await _administered_venue(s, actor, venue_id)
        seats = list(
            (
                await s.execute(select(Seat).where(Seat.venue_id == venue.id).order_by(Seat.id))
            ).scalars()
        )
        holds = (
            await s.execute(
                select(BookingSeat, Booking)
                .join(Booking, Booking.id == BookingSeat.booking_id)
                .where(
                    BookingSeat.seat_id.in_([x.id for x in seats]),
                    BookingSeat.live.is_(True),
                    BookingSeat.starts_at < end,
                    BookingSeat.ends_at > start,
                )
                .order_by(BookingSeat.starts_at)
            )
        ).all()
    by_seat: dict[int, list[TimelineHold]] = {x.id: [] for x in seats}
    for hold, booking in holds:
        by_seat[hold.seat_id].append(
            TimelineHold(
                booking.id, booking.session_id, booking.state, hold.starts_at, hold.ends_at
            )
        )
    return VenueTimeline(
        _venue(venue),
        day,
        tuple(SeatDay(_seat(x, venue), tuple(by_seat[x.id])) for x in seats),
    )
