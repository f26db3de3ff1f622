"""``evaluation-hub archive SESSION`` then ``archive verify`` on a seeded session, both databases."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from evaluation_hub.archive.bundle import Manifest
from evaluation_hub.audit.canonical import canonical
from evaluation_hub.audit.store import load_chain
from tests.archive.conftest import SEGMENT, SEGMENT_FILE, Seeded, run_cli


def load(bundle: Path, name: str) -> Any:
    return json.loads((bundle / name).read_bytes())


async def test_round_trip(seeded_session: Seeded, tmp_path: Path) -> None:
    s = seeded_session
    sid = s.ids["session"]
    bundle = tmp_path / "bundle"
    made = run_cli(
        "archive", str(sid), "--database-url", s.db.url, "--hub-key", str(s.key_file),
        "--out", str(bundle), "--with-recordings", str(s.recordings),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"archive of session {sid} written to {bundle}: ")

    checked = run_cli("archive", "verify", str(bundle), "--public-key", str(s.public_key_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith(f"archive OK: session {sid}, ")

    manifest = Manifest.from_bytes((bundle / "manifest.json").read_bytes())
    paths = {f.path for f in manifest.files}
    assert paths == {
        "session.json",
        "bookings.json",
        "checkin.json",
        "scores.json",
        "supervision/record.json",
        "supervision/incidents.json",
        "supervision/assistance.json",
        "supervision/copy-notices.json",
        "supervision/handovers.json",
        "recordings/segments.json",
        f"recordings/files/{SEGMENT_FILE}",
        "audit/events.json",
        "audit/checkpoints.json",
        "audit/slice.json",
        "hub-public-key.pem",
    }
    assert manifest.sections == (
        "session", "bookings", "checkin", "scores", "evaluation", "supervision", "recordings",
        "audit",
    )  # fmt: skip
    # Every data file is canonical JSON: re-encoding gives the same bytes.
    for path in paths - {"hub-public-key.pem", f"recordings/files/{SEGMENT_FILE}"}:
        raw = (bundle / path).read_bytes()
        assert canonical(json.loads(raw)) == raw, path
    assert (bundle / "recordings/files" / SEGMENT_FILE).read_bytes() == SEGMENT

    session = load(bundle, "session.json")
    assert isinstance(session, dict)
    assert session["id"] == sid
    assert [m["code"] for m in session["committee"]] == [
        "E01",
        "E02",
        "E03",
        "E04",
        "E05",
        "E06",
        "E07",
    ]
    bookings = load(bundle, "bookings.json")
    assert isinstance(bookings, list)
    assert sorted(b["id"] for b in bookings) == sorted(s.ids["bookings"].values())
    incidents = load(bundle, "supervision/incidents.json")
    assert isinstance(incidents, list)
    assert [(i["id"], i["state"]) for i in incidents] == [
        (s.incident_away, "concluded"),
        (s.incident_host, "open"),
    ]
    assert incidents[0]["handling"][0]["note"] == "已电话提醒曲靖现场"
    notices = load(bundle, "supervision/copy-notices.json")
    assert isinstance(notices, list)
    assert [n["incident_id"] for n in notices] == [s.incident_away]
    assert len(load(bundle, "supervision/assistance.json")) == 1
    assert len(load(bundle, "supervision/handovers.json")) == 2  # DL, QJ
    scores = load(bundle, "scores.json")
    assert isinstance(scores, list)
    assert scores[0]["sheet"] == {"chapter": "A", "items": {"t1": "8.5", "t2": 7}}
    segments = load(bundle, "recordings/segments.json")
    assert isinstance(segments, list)
    assert [(g["file"], g["sha256"], g["included"]) for g in segments] == [
        (SEGMENT_FILE, hashlib.sha256(SEGMENT).hexdigest(), True)
    ]

    # The slice: anchored by the checkpoint at event 1, ends at the archive's own event, and
    # leaves out nothing between.
    meta = load(bundle, "audit/slice.json")
    assert isinstance(meta, dict)
    async with s.db.read() as db:
        chain = await load_chain(db)
    assert meta["first_seq"] == 2 and meta["anchor_seq"] == 1
    assert meta["last_seq"] == chain[-1].seq
    assert chain[-1].kind == "archive.requested" and chain[-1].subject == f"session:{sid}"
    events = load(bundle, "audit/events.json")
    assert isinstance(events, list)
    assert [e["seq"] for e in events] == list(range(2, chain[-1].seq + 1))
    kinds = {e["kind"] for e in events if e["seq"] in set(meta["session_seqs"])}
    assert {
        "booking.requested",
        "booking.confirmed",
        "supervision.incident_raised",
        "supervision.copy_notice_created",
        "supervision.assistance_requested",
        "supervision.handover_opened",
        "recording.segment_closed",
        "archive.requested",
    } <= kinds
    # The unrelated event after the session's events is inside the run but not the session's.
    unrelated = [e["seq"] for e in events if e["subject"] == "venue:98"]
    assert unrelated and unrelated[0] not in meta["session_seqs"]
    checkpoints = load(bundle, "audit/checkpoints.json")
    assert checkpoints[0]["seq"] == 1  # the anchor
    assert checkpoints[-1]["seq"] == meta["last_seq"]  # the archive's own checkpoint


async def test_archive_refuses_unknown_session_and_existing_out(
    seeded_session: Seeded, tmp_path: Path
) -> None:
    s = seeded_session
    common = ("--database-url", s.db.url, "--hub-key", str(s.key_file))
    missing = run_cli("archive", "999", *common, "--out", str(tmp_path / "b"))
    assert missing.returncode == 2
    assert missing.stderr == "archive: evaluation session 999 does not exist\n"
    assert not (tmp_path / "b").exists()
    (tmp_path / "taken").mkdir()
    taken = run_cli("archive", str(s.ids["session"]), *common, "--out", str(tmp_path / "taken"))
    assert taken.returncode == 2
    assert (
        taken.stderr == f"archive: {tmp_path / 'taken'} already exists; choose a new --out path\n"
    )
