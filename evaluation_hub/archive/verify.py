"""Check a bundle and name its first problem: signature, file hashes, the audit slice.

A bundle is a directory or a tar file (plain or gzip; see ``tarball``). A tar is first read in
one pass, refused if any member is unsafe (``unsafe tar: member …``) or if it cannot be read to
its end (``damaged tar: …``); then the same checks run on its files as on a directory's.

Order of checks (the first failure is reported, nothing after it):

0. a tar: every member is safe and the tar is readable;
1. ``manifest.json``, ``manifest.sig`` and ``hub-public-key.pem`` are present and readable; if
   the caller passes the hub's public key, the bundled key must be the same key;
2. the manifest's signature verifies under that key, the manifest parses, and the key is of
   the suite the manifest names (``default``: Ed25519/SHA-256, ``national``: SM2/SM3), the
   suite the audit slice's hashes and checkpoints are then checked in;
3. every listed file exists and has the listed SHA-256 (in path order), then no file is present
   that the manifest does not list;
4. the audit slice: events and checkpoints parse, ``chain.verify`` passes from ``first_seq``,
   the slice is anchored by the checkpoint at ``first_seq - 1`` (unless it starts at event 1),
   it ends at ``last_seq``, and a verified checkpoint covers every session event;
5. ``recordings/segments.json`` states exactly the segments the slice's events state, and every
   included recording file has the SHA-256 its audit event recorded;
6. every score save in ``scores.json`` that carries a seat signature verifies under the seat
   key stored beside it over ``scoring.signing.save_document`` of the save as stored, and that
   signature and key are the ones the session's audit event for the save recorded (so neither
   the save, nor its signature, nor its key can be replaced); a save without a signature must
   have no audit event that recorded one;
7. the signed report's PDF (``evaluation/report.pdf``) has the SHA-256 the session's
   ``evaluation.report_pdf`` audit event recorded; a bundle without it must have no such event
   (the PDF was removed), and a bundle with it must have one (a PDF nobody rendered at the hub).

Memory stays bounded whatever the bundle holds: files are hashed in 1 MiB chunks, and only the
files the checks parse are read whole, each at most ``tarball.ReadLimits.max_kept_bytes``
(a tar's oversized headers are refused too, see ``tarball``).

File I/O only: no database, no clock. Messages are English (an operator's command).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from evaluation_hub.archive.bundle import (
    MANIFEST,
    PUBLIC_KEY,
    RESERVED,
    SIGNATURE,
    Manifest,
    ManifestError,
    signature_valid,
)
from evaluation_hub.archive.sections import RECORDING_FILES, REPORT_PDF, SCORES, session_segments
from evaluation_hub.archive.tarball import ReadLimits, TarRefused, read_tar
from evaluation_hub.audit.canonical import parse_timestamp
from evaluation_hub.audit.chain import AuditEvent, verify
from evaluation_hub.audit.checkpoint import Checkpoint, key_fingerprint
from evaluation_hub.audit.errors import CanonicalEncodingError
from scoring.errors import SignatureInvalid
from scoring.signing import save_document
from scoring.signing import verify as verify_document
from seat_protocol.suites import (
    NATIONAL,
    PublicKey,
    suite_named,
    suite_of_key,
    suite_of_public_bytes,
)

__all__ = ["BundleReport", "verify_bundle"]

_CHUNK = 1 << 20
_EVENTS, _CHECKPOINTS, _SLICE = "audit/events.json", "audit/checkpoints.json", "audit/slice.json"
_SEGMENTS = "recordings/segments.json"
# Written by evaluation_hub.evaluation.report_pdf (which this package may not import).
_PDF_EVENT = "evaluation.report_pdf"
# Every file the checks below parse; a tar keeps only these in memory, and hashes the rest.
_PARSED = frozenset(
    {MANIFEST, SIGNATURE, PUBLIC_KEY, _EVENTS, _CHECKPOINTS, _SLICE, _SEGMENTS, SCORES}
)
# What a check reads into memory at most, for a tar and a directory alike; every other file is
# hashed as it streams past (``_sha256``, ``tarball.read_tar``).
_LIMITS = ReadLimits()


@dataclass(frozen=True, slots=True)
class BundleReport:
    """The outcome of :func:`verify_bundle`: ``problem`` is the first one found, or ``None``."""

    problem: str | None
    session_id: int | None = None
    files: int = 0
    events: int = 0
    checkpoints: int = 0
    key_id: str | None = None
    suite: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.problem is not None:
            return self.problem
        return (
            f"archive OK: session {self.session_id}, {self.files} files, audit slice of "
            f"{self.events} events and {self.checkpoints} checkpoints, signed by hub key "
            f"{self.key_id}" + ("" if self.suite in (None, "default") else f" ({self.suite} suite)")
        )


class _Failed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Bundle(Protocol):
    """The files of a bundle, by their path inside it: a directory, or a tar read in one pass."""

    def read(self, name: str) -> bytes | None:
        """The contents of the regular file ``name`` (one of ``_PARSED``), else ``None``."""
        ...

    def sha256(self, name: str) -> str | None:
        """The SHA-256 of the regular file ``name``, or ``None`` if it is no such file."""
        ...

    def names(self) -> set[str]:
        """Every file of the bundle (for a directory, symbolic links too)."""
        ...


@dataclass(frozen=True, slots=True)
class _Directory:
    root: Path

    def read(self, name: str) -> bytes | None:
        path = self.root / name
        if not path.is_file():
            return None
        size = path.stat().st_size
        if size > _LIMITS.max_kept_bytes:
            raise _Failed(
                f"{name} is {size} bytes, over the {_LIMITS.max_kept_bytes}-byte limit for a "
                "file the verifier reads"
            )
        return path.read_bytes()

    def sha256(self, name: str) -> str | None:
        path = self.root / name
        return None if path.is_symlink() or not path.is_file() else _sha256(path)

    def names(self) -> set[str]:
        found = set()
        for path in self.root.rglob("*"):
            if path.is_file() or path.is_symlink():
                found.add(path.relative_to(self.root).as_posix())
        return found


def _read(root: _Bundle, name: str) -> bytes:
    data = root.read(name)
    if data is None:
        raise _Failed(f"{name} is missing from the bundle")
    return data


def _key(root: _Bundle, expected: PublicKey | None) -> PublicKey:
    pem = _read(root, PUBLIC_KEY)
    try:
        return _expected(NATIONAL.load_public_pem(pem), expected)
    except ValueError:
        pass
    try:
        key = load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise _Failed(f"{PUBLIC_KEY} is not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise _Failed(f"{PUBLIC_KEY} holds a {type(key).__name__}, not an Ed25519 key")
    return _expected(key, expected)


def _expected(key: PublicKey, expected: PublicKey | None) -> PublicKey:
    if expected is not None and key_fingerprint(key) != key_fingerprint(expected):
        raise _Failed(
            f"{PUBLIC_KEY} is key {key_fingerprint(key)}, not the given hub public key "
            f"{key_fingerprint(expected)}: the bundle was not signed by this hub"
        )
    return key


def _check_files(root: _Bundle, manifest: Manifest) -> None:
    for entry in sorted(manifest.files, key=lambda e: e.path):
        actual = root.sha256(entry.path)
        if actual is None:
            raise _Failed(
                f"file {entry.path} is listed in the manifest but missing from the bundle"
            )
        if actual != entry.sha256:
            raise _Failed(
                f"file {entry.path} was modified: manifest says sha256 {entry.sha256}, "
                f"file has {actual}"
            )
    listed = {e.path for e in manifest.files} | RESERVED
    extra = sorted(root.names() - listed)
    if extra:
        raise _Failed(f"file {extra[0]} is not listed in the manifest (added after signing)")


def _json(root: _Bundle, name: str, manifest: Manifest) -> Any:
    if name not in {e.path for e in manifest.files}:
        raise _Failed(f"{name} is not in the bundle; the audit slice cannot be checked")
    try:
        return json.loads(_read(root, name).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Failed(f"{name} is not UTF-8 JSON ({exc})") from exc


def _event(item: Any, i: int) -> AuditEvent:
    try:
        return AuditEvent(
            seq=int(item["seq"]),
            at=parse_timestamp(item["at"]),
            actor=str(item["actor"]),
            kind=str(item["kind"]),
            subject=str(item["subject"]),
            payload=dict(item["payload"]),
            prev_hash=str(item["prev_hash"]),
            hash=str(item["hash"]),
        )
    except (KeyError, TypeError, ValueError, CanonicalEncodingError) as exc:
        raise _Failed(f"audit/events.json entry {i} is not an audit event ({exc!r})") from exc


def _checkpoint(item: Any, i: int) -> Checkpoint:
    try:
        return Checkpoint(
            seq=int(item["seq"]),
            head_hash=str(item["head_hash"]),
            at=parse_timestamp(item["at"]),
            key_id=str(item["key_id"]),
            signature=str(item["signature"]),
        )
    except (KeyError, TypeError, ValueError, CanonicalEncodingError) as exc:
        raise _Failed(f"audit/checkpoints.json entry {i} is not a checkpoint ({exc!r})") from exc


@dataclass(frozen=True, slots=True)
class _Slice:
    events: list[AuditEvent]
    session_seqs: list[int]
    verified_events: int
    verified_checkpoints: int


def _check_audit(root: _Bundle, manifest: Manifest, key: PublicKey) -> _Slice:
    raw_events = _json(root, _EVENTS, manifest)
    raw_checkpoints = _json(root, _CHECKPOINTS, manifest)
    meta = _json(root, _SLICE, manifest)
    if not isinstance(raw_events, list) or not isinstance(raw_checkpoints, list):
        raise _Failed("audit/events.json and audit/checkpoints.json must be JSON arrays")
    events = [_event(item, i) for i, item in enumerate(raw_events)]
    checkpoints = [_checkpoint(item, i) for i, item in enumerate(raw_checkpoints)]
    if not isinstance(meta, dict):
        raise _Failed("audit/slice.json is not a JSON object")
    try:
        first, last = int(meta["first_seq"]), int(meta["last_seq"])
        session_seqs = [int(x) for x in meta["session_seqs"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise _Failed(f"audit/slice.json is malformed ({exc!r})") from exc
    if meta.get("session_id") != manifest.session_id:
        raise _Failed(
            f"audit/slice.json is for session {meta.get('session_id')}, the manifest for "
            f"session {manifest.session_id}"
        )
    report = verify(events, checkpoints, key, first_seq=first, suite=suite_named(manifest.suite))
    if report.problem is not None:
        raise _Failed(f"audit slice (audit/events.json): {report.problem.message}")
    if first > 1 and not any(c.seq == first - 1 for c in checkpoints):
        raise _Failed(
            f"audit slice starts at event {first} but the checkpoint at event {first - 1} that "
            "anchors its first link is missing from audit/checkpoints.json"
        )
    if not events or events[-1].seq != last:
        end = events[-1].seq if events else "no event"
        raise _Failed(f"audit slice should end at event {last} but ends at {end}: events removed")
    in_slice = {e.seq for e in events}
    for seq in session_seqs:
        if seq not in in_slice:
            raise _Failed(f"session event {seq} listed in audit/slice.json is not in the slice")
        if report.covered_seq is None or seq > report.covered_seq:
            raise _Failed(f"session event {seq} is not covered by a signed checkpoint")
    return _Slice(events, session_seqs, report.events, report.checkpoints)


def _check_recordings(
    root: _Bundle, manifest: Manifest, events: list[AuditEvent], session_seqs: list[int]
) -> None:
    listed = _json(root, _SEGMENTS, manifest)
    wanted = set(session_seqs)
    stated = session_segments([e for e in events if e.seq in wanted], manifest.session_id)
    expected = [seg.as_json() for seg in stated]
    if (
        not isinstance(listed, list)
        or [
            {k: v for k, v in item.items() if k != "included"} if isinstance(item, dict) else item
            for item in listed
        ]
        != expected
    ):
        raise _Failed(
            "recordings/segments.json does not match the recording events in the audit slice"
        )
    hashes = {e.path: e.sha256 for e in manifest.files}
    for seg in stated:
        path = f"{RECORDING_FILES}/{seg.file}"
        if path in hashes and hashes[path] != seg.sha256:
            raise _Failed(
                f"file {path} has sha256 {hashes[path]}, but audit event {seg.seq} recorded "
                f"{seg.sha256} for this segment"
            )


def _save_signature_valid(entry: dict[str, Any], signature: str, key: str) -> bool:
    try:
        raw = bytes.fromhex(key)
        public = suite_of_public_bytes(raw).load_public(raw)
        document = save_document(
            str(entry["session_ref"]), str(entry["idempotency_key"]), dict(entry["sheet"])
        )
        verify_document(public, document, bytes.fromhex(signature))
    except (SignatureInvalid, ValueError, TypeError, KeyError):
        return False
    return True


def _check_save_signatures(
    root: _Bundle, manifest: Manifest, events: list[AuditEvent], session_seqs: list[int]
) -> None:
    if SCORES not in {e.path for e in manifest.files}:
        return  # a bundle of a session without a scores section has no saves to check
    saves = _json(root, SCORES, manifest)
    if not isinstance(saves, list):
        raise _Failed(f"{SCORES} is not a JSON array")
    wanted = set(session_seqs)
    stated: dict[str, AuditEvent] = {}
    for e in events:
        if e.seq in wanted and isinstance(e.payload.get("seat_signature"), str):
            stated.setdefault(str(e.payload.get("idempotency_key")), e)
    for i, entry in enumerate(saves):
        if not isinstance(entry, dict) or not isinstance(entry.get("idempotency_key"), str):
            raise _Failed(f"{SCORES} entry {i} is not a score save")
        key_id = entry["idempotency_key"]
        signature, key = entry.get("seat_signature"), entry.get("seat_public_key")
        event = stated.get(key_id)
        if signature is None:
            if event is not None:
                raise _Failed(
                    f"score save {key_id} ({SCORES} entry {i}) has no seat signature, but audit "
                    f"event {event.seq} recorded one: the signature was removed"
                )
            continue
        if not isinstance(signature, str) or not isinstance(key, str):
            raise _Failed(f"{SCORES} entry {i} has a malformed seat signature or key")
        if not _save_signature_valid(entry, signature, key):
            raise _Failed(
                f"the seat signature of score save {key_id} ({SCORES} entry {i}) does not verify "
                f"under the seat key stored beside it: the save or its signature was altered"
            )
        if event is None:
            raise _Failed(
                f"score save {key_id} ({SCORES} entry {i}) is signed, but no audit event of the "
                "session records its signature"
            )
        if (event.payload.get("seat_signature"), event.payload.get("seat_public_key")) != (
            signature,
            key,
        ):
            raise _Failed(
                f"the seat signature or key of score save {key_id} ({SCORES} entry {i}) differs "
                f"from the one audit event {event.seq} recorded"
            )


def _check_report_pdf(
    manifest: Manifest, events: list[AuditEvent], session_seqs: list[int]
) -> None:
    wanted = set(session_seqs)
    stated = [e for e in events if e.seq in wanted and e.kind == _PDF_EVENT]
    listed = {e.path: e.sha256 for e in manifest.files}.get(REPORT_PDF)
    if not stated:
        if listed is not None:
            raise _Failed(
                f"file {REPORT_PDF} is in the bundle, but no audit event of the session records "
                "a report PDF: it was not rendered by the hub"
            )
        return
    event = stated[0]
    recorded = event.payload.get("sha256")
    if listed is None:
        raise _Failed(
            f"audit event {event.seq} recorded the report PDF (sha256 {recorded}), but "
            f"{REPORT_PDF} is missing from the bundle: it was removed"
        )
    if listed != recorded:
        raise _Failed(
            f"file {REPORT_PDF} has sha256 {listed}, but audit event {event.seq} recorded "
            f"{recorded} for the signed report: the PDF was replaced"
        )


def verify_bundle(path: Path, public_key: PublicKey | None = None) -> BundleReport:
    """Check the bundle at ``path``, a tar file or else a directory; see the module docstring.

    A tar is never unpacked: nothing is written anywhere, whatever its members are.
    """
    try:
        root: _Bundle
        if path.is_file():
            try:
                root = read_tar(path, _PARSED, _LIMITS)
            except TarRefused as refused:
                raise _Failed(refused.message) from refused
        else:
            root = _Directory(path)
        body = _read(root, MANIFEST)
        signature = _read(root, SIGNATURE).decode("ascii", errors="replace")
        key = _key(root, public_key)
        if not signature_valid(body, signature, key):
            raise _Failed(
                f"{SIGNATURE} is not a valid signature of {MANIFEST} by the key in {PUBLIC_KEY} "
                f"({key_fingerprint(key)}): the manifest was edited or the signature forged"
            )
        try:
            manifest = Manifest.from_bytes(body)
        except ManifestError as exc:
            raise _Failed(str(exc)) from exc
        if manifest.key_id != key_fingerprint(key):
            raise _Failed(f"{MANIFEST} names key {manifest.key_id}, not the key in {PUBLIC_KEY}")
        held = suite_of_key(key)
        if held.name != manifest.suite:
            raise _Failed(
                f"{MANIFEST} names the {manifest.suite} cryptographic suite, but the hub key in "
                f"{PUBLIC_KEY} is an {held.signature_name} key ({held.name} suite)"
            )
        _check_files(root, manifest)
        audit = _check_audit(root, manifest, key)
        _check_recordings(root, manifest, audit.events, audit.session_seqs)
        _check_save_signatures(root, manifest, audit.events, audit.session_seqs)
        _check_report_pdf(manifest, audit.events, audit.session_seqs)
    except _Failed as failed:
        return BundleReport(failed.message)
    return BundleReport(
        None,
        session_id=manifest.session_id,
        files=len(manifest.files),
        events=audit.verified_events,
        checkpoints=audit.verified_checkpoints,
        key_id=manifest.key_id,
        suite=manifest.suite,
    )
