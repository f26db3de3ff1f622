"""The supervision files of a bundle (``supervision/*.json``): the supervision record, incidents
with their handling, 函告, copy notices and handovers, as the system administrator sees them.

The bundle format is this package's own (docs/archive.md): it is signed and read years later,
so it is written here from the supervision use cases' typed results rather than borrowed from
the HTTP API. Its documents carry the same members as the supervisors' API does today
(``tests/archive/test_supervision_files.py`` holds the two together); a change to either is a
change of a published format, made on purpose. Deadline statuses and days left are as of the
archive's ``created_at``. No I/O of its own: the section (``sections``) reads the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from evaluation_hub.errors import CalendarError
from evaluation_hub.supervision.assistance import AssistanceRecord
from evaluation_hub.supervision.copy_notices import CopyNoticeRecord
from evaluation_hub.supervision.handovers import HandoverRecord
from evaluation_hub.supervision.incidents import IncidentRecord
from evaluation_hub.supervision.models import IncidentState, Severity
from evaluation_hub.supervision.notices import CopyNotice, Handover, NoticeStatus
from evaluation_hub.supervision.record import SupervisionRecord
from evaluation_hub.supervision.sites import ExpertRef, Site

__all__ = [
    "assistance_documents",
    "copy_notice_documents",
    "handover_documents",
    "incident_documents",
    "record_document",
]

# The labels a reader of the bundle sees beside each code (the same words as on the page).
_SEVERITY = {Severity.MINOR: "一般", Severity.SERIOUS: "较重", Severity.GRAVE: "严重"}
_STATE = {
    IncidentState.OPEN: "待处理",
    IncidentState.HANDLING: "处理中",
    IncidentState.CONCLUDED: "已结案",
}
_HANDOVER_STATUS = {
    NoticeStatus.PENDING: "待移交",
    NoticeStatus.OVERDUE: "已逾期",
    NoticeStatus.ACKNOWLEDGED: "已移交",
}


def _at(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _site(site: Site | None) -> dict[str, Any] | None:
    if site is None:
        return None
    return {
        "venue_id": site.venue_id,
        "venue_name": site.venue_name,
        "supervising_department": site.supervising_department,
    }


def _expert(expert: ExpertRef) -> dict[str, Any]:
    return {"id": expert.id, "code": expert.code, "name": expert.name}


def _left(deadline: CopyNotice | Handover, today: date) -> int | None:
    try:
        return deadline.working_days_left(today)
    except CalendarError:
        return None  # the archive day is outside the calendar: the due date stands alone


def record_document(record: SupervisionRecord) -> dict[str, Any]:
    """``supervision/record.json``: every expert's primary (host) and secondary site."""
    return {
        "session": {
            "id": record.session_id,
            "project_code": record.project_code,
            "project_name": record.project_name,
            "section": record.section,
            "host_venue_id": record.host_venue_id,
        },
        "scope": "all" if record.scope.everything else "venue",
        "scope_venue_id": record.scope.venue_id,
        "experts": [
            {
                "expert": _expert(e.expert),
                "placement": e.placement,
                "seat": (
                    {"id": e.seat.id, "label": e.seat.label, "room": e.seat.room}
                    if e.seat is not None
                    else None
                ),
                "primary_site": _site(e.primary_site),
                "secondary_site": _site(e.secondary_site),
            }
            for e in record.experts
        ],
    }


def incident_documents(incidents: Sequence[IncidentRecord]) -> list[dict[str, Any]]:
    """``supervision/incidents.json``: incidents with evidence, handling steps, result."""
    return [
        {
            "id": i.id,
            "session_id": i.session_id,
            "expert": _expert(i.expert),
            "seat": {"id": i.seat.id, "label": i.seat.label} if i.seat is not None else None,
            "venue": _site(i.venue),
            "seated_away": i.seated_away,
            "kind": i.kind,
            "severity": i.severity.value,
            "severity_label": _SEVERITY[i.severity],
            "description": i.description,
            "evidence": dict(i.evidence),
            "state": i.state.value,
            "state_label": _STATE[i.state],
            "result": i.result,
            "raised_by": i.raised_by,
            "raised_at": _at(i.raised_at),
            "concluded_by": i.concluded_by,
            "concluded_at": _at(i.concluded_at),
            "handling": [{"note": h.note, "by": h.by, "at": _at(h.at)} for h in i.handling],
            "copy_notice_id": i.copy_notice_id,
        }
        for i in incidents
    ]


def assistance_documents(requests: Sequence[AssistanceRecord]) -> list[dict[str, Any]]:
    """``supervision/assistance.json``: 函告 with response."""
    return [
        {
            "id": r.id,
            "session_id": r.session_id,
            "venue": _site(r.venue),
            "content": r.content,
            "requested_by": r.requested_by,
            "requested_at": _at(r.requested_at),
            "response": r.response,
            "responded_by": r.responded_by,
            "responded_at": _at(r.responded_at),
            "answered": r.answered,
        }
        for r in requests
    ]


def copy_notice_documents(notices: Sequence[CopyNoticeRecord]) -> list[dict[str, Any]]:
    """``supervision/copy-notices.json``: copy notices with due date and acknowledgement."""
    out = []
    for record in notices:
        notice, today = record.notice, record.as_of
        status, ack = notice.status(today), notice.acknowledgement
        out.append(
            {
                "id": record.id,
                "incident_id": notice.incident_id,
                "session_id": record.session_id,
                "expert": _expert(record.expert),
                "venue": _site(record.venue),
                "department": notice.away_department,
                "case_closed_on": notice.case_closed_on.isoformat(),
                "working_days": notice.working_days,
                "due_on": notice.due_on.isoformat(),
                "status": status.value,
                "status_label": status.label,
                "overdue": status is NoticeStatus.OVERDUE,
                "working_days_left": _left(notice, today),
                "acknowledged_by": ack.by if ack is not None else None,
                "acknowledged_at": _at(ack.at) if ack is not None else None,
                "acknowledged_late": notice.acknowledged_late,
            }
        )
    return out


def handover_documents(handovers: Sequence[HandoverRecord]) -> list[dict[str, Any]]:
    """``supervision/handovers.json``: away-site handovers with due date."""
    out = []
    for record in handovers:
        handover, today = record.handover, record.as_of
        status, ack = handover.status(today), handover.acknowledgement
        out.append(
            {
                "id": record.id,
                "session_id": record.session_id,
                "venue": _site(record.venue),
                "session_ended_on": handover.session_ended_on.isoformat(),
                "working_days": handover.working_days,
                "due_on": handover.due_on.isoformat(),
                "items": list(handover.items),
                "status": status.value,
                "status_label": _HANDOVER_STATUS[status],
                "overdue": status is NoticeStatus.OVERDUE,
                "working_days_left": _left(handover, today),
                "opened_by": record.opened_by,
                "opened_at": _at(record.opened_at),
                "handed_over_by": ack.by if ack is not None else None,
                "handed_over_at": _at(ack.at) if ack is not None else None,
            }
        )
    return out
