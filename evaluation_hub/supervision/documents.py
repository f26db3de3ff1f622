"""The documents of joint supervision (联合监督): the supervision record, incidents with their
handling, 函告, copy notices and handovers as JSON, with their Chinese labels (severities,
incident states, notice and handover statuses, working days left).

One published format, written once: the supervisors' API answers with these documents and a
session's archive bundle stores them (``supervision/*.json``, docs/archive.md), so a change here
is a change of both, made on purpose. Pure: typed results of the supervision use cases in,
dicts out. Times are ISO 8601 as stored (UTC); pages show them in local time. A deadline's
status and days left are read as of the record's ``as_of`` day (the local day of the request,
or the archive's creation).
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
from evaluation_hub.supervision.record import SupervisedSession, SupervisionRecord
from evaluation_hub.supervision.sites import ExpertRef, Site

__all__ = [
    "HANDOVER_STATUS_NAMES",
    "INCIDENT_STATE_NAMES",
    "SEVERITY_NAMES",
    "assistance_json",
    "copy_notice_json",
    "handover_json",
    "incident_json",
    "record_json",
    "supervised_sessions_json",
]

SEVERITY_NAMES: dict[Severity, str] = {
    Severity.MINOR: "一般",
    Severity.SERIOUS: "较重",
    Severity.GRAVE: "严重",
}
INCIDENT_STATE_NAMES: dict[IncidentState, str] = {
    IncidentState.OPEN: "待处理",
    IncidentState.HANDLING: "处理中",
    IncidentState.CONCLUDED: "已结案",
}
#: a handover is handed over (移交), where a copy notice is received (``NoticeStatus.label``)
HANDOVER_STATUS_NAMES: dict[NoticeStatus, str] = {
    NoticeStatus.PENDING: "待移交",
    NoticeStatus.OVERDUE: "已逾期",
    NoticeStatus.ACKNOWLEDGED: "已移交",
}


def _iso(at: datetime | None) -> str | None:
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


def _days_left(deadline: CopyNotice | Handover, today: date) -> int | None:
    try:
        return deadline.working_days_left(today)
    except CalendarError:
        return None  # today is outside the calendar: show the due date without a count


def supervised_sessions_json(sessions: Sequence[SupervisedSession]) -> list[dict[str, Any]]:
    return [
        {
            "id": x.id,
            "project_code": x.project_code,
            "project_name": x.project_name,
            "section": x.section,
            "starts_at": _iso(x.starts_at),
            "ends_at": _iso(x.ends_at),
            "role": x.role,
        }
        for x in sessions
    ]


def record_json(record: SupervisionRecord) -> dict[str, Any]:
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
                "expert": _expert(entry.expert),
                "placement": entry.placement,
                "seat": (
                    {"id": entry.seat.id, "label": entry.seat.label, "room": entry.seat.room}
                    if entry.seat is not None
                    else None
                ),
                "primary_site": _site(entry.primary_site),
                "secondary_site": _site(entry.secondary_site),
            }
            for entry in record.experts
        ],
    }


def incident_json(incident: IncidentRecord) -> dict[str, Any]:
    seat = incident.seat
    return {
        "id": incident.id,
        "session_id": incident.session_id,
        "expert": _expert(incident.expert),
        "seat": {"id": seat.id, "label": seat.label} if seat is not None else None,
        "venue": _site(incident.venue),
        "seated_away": incident.seated_away,
        "kind": incident.kind,
        "severity": incident.severity.value,
        "severity_label": SEVERITY_NAMES[incident.severity],
        "description": incident.description,
        "evidence": dict(incident.evidence),
        "state": incident.state.value,
        "state_label": INCIDENT_STATE_NAMES[incident.state],
        "result": incident.result,
        "raised_by": incident.raised_by,
        "raised_at": _iso(incident.raised_at),
        "concluded_by": incident.concluded_by,
        "concluded_at": _iso(incident.concluded_at),
        "handling": [{"note": h.note, "by": h.by, "at": _iso(h.at)} for h in incident.handling],
        "copy_notice_id": incident.copy_notice_id,
    }


def assistance_json(request: AssistanceRecord) -> dict[str, Any]:
    return {
        "id": request.id,
        "session_id": request.session_id,
        "venue": _site(request.venue),
        "content": request.content,
        "requested_by": request.requested_by,
        "requested_at": _iso(request.requested_at),
        "response": request.response,
        "responded_by": request.responded_by,
        "responded_at": _iso(request.responded_at),
        "answered": request.answered,
    }


def copy_notice_json(record: CopyNoticeRecord) -> dict[str, Any]:
    notice, today = record.notice, record.as_of
    status = notice.status(today)
    ack = notice.acknowledgement
    return {
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
        "working_days_left": _days_left(notice, today),
        "acknowledged_by": ack.by if ack is not None else None,
        "acknowledged_at": _iso(ack.at) if ack is not None else None,
        "acknowledged_late": notice.acknowledged_late,
    }


def handover_json(record: HandoverRecord) -> dict[str, Any]:
    handover, today = record.handover, record.as_of
    status = handover.status(today)
    ack = handover.acknowledgement
    return {
        "id": record.id,
        "session_id": record.session_id,
        "venue": _site(record.venue),
        "session_ended_on": handover.session_ended_on.isoformat(),
        "working_days": handover.working_days,
        "due_on": handover.due_on.isoformat(),
        "items": list(handover.items),
        "status": status.value,
        "status_label": HANDOVER_STATUS_NAMES[status],
        "overdue": status is NoticeStatus.OVERDUE,
        "working_days_left": _days_left(handover, today),
        "opened_by": record.opened_by,
        "opened_at": _iso(record.opened_at),
        "handed_over_by": ack.by if ack is not None else None,
        "handed_over_at": _iso(ack.at) if ack is not None else None,
    }
