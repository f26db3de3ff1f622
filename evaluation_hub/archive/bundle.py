"""The bundle manifest: what files a bundle holds, their hashes, and the hub's signature over it.

``manifest.json`` is the canonical JSON (``audit.canonical``) of::

    {"format": "evaluation-hub/archive/v1", "session_id": 4, "created_at": "…Z",
     "key_id": "<hash of the raw hub public key>", "suite": "default", "sections": ["session", …],
     "files": [{"path": "session.json", "section": "session", "sha256": "…", "size": 812}, …]}

with ``files`` sorted by path. ``suite`` names the cryptographic suite (``seat_protocol.suites``)
of the hub key, its signatures and the audit slice's hashes: ``default`` (Ed25519, SHA-256) or
``national`` (SM2, SM3); a manifest without it is a default one. ``manifest.sig`` holds the hex
signature (Ed25519 or SM2), by the hub key,
of ``MANIFEST_DOMAIN || manifest.json``, and a newline. Every file of the bundle except these two
is listed. Paths are relative POSIX paths inside the bundle (no ``..``, no absolute paths, no
backslashes), so a bundle cannot make a verifier read outside it.

Pure: no clock, no files; ``writer`` and ``verify`` do the I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature

from evaluation_hub.audit.canonical import canonical, parse_timestamp
from evaluation_hub.audit.errors import CanonicalEncodingError
from seat_protocol.suites import DEFAULT, SUITES, PublicKey, SigningKey

__all__ = [
    "FORMAT",
    "MANIFEST",
    "MANIFEST_DOMAIN",
    "PUBLIC_KEY",
    "RESERVED",
    "SIGNATURE",
    "FileEntry",
    "Manifest",
    "ManifestError",
    "path_problem",
    "sign_manifest",
    "signature_valid",
]

FORMAT = "evaluation-hub/archive/v1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "hub-public-key.pem"
MANIFEST_DOMAIN = b"evaluation-hub/archive-manifest/v1\n"
# The two files the manifest cannot list: itself and its signature.
RESERVED = frozenset({MANIFEST, SIGNATURE})

_HEX64 = re.compile(r"[0-9a-f]{64}")
_COMPONENT = re.compile(r"[A-Za-z0-9._-]+")


class ManifestError(ValueError):
    """``manifest.json`` is not a manifest of this format; the message says what is wrong."""


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot name a file in a bundle, or ``None`` if it can."""
    if not path or path.startswith("/") or "\\" in path:
        return f"{path!r} is not a relative POSIX path"
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", "..") or not _COMPONENT.fullmatch(part):
            return (
                f"{path!r} has a component {part!r} that is empty, '.', '..' or not [A-Za-z0-9._-]"
            )
    if path in RESERVED:
        return f"{path!r} is reserved for the manifest and its signature"
    return None


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of the bundle as the manifest lists it."""

    path: str
    section: str
    sha256: str
    size: int

    def as_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "section": self.section,
            "sha256": self.sha256,
            "size": self.size,
        }


@dataclass(frozen=True, slots=True)
class Manifest:
    """The signed table of contents of a bundle."""

    session_id: int
    created_at: datetime
    key_id: str
    sections: tuple[str, ...]
    files: tuple[FileEntry, ...]
    suite: str = DEFAULT.name

    def to_bytes(self) -> bytes:
        return canonical(
            {
                "format": FORMAT,
                "session_id": self.session_id,
                "created_at": self.created_at,
                "key_id": self.key_id,
                "suite": self.suite,
                "sections": list(self.sections),
                "files": [f.as_json() for f in sorted(self.files, key=lambda f: f.path)],
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse ``manifest.json``; raises :class:`ManifestError` naming the bad field."""
        try:
            raw = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{MANIFEST} is not UTF-8 JSON ({exc})") from exc
        if not isinstance(raw, dict):
            raise ManifestError(f"{MANIFEST} is not a JSON object")
        if raw.get("format") != FORMAT:
            raise ManifestError(
                f"{MANIFEST} has format {raw.get('format')!r}, this verifier reads {FORMAT!r}"
            )
        session_id, created, key_id = (
            raw.get("session_id"),
            raw.get("created_at"),
            raw.get("key_id"),
        )
        sections, files = raw.get("sections"), raw.get("files")
        suite = raw.get("suite", DEFAULT.name)
        if suite not in SUITES:
            raise ManifestError(
                f"{MANIFEST} suite {suite!r} is not one of {', '.join(sorted(SUITES))}"
            )
        if not isinstance(session_id, int) or isinstance(session_id, bool):
            raise ManifestError(f"{MANIFEST} session_id is not an integer")
        if not isinstance(key_id, str) or not _HEX64.fullmatch(key_id):
            raise ManifestError(f"{MANIFEST} key_id is not 64 hex digits")
        if not isinstance(created, str):
            raise ManifestError(f"{MANIFEST} created_at is not a timestamp")
        try:
            created_at = parse_timestamp(created)
        except CanonicalEncodingError as exc:
            raise ManifestError(f"{MANIFEST} created_at: {exc.reason}") from exc
        if not isinstance(sections, list) or not all(isinstance(s, str) for s in sections):
            raise ManifestError(f"{MANIFEST} sections is not a list of names")
        if not isinstance(files, list):
            raise ManifestError(f"{MANIFEST} files is not a list")
        entries: list[FileEntry] = []
        seen: set[str] = set()
        for i, item in enumerate(files):
            entries.append(_entry(item, i))
            if entries[-1].path in seen:
                raise ManifestError(f"{MANIFEST} lists {entries[-1].path} twice")
            seen.add(entries[-1].path)
        return cls(session_id, created_at, key_id, tuple(sections), tuple(entries), str(suite))


def _entry(item: object, i: int) -> FileEntry:
    where = f"{MANIFEST} files[{i}]"
    if not isinstance(item, dict):
        raise ManifestError(f"{where} is not an object")
    path, section, sha, size = (item.get(k) for k in ("path", "section", "sha256", "size"))
    if not isinstance(path, str) or (problem := path_problem(path)) is not None:
        raise ManifestError(f"{where} path: {problem if isinstance(path, str) else 'not text'}")
    if not isinstance(section, str):
        raise ManifestError(f"{where} ({path}) section is not text")
    if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
        raise ManifestError(f"{where} ({path}) sha256 is not 64 lower-case hex digits")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"{where} ({path}) size is not a non-negative integer")
    return FileEntry(path, section, sha, size)


def sign_manifest(manifest: bytes, key: SigningKey) -> str:
    """The hex signature written to ``manifest.sig``."""
    return key.sign(MANIFEST_DOMAIN + manifest).hex()


def signature_valid(manifest: bytes, signature: str, public_key: PublicKey) -> bool:
    try:
        public_key.verify(bytes.fromhex(signature.strip()), MANIFEST_DOMAIN + manifest)
    except (ValueError, InvalidSignature):
        return False
    return True
