"""The venue admin's enrolment page (终端登记审批): the venue's requests, and decisions on one
request.

The admin lists the venue's requests (:func:`list_enrolments`), approves one by typing the code
the terminal printed (:func:`approve_request`; the seat's previously approved key is revoked in
the same transaction and the terminal holding it disconnected with 4005) or revokes one
(:func:`revoke_request`: a pending request is rejected, an approved key withdrawn and its live
connection closed with 4005). Open admin pages hear of each decision over the bus.

Only an admin of the seat's own venue (or the system administrator) decides
(``access.Action.ADMINISTER_VENUE``), checked on the request's facts before anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from evaluation_hub import access
from evaluation_hub.db.models import Seat, Venue
from evaluation_hub.db.seat_terminals import SeatEnrolment
from evaluation_hub.errors import Conflict, InvalidInput, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.seats.enrolment import (
    EnrolmentView,
    audit_decision,
    decide,
    enrolment_view,
    normalise_code,
    publish_enrolment,
    revoke_approved,
    venue_target,
)
from evaluation_hub.services import Services
from seat_protocol.closecodes import CloseCode

__all__ = [
    "ENROLMENT_STATUSES",
    "EnrolmentApproval",
    "EnrolmentRevocation",
    "approve_request",
    "list_enrolments",
    "normalise_code",
    "revoke_request",
]

ENROLMENT_STATUSES = ("pending", "approved", "revoked")


@dataclass(frozen=True)
class EnrolmentApproval:
    """An approved request and the seat's previously approved request, now revoked."""

    approved: EnrolmentView
    revoked: EnrolmentView | None


@dataclass(frozen=True)
class EnrolmentRevocation:
    """A revoked request and the status it had before."""

    revoked: EnrolmentView
    was: str


async def list_enrolments(
    hub: Services, actor: Principal, venue_id: int, *, status: str | None = None
) -> list[EnrolmentView]:
    """The venue's enrolment requests, newest first (admins of that venue only)."""
    async with hub.db.read() as s:
        venue = await s.get(Venue, venue_id)
        if venue is None:
            raise NotFound("venue-not-found", f"场地 #{venue_id} 不存在")
        access.require(actor, access.Action.ADMINISTER_VENUE, venue_target(venue.id, venue.name))
        query = (
            select(SeatEnrolment)
            .join(Seat, Seat.id == SeatEnrolment.seat_id)
            .where(Seat.venue_id == venue_id)
            .options(selectinload(SeatEnrolment.seat))
            .order_by(SeatEnrolment.requested_at.desc(), SeatEnrolment.id.desc())
        )
        if status is not None:
            query = query.where(SeatEnrolment.status == status)
        return [enrolment_view(row) for row in (await s.execute(query)).scalars()]


async def _request_for_admin(
    s: AsyncSession, principal: Principal, enrolment_id: int
) -> SeatEnrolment:
    row: SeatEnrolment | None = (
        await s.execute(
            select(SeatEnrolment)
            .where(SeatEnrolment.id == enrolment_id)
            .options(selectinload(SeatEnrolment.seat).selectinload(Seat.venue))
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("enrolment-not-found", f"终端登记申请 #{enrolment_id} 不存在")
    access.require(
        principal,
        access.Action.ADMINISTER_VENUE,
        venue_target(row.seat.venue_id, row.seat.venue.name),
    )
    return row


async def approve_request(
    hub: Services, actor: Principal, enrolment_id: int, typed_code: str, *, now: datetime
) -> EnrolmentApproval:
    """Approve one pending request if ``typed_code`` is the code its terminal printed.

    The seat's previously approved request is revoked in the same transaction, and the
    terminal holding that key is disconnected (4005): it must not stay connected on it.
    """
    async with hub.db.write() as s:
        row = await _request_for_admin(s, actor, enrolment_id)
        if row.status != "pending":
            raise Conflict(
                "enrolment-not-pending",
                f"工位「{row.seat_key}」的这条登记申请已"
                f"{'批准' if row.status == 'approved' else '吊销'}，不能再批准",
            )
        if normalise_code(typed_code) != row.enrolment_code:
            raise InvalidInput(
                "enrolment-code-mismatch",
                f"登记码与工位「{row.seat_key}」的登记申请不符，请核对评标终端屏幕上显示的登记码",
            )
        previous = await revoke_approved(s, row.seat_key, actor, now)
        decide(row, "approved", actor, now)
        await audit_decision(s, "approved", row, actor, now, previous)
        decided = EnrolmentApproval(
            enrolment_view(row), None if previous is None else enrolment_view(previous)
        )
    approved = decided.approved
    await publish_enrolment(hub.bus, approved.venue_id, approved.seat_key, "approved")
    if decided.revoked is not None:
        await hub.seats.disconnect(
            decided.revoked.seat_key, CloseCode.SEAT_REVOKED, "a newer terminal key was approved"
        )
    return decided


async def revoke_request(
    hub: Services, actor: Principal, enrolment_id: int, *, now: datetime
) -> EnrolmentRevocation:
    """Revoke one request: reject it if pending, withdraw its key if approved (and close the
    terminal's live connection with 4005)."""
    async with hub.db.write() as s:
        row = await _request_for_admin(s, actor, enrolment_id)
        if row.status == "revoked":
            raise Conflict(
                "enrolment-already-revoked", f"工位「{row.seat_key}」的这条登记申请已吊销"
            )
        was = row.status
        decide(row, "revoked", actor, now)
        await audit_decision(s, "revoked", row, actor, now)
        decided = EnrolmentRevocation(enrolment_view(row), was)
    revoked = decided.revoked
    await publish_enrolment(hub.bus, revoked.venue_id, revoked.seat_key, "revoked")
    if was == "approved":
        await hub.seats.disconnect(
            revoked.seat_key, CloseCode.SEAT_REVOKED, "the venue admin revoked this terminal"
        )
    return decided
