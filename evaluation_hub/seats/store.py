"""Seat enrolment and score intake in the database: the durable halves of the seat protocol.

* ``record_enrolment`` stores a terminal's enrolment request (from the websocket's ``enroll``);
  ``approve_enrolment`` and ``revoke_seat`` are the venue admin's decisions by seat key, and
  ``list_enrolments``, ``approve_request`` and ``revoke_request`` the same decisions by request
  for the admin page (the admin types the code the terminal printed); each decision appends an
  audit event in its transaction. ``lookup_seat`` is what the websocket handler asks before a
  seat may authenticate.
* ``commit_score`` inserts a submitted score under its UNIQUE idempotency key and reports
  whether it was new or a faithful replay; a different payload under a used key is refused.
  The websocket handler acknowledges a score to the seat only after this returned.

Only venue admins of the seat's own venue (or a system admin) decide on enrolments. This module
never talks to a socket and never trusts a seat key it cannot resolve to a seat in the directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from evaluation_hub.audit.store import append_event
from evaluation_hub.db.engine import Database
from evaluation_hub.db.models import Seat, Venue
from evaluation_hub.errors import Conflict, InvalidInput, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.seats.models import SeatEnrolment, SubmittedScore
from seat_protocol.hub_side import EnrolledSeat

__all__ = [
    "CommitOutcome",
    "EnrolmentRecord",
    "EnrolmentView",
    "approve_enrolment",
    "approve_request",
    "commit_score",
    "list_enrolments",
    "lookup_seat",
    "record_enrolment",
    "revoke_request",
    "revoke_seat",
    "seat_key_for",
]

CommitOutcome = Literal["committed", "replayed"]


def seat_key_for(venue_code: str, seat_label: str) -> str:
    """The seat id a terminal uses on the wire for this directory seat."""
    return f"{venue_code}.{seat_label}"


@dataclass(frozen=True)
class EnrolmentRecord:
    """What became of an enrolment request."""

    seat_key: str
    enrolment_code: str
    status: str
    created: bool
    venue_id: int | None = None


async def _resolve_seat(session: Any, seat_key: str) -> Seat | None:
    venue_code, dot, label = seat_key.partition(".")
    if not dot:
        return None
    found = await session.execute(
        select(Seat)
        .join(Venue, Venue.id == Seat.venue_id)
        .where(Venue.code == venue_code, Seat.label == label)
        .options(selectinload(Seat.venue))
    )
    seat: Seat | None = found.scalar_one_or_none()
    return seat


async def record_enrolment(
    db: Database,
    seat_key: str,
    ed25519_public_key: bytes,
    x25519_public_key: bytes,
    enrolment_code: str,
    now: datetime,
) -> EnrolmentRecord | None:
    """Store a pending request; the same keys again change nothing. None if no such seat."""
    async with db.write() as s:
        seat = await _resolve_seat(s, seat_key)
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


async def _seat_with_venue(s: Any, seat_key: str) -> Seat:
    seat = await _resolve_seat(s, seat_key)
    if seat is None:
        raise NotFound("seat-not-found", f"工位「{seat_key}」不存在，请核对场地代码和工位编号")
    return seat


async def approve_enrolment(
    db: Database, principal: Principal, seat_key: str, now: datetime, *, enrolment_code: str
) -> SeatEnrolment:
    """Approve the pending request whose code the admin read off the terminal.

    Only an admin of the seat's venue may approve. The previously approved key of the seat, if
    any, is revoked in the same transaction.
    """
    async with db.write() as s:
        seat = await _seat_with_venue(s, seat_key)
        principal.require_venue_admin(seat.venue_id, seat.venue.name)
        pending = (
            (
                await s.execute(
                    select(SeatEnrolment).where(
                        SeatEnrolment.seat_key == seat_key, SeatEnrolment.status == "pending"
                    )
                )
            )
            .scalars()
            .all()
        )
        chosen = [row for row in pending if row.enrolment_code == enrolment_code]
        if not chosen:
            raise Conflict(
                "enrolment-code-mismatch",
                f"工位「{seat_key}」没有登记码为 {enrolment_code} 的待审批登记申请，"
                "请核对终端上显示的登记码",
            )
        previous = (
            await s.execute(
                select(SeatEnrolment).where(
                    SeatEnrolment.seat_key == seat_key, SeatEnrolment.status == "approved"
                )
            )
        ).scalar_one_or_none()
        if previous is not None:
            previous.status = "revoked"
            previous.decided_by = principal.username
            previous.decided_at = now
            await s.flush()  # the partial unique index admits one approved row at a time
        row = chosen[0]
        row.status = "approved"
        row.decided_by = principal.username
        row.decided_at = now
        await _audit(s, "approved", row, principal, now, previous)
        return row


async def revoke_seat(db: Database, principal: Principal, seat_key: str, now: datetime) -> None:
    """Revoke every key of this seat; the terminal must enrol again to reconnect."""
    async with db.write() as s:
        seat = await _seat_with_venue(s, seat_key)
        principal.require_venue_admin(seat.venue_id, seat.venue.name)
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
            row.status = "revoked"
            row.decided_by = principal.username
            row.decided_at = now
            await _audit(s, "revoked", row, principal, now)


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


def _view(row: SeatEnrolment) -> EnrolmentView:
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


async def _audit(
    s: Any,
    decision: str,
    row: SeatEnrolment,
    principal: Principal,
    now: datetime,
    replaced: SeatEnrolment | None = None,
) -> None:
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


def normalise_code(typed: str) -> str:
    """The code as typed (any case, spaces or dashes) in the terminal's ``XXXX-XXXX`` form."""
    letters = "".join(ch for ch in typed.upper() if ch.isalnum())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


