"""Seat terminal enrolment (工位终端登记): a terminal's request, its standing, and the venue
admin's decisions by seat key.

A terminal's ``seat-agent enroll`` sends its keys over the seat websocket and prints a code;
before the request is read, ``seats.enrolment_admission`` decides whether it may be made at all
(rate limits per address and per seat, one pending request per seat).
:func:`request_enrolment` then records the request (the same keys again change nothing) and
tells the venue's open admin pages. :func:`lookup_seat` is what the seat websocket asks before
a seat may authenticate. :func:`approve_enrolment` (the code read off the terminal) and
:func:`revoke_seat` decide by seat key; the admin page decides by request
(``seats.enrolment_admin``). Approving a key revokes the seat's previously approved one in the
same transaction; each decision appends an audit event in its transaction.

Only an admin of the seat's own venue (or the system administrator) decides
(``access.Action.ADMINISTER_VENUE``). Never trusts a seat key it cannot resolve to a seat in
the directory; never talks to a socket except through ``hub.seats``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from evaluation_hub import access
from evaluation_hub.audit.store import append_event
from evaluation_hub.bus.base import Bus
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Seat, Venue
from evaluation_hub.db.seat_terminals import SeatEnrolment
from evaluation_hub.errors import Conflict, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from seat_protocol.auth import normalise_enrolment_code
from seat_protocol.hub_side import EnrolledSeat
from seat_protocol.seat_key import SeatKey

__all__ = [
    "EnrolmentRecord",
    "EnrolmentView",
    "approve_enrolment",
    "approved_seat_id",
    "audit_decision",
    "decide",
    "enrolment_view",
    "lookup_seat",
    "normalise_code",
    "pending_other",
    "publish_enrolment",
    "record_enrolment",
    "request_enrolment",
    "resolve_seat",
    "revoke_approved",
    "revoke_seat",
    "venue_target",
]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class EnrolmentRecord:
    """What became of an enrolment request."""

    seat_key: str
    enrolment_code: str
    status: str
    created: bool
    venue_id: int | None = None


@dataclass(frozen=True)
class EnrolmentView:
    """One enrolment request as the admin page lists it."""

    id: int
    seat_key: str
    seat_id: int
    venue_id: int
    seat_label: str
    enrolment_code: str
    status: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None


def enrolment_view(row: SeatEnrolment) -> EnrolmentView:
    """The request as the admin page lists it (its seat loaded)."""
    return EnrolmentView(
        id=row.id,
        seat_key=row.seat_key,
        seat_id=row.seat_id,
        venue_id=row.seat.venue_id,
        seat_label=row.seat.label,
        enrolment_code=row.enrolment_code,
        status=row.status,
        requested_at=row.requested_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def normalise_code(typed: str) -> str:
    """The code as typed (spaces, dashes, any grouping) in the form the hub stored it: five
    groups of five digits, or ``XXXX-XXXX`` for a request made before codes had 25 digits."""
    code = normalise_enrolment_code(typed)
    if len(code) == 8 and not code.isdecimal():
        return f"{code[:4]}-{code[4:]}"
    return code


def venue_target(venue_id: int, venue_name: str) -> access.Target:
    """The facts ``ADMINISTER_VENUE`` needs: the venue the seat belongs to."""
    return access.Target(venue_id=venue_id, venue_name=venue_name)


async def resolve_seat(s: AsyncSession, seat_key: str, *, lock: bool = False) -> Seat | None:
    key = SeatKey.parse(seat_key)
    if key is None:
        return None
    query = (
        select(Seat)
        .join(Venue, Venue.id == Seat.venue_id)
        .where(Venue.code == key.venue_code, Seat.label == key.label)
        .options(selectinload(Seat.venue))
    )
    if lock and s.get_bind().dialect.name == "postgresql":
        # Requests for one seat queue here, so two terminals cannot both leave one pending.
        query = query.with_for_update(of=Seat)
    seat: Seat | None = (await s.execute(query)).scalar_one_or_none()
    return seat


async def pending_other(s: AsyncSession, seat_key: str, ed25519: bytes, x25519: bytes) -> bool:
    """Whether a request with other keys waits for the seat's venue admin."""
    rows = await s.execute(
        select(SeatEnrolment).where(
            SeatEnrolment.seat_key == seat_key, SeatEnrolment.status == "pending"
        )
    )
    return any(
        (row.ed25519_public_key, row.x25519_public_key) != (ed25519, x25519)
        for row in rows.scalars()
    )


