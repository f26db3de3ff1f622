"""Incidents raised from conduct alerts: mapping, de-duplication, audit events, both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from evaluation_hub.audit.chain import verify
from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from evaluation_hub.errors import InvalidInput, NotFound
from evaluation_hub.principal import Principal
from evaluation_hub.services import Services
from evaluation_hub.supervision import alert_incidents, incidents
from evaluation_hub.supervision.alerts import (
    ALERT_INCIDENTS,
    AlertEvidence,
    AlertIncident,
    alert_incident,
)
from evaluation_hub.supervision.incidents import IncidentSeat
from evaluation_hub.supervision.models import Incident
from media.conduct import AlertKind
from tests.conftest import FakeClock

# 2026-11-30 09:00:05 Beijing.
STARTED = datetime(2026, 11, 30, 1, 0, 5, tzinfo=UTC)


def test_every_alert_kind_maps_to_an_incident() -> None:
    assert {
        AlertKind.SEAT_EMPTY: AlertIncident("离开工位", "minor"),
        AlertKind.MULTIPLE_FACES: AlertIncident("他人进入评标区域", "serious"),
        AlertKind.CAMERA_COVERED: AlertIncident("遮挡摄像头", "serious"),
        AlertKind.PICTURE_FROZEN: AlertIncident("视频画面冻结", "minor"),
        AlertKind.STREAM_LOST: AlertIncident("视频中断", "minor"),
    } == ALERT_INCIDENTS
    assert set(ALERT_INCIDENTS) == set(AlertKind)
    assert alert_incident("stream_lost") == AlertIncident("视频中断", "minor")
    with pytest.raises(ValueError) as bad:
        alert_incident("phone_detected")
    assert str(bad.value) == (
        "unknown conduct alert kind 'phone_detected'; known kinds: seat_empty, multiple_faces, "
        "camera_covered, picture_frozen, stream_lost"
    )


def test_alert_evidence_rules() -> None:
    with pytest.raises(ValueError, match="an alert offset needs the recording segment"):
        AlertEvidence(AlertKind.SEAT_EMPTY, STARTED, None, 3)
    with pytest.raises(ValueError, match="aware datetime"):
        AlertEvidence(AlertKind.SEAT_EMPTY, datetime(2026, 11, 30, 9))
    with pytest.raises(ValueError, match="offset_s must be >= 0"):
        AlertEvidence(AlertKind.SEAT_EMPTY, STARTED, "seg-1.webm", -1)
    assert AlertEvidence(AlertKind.SEAT_EMPTY, STARTED).first_evidence() == {
        "source": "conduct_monitor",
        "alert": "seat_empty",
        "occurrences": [{"started_at": "2026-11-30T01:00:05+00:00"}],
    }


def empty(segment: str | None = "seat-5/seg-00007.webm", offset: int | None = 42) -> AlertEvidence:
    return AlertEvidence(AlertKind.SEAT_EMPTY, STARTED, segment, offset)


async def audit_kinds(db: Database) -> list[tuple[str, str, str]]:
    async with db.read() as s:
        return [(e.kind, e.subject, e.actor) for e in await load_chain(s)]


async def test_alert_becomes_a_host_incident_with_evidence(
    database: Database, services: Services, clock: FakeClock, seated: dict[str, Any]
) -> None:
    sid, dl01 = seated["session"], seated["seats"]["DL-01"]
    before = len(await audit_kinds(database))
    incident, created = await alert_incidents.raise_alert_incident(
        database, sid, seat_id=dl01, evidence=empty(), now=clock()
    )
    assert created is True
    assert incident.expert.code == "E03"
    assert incident.seat == IncidentSeat(dl01, "DL-01")
    assert incident.venue.venue_id == seated["venues"]["DL"]
    assert incident.seated_away is True
    assert (incident.kind, incident.severity, incident.state) == (
        "离开工位",
        "minor",
        "open",
    )
    assert incident.raised_by == "conduct_monitor"
    assert incident.description == "自动告警：工位 DL-01 工位无人（2026-11-30 09:00 起）"
    assert incident.evidence == {
        "source": "conduct_monitor",
        "alert": "seat_empty",
        "recording_segment_id": "seat-5/seg-00007.webm",
        "offset_s": 42,
        "occurrences": [
            {
                "started_at": "2026-11-30T01:00:05+00:00",
                "recording_segment_id": "seat-5/seg-00007.webm",
                "offset_s": 42,
            }
        ],
    }
    kinds = await audit_kinds(database)
    assert kinds[before:] == [
        ("supervision.incident_raised", f"incident:{incident.id}", "conduct_monitor")
    ]
    # Owned by the primary site: the host supervisor sees it, so does the away venue it
    # concerns, and another away venue does not.
    km = Principal("km_supervisor", "supervisor", seated["venues"]["KM"])
    dl = Principal("dl_supervisor", "supervisor", seated["venues"]["DL"])
    qj = Principal("qj_supervisor", "supervisor", seated["venues"]["QJ"])
    assert [i.id for i in await incidents.list_incidents(services, km, sid)] == [incident.id]
    assert [i.id for i in await incidents.list_incidents(services, dl, sid)] == [incident.id]
    assert await incidents.list_incidents(services, qj, sid) == []


async def test_one_open_incident_per_seat_and_alert_kind(
    database: Database, services: Services, clock: FakeClock, seated: dict[str, Any]
) -> None:
    sid, dl01, qj01 = seated["session"], seated["seats"]["DL-01"], seated["seats"]["QJ-01"]
    first, _ = await alert_incidents.raise_alert_incident(
        database, sid, seat_id=dl01, evidence=empty(), now=clock()
    )
    clock.advance(minutes=3)
    again, created = await alert_incidents.raise_alert_incident(
        database, sid, seat_id=dl01, evidence=empty("seat-5/seg-00008.webm", 7), now=clock()
    )
    assert created is False
    assert again.id == first.id
    assert again.evidence["repeats"] == 1
    assert [o.get("recording_segment_id") for o in again.evidence["occurrences"]] == [
        "seat-5/seg-00007.webm",
        "seat-5/seg-00008.webm",
    ]
    assert (await audit_kinds(database))[-1] == (
        "supervision.incident_alert_repeated",
        f"incident:{first.id}",
        "conduct_monitor",
    )
    # Another alert kind at the same seat, or the same kind at another seat: new incidents.
    faces, created_faces = await alert_incidents.raise_alert_incident(
        database,
        sid,
        seat_id=dl01,
        evidence=AlertEvidence(AlertKind.MULTIPLE_FACES, STARTED),
        now=clock(),
    )
    other, created_other = await alert_incidents.raise_alert_incident(
        database, sid, seat_id=qj01, evidence=empty(None, None), now=clock()
    )
    assert created_faces and created_other
    assert faces.severity == "serious" and faces.kind == "他人进入评标区域"
    assert other.expert.code == "E06"
    assert len({first.id, faces.id, other.id}) == 3

    # Still open while handled; once concluded, the next alert raises a new incident.
    km = Principal("km_supervisor", "supervisor", seated["venues"]["KM"])
    await incidents.record_handling(services, km, first.id, note="已联系大理现场", now=clock())
    _, created = await alert_incidents.raise_alert_incident(
        database, sid, seat_id=dl01, evidence=empty(), now=clock()
    )
    assert created is False
    await incidents.conclude_incident(services, km, first.id, result="专家返回", now=clock())
    fresh, created = await alert_incidents.raise_alert_incident(
        database, sid, seat_id=dl01, evidence=empty(), now=clock()
    )
    assert created is True
    assert fresh.id not in {first.id, faces.id, other.id}

    async with database.read() as s:
        events = await load_chain(s)
    assert verify(events, [], Ed25519PrivateKey.generate().public_key()).ok


async def test_concurrent_alerts_raise_one_incident(
    database: Database, clock: FakeClock, seated: dict[str, Any]
) -> None:
    sid, dl02 = seated["session"], seated["seats"]["DL-02"]
    results = await asyncio.gather(
        *(
            alert_incidents.raise_alert_incident(
                database, sid, seat_id=dl02, evidence=empty(f"s/seg-{i}.webm", i), now=clock()
            )
            for i in range(4)
        )
    )
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len({incident.id for incident, _ in results}) == 1
    async with database.read() as s:
        rows = list((await s.execute(select(Incident))).scalars())
    assert len(rows) == 1
    assert rows[0].evidence["repeats"] == 3
    assert len(rows[0].evidence["occurrences"]) == 4


async def test_alert_for_a_seat_without_expert_or_session(
    database: Database, clock: FakeClock, seated: dict[str, Any]
) -> None:
    sid = seated["session"]
    with pytest.raises(InvalidInput) as no_expert:
        await alert_incidents.raise_alert_incident(
            database, sid, seat_id=seated["seats"]["DL-03"], evidence=empty(), now=clock()
        )
    assert no_expert.value.detail == (
        f"工位 #{seated['seats']['DL-03']} 在评标会 #{sid} 中没有就座的专家，无法登记自动告警事件"
    )
    with pytest.raises(NotFound) as no_session:
        await alert_incidents.raise_alert_incident(
            database, 999, seat_id=seated["seats"]["DL-01"], evidence=empty(), now=clock()
        )
    assert no_session.value.detail == "评标会 #999 不存在"


async def test_a_cleared_alert_closes_its_occurrence_on_the_incident(
    database: Database, clock: FakeClock, seated: dict[str, Any]
) -> None:
    sid, dl01 = seated["session"], seated["seats"]["DL-01"]
    first, _ = await alert_incidents.raise_alert_incident(
        database, sid, seat_id=dl01, evidence=empty(), now=clock()
    )
    later = STARTED + timedelta(minutes=5)
    await alert_incidents.raise_alert_incident(
        database,
        sid,
        seat_id=dl01,
        evidence=AlertEvidence(AlertKind.SEAT_EMPTY, later),
        now=clock(),
    )
    before = await audit_kinds(database)

    # Another kind, another seat, an occurrence never raised: nothing is written.
    for kind, seat, started in (
        (AlertKind.MULTIPLE_FACES, dl01, STARTED),
        (AlertKind.SEAT_EMPTY, seated["seats"]["QJ-01"], STARTED),
        (AlertKind.SEAT_EMPTY, dl01, STARTED + timedelta(seconds=1)),
    ):
        assert (
            await alert_incidents.clear_alert_incident(
                database,
                sid,
                seat_id=seat,
                alert=kind,
                started_at=started,
                cleared_at=STARTED + timedelta(seconds=90),
                now=clock(),
            )
            is None
        )
    assert await audit_kinds(database) == before

    cleared = await alert_incidents.clear_alert_incident(
        database,
        sid,
        seat_id=dl01,
        alert=AlertKind.SEAT_EMPTY,
        started_at=STARTED,
        cleared_at=STARTED + timedelta(seconds=90, milliseconds=700),
        now=clock(),
    )
    assert cleared is not None and cleared.id == first.id
    assert cleared.evidence["occurrences"] == [
        {
            "started_at": "2026-11-30T01:00:05+00:00",
            "recording_segment_id": "seat-5/seg-00007.webm",
            "offset_s": 42,
            "cleared_at": "2026-11-30T01:01:35.700000+00:00",
            "duration_s": 90,
        },
        {"started_at": "2026-11-30T01:05:05+00:00"},
    ]
    assert (await audit_kinds(database))[len(before) :] == [
        ("supervision.incident_alert_cleared", f"incident:{first.id}", "conduct_monitor")
    ]
    # Cleared once: a repeated clearing of the same occurrence changes nothing.
    again = await alert_incidents.clear_alert_incident(
        database,
        sid,
        seat_id=dl01,
        alert=AlertKind.SEAT_EMPTY,
        started_at=STARTED,
        cleared_at=STARTED + timedelta(seconds=200),
        now=clock(),
    )
    assert again is None
    async with database.read() as s:
        chain = await load_chain(s)
    assert chain[-1].payload == {
        "alert": "seat_empty",
        "started_at": "2026-11-30T01:00:05+00:00",
        "cleared_at": "2026-11-30T01:01:35.700000+00:00",
        "duration_s": 90,
    }
