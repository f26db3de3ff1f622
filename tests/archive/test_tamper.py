"""``archive verify`` names the first problem of a tampered bundle (exit 1), on both databases,
with the same message whether the bundle is a directory, a tar or a gzip tar.

The bundle is written once per database by the real CLI (a subprocess); each case tampers with
a fresh copy of the directory, packs it as the test's form asks, and runs ``archive verify``
through the CLI's ``main`` (verification runs no event loop, so it can run in-process).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from evaluation_hub.archive.bundle import FileEntry, Manifest, sign_manifest
from evaluation_hub.archive.tarball import write_tar
from evaluation_hub.audit.canonical import canonical
from evaluation_hub.audit.checkpoint import key_fingerprint
from evaluation_hub.cli import main
from evaluation_hub.db.seat_terminals import SubmittedScore
from scoring.signing import save_document, sign
from tests.archive.conftest import SEAT_KEY, SEGMENT_FILE, Seeded, run_cli


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def resign(bundle: Path, key: Ed25519PrivateKey) -> None:
    """What someone holding a signing key could do: re-hash every file and sign again."""
    manifest = Manifest.from_bytes((bundle / "manifest.json").read_bytes())
    files = tuple(
        FileEntry(f.path, f.section, sha(bundle / f.path), (bundle / f.path).stat().st_size)
        for f in manifest.files
    )
    manifest = replace(manifest, files=files, key_id=key_fingerprint(key.public_key()))
    body = manifest.to_bytes()
    (bundle / "manifest.json").write_bytes(body)
    (bundle / "manifest.sig").write_text(sign_manifest(body, key) + "\n")


def edit_json(path: Path, change: Callable[[object], object]) -> None:
    path.write_bytes(canonical(change(json.loads(path.read_bytes()))))


def verify(bundle: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["archive", "verify", str(bundle), *extra])
    return code, capsys.readouterr().out


# The forms a bundle is handed over in: the directory itself, or a tar file of it.
FORMS = {"directory": "", "tar": ".tar", "tar.gz": ".tar.gz"}


def packed(bundle: Path, form: str) -> Path:
    """``bundle`` as ``form``: the directory, or a tar of it beside it (as ``archive`` packs)."""
    if not FORMS[form]:
        return bundle
    out = bundle.with_name(bundle.name + FORMS[form])
    write_tar(bundle, out, mtime=datetime(2026, 12, 2, 1, tzinfo=UTC))
    return out


@pytest.fixture(params=list(FORMS))
def form(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def bundle(seeded_session: Seeded, tmp_path: Path) -> Path:
    s = seeded_session
    out = tmp_path / "original"
    made = run_cli(
        "archive", str(s.ids["session"]), "--database-url", s.db.url,
        "--hub-key", str(s.key_file), "--out", str(out), "--with-recordings", str(s.recordings),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return out


async def test_tampering_is_named(
    bundle: Path,
    seeded_session: Seeded,
    form: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    s = seeded_session
    fresh = iter(range(100))

    def check(b: Path, *extra: str) -> tuple[int, str]:
        return verify(packed(b, form), capsys, *extra)

    def copy() -> Path:
        target = tmp_path / f"copy{next(fresh)}"
        shutil.copytree(bundle, target)
        return target

    pub = ("--public-key", str(s.public_key_file))
    code, out = check(copy(), *pub)
    assert code == 0, out
    assert out.startswith(f"archive OK: session {s.ids['session']}, 16 files, audit slice of ")
    assert out.endswith(f"signed by hub key {key_fingerprint(s.key.public_key())}\n")
    code, out = check(copy())
    assert code == 0
    assert out.endswith(
        "note: checked against the key inside the bundle; pass --public-key with the hub's "
        "published key to prove who signed it\n"
    )

    # An edited data file: the manifest's hash and the file's.
    b = copy()
    listed = sha(b / "supervision/incidents.json")
    edit_json(b / "supervision/incidents.json", lambda v: v[:1])  # type: ignore[index]
    assert check(b, *pub) == (
        1,
        f"file supervision/incidents.json was modified: manifest says sha256 {listed}, "
        f"file has {sha(b / 'supervision/incidents.json')}\n",
    )

    # A removed file.
    b = copy()
    (b / "scores.json").unlink()
    assert check(b, *pub) == (
        1,
        "file scores.json is listed in the manifest but missing from the bundle\n",
    )

    # An added file.
    b = copy()
    (b / "supervision" / "extra-note.json").write_text("{}")
    assert check(b, *pub) == (
        1,
        "file supervision/extra-note.json is not listed in the manifest (added after signing)\n",
    )

    # An edited manifest (a file's hash changed to match an edited file).
    b = copy()
    edit_json(b / "scores.json", lambda v: [])
    manifest = Manifest.from_bytes((b / "manifest.json").read_bytes())
    files = tuple(
        replace(f, sha256=sha(b / f.path)) if f.path == "scores.json" else f for f in manifest.files
    )
    (b / "manifest.json").write_bytes(replace(manifest, files=files).to_bytes())
    hub_id = key_fingerprint(s.key.public_key())
    bad_signature = (
        1,
        f"manifest.sig is not a valid signature of manifest.json by the key in "
        f"hub-public-key.pem ({hub_id}): the manifest was edited or the signature forged\n",
    )
    assert check(b, *pub) == bad_signature

    # A forged signature: signed by another key.
    b = copy()
    forger = Ed25519PrivateKey.generate()
    body = (b / "manifest.json").read_bytes()
    (b / "manifest.sig").write_text(sign_manifest(body, forger) + "\n")
    assert check(b, *pub) == bad_signature

    # A forger who replaces the bundled key and re-signs everything: the given hub key catches
    # it, and without it the audit checkpoints (signed by the real hub key) still do.
    b = copy()
    forged_pem = forger.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    (b / "hub-public-key.pem").write_bytes(forged_pem)
    resign(b, forger)
    forger_id = key_fingerprint(forger.public_key())
    assert check(b, *pub) == (
        1,
        f"hub-public-key.pem is key {forger_id}, not the given hub public key {hub_id}: "
        "the bundle was not signed by this hub\n",
    )
    code, out = check(b)
    assert code == 1
    assert out == (
        f"audit slice (audit/events.json): checkpoint at event 1 names signing key "
        f"{hub_id[:16]}…, not the given public key {forger_id[:16]}…, and its signature does "
        "not verify: pass the hub's public key, or the checkpoint was forged\n"
    )

    # An audit event edited and the manifest re-signed with the hub key: the chain catches it.
    b = copy()
    events = json.loads((b / "audit/events.json").read_bytes())
    victim = next(e for e in events if e["kind"] == "supervision.incident_concluded")
    victim["payload"]["result"] = "无问题"
    (b / "audit/events.json").write_bytes(canonical(events))
    resign(b, s.key)
    assert check(b, *pub) == (
        1,
        f"audit slice (audit/events.json): event {victim['seq']} (supervision.incident_concluded "
        f"on incident:{s.incident_away}) was edited: its contents do not match its stored hash\n",
    )

    # An audit event removed from the slice, re-signed.
    b = copy()
    events = json.loads((b / "audit/events.json").read_bytes())
    gone = events.pop(3)
    (b / "audit/events.json").write_bytes(canonical(events))
    resign(b, s.key)
    assert check(b, *pub) == (
        1,
        f"audit slice (audit/events.json): event {gone['seq']} was removed: the chain goes "
        f"from event {gone['seq'] - 1} to event {gone['seq'] + 1}\n",
    )

    # The anchoring checkpoint dropped, re-signed: the slice's first link would be on trust.
    b = copy()
    checkpoints = json.loads((b / "audit/checkpoints.json").read_bytes())
    meta = json.loads((b / "audit/slice.json").read_bytes())
    assert checkpoints[0]["seq"] == meta["anchor_seq"] == meta["first_seq"] - 1
    (b / "audit/checkpoints.json").write_bytes(canonical(checkpoints[1:]))
    resign(b, s.key)
    assert check(b, *pub) == (
        1,
        f"audit slice starts at event {meta['first_seq']} but the checkpoint at event "
        f"{meta['anchor_seq']} that anchors its first link is missing from "
        "audit/checkpoints.json\n",
    )

    # The closing checkpoint dropped, re-signed: the session events after the one before it
    # are no longer covered by a signature; the first of them is named.
    b = copy()
    (b / "audit/checkpoints.json").write_bytes(canonical(checkpoints[:-1]))
    resign(b, s.key)
    uncovered = min(q for q in meta["session_seqs"] if q > checkpoints[-2]["seq"])
    assert check(b, *pub) == (
        1,
        f"session event {uncovered} is not covered by a signed checkpoint\n",
    )

    # A recording swapped and the manifest re-signed: the audit event's hash catches it.
    b = copy()
    recording = b / "recordings/files" / SEGMENT_FILE
    recorded = sha(recording)
    recording.write_bytes(b"another video")
    resign(b, s.key)
    seq = next(
        e["seq"]
        for e in json.loads((b / "audit/events.json").read_bytes())
        if e["kind"] == "recording.segment_closed"
    )
    assert check(b, *pub) == (
        1,
        f"file recordings/files/{SEGMENT_FILE} has sha256 {sha(recording)}, but audit event "
        f"{seq} recorded {recorded} for this segment\n",
    )


def _flip(hex_text: str) -> str:
    """The same hex text with its first digit changed."""
    return ("1" if hex_text[0] != "1" else "2") + hex_text[1:]


async def test_a_tampered_save_signature_is_named(
    bundle: Path, seeded_session: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Even with the hub's key to re-sign the manifest, nobody can change a seat's save, its
    signature or the seat key beside it: the signature no longer verifies, or the audit event
    recorded another one."""
    s = seeded_session
    pub = ("--public-key", str(s.public_key_file))
    fresh = iter(range(100))

    def copy() -> Path:
        target = tmp_path / f"copy{next(fresh)}"
        shutil.copytree(bundle, target)
        return target

    saves = json.loads((bundle / "scores.json").read_bytes())
    assert [(x["idempotency_key"], x["seat_key"], x["verdict_code"]) for x in saves] == [
        ("k-1", "DL.DL-01", "no-package")
    ]
    assert saves[0]["seat_public_key"] == SEAT_KEY.public_key().public_bytes_raw().hex()
    altered = (
        1,
        "the seat signature of score save k-1 (scores.json entry 0) does not verify under the "
        "seat key stored beside it: the save or its signature was altered\n",
    )

    def changed(**fields: object) -> Callable[[object], object]:
        return lambda _: [{**saves[0], **fields}]

    # The signature edited.
    b = copy()
    edit_json(b / "scores.json", changed(seat_signature=_flip(saves[0]["seat_signature"])))
    resign(b, s.key)
    assert verify(b, capsys, *pub) == altered
    # The sheet edited.
    b = copy()
    edit_json(b / "scores.json", changed(sheet={"chapter": "A", "items": {"t1": "9.5", "t2": 7}}))
    resign(b, s.key)
    assert verify(b, capsys, *pub) == altered
    # The sheet edited and signed again by another key put in the seat key's place.
    b = copy()
    forger = Ed25519PrivateKey.from_private_bytes(bytes([5]) * 32)
    entry = dict(saves[0])
    entry["sheet"] = {"chapter": "A", "items": {"t1": "9.5", "t2": 7}}
    document = save_document(entry["session_ref"], entry["idempotency_key"], entry["sheet"])
    entry["seat_signature"] = sign(forger, document).hex()
    entry["seat_public_key"] = forger.public_key().public_bytes_raw().hex()
    (b / "scores.json").write_bytes(canonical([entry]))
    resign(b, s.key)
    events = json.loads((b / "audit/events.json").read_bytes())
    seq = next(e["seq"] for e in events if e["payload"].get("idempotency_key") == "k-1")
    assert verify(b, capsys, *pub) == (
        1,
        f"the seat signature or key of score save k-1 (scores.json entry 0) differs from the "
        f"one audit event {seq} recorded\n",
    )
    # The signature removed.
    b = copy()
    edit_json(b / "scores.json", changed(seat_signature=None))
    resign(b, s.key)
    assert verify(b, capsys, *pub) == (
        1,
        f"score save k-1 (scores.json entry 0) has no seat signature, but audit event {seq} "
        "recorded one: the signature was removed\n",
    )