async def _seat_with_venue(s: AsyncSession, seat_key: str) -> Seat:
    seat = await resolve_seat(s, seat_key)
    if seat is None:
        raise NotFound("seat-not-found", f"工位「{seat_key}」不存在，请核对场地代码和工位编号")
    return seat


async def audit_decision(
    s: AsyncSession,
    decision: str,
    row: SeatEnrolment,
    principal: Principal,
    now: datetime,
    replaced: SeatEnrolment | None = None,
) -> None:
    """The audit event of one decision, in the decision's unit of work."""
    await append_event(
        s,
        kind=f"seat_enrolment.{decision}",
        subject=f"seat:{row.seat_key}",
        actor=principal.username,
        payload={
            "enrolment_id": row.id,
            "enrolment_code": row.enrolment_code,
            "revoked_enrolment_id": None if replaced is None else replaced.id,
        },
        at=now,
    )


def decide(row: SeatEnrolment, status: str, principal: Principal, now: datetime) -> None:
    """Mark the request approved or revoked by ``principal`` at ``now``."""
    row.status = status
    row.decided_by = principal.username
    row.decided_at = now


async def revoke_approved(
    s: AsyncSession, seat_key: str, principal: Principal, now: datetime
) -> SeatEnrolment | None:
    """Revoke the seat's approved request, if any, before another is approved."""
    previous = (
        await s.execute(
            select(SeatEnrolment)
            .where(SeatEnrolment.seat_key == seat_key, SeatEnrolment.status == "approved")
            .options(selectinload(SeatEnrolment.seat))
        )
    ).scalar_one_or_none()
    if previous is not None:
        decide(previous, "revoked", principal, now)
        await s.flush()  # the partial unique index admits one approved row at a time
    return previous


# --- the terminal's request ---------------------------------------------------------------


async def record_enrolment(
    db: Database,
    seat_key: str,
    ed25519_public_key: bytes,
    x25519_public_key: bytes,
    enrolment_code: str,
    now: datetime,
) -> EnrolmentRecord | None:
    """Store a pending request; the same keys again change nothing. None if no such seat, or
    if another terminal's request for the seat is pending (one at a time; ``admit_enrolment``
    refuses that case before the request is read, this holds against a concurrent one)."""
    async with db.write() as s:
        seat = await resolve_seat(s, seat_key, lock=True)
        if seat is None:
            return None
        existing = (
            await s.execute(
                select(SeatEnrolment).where(
                    SeatEnrolment.seat_key == seat_key,
                    SeatEnrolment.ed25519_public_key == ed25519_public_key,
                    SeatEnrolment.x25519_public_key == x25519_public_key,
                    SeatEnrolment.status != "revoked",
                )
            )
        ).scalar_one_or_none()
        if existing is not None:
            return EnrolmentRecord(
                seat_key, existing.enrolment_code, existing.status, False, seat.venue_id
            )
        if await pending_other(s, seat_key, ed25519_public_key, x25519_public_key):
            log.warning("seat.enrolment_pending_elsewhere", seat_key=seat_key)
            return None
        s.add(
            SeatEnrolment(
                seat_key=seat_key,
                seat_id=seat.id,
                ed25519_public_key=ed25519_public_key,
                x25519_public_key=x25519_public_key,
                enrolment_code=enrolment_code,
                status="pending",
                requested_at=now,
            )
        )
        return EnrolmentRecord(seat_key, enrolment_code, "pending", True, seat.venue_id)


async def request_enrolment(
    hub: Services,
    seat_key: str,
    ed25519_public_key: bytes,
    x25519_public_key: bytes,
    enrolment_code: str,
    *,
    now: datetime,
) -> EnrolmentRecord | None:
    """A terminal's ``enroll`` (over the seat websocket): record it and tell the venue's admin
    pages of a new request. None (logged) if the seat is not in the directory."""
    record = await record_enrolment(
        hub.db, seat_key, ed25519_public_key, x25519_public_key, enrolment_code, now
    )
    if record is None:
        log.warning("seat.enrolment_unknown_seat", seat_key=seat_key)
        return None
    log.info("seat.enrolment_requested", seat_key=seat_key, created=record.created)
    if record.created and record.venue_id is not None:
        await publish_enrolment(hub.bus, record.venue_id, seat_key, "pending")
    return record


