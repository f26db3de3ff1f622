"""The pure parts: manifest parsing and signing, bundle paths, slice bounds."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evaluation_hub.archive.auditslice import slice_bounds
from evaluation_hub.archive.bundle import (
    FileEntry,
    Manifest,
    ManifestError,
    path_problem,
    sign_manifest,
    signature_valid,
)
from evaluation_hub.archive.errors import ArchiveError
from evaluation_hub.audit.canonical import canonical

MANIFEST = Manifest(
    session_id=4,
    created_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
    key_id="a" * 64,
    sections=("session", "audit"),
    files=(
        FileEntry("session.json", "session", "b" * 64, 10),
        FileEntry("a.json", "audit", "c" * 64, 2),
    ),
)


def test_manifest_round_trip_and_signature() -> None:
    body = MANIFEST.to_bytes()
    assert body.startswith(b'{"created_at":"2026-12-01T10:00:00.000000Z","files":[{"path":"a.json"')
    parsed = Manifest.from_bytes(body)
    assert parsed.to_bytes() == body
    key = Ed25519PrivateKey.generate()
    signature = sign_manifest(body, key)
    assert signature_valid(body, signature + "\n", key.public_key())
    assert not signature_valid(body + b" ", signature, key.public_key())
    assert not signature_valid(body, "zz", key.public_key())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "v0"}, "manifest.json has format 'v0', this verifier reads 'evaluation-hub/archive/v1'"),
        ({"session_id": "4"}, "manifest.json session_id is not an integer"),
        ({"key_id": "x"}, "manifest.json key_id is not 64 hex digits"),
        ({"created_at": "2026-12-01"}, "manifest.json created_at: '2026-12-01' is not an RFC 3339 UTC timestamp like 2025-01-26T01:02:03.000004Z"),
        ({"files": [{"path": "../x", "section": "s", "sha256": "b" * 64, "size": 1}]}, "manifest.json files[0] path: '../x' has a component '..' that is empty, '.', '..' or not [A-Za-z0-9._-]"),
        ({"files": [{"path": "manifest.sig", "section": "s", "sha256": "b" * 64, "size": 1}]}, "manifest.json files[0] path: 'manifest.sig' is reserved for the manifest and its signature"),
        ({"files": [{"path": "x", "section": "s", "sha256": "B" * 64, "size": 1}]}, "manifest.json files[0] (x) sha256 is not 64 lower-case hex digits"),
        ({"files": [{"path": "x", "section": "s", "sha256": "b" * 64, "size": -1}]}, "manifest.json files[0] (x) size is not a non-negative integer"),
        ({"files": [{"path": "x", "section": "s", "sha256": "b" * 64, "size": 1}] * 2}, "manifest.json lists x twice"),
    ],
)  # fmt: skip
def test_manifest_errors(change: dict[str, object], message: str) -> None:
    import json

    raw = json.loads(MANIFEST.to_bytes())
    raw.update(change)
    with pytest.raises(ManifestError) as bad:
        Manifest.from_bytes(canonical(raw))
    assert str(bad.value) == message
    with pytest.raises(ManifestError, match="is not UTF-8 JSON"):
        Manifest.from_bytes(b"\xff")


def test_bundle_paths() -> None:
    assert path_problem("recordings/files/seat-1/seg-00001.webm") is None
    assert path_problem("/abs") == "'/abs' is not a relative POSIX path"
    assert path_problem("a\\b") == "'a\\\\b' is not a relative POSIX path"
    assert path_problem("a//b") is not None
    assert path_problem("a/./b") is not None
    assert path_problem("报告.html") is not None  # one spelling per name: ASCII only


def test_slice_bounds() -> None:
    # Session events 5..9; checkpoints at 1, 4, 7, 12: the run is 5..12, anchored by 4.
    assert slice_bounds([5, 6, 9], [1, 4, 7, 12]) == (5, 12)
    # No checkpoint before: from the genesis.
    assert slice_bounds([2, 3], [3]) == (1, 3)
    # A checkpoint exactly at the first session event does not anchor it (it vouches for it).
    assert slice_bounds([4, 5], [4, 5]) == (1, 5)
    with pytest.raises(ArchiveError, match="no signed checkpoint covers audit event 9"):
        slice_bounds([5, 9], [1, 4, 7])
    with pytest.raises(ArchiveError, match="the session has no audit events"):
        slice_bounds([], [1])


def test_pure_modules_import_no_io() -> None:
    code = (
        "import sys, evaluation_hub.archive.bundle, evaluation_hub.supervision.alerts;"
        "print(sorted(m for m in ('asyncio', 'aiohttp', 'sqlalchemy', 'redis') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
