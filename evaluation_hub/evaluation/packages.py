"""Reading an attached bid package from its directory on the hub, pinned by a content digest.

The package is read with ``evaluation_hub.bids.package_io`` (which hands it to the pure
importer) and identified by a SHA-256 over every file's relative path and bytes. Each later use
re-reads the directory and refuses it when the digest differs, so nobody can change a bidder's
chapter, the rubric or a price after the package was attached and its seed committed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from evaluation_hub.bids.package_io import read_package
from scoring.model import BidPackage

__all__ = ["PackageChanged", "content_digest", "load_pinned"]

_CACHE: dict[tuple[str, str], BidPackage] = {}
_CACHE_LIMIT = 32


class PackageChanged(Exception):
    """The package directory no longer holds what was attached."""


def content_digest(directory: Path) -> str:
    """SHA-256 over (relative path, bytes) of every regular file, in path order."""
    h = hashlib.sha256(b"evaluation-hub/bid-package-digest/v1")
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix().encode("utf-8")
        data = path.read_bytes()
        h.update(len(rel).to_bytes(4, "big") + rel + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def load_pinned(directory: Path, digest: str) -> BidPackage:
    """The package in ``directory``, provided its files still hash to ``digest``."""
    if not directory.is_dir() or content_digest(directory) != digest:
        raise PackageChanged(str(directory))
    key = (str(directory), digest)
    package = _CACHE.get(key)
    if package is None:
        package = read_package(directory)
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = package
    return package
