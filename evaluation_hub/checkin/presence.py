"""Presence at check-in (签到在场核验): the seat's conduct monitor must see exactly one face in
the seat's live picture when the expert checks in; otherwise the check-in stands but is
recorded as unconfirmed and raised to the supervisors as an incident of the host site, and a
host supervisor may confirm it by hand, with a reason.

- :func:`record_presence` runs inside the check-in's unit of work (``checkin.store.check_in``):
  it stores the verdict (``checkin.rules.judge_presence``) on the credential and, when
  presence is not confirmed, raises the incident (``supervision.incidents.store_new_incident``).
- :func:`list_presence` is what supervisors read (``access.Action.SEE_SUPERVISION``: an away
  supervisor sees only the experts seated at their venue).
- :func:`confirm_presence` is the host supervisor's confirmation by hand
  (``access.Action.SUPERVISE_AS_HOST``), audited, noted on the open presence incident and
  told to the expert's seat.
- :func:`presence_notice` and :func:`seat_presence` give the seat what its expert is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import access, localtime
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking.seatings import Seating, seatings
from evaluation_hub.checkin.rules import PRESENCE_NAMES, PresenceVerdict
from evaluation_hub.db.models import CheckinCredential
from evaluation_hub.errors import Conflict, InvalidInput, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.supervision.incidents import store_new_incident
from evaluation_hub.supervision.models import (
    Incident,
    IncidentHandling,
    IncidentState,
    Severity,
)
from seat_protocol.messages import PresenceNotice

__all__ = [
    "PRESENCE_ACTOR",
    "PRESENCE_INCIDENT",
    "PresenceRecord",
    "confirm_presence",
    "list_presence",
    "presence_notice",
    "record_presence",
    "seat_presence",
]

#: Who raised a presence incident (``Incident.raised_by``, the audit event's actor).
PRESENCE_ACTOR = "checkin_presence"
#: The kind of incident an unconfirmed presence becomes.
PRESENCE_INCIDENT = "签到时未确认本人在场"


@dataclass(frozen=True, slots=True)
class PresenceRecord:
    """One checked-in expert's presence as supervisors read it."""

    session_id: int
    expert_code: str
    seat_id: int
    seat_label: str
    venue_id: int
    venue_name: str
    checked_in_at: datetime | None
    #: confirmed, unconfirmed, confirmed_by_hand; None for a check-in made before the check
    presence: str | None
    #: what the monitor saw at check-in
    note: str
    faces: int | None
    confirmed_by: str | None
    confirmed_at: datetime | None
    reason: str

    @property
    def presence_name(self) -> str:
        return PRESENCE_NAMES.get(self.presence or "", "未核验")


def presence_notice(
    session_id: int, expert_code: str, presence: str, note: str, reason: str = ""
) -> PresenceNotice:
    """What the expert reads on the seat's page about their presence."""
    if presence == "confirmed":
        message = f"已确认本人在场（{note}）"
    elif presence == "confirmed_by_hand":
        message = f"监督人员已人工确认本人在场：{reason}"
    else:
        message = (
            f"签到已记录，但未能确认本人在场：{note}。已报告监督人员核实，"
            "请面向摄像头并保持画面中只有本人"
        )
    return PresenceNotice(
        session_id=str(session_id), expert_code=expert_code, state=presence, message=message
    )


async def record_presence(
    s: AsyncSession,
    credential: CheckinCredential,
    seating: Seating,
    verdict: PresenceVerdict,
    *,
    now: datetime,
) -> None:
    """Store the verdict on the accepted credential; raise an incident of the host site when
    presence was not confirmed (in the check-in's unit of work)."""
    credential.presence = verdict.presence
    credential.presence_note = verdict.note
    credential.presence_faces = verdict.faces
    if verdict.confirmed or seating.expert_id is None:
        return  # (no expert seated any more: a recused member's PIN; nobody to raise it about)
    incident = Incident(
        session_id=seating.session_id,
        expert_id=seating.expert_id,
        seat_id=seating.seat_id,
        venue_id=seating.venue_id,
        kind=PRESENCE_INCIDENT,
        severity=Severity.SERIOUS if verdict.serious else Severity.MINOR,
        description=(
            f"签到时未能确认本人在场：工位 {seating.seat_label}，{verdict.note}"
            f"（{localtime.format_minutes(now)}）"
        ),
        evidence={
            "source": PRESENCE_ACTOR,
            "finding": verdict.finding,
            "faces": verdict.faces,
            "checked_in_at": now.isoformat(),
        },
        state=IncidentState.OPEN,
        raised_by=PRESENCE_ACTOR,
        raised_at=now,
    )
    await store_new_incident(s, incident, now)


async def _credential(s: AsyncSession, seating: Seating) -> CheckinCredential:
    return (
        await s.execute(
            select(CheckinCredential).where(
                CheckinCredential.booking_seat_id == seating.booking_seat_id
            )
        )
    ).scalar_one()