async def test_a_save_signature_tampered_in_the_database_is_caught_by_verify(
    seeded_session: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Someone with write access to the database changes the stored signature of a seat's
    save; the archive written afterwards carries it, and ``archive verify`` names it."""
    s = seeded_session
    async with s.db.write() as session:
        row = (
            await session.execute(
                select(SubmittedScore).where(SubmittedScore.idempotency_key == "k-1")
            )
        ).scalar_one()
        assert row.seat_signature is not None
        row.seat_signature = _flip(row.seat_signature)
    out = tmp_path / "bundle"
    made = run_cli(
        "archive", str(s.ids["session"]), "--database-url", s.db.url,
        "--hub-key", str(s.key_file), "--out", str(out),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert verify(out, capsys, "--public-key", str(s.public_key_file)) == (
        1,
        "the seat signature of score save k-1 (scores.json entry 0) does not verify under the "
        "seat key stored beside it: the save or its signature was altered\n",
    )


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert verify(tmp_path / "empty", capsys) == (1, "manifest.json is missing from the bundle\n")
    assert main(["archive", "verify", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == (
        f"archive verify: {tmp_path / 'nowhere'} is not a bundle directory or tar file\n"
    )
    (tmp_path / "notes.tar").write_text("not a tar at all")
    assert main(["archive", "verify", str(tmp_path / "notes.tar")]) == 2
    assert capsys.readouterr().err == (
        f"archive verify: {tmp_path / 'notes.tar'} is not a bundle directory or tar file\n"
    )
    for argv in (
        ["archive", "verify"],
        ["archive", "first"],
        ["archive", "verify", str(tmp_path), "--out", "x"],
        ["archive", "1", "--public-key", "k.pem"],
    ):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "archive verify needs the BUNDLE (a directory or a tar file)" in err
    assert "SESSION must be a session number or 'verify', not 'first'" in err
    assert "--out does not apply to archive verify" in err
    assert "--public-key applies to archive verify only" in err


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_report_pdf_the_hub_never_rendered_is_named(
    bundle: Path, seeded_session: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PDF added to a bundle (and the manifest re-signed) has no ``evaluation.report_pdf``
    audit event behind it: verify says so."""
    (bundle / "evaluation").mkdir(exist_ok=True)
    (bundle / "evaluation" / "report.pdf").write_bytes(b"%PDF-1.7\n% not the hub's report\n")
    manifest = Manifest.from_bytes((bundle / "manifest.json").read_bytes())
    added = FileEntry("evaluation/report.pdf", "evaluation", "0" * 64, 0)
    (bundle / "manifest.json").write_bytes(
        replace(manifest, files=(*manifest.files, added)).to_bytes()
    )
    resign(bundle, seeded_session.key)
    assert verify(bundle, capsys) == (
        1,
        "file evaluation/report.pdf is in the bundle, but no audit event of the session records "
        "a report PDF: it was not rendered by the hub\n",
    )
