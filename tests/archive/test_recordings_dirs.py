"""``archive --with-recordings`` once per hub process: each process records into its own
directory, and every segment of the session's audit chain is archived from whichever holds it,
checked against its hash; a segment found in none is named and listed as not included."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from evaluation_hub.archive import sections as sections_module
from evaluation_hub.archive.errors import ArchiveError
from evaluation_hub.archive.recordings import append_segment_event
from evaluation_hub.archive.verify import verify_bundle
from evaluation_hub.archive.writer import create_archive
from evaluation_hub.audit.store import chain_head
from tests.archive.conftest import SEGMENT, SEGMENT_FILE, Seeded, run_cli
from tests.conftest import FakeClock

#: recorded by the second hub process, into its own directory
OTHER_FILE = "QJ.QJ-01/janus-1796467806547-1.webm"
OTHER = b"\x1a\x45\xdf\xa3 the second process's segment"


async def test_segments_from_every_processs_directory_are_archived_and_a_missing_one_named(
    seeded_session: Seeded, clock: FakeClock, tmp_path: Path
) -> None:
    s = seeded_session
    sid = s.ids["session"]
    second = tmp_path / "recordings-hub-2"
    (second / OTHER_FILE).parent.mkdir(parents=True)
    (second / OTHER_FILE).write_bytes(OTHER)
    async with s.db.write() as session:
        await append_segment_event(
            session,
            session_id=sid,
            seat_id=s.ids["seats"]["QJ-01"],
            file=OTHER_FILE,
            sha256=hashlib.sha256(OTHER).hexdigest(),
            size=len(OTHER),
            duration_s=4.0,
            actor="system",
            at=clock(),
        )
    async with s.db.read() as session:  # the chain is written at commit: its head is the event
        event = await chain_head(session)
    assert event is not None and event.payload["file"] == OTHER_FILE
    common = ("--database-url", s.db.url, "--hub-key", str(s.key_file))

    both = tmp_path / "both"
    made = run_cli(
        "archive", str(sid), *common, "--out", str(both),
        "--with-recordings", str(s.recordings), "--with-recordings", str(second),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stderr == ""
    listed = json.loads((both / "recordings/segments.json").read_bytes())
    assert [(g["file"], g["included"]) for g in listed] == [
        (SEGMENT_FILE, True),
        (OTHER_FILE, True),
    ]
    assert (both / "recordings/files" / SEGMENT_FILE).read_bytes() == SEGMENT
    assert (both / "recordings/files" / OTHER_FILE).read_bytes() == OTHER
    report = verify_bundle(both)
    assert report.ok, report.problem

    # Only the first process's directory: the second's segment is named, not guessed.
    one = tmp_path / "one"
    made = run_cli(
        "archive", str(sid), *common, "--out", str(one), "--with-recordings", str(s.recordings)
    )
    assert made.returncode == 0, made.stderr
    assert made.stderr == (
        f"archive: recording segment {OTHER_FILE} of seat {s.ids['seats']['QJ-01']} (audit "
        f"event {event.seq}, SHA-256 {hashlib.sha256(OTHER).hexdigest()}) is in none of the "
        f"recordings directories ({s.recordings}): listed as not included\n"
    )
    listed = json.loads((one / "recordings/segments.json").read_bytes())
    assert [(g["file"], g["included"]) for g in listed] == [
        (SEGMENT_FILE, True),
        (OTHER_FILE, False),
    ]


async def test_a_segment_altered_in_another_processs_directory_is_refused(
    seeded_session: Seeded, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In this process, the sections the archive loads on first use are this test's alone
    # (``tests/archive/test_sections.py`` counts them from a registry without them).
    monkeypatch.setattr(sections_module, "_REGISTRY", dict(sections_module._REGISTRY))
    monkeypatch.setattr(sections_module, "_PREPARATIONS", list(sections_module._PREPARATIONS))
    s = seeded_session
    sid = s.ids["session"]
    # The same relative name in a second directory, altered: the first's intact copy is taken.
    second = tmp_path / "recordings-hub-2"
    (second / SEGMENT_FILE).parent.mkdir(parents=True)
    (second / SEGMENT_FILE).write_bytes(b"edited afterwards")
    out = tmp_path / "taken"
    await create_archive(
        s.db, sid, key=s.key, now=clock(), out=out, actor="test",
        recordings_dirs=[second, s.recordings],
    )  # fmt: skip
    assert (out / "recordings/files" / SEGMENT_FILE).read_bytes() == SEGMENT
    # Only the altered copy: refused, nothing written.
    refused = tmp_path / "refused"
    with pytest.raises(ArchiveError) as error:
        await create_archive(
            s.db, sid, key=s.key, now=clock(), out=refused, actor="test",
            recordings_dirs=[second],
        )  # fmt: skip
    altered = hashlib.sha256(b"edited afterwards").hexdigest()
    assert str(error.value) == (
        f"{second / SEGMENT_FILE} has SHA-256 {altered}, but its audit event recorded "
        f"{hashlib.sha256(SEGMENT).hexdigest()}: the recording was altered after it was closed; "
        "it is not archived"
    )
    assert not refused.exists()
