"""Tables of joint supervision (主场为主、客场为辅): incidents, 函告, copy notices, handovers.

Every row is owned by the primary site (the session's host venue); the away venue a row
concerns is stored on it (``venue_id``) so an away supervisor's view is a plain filter.
Due dates are stored when a notice is created and never recomputed: a later calendar update
must not move a deadline that was already announced.

This module holds table definitions and the values their columns take (``IncidentState``,
``Severity``); it must never hold access rules (``evaluation_hub.access``) or deadline logic
(``notices``). Rows are written only by the supervision use cases (``record``, ``incidents``,
``alert_incidents``, ``assistance``, ``copy_notices``, ``handovers``), each change together
with its audit event.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from evaluation_hub.db.base import Base

__all__ = [
    "AssistanceRequest",
    "CopyNoticeRow",
    "HandoverRow",
    "Incident",
    "IncidentHandling",
    "IncidentState",
    "Severity",
]


class IncidentState(StrEnum):
    """Where an incident stands: raised, being handled (处理中), concluded (结案)."""

    OPEN = "open"
    HANDLING = "handling"
    CONCLUDED = "concluded"


class Severity(StrEnum):
    MINOR = "minor"
    SERIOUS = "serious"
    GRAVE = "grave"


INCIDENT_STATES = tuple(IncidentState)
SEVERITIES = tuple(Severity)


class Incident(Base):
    """监督事件: a conduct finding about one expert of one session, owned by the primary site."""

    __tablename__ = "supervision_incidents"
    __table_args__ = (
        CheckConstraint(
            "state IN (" + ", ".join(f"'{s}'" for s in INCIDENT_STATES) + ")", name="state"
        ),
        CheckConstraint(
            "severity IN (" + ", ".join(f"'{s}'" for s in SEVERITIES) + ")", name="severity"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("experts.id"))
    # Where the expert sat when the incident was raised (None: no seat on record).
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id"), default=None)
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venues.id"), default=None)
    kind: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default=IncidentState.OPEN)
    result: Mapped[str] = mapped_column(Text, default="")
    raised_by: Mapped[str] = mapped_column(String(100))
    raised_at: Mapped[datetime]
    concluded_by: Mapped[str | None] = mapped_column(String(100), default=None)
    concluded_at: Mapped[datetime | None] = mapped_column(default=None)

    handling: Mapped[list[IncidentHandling]] = relationship(order_by="IncidentHandling.id")


class IncidentHandling(Base):
    """One handling step recorded on an incident (处理记录): what was done, by whom, when."""

    __tablename__ = "supervision_incident_handling"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("supervision_incidents.id"), index=True)
    note: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]


class AssistanceRequest(Base):
    """函告: the host site's written request for help to one away venue, and its response."""

    __tablename__ = "supervision_assistance_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id"))
    content: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime]
    response: Mapped[str | None] = mapped_column(Text, default=None)
    responded_by: Mapped[str | None] = mapped_column(String(100), default=None)
    responded_at: Mapped[datetime | None] = mapped_column(default=None)


class CopyNoticeRow(Base):
    """抄送告知 as stored: one per concluded incident about an expert seated away."""

    __tablename__ = "supervision_copy_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("supervision_incidents.id"), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id"))
    department: Mapped[str] = mapped_column(String(200))
    case_closed_on: Mapped[date]
    working_days: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date]
    created_at: Mapped[datetime]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100), default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)


class HandoverRow(Base):
    """客场资料移交 as stored: one per away venue of a session."""

    __tablename__ = "supervision_handovers"
    __table_args__ = (UniqueConstraint("session_id", "venue_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id"))
    session_ended_on: Mapped[date]
    working_days: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date]
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    opened_by: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime]
    handed_over_by: Mapped[str | None] = mapped_column(String(100), default=None)
    handed_over_at: Mapped[datetime | None] = mapped_column(default=None)
