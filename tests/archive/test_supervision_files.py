"""The bundle's supervision files carry what the supervisors' API shows (docs/archive.md): the
archive writes its own documents (it may not import the HTTP API), so this holds the two
together for every kind of record, as the system administrator sees them."""

from __future__ import annotations

from datetime import timedelta

from evaluation_hub.api.views import supervision as views
from evaluation_hub.archive import supervision as documents
from evaluation_hub.archive.sections import _ARCHIVIST
from evaluation_hub.supervision.assistance import read_assistance_requests
from evaluation_hub.supervision.copy_notices import read_copy_notices
from evaluation_hub.supervision.handovers import read_handovers
from evaluation_hub.supervision.incidents import read_incidents
from evaluation_hub.supervision.record import read_record
from tests.archive.conftest import Seeded
from tests.conftest import FakeClock


async def test_bundle_documents_are_the_api_json(seeded_session: Seeded, clock: FakeClock) -> None:
    db, sid = seeded_session.db, seeded_session.ids["session"]
    # As of today (pending) and past every due date (overdue, days left negative).
    for now in (clock(), clock() + timedelta(days=30)):
        async with db.read() as s:
            record = await read_record(s, _ARCHIVIST, sid)
            incidents = await read_incidents(s, _ARCHIVIST, sid)
            requests = await read_assistance_requests(s, _ARCHIVIST, sid)
            notices = await read_copy_notices(s, _ARCHIVIST, sid, now=now)
            handovers = await read_handovers(s, _ARCHIVIST, sid, now=now)
        assert len(record.experts) == 7
        assert (len(incidents), len(requests), len(notices), len(handovers)) == (2, 1, 1, 2)
        assert documents.record_document(record) == views.record_json(record)
        assert documents.incident_documents(incidents) == [
            views.incident_json(i) for i in incidents
        ]
        assert documents.assistance_documents(requests) == [
            views.assistance_json(r) for r in requests
        ]
        assert documents.copy_notice_documents(notices) == [
            views.copy_notice_json(n) for n in notices
        ]
        assert documents.handover_documents(handovers) == [
            views.handover_json(h) for h in handovers
        ]
