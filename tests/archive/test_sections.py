"""The section registry and the evaluation plug-in hook; recordings that are missing or altered.

These call ``create_archive`` in-process (it is a coroutine; only the CLI owns an event loop).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from evaluation_hub.archive import sections as sections_module
from evaluation_hub.archive.auditslice import load_slice
from evaluation_hub.archive.errors import ArchiveError
from evaluation_hub.archive.recordings import RESUMED_EVENT, STOPPED_EVENT
from evaluation_hub.archive.sections import (
    ArchiveContext,
    BundleFile,
    register_section,
    sections,
)
from evaluation_hub.archive.verify import verify_bundle
from evaluation_hub.archive.writer import create_archive
from evaluation_hub.audit.checkpoint import CheckpointPolicy
from evaluation_hub.audit.store import append_event, chain_head, maybe_checkpoint
from tests.archive.conftest import SEGMENT_FILE, Seeded
from tests.conftest import FakeClock


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A private copy of the registry, so a test's sections do not leak into others; without
    the evaluation plug-in's section and preparation, which any archive made earlier in this
    process registered for good (these tests choose the plug-in themselves)."""
    own = {k: v for k, v in sections_module._REGISTRY.items() if k != "evaluation"}
    monkeypatch.setattr(sections_module, "_REGISTRY", own)
    monkeypatch.setattr(sections_module, "_PREPARATIONS", [])


def leftovers(parent: Path, name: str) -> list[str]:
    """The bundle or a partial directory of it, if any was left behind."""
    return sorted(p.name for p in parent.iterdir() if name in p.name)


async def nothing(ctx: ArchiveContext) -> list[BundleFile]:
    return []


@pytest.mark.usefixtures("registry")
def test_register_section_order_and_uniqueness(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sections_module, "EVALUATION_PLUGIN", "tests.archive.no_such_plugin")
    register_section("after_scores", nothing, after="scores")
    register_section("last", nothing)
    assert [name for name, _ in sections()] == [
        "session", "bookings", "checkin", "scores", "after_scores", "supervision",
        "talkback", "recordings", "audit", "last",
    ]  # fmt: skip
    with pytest.raises(ArchiveError, match="archive section 'last' is already registered"):
        register_section("last", nothing)
    with pytest.raises(ArchiveError, match="archive section 'nope' is not registered"):
        register_section("x", nothing, after="nope")
    with pytest.raises(ArchiveError, match="is not a relative POSIX path"):
        BundleFile("/etc/passwd", data=b"")
    with pytest.raises(ArchiveError, match=r"component '\.\.'"):
        BundleFile("recordings/../../x", data=b"")


@pytest.mark.usefixtures("registry")
async def test_evaluation_plugin_is_archived(
    seeded_session: Seeded, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        sections_module, "EVALUATION_PLUGIN", "tests.archive.evaluation_plugin_example"
    )
    s = seeded_session
    out = tmp_path / "with-report"
    manifest = await create_archive(
        s.db, s.ids["session"], key=s.key, now=clock(), out=out, actor="test"
    )
    assert manifest.sections == (
        "session", "bookings", "checkin", "scores", "evaluation", "supervision",
        "talkback", "recordings", "audit",
    )  # fmt: skip
    by_path = {f.path: f.section for f in manifest.files}
    assert by_path["evaluation/report.html"] == "evaluation"
    assert by_path["evaluation/signatures.json"] == "evaluation"
    assert (out / "evaluation/report.html").read_text() == (
        f"<html><body>评标报告 #{s.ids['session']}</body></html>"
    )
    report = verify_bundle(out)
    assert report.ok, report.problem
    # Without --with-recordings the segment is listed, not included.
    segments = json.loads((out / "recordings/segments.json").read_bytes())
    assert [(g["file"], g["included"]) for g in segments] == [(SEGMENT_FILE, False)]


async def test_missing_recording_is_listed_not_included(
    seeded_session: Seeded, clock: FakeClock, tmp_path: Path
) -> None:
    s = seeded_session
    (s.recordings / SEGMENT_FILE).unlink()  # pruned by retention
    out = tmp_path / "pruned"
    await create_archive(
        s.db,
        s.ids["session"],
        key=s.key,
        now=clock(),
        out=out,
        actor="test",
        recordings_dirs=[s.recordings],
    )
    segments = json.loads((out / "recordings/segments.json").read_bytes())
    assert [(g["file"], g["included"]) for g in segments] == [(SEGMENT_FILE, False)]
    assert not (out / "recordings/files").exists()
    assert verify_bundle(out).ok


async def test_altered_recording_is_refused_and_nothing_is_left(
    seeded_session: Seeded, clock: FakeClock, tmp_path: Path
) -> None:
    s = seeded_session
    (s.recordings / SEGMENT_FILE).write_bytes(b"edited afterwards")
    out = tmp_path / "refused"
    with pytest.raises(ArchiveError) as refused:
        await create_archive(
            s.db,
            s.ids["session"],
            key=s.key,
            now=clock(),
            out=out,
            actor="test",
            recordings_dirs=[s.recordings],
        )
    actual = hashlib.sha256(b"edited afterwards").hexdigest()
    assert str(refused.value).startswith(
        f"{s.recordings / SEGMENT_FILE} has SHA-256 {actual}, but its audit event recorded "
    )
    assert leftovers(tmp_path, "refused") == []


async def test_a_recorders_outage_is_in_the_slice_of_the_sessions_it_names(
    seeded_session: Seeded, clock: FakeClock
) -> None:
    """recording.stopped / recording.resumed name the seat by its key, not by a session's
    subject: the slice takes them by the sessions their payload lists, and only those."""
    db, sid = seeded_session.db, int(seeded_session.ids["session"])
    async with db.write() as s:
        await append_event(
            s, kind=STOPPED_EVENT, subject="seat:DL.DL-01", actor="recorder",
            payload={"reason": "disk_full", "session_ids": [sid]}, at=clock(),
        )  # fmt: skip
        await append_event(
            s, kind=RESUMED_EVENT, subject="seat:DL.DL-02", actor="recorder",
            payload={"session_ids": [sid + 1000]}, at=clock(),
        )  # fmt: skip
        await append_event(
            s, kind=STOPPED_EVENT, subject="seat:HH.HH-01", actor="recorder",
            payload={"reason": "disk_full", "session_ids": []}, at=clock(),
        )  # fmt: skip
        await maybe_checkpoint(s, seeded_session.key, clock(), CheckpointPolicy(every_events=1))
    async with db.read() as s:
        seqs = set((await load_slice(s, sid)).session_seqs)
        head = await chain_head(s)
    assert head is not None
    # Chained at commit in the order appended: ours, theirs, nobody's.
    ours, theirs, nobodys = head.seq - 2, head.seq - 1, head.seq
    assert ours in seqs
    assert theirs not in seqs
    assert nobodys not in seqs
