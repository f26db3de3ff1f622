"""A chapter file is written with ``writev`` (no joined copy of the chapter, no hash: the
chunks were checked on arrival, ``tests/chapters/test_chunk_binding.py``); a short write goes
on where it stopped, and a chapter of more chunks than one ``writev`` takes is written whole."""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from seat_agent import chapter_files
from seat_agent.chapter_files import OpenedFile, open_chapter_file, write_chapter
from seat_protocol.chapter_crypto import seal_chapter
from seat_protocol.messages import ManifestChapter


def _manifest(pieces: list[bytes]) -> ManifestChapter:
    return ManifestChapter(
        label="ch1-AA",
        position=0,
        sha256=hashlib.sha256(b"".join(pieces)).hexdigest(),
        size=sum(map(len, pieces)),
        wrapped_key="",
        chunks=tuple(hashlib.sha256(p).hexdigest() for p in pieces),
    )


def _file_of(pieces: list[bytes]) -> bytes:
    """A chapter file as ``chapter_files`` lays it out: the count and each length
    (big-endian 32-bit), then the chunks in order."""
    return struct.pack(f">{len(pieces) + 1}I", len(pieces), *map(len, pieces)) + b"".join(pieces)


def test_a_short_write_goes_on_where_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.writev
    calls = 0

    def short(fd: int, buffers: Sequence[memoryview]) -> int:
        # The kernel may write fewer bytes than asked (a signal, a nearly full disk).
        nonlocal calls
        calls += 1
        return real(fd, [memoryview(buffers[0])[:7]])

    monkeypatch.setattr(chapter_files.os, "writev", short)
    pieces = [os.urandom(100), os.urandom(100), os.urandom(30)]
    chapter = _manifest(pieces)
    path = tmp_path / chapter.sha256
    write_chapter(path, pieces)
    assert calls > len(pieces)
    assert path.read_bytes() == _file_of(pieces)
    assert not path.with_name(path.name + ".tmp").exists()


def test_more_chunks_than_one_writev_takes(tmp_path: Path) -> None:
    pieces = [bytes([n % 251]) * (1 + n % 3) for n in range(chapter_files._IOV_MAX + 500)]
    chapter = _manifest(pieces)
    path = tmp_path / chapter.sha256
    write_chapter(path, pieces)
    assert path.read_bytes() == _file_of(pieces)


# --- opening a chapter's file: by its tags, hashed only when it does not open ----------------

_SEAT = X25519PrivateKey.generate()
_CONTEXT = "session:7:seat:S1:label:ch1-AA:position:0"


def _sealed(tmp_path: Path) -> tuple[Path, ManifestChapter, bytes]:
    text = ("第一章 技术方案。" * 20_000).encode()
    sealed = seal_chapter(
        text,
        label="ch1-AA",
        position=0,
        seat_public_key=_SEAT.public_key(),
        context=_CONTEXT,
        chunk_size=64 * 1024,
    )
    path = tmp_path / sealed.manifest.sha256
    write_chapter(path, [sealed.chunks[d] for d in sealed.manifest.chunks])
    return path, sealed.manifest, text


def _no_hashing(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    hashed: list[int] = []
    real = hashlib.sha256

    def counting(data: bytes = b"") -> object:
        hashed.append(len(data))
        return real(data)

    monkeypatch.setattr(chapter_files.hashlib, "sha256", counting)
    return hashed


def test_a_whole_file_opens_by_its_tags_without_a_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, manifest, text = _sealed(tmp_path)
    hashed = _no_hashing(monkeypatch)
    opened = open_chapter_file(path, manifest, _SEAT, _CONTEXT)
    assert opened == OpenedFile(text, False)
    assert hashed == []


@pytest.mark.parametrize("harm", ["flip", "cut", "extend", "swap", "missing"])
def test_a_damaged_file_is_damaged_not_unreadable(tmp_path: Path, harm: str) -> None:
    path, manifest, _ = _sealed(tmp_path)
    data = bytearray(path.read_bytes())
    head = 4 * (len(manifest.chunks) + 1)
    if harm == "flip":
        data[head + 70_000] ^= 1
    elif harm == "cut":
        del data[-10:]
    elif harm == "extend":
        data += b"\0"
    elif harm == "swap":
        # The first two chunks (same length) in each other's place: every byte is the hub's.
        size = 64 * 1024 + 16
        first, second = data[head : head + size], data[head + size : head + 2 * size]
        data[head : head + 2 * size] = second + first
    if harm == "missing":
        path.unlink()
    else:
        path.write_bytes(bytes(data))
    opened = open_chapter_file(path, manifest, _SEAT, _CONTEXT)
    assert opened.text is None and opened.damaged, opened


def test_the_manifests_bytes_that_this_key_cannot_open_are_unreadable_not_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fetching such a chapter again would bring the same bytes: it is reported instead, and
    # only then is the file hashed (to tell the two apart).
    path, manifest, _ = _sealed(tmp_path)
    hashed = _no_hashing(monkeypatch)
    other = X25519PrivateKey.generate()
    opened = open_chapter_file(path, manifest, other, _CONTEXT)
    assert opened.text is None and not opened.damaged
    assert "cannot be opened with this seat's key" in opened.error
    assert hashed == [manifest.size]
    elsewhere = open_chapter_file(path, manifest, _SEAT, _CONTEXT.replace("7", "8"))
    assert elsewhere.text is None and not elsewhere.damaged
