"""``evaluation-hub archive SESSION`` then ``archive verify`` on a seeded session, both databases;
as a directory and as a tar file."""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

from evaluation_hub.archive.bundle import Manifest
from evaluation_hub.archive.tarball import write_tar
from evaluation_hub.archive.verify import verify_bundle
from evaluation_hub.audit.canonical import canonical
from evaluation_hub.audit.keys import load_public_key
from evaluation_hub.audit.store import load_chain
from tests.archive.conftest import SEGMENT, SEGMENT_FILE, Seeded, run_cli


def names_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


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
        "talkback/announcements.json",
        "recordings/segments.json",
        f"recordings/files/{SEGMENT_FILE}",
        "audit/events.json",
        "audit/checkpoints.json",
        "audit/slice.json",
        "hub-public-key.pem",
    }
    assert manifest.sections == (
        "session", "bookings", "checkin", "scores", "evaluation", "supervision", "talkback",
        "recordings", "audit",
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


async def test_tar_round_trip(seeded_session: Seeded, tmp_path: Path) -> None:
    """``--out NAME.tar.gz`` writes one deterministic gzip tar of the bundle, and it verifies."""
    s = seeded_session
    sid = s.ids["session"]
    written = tmp_path / "written"
    written.mkdir()
    out = written / "session.tar.gz"
    made = run_cli(
        "archive", str(sid), "--database-url", s.db.url, "--hub-key", str(s.key_file),
        "--out", str(out), "--with-recordings", str(s.recordings),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout == f"archive of session {sid} written to {out}: 16 files\n"
    assert names_in(written) == ["session.tar.gz"]  # nothing partial left behind

    checked = run_cli("archive", "verify", str(out), "--public-key", str(s.public_key_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith(f"archive OK: session {sid}, 16 files, audit slice of ")
    assert verify_bundle(out, load_public_key(s.public_key_file)).ok

    # One top directory named after the file; members in path order, metadata fixed.
    with tarfile.open(out) as tar:
        members = tar.getmembers()
        manifest = Manifest.from_bytes(tar.extractfile("session/manifest.json").read())  # type: ignore[union-attr]
        tar.extractall(tmp_path / "unpacked", filter="data")
    names = [m.name for m in members]
    assert names[:3] == ["session", "session/audit", "session/audit/checkpoints.json"]
    assert names == sorted(names, key=lambda n: n.split("/"))
    assert {f"session/{f.path}" for f in manifest.files} | {
        "session/manifest.json",
        "session/manifest.sig",
    } == {m.name for m in members if m.isfile()}
    stamp = int(manifest.created_at.timestamp())
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(stamp, 0, 0, "", "")}
    assert {(m.isdir(), m.mode) for m in members} == {(True, 0o755), (False, 0o644)}
    with gzip.open(out) as gz:
        gz.read(1)
    assert out.read_bytes()[4:8] == stamp.to_bytes(4, "little")  # gzip mtime; no file name
    assert out.read_bytes()[3] & 0x08 == 0

    # Deterministic: the same bundle, unpacked (new file times) and packed again, gives the
    # same bytes; as a plain tar it verifies too.
    unpacked = tmp_path / "unpacked" / "session"
    assert verify_bundle(unpacked).ok
    (tmp_path / "again").mkdir()
    write_tar(unpacked, tmp_path / "again" / "session.tar.gz", mtime=manifest.created_at)
    assert (tmp_path / "again" / "session.tar.gz").read_bytes() == out.read_bytes()
    plain = tmp_path / "again" / "session.tar"
    write_tar(unpacked, plain, mtime=manifest.created_at)
    assert verify_bundle(plain).ok
    with tarfile.open(plain) as tar:
        assert tar.getnames() == names

    # A custodian's own tar of the directory (``tar -czf``: real owners and times) verifies.
    custodian = tmp_path / "custodian.tgz"
    with tarfile.open(custodian, "w:gz") as tar:
        tar.add(unpacked, arcname="2026-12-01-session-4")
    assert verify_bundle(custodian).ok


async def test_tar_out_needs_a_name(seeded_session: Seeded, tmp_path: Path) -> None:
    s = seeded_session
    common = ("--database-url", s.db.url, "--hub-key", str(s.key_file))
    out = tmp_path / "out"
    out.mkdir()
    nameless = run_cli("archive", str(s.ids["session"]), *common, "--out", str(out / ".tar"))
    assert nameless.returncode == 2
    assert nameless.stderr == (
        f"archive: {out / '.tar'} names no bundle before its tar suffix; choose a new --out path\n"
    )
    (out / "taken.tar").write_bytes(b"")
    taken = run_cli("archive", str(s.ids["session"]), *common, "--out", str(out / "taken.tar"))
    assert taken.returncode == 2
    assert taken.stderr == f"archive: {out / 'taken.tar'} already exists; choose a new --out path\n"
    assert names_in(out) == ["taken.tar"]  # nothing partial left behind
