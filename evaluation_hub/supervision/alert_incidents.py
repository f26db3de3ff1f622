"""Incidents raised from conduct alerts (自动告警转监督事件): the live-media module reports each
conduct alert at a seat (and its clearing); here it becomes, or repeats on, an incident of the
primary (host) site (``alerts`` says which kind and severity each alert becomes).

There is one open incident per seat and alert kind: a repeat while it is open is added to its
evidence (``occurrences``, ``repeats``) instead of raising another; a cleared alert records when
its occurrence ended. No principal acts here (there is no HTTP route): the actor is the
conduct monitor (``alerts.ALERT_ACTOR``), so these take the hub's ``Database`` as the live
module holds it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_hub import localtime
from evaluation_hub.audit.store import append_event
from evaluation_hub.booking.seatings import seatings
from evaluation_hub.db.engine import Database
from evaluation_hub.errors import InvalidInput
from evaluation_hub.sessions.lookup import load_session
from evaluation_hub.supervision.alerts import ALERT_ACTOR, AlertEvidence, alert_incident
from evaluation_hub.supervision.incidents import (
    IncidentRecord,
    incident_record,
    load_incident,
    store_new_incident,
)
from evaluation_hub.supervision.models import Incident, IncidentState, Severity
from media.conduct import AlertKind

__all__ = ["MAX_ALERT_OCCURRENCES", "clear_alert_incident", "raise_alert_incident"]

# An alert that keeps coming back while its incident is open is counted every time, but only
# the first occurrences are kept in the evidence (the audit chain has every one).
MAX_ALERT_OCCURRENCES = 50


async def _open_alert_incidents(
    s: AsyncSession, session_id: int, seat_id: int, kind: str
) -> list[Incident]:
    """The session's incidents raised by the conduct monitor at this seat for this kind of
    incident and not concluded, oldest first (one, unless concurrent writers raced)."""
    found = await s.execute(
        select(Incident)
        .where(
            Incident.session_id == session_id,
            Incident.seat_id == seat_id,
            Incident.raised_by == ALERT_ACTOR,
            Incident.kind == kind,
            Incident.state != IncidentState.CONCLUDED,
        )
        .order_by(Incident.id)
    )
    return list(found.scalars())


async def raise_alert_incident(
    db: Database,
    session_id: int,
    *,
    seat_id: int,
    evidence: AlertEvidence,
    now: datetime,
) -> tuple[IncidentRecord, bool]:
    """Turn a conduct alert at a seat into an incident of the primary (host) site.

    Returns the incident and whether it is new. While an incident raised from the same alert
    kind at the same seat of the session is not concluded, a repeat is added to that incident's
    evidence (``occurrences``, ``repeats``) and audit-evented as
    ``supervision.incident_alert_repeated`` instead of raising another.
    """
    rule = alert_incident(evidence.alert)
    async with db.write() as s:
        # Alerts of one session are serialised (PostgreSQL: the row lock; SQLite: the hub's
        # BEGIN IMMEDIATE), so two hub processes cannot both raise the "one" open incident.
        await load_session(s, session_id, lock=True)
        seated = next(
            (
                x
                for x in await seatings(s, session_id=session_id, with_expert=True)
                if x.seat_id == seat_id
            ),
            None,
        )
        if seated is None or seated.expert_id is None:
            raise InvalidInput(
                "seat-not-seated",
                f"工位 #{seat_id} 在评标会 #{session_id} 中没有就座的专家，无法登记自动告警事件",
            )
        existing = next(iter(await _open_alert_incidents(s, session_id, seat_id, rule.kind)), None)
        if existing is not None:
            kept = list(existing.evidence.get("occurrences", []))
            if len(kept) < MAX_ALERT_OCCURRENCES:
                kept.append(evidence.occurrence())
            # A new dict, so the JSON column is seen as changed.
            existing.evidence = {
                **existing.evidence,
                "occurrences": kept,
                "repeats": int(existing.evidence.get("repeats", 0)) + 1,
            }
            await s.flush()
            await append_event(
                s,
                kind="supervision.incident_alert_repeated",
                subject=f"incident:{existing.id}",
                actor=ALERT_ACTOR,
                payload={"alert": evidence.alert.value, **evidence.occurrence()},
                at=now,
            )
            return await incident_record(s, await load_incident(s, existing.id)), False
        incident = Incident(
            session_id=session_id,
            expert_id=seated.expert_id,
            seat_id=seated.seat_id,
            venue_id=seated.venue_id,
            kind=rule.kind,
            severity=Severity(rule.severity),
            description=evidence.description(
                seated.seat_label, localtime.format_minutes(evidence.started_at)
            ),
            evidence=evidence.first_evidence(),
            state=IncidentState.OPEN,
            raised_by=ALERT_ACTOR,
            raised_at=now,
        )
        await store_new_incident(s, incident, now)
        return await incident_record(s, await load_incident(s, incident.id)), True


async def clear_alert_incident(
    db: Database,
    session_id: int,
    *,
    seat_id: int,
    alert: AlertKind,
    started_at: datetime,
    cleared_at: datetime,
    now: datetime,
) -> IncidentRecord | None:
    """Record on the open incident raised from this alert that the occurrence which started at
    ``started_at`` ended at ``cleared_at`` (the monitor cleared it): the occurrence gets
    ``cleared_at`` and ``duration_s``, audited as ``supervision.incident_alert_cleared``.

    Returns the incident, or None when no open incident holds that occurrence (the alert fell
    outside the session, or the incident was concluded meanwhile): nothing is written then.
    """
    rule = alert_incident(alert)
    started, cleared = started_at.isoformat(), cleared_at.isoformat()
    async with db.write() as s:
        for incident in await _open_alert_incidents(s, session_id, seat_id, rule.kind):
            occurrences = list(incident.evidence.get("occurrences", []))
            index = next(
                (i for i, o in enumerate(occurrences) if o.get("started_at") == started), None
            )
            if index is None or "cleared_at" in occurrences[index]:
                continue
            duration = max(0, int((cleared_at - started_at).total_seconds()))
            occurrences[index] = {
                **occurrences[index],
                "cleared_at": cleared,
                "duration_s": duration,
            }
            incident.evidence = {**incident.evidence, "occurrences": occurrences}
            await s.flush()
            await append_event(
                s,
                kind="supervision.incident_alert_cleared",
                subject=f"incident:{incident.id}",
                actor=ALERT_ACTOR,
                payload={
                    "alert": alert.value,
                    "started_at": started,
                    "cleared_at": cleared,
                    "duration_s": duration,
                },
                at=now,
            )
            return await incident_record(s, await load_incident(s, incident.id))
    return None
