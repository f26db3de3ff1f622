"""Shuffle manifests, seeds and published views on disk, for the `shuffle` commands.

A manifest is a YAML (or JSON) mapping: ``session_id``, ``experts``, ``chapters``,
``bidders`` and optionally ``labels`` (the label alphabet; the default is two letters
without I and O). A seed file holds the seed as hex. Published views are the JSON that
``shuffle view --reveal`` writes. This module must never derive anything itself.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from evaluation_hub.bids.safe_yaml import MAX_DOCUMENT_BYTES, YamlRefused, load_bounded
from scoring.shuffle import DEFAULT_LABELS, SEED_BYTES, ShuffleManifest

__all__ = [
    "InputError",
    "create_seed_file",
    "parse_seed",
    "read_manifest",
    "read_published",
    "read_seed",
]


class InputError(Exception):
    """A file or argument of a shuffle command is unusable; the message says which and why."""


def _strings(raw: Mapping[str, object], key: str, path: Path) -> tuple[str, ...]:
    value = raw.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise InputError(f"{path}: `{key}` must be a list of ids")
    return tuple(str(v) for v in value)


def read_manifest(path: Path) -> ShuffleManifest:
    try:
        with path.open("rb") as f:  # at most one byte over the bound: load_bounded refuses it
            raw = load_bounded(f.read(MAX_DOCUMENT_BYTES + 1).decode("utf-8"))
    except YamlRefused as exc:
        raise InputError(f"cannot read manifest {path}: line {exc.line}: {exc.message}") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read manifest {path}: {exc}") from exc
    if not isinstance(raw, Mapping) or not isinstance(raw.get("session_id"), str):
        raise InputError(f"{path}: a manifest is a mapping with a string `session_id`")
    labels = _strings(raw, "labels", path) if "labels" in raw else DEFAULT_LABELS
    return ShuffleManifest(
        raw["session_id"],
        _strings(raw, "experts", path),
        _strings(raw, "chapters", path),
        _strings(raw, "bidders", path),
        labels,
    )


def parse_seed(text: str) -> bytes:
    try:
        seed = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise InputError("the seed must be hex digits") from exc
    if len(seed) < SEED_BYTES:
        raise InputError(
            f"the seed must be at least {SEED_BYTES} bytes ({2 * SEED_BYTES} hex digits)"
        )
    return seed


def read_seed(path: Path) -> bytes:
    try:
        return parse_seed(path.read_text("ascii"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read seed file {path}: {exc}") from exc


def create_seed_file(path: Path) -> bytes:
    """Draw a fresh seed and write it as hex to a new file only its owner can read."""
    seed = secrets.token_bytes(SEED_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise InputError(f"seed file {path} already exists; refusing to overwrite a seed") from exc
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(seed.hex() + "\n")
    return seed


def read_published(path: Path) -> Mapping[str, Mapping[str, Sequence[Sequence[str]]]]:
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read published views {path}: {exc}") from exc
    views = raw.get("views") if isinstance(raw, dict) else None
    shape_ok = isinstance(views, dict) and all(
        isinstance(chapters, dict)
        and all(
            isinstance(pairs, list)
            and all(
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
                for pair in pairs
            )
            for pairs in chapters.values()
        )
        for chapters in views.values()
    )
    if not shape_ok:
        raise InputError(
            f"{path}: published views are a JSON object whose `views` maps expert → chapter → "
            f"[[label, bidder], …]"
        )
    assert isinstance(views, dict)
    return views
