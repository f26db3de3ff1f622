"""Fixtures for archive tests: a seeded session with supervision records, a recording segment,
a score submitted from an enrolled seat (signed with the seat's key; the session has no
package, so it is stored with its refusal), signed checkpoints, the hub key file, and the CLI
run as a subprocess."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evaluation_hub.archive.recordings import append_segment_event
from evaluation_hub.audit.checkpoint import CheckpointPolicy
from evaluation_hub.audit.keys import load_or_create_private_key, write_public_key
from evaluation_hub.audit.store import append_event, maybe_checkpoint
from evaluation_hub.db.engine import Database
from evaluation_hub.principal import Principal
from evaluation_hub.seats import enrolment
from evaluation_hub.seats.scores import commit_score
from evaluation_hub.supervision import assistance, handovers, incidents
from evaluation_hub.supervision.models import Severity
from scoring.signing import save_document, sign
from seat_protocol.auth import enrolment_code
from tests.conftest import FakeClock
from tests.supervision_api.conftest import hub_services, seed_seated

REPO = Path(__file__).resolve().parents[2]
SEGMENT = b"\x1aE\xdf\xa3 not really WebM, but bytes with a hash"
SEGMENT_FILE = "seat-dl01/seg-00001.webm"
#: the terminal key of seat DL.DL-01, which signs the seat's score save
SEAT_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(40, 72)))


def run_cli(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``evaluation-hub ARGV`` in a fresh interpreter (it owns its event loop)."""
    return subprocess.run(
        [sys.executable, "-m", "evaluation_hub.cli", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Seeded:
    db: Database
    ids: dict[str, Any]
    key: Ed25519PrivateKey
    key_file: Path
    public_key_file: Path
    recordings: Path
    incident_away: int
    incident_host: int


async def _checkpoint(db: Database, key: Ed25519PrivateKey, clock: FakeClock) -> None:
    async with db.write() as s:
        await maybe_checkpoint(s, key, clock(), CheckpointPolicy(every_events=1))


async def seed_session(db: Database, clock: FakeClock, tmp_path: Path) -> Seeded:
    key_file = tmp_path / "hub-key.pem"
    key = load_or_create_private_key(key_file)
    public_key_file = tmp_path / "hub-key.pub"
    write_public_key(key, public_key_file)
    # An unrelated event and a checkpoint before the session's first event, so the slice is
    # anchored by a checkpoint rather than by the genesis hash.
    async with db.write() as s:
        await append_event(
            s, kind="venue.listed", subject="venue:99", actor="system", payload={}, at=clock()
        )
    await _checkpoint(db, key, clock)
    ids = await seed_seated(db, clock)
    hub = hub_services(db, clock, tmp_path / "hub")
    sid = ids["session"]
    host = Principal("km_supervisor", "supervisor", ids["venues"]["KM"])
    clock.advance(hours=1)
    away = await incidents.raise_incident(
        hub,
        host,
        sid,
        kind="seat_empty",
        severity=Severity.MINOR,
        expert_id=ids["experts"]["E06"],
        seat_id=ids["seats"]["QJ-01"],
        evidence={"recording_segment_id": SEGMENT_FILE, "offset_s": 12},
        description="工位无人超过 10 秒",
        now=clock(),
    )
    await _checkpoint(db, key, clock)  # a checkpoint inside the slice, too
    clock.advance(minutes=5)
    await incidents.record_handling(hub, host, away.id, note="已电话提醒曲靖现场", now=clock())
    await incidents.conclude_incident(
        hub,
        host,
        away.id,
        result="专家短暂离席，已提醒",
        now=clock(),
    )
    at_host = await incidents.raise_incident(
        hub,
        host,
        sid,
        kind="multiple_faces",
        severity=Severity.SERIOUS,
        expert_id=ids["experts"]["E01"],
        seat_id=None,
        evidence={},
        description="画面中多于一人",
        now=clock(),
    )
    await assistance.request_assistance(
        hub, host, sid, venue_id=ids["venues"]["DL"], content="请核实 DL-01 专家身份", now=clock()
    )
    recordings = tmp_path / "recordings"
    (recordings / SEGMENT_FILE).parent.mkdir(parents=True)
    (recordings / SEGMENT_FILE).write_bytes(SEGMENT)
    async with db.write() as s:
        await append_segment_event(
            s,
            session_id=sid,
            seat_id=ids["seats"]["DL-01"],
            file=SEGMENT_FILE,
            sha256=hashlib.sha256(SEGMENT).hexdigest(),
            size=len(SEGMENT),
            duration_s=10.0,
            actor="system",
            at=clock(),
        )
    seat_key = SEAT_KEY.public_key().public_bytes_raw()
    x25519 = bytes(range(32))
    await enrolment.record_enrolment(
        db, "DL.DL-01", seat_key, x25519, enrolment_code(seat_key, x25519), clock()
    )
    await enrolment.approve_enrolment(
        db,
        Principal("dl_admin", "venue_admin", ids["venues"]["DL"]),
        "DL.DL-01",
        clock(),
        enrolment_code=enrolment_code(seat_key, x25519),
    )
    sheet: dict[str, Any] = {"chapter": "A", "items": {"t1": 8.5, "t2": 7}}
    await commit_score(
        hub,
        seat_key="DL.DL-01",
        idempotency_key="k-1",
        session_ref=str(sid),
        sheet=sheet,
        digest="d" * 64,
        signature=sign(SEAT_KEY, save_document(str(sid), "k-1", sheet)).hex(),
        now=clock(),
    )
    # An unrelated event after the session's events.
    async with db.write() as s:
        await append_event(
            s, kind="venue.listed", subject="venue:98", actor="system", payload={}, at=clock()
        )
    clock.advance(days=2)  # after the session's end (2026-12-01 17:30)
    await handovers.open_handovers(hub, host, sid, now=clock())
    return Seeded(db, ids, key, key_file, public_key_file, recordings, away.id, at_host.id)


@pytest.fixture
async def seeded_session(database: Database, clock: FakeClock, tmp_path: Path) -> Seeded:
    return await seed_session(database, clock, tmp_path)