async def list_enrolments(
    db: Database, principal: Principal, venue_id: int, *, status: str | None = None
) -> list[EnrolmentView]:
    """The venue's enrolment requests, newest first (admins of that venue only)."""
    async with db.read() as s:
        venue = await s.get(Venue, venue_id)
        if venue is None:
            raise NotFound("venue-not-found", f"场地 #{venue_id} 不存在")
        principal.require_venue_admin(venue.id, venue.name)
        query = (
            select(SeatEnrolment)
            .join(Seat, Seat.id == SeatEnrolment.seat_id)
            .where(Seat.venue_id == venue_id)
            .options(selectinload(SeatEnrolment.seat))
            .order_by(SeatEnrolment.requested_at.desc(), SeatEnrolment.id.desc())
        )
        if status is not None:
            query = query.where(SeatEnrolment.status == status)
        return [_view(row) for row in (await s.execute(query)).scalars()]


async def _request_for_admin(s: Any, principal: Principal, enrolment_id: int) -> SeatEnrolment:
    row: SeatEnrolment | None = (
        await s.execute(
            select(SeatEnrolment)
            .where(SeatEnrolment.id == enrolment_id)
            .options(selectinload(SeatEnrolment.seat).selectinload(Seat.venue))
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("enrolment-not-found", f"终端登记申请 #{enrolment_id} 不存在")
    principal.require_venue_admin(row.seat.venue_id, row.seat.venue.name)
    return row


async def approve_request(
    db: Database, principal: Principal, enrolment_id: int, typed_code: str, now: datetime
) -> tuple[EnrolmentView, EnrolmentView | None]:
    """Approve one pending request if ``typed_code`` is the code its terminal printed.

    Returns the approved request and the seat's previously approved request, now revoked.
    """
    async with db.write() as s:
        row = await _request_for_admin(s, principal, enrolment_id)
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
        previous = (
            await s.execute(
                select(SeatEnrolment)
                .where(SeatEnrolment.seat_key == row.seat_key, SeatEnrolment.status == "approved")
                .options(selectinload(SeatEnrolment.seat))
            )
        ).scalar_one_or_none()
        if previous is not None:
            previous.status = "revoked"
            previous.decided_by = principal.username
            previous.decided_at = now
            await s.flush()  # the partial unique index admits one approved row at a time
        row.status = "approved"
        row.decided_by = principal.username
        row.decided_at = now
        await _audit(s, "approved", row, principal, now, previous)
        return _view(row), None if previous is None else _view(previous)


async def revoke_request(
    db: Database, principal: Principal, enrolment_id: int, now: datetime
) -> tuple[EnrolmentView, str]:
    """Revoke one request: reject it if pending, withdraw its key if approved.

    Returns the revoked request and the status it had before.
    """
    async with db.write() as s:
        row = await _request_for_admin(s, principal, enrolment_id)
        if row.status == "revoked":
            raise Conflict(
                "enrolment-already-revoked", f"工位「{row.seat_key}」的这条登记申请已吊销"
            )
        was = row.status
        row.status = "revoked"
        row.decided_by = principal.username
        row.decided_at = now
        await _audit(s, "revoked", row, principal, now)
        return _view(row), was


async def commit_score(
    db: Database,
    *,
    seat_key: str,
    idempotency_key: str,
    session_ref: str,
    sheet: dict[str, Any],
    digest: str,
    now: datetime,
) -> CommitOutcome:
    """Insert the score once. A replay with the same digest is ``"replayed"``; another digest
    under the same key raises ``Conflict("idempotency-conflict")`` and stores nothing."""
    try:
        async with db.write() as s:
            s.add(
                SubmittedScore(
                    idempotency_key=idempotency_key,
                    seat_key=seat_key,
                    session_ref=session_ref,
                    sheet=sheet,
                    payload_digest=digest,
                    received_at=now,
                )
            )
        return "committed"
    except IntegrityError:
        # Insert first and look second: the UNIQUE key decides races between hub processes.
        pass
    async with db.read() as s:
        stored = (
            await s.execute(
                select(SubmittedScore).where(SubmittedScore.idempotency_key == idempotency_key)
            )
        ).scalar_one()
    if stored.payload_digest != digest or stored.seat_key != seat_key:
        raise Conflict(
            "idempotency-conflict",
            "该评分提交的幂等键已用于内容不同的另一次提交，本次提交未被接受，请联系现场工作人员",
            idempotency_key=idempotency_key,
        )
    return "replayed"