def _record(seating: Seating, credential: CheckinCredential) -> PresenceRecord:
    assert seating.expert_code is not None
    return PresenceRecord(
        session_id=seating.session_id,
        expert_code=seating.expert_code,
        seat_id=seating.seat_id,
        seat_label=seating.seat_label,
        venue_id=seating.venue_id,
        venue_name=seating.venue_name,
        checked_in_at=seating.checked_in_at,
        presence=credential.presence,
        note=credential.presence_note,
        faces=credential.presence_faces,
        confirmed_by=credential.presence_confirmed_by,
        confirmed_at=credential.presence_confirmed_at,
        reason=credential.presence_reason,
    )


async def list_presence(hub: Services, actor: Principal, session_id: int) -> list[PresenceRecord]:
    """Every checked-in expert of the session the caller may see, with their presence."""
    async with hub.db.read() as s:
        loaded = await load_session(s, session_id, seated_venues=True)
        scope = access.scope(actor, access.Action.SEE_SUPERVISION, loaded.target)
        found = []
        for seating in await seatings(s, session_id=session_id, checked_in=True):
            if seating.expert_code is None or not scope.sees(seating.venue_id):
                continue
            found.append(_record(seating, await _credential(s, seating)))
        return found


async def confirm_presence(
    hub: Services,
    actor: Principal,
    session_id: int,
    expert_code: str,
    *,
    reason: str,
    now: datetime,
) -> PresenceRecord:
    """A host supervisor confirms by hand that the expert checked in at their seat is present
    (人工确认在场), with a reason; noted on the open presence incident, and told to the seat."""
    async with hub.db.write() as s:
        loaded = await load_session(s, session_id, seated_venues=True)
        access.require(
            actor, access.Action.SUPERVISE_AS_HOST, loaded.target, doing="人工确认专家在场"
        )
        text = reason.strip()
        if not text:
            raise InvalidInput("reason-required", "人工确认专家在场必须填写理由")
        found = await seatings(s, session_id=session_id, expert_code=expert_code, checked_in=True)
        if not found:
            raise NotFound(
                "not-checked-in", f"专家 {expert_code} 未在评标会 #{session_id} 的工位签到"
            )
        seating = found[0]
        credential = await _credential(s, seating)
        if credential.presence == "confirmed":
            raise Conflict(
                "presence-confirmed", f"专家 {expert_code} 签到时已确认本人在场，无需人工确认"
            )
        if credential.presence == "confirmed_by_hand":
            assert credential.presence_confirmed_at is not None
            raise Conflict(
                "presence-confirmed",
                f"专家 {expert_code} 的在场情况已由 {credential.presence_confirmed_by} 于 "
                f"{localtime.format_minutes(credential.presence_confirmed_at)} 人工确认",
            )
        credential.presence = "confirmed_by_hand"
        credential.presence_confirmed_by = actor.username
        credential.presence_confirmed_at = now
        credential.presence_reason = text
        await append_event(
            s,
            kind="checkin.presence_confirmed",
            subject=f"booking:{seating.booking_id}",
            actor=actor.username,
            payload={
                "booking_id": seating.booking_id,
                "expert": expert_code,
                "seat_id": seating.seat_id,
                "note": credential.presence_note,
                "reason": text,
            },
            at=now,
        )
        incidents = (
            await s.execute(
                select(Incident)
                .where(
                    Incident.session_id == session_id,
                    Incident.expert_id == seating.expert_id,
                    Incident.raised_by == PRESENCE_ACTOR,
                    Incident.state != IncidentState.CONCLUDED,
                )
                .order_by(Incident.id)
            )
        ).scalars()
        note = f"人工确认本人在场：{text}"
        for incident in incidents:
            s.add(IncidentHandling(incident_id=incident.id, note=note, by=actor.username, at=now))
            incident.state = IncidentState.HANDLING
            await append_event(
                s,
                kind="supervision.incident_handled",
                subject=f"incident:{incident.id}",
                actor=actor.username,
                payload={"note": note},
                at=now,
            )
        await s.flush()
        confirmed = _record(seating, credential)
    await hub.seats.send(
        str(seating.seat_key),
        presence_notice(session_id, expert_code, "confirmed_by_hand", confirmed.note, text),
    )
    return confirmed


async def seat_presence(
    s: AsyncSession, seat_key: str, session_id: int | None = None
) -> list[PresenceNotice]:
    """What the experts checked in at the seat (in one session, or any) are told of their
    presence, as it stands (a check-in from before the check is not mentioned)."""
    told = []
    for seating in await seatings(s, seat_key=seat_key, checked_in=True):
        if seating.expert_code is None or session_id not in (None, seating.session_id):
            continue
        credential = await _credential(s, seating)
        if credential.presence is None:
            continue
        told.append(
            presence_notice(
                seating.session_id,
                seating.expert_code,
                credential.presence,
                credential.presence_note,
                credential.presence_reason,
            )
        )
    return told