async def lookup_seat(db: Database, seat_key: str) -> EnrolledSeat | None:
    """The seat's standing for the protocol: its approved key, else pending, else revoked."""
    async with db.read() as s:
        rows = (
            (
                await s.execute(
                    select(SeatEnrolment)
                    .where(SeatEnrolment.seat_key == seat_key)
                    .order_by(SeatEnrolment.id.desc())
                )
            )
            .scalars()
            .all()
        )
    if not rows:
        return None
    for status, wire in (("approved", "active"), ("pending", "pending"), ("revoked", "revoked")):
        for row in rows:
            if row.status == status:
                return EnrolledSeat(seat_key, row.ed25519_public_key, wire)  # type: ignore[arg-type]
    return None


async def approved_seat_id(s: AsyncSession, seat_key: str) -> int | None:
    """The directory seat whose terminal is approved under ``seat_key``, if one is."""
    found = await s.execute(
        select(SeatEnrolment.seat_id).where(
            SeatEnrolment.seat_key == seat_key, SeatEnrolment.status == "approved"
        )
    )
    seat_id: int | None = found.scalars().first()
    return seat_id


async def publish_enrolment(bus: Bus, venue_id: int, seat_key: str, status: str) -> None:
    """Tell open admin pages of the venue (and system admins) that its enrolments changed.

    Like booking events, it says only *that* something changed; pages re-read through the API.
    Best effort: a bus failure never undoes or blocks the enrolment itself.
    """
    event = {
        "type": "seat_enrolment.changed",
        "venue_id": venue_id,
        "seat_key": seat_key,
        "status": status,
    }
    try:
        await bus.publish(f"venue:{venue_id}", event)
        await bus.publish("all", event)
    except Exception:
        log.exception("seat.enrolment_publish_failed", seat_key=seat_key)


# --- decisions by seat key ----------------------------------------------------------------


async def approve_enrolment(
    db: Database, principal: Principal, seat_key: str, now: datetime, *, enrolment_code: str
) -> EnrolmentView:
    """Approve the pending request whose code the admin read off the terminal.

    Only an admin of the seat's venue may approve. The previously approved key of the seat, if
    any, is revoked in the same transaction.
    """
    async with db.write() as s:
        seat = await _seat_with_venue(s, seat_key)
        access.require(
            principal, access.Action.ADMINISTER_VENUE, venue_target(seat.venue_id, seat.venue.name)
        )
        pending = (
            (
                await s.execute(
                    select(SeatEnrolment)
                    .where(SeatEnrolment.seat_key == seat_key, SeatEnrolment.status == "pending")
                    .options(selectinload(SeatEnrolment.seat))
                )
            )
            .scalars()
            .all()
        )
        typed = normalise_code(enrolment_code)
        chosen = [row for row in pending if row.enrolment_code == typed]
        if not chosen:
            raise Conflict(
                "enrolment-code-mismatch",
                f"工位「{seat_key}」没有登记码为 {enrolment_code} 的待审批登记申请，"
                "请核对终端上显示的登记码",
            )
        previous = await revoke_approved(s, seat_key, principal, now)
        row = chosen[0]
        decide(row, "approved", principal, now)
        await audit_decision(s, "approved", row, principal, now, previous)
        return enrolment_view(row)


async def revoke_seat(db: Database, principal: Principal, seat_key: str, now: datetime) -> None:
    """Revoke every key of this seat; the terminal must enrol again to reconnect."""
    async with db.write() as s:
        seat = await _seat_with_venue(s, seat_key)
        access.require(
            principal, access.Action.ADMINISTER_VENUE, venue_target(seat.venue_id, seat.venue.name)
        )
        rows = (
            (
                await s.execute(
                    select(SeatEnrolment).where(
                        SeatEnrolment.seat_key == seat_key, SeatEnrolment.status != "revoked"
                    )
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            raise Conflict("seat-not-enrolled", f"工位「{seat_key}」没有可吊销的终端登记")
        for row in rows:
            decide(row, "revoked", principal, now)
            await audit_decision(s, "revoked", row, principal, now)
