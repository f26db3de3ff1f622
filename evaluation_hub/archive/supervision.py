"""The supervision files of a bundle (``supervision/*.json``): the supervision record,
incidents with their handling, 函告, copy notices and handovers, as the system administrator sees
them, in the one published format of ``evaluation_hub.supervision.documents`` (the same
documents the supervisors' API answers with). Deadline statuses and days left are as of the
archive's ``created_at``. No I/O of its own: the section (``sections``) reads the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evaluation_hub.supervision import documents
from evaluation_hub.supervision.assistance import AssistanceRecord
from evaluation_hub.supervision.copy_notices import CopyNoticeRecord
from evaluation_hub.supervision.handovers import HandoverRecord
from evaluation_hub.supervision.incidents import IncidentRecord
from evaluation_hub.supervision.record import SupervisionRecord

__all__ = [
    "assistance_documents",
    "copy_notice_documents",
    "handover_documents",
    "incident_documents",
    "record_document",
]


def record_document(record: SupervisionRecord) -> dict[str, Any]:
    """``supervision/record.json``: every expert's primary (host) and secondary site."""
    return documents.record_json(record)


def incident_documents(incidents: Sequence[IncidentRecord]) -> list[dict[str, Any]]:
    """``supervision/incidents.json``: incidents with evidence, handling steps, result."""
    return [documents.incident_json(i) for i in incidents]


def assistance_documents(requests: Sequence[AssistanceRecord]) -> list[dict[str, Any]]:
    """``supervision/assistance.json``: 函告 with response."""
    return [documents.assistance_json(r) for r in requests]


def copy_notice_documents(notices: Sequence[CopyNoticeRecord]) -> list[dict[str, Any]]:
    """``supervision/copy-notices.json``: copy notices with due date and acknowledgement."""
    return [documents.copy_notice_json(n) for n in notices]


def handover_documents(handovers: Sequence[HandoverRecord]) -> list[dict[str, Any]]:
    """``supervision/handovers.json``: each away venue's handover and its due date."""
    return [documents.handover_json(h) for h in handovers]
