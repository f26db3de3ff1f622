"""A chapter file is written with ``writev`` (no joined copy of the chapter, no hash: the
chunks were checked on arrival, ``tests/chapters/test_chunk_binding.py``); a short write goes
on where it stopped, and a chapter of more chunks than one ``writev`` takes is written whole."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from seat_agent import chapter_files
from seat_agent.chapter_files import read_chapter, write_chapter
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
    chunks = read_chapter(path, chapter)
    assert chunks is not None and list(chunks.values()) == pieces
    assert not path.with_name(path.name + ".tmp").exists()


def test_more_chunks_than_one_writev_takes(tmp_path: Path) -> None:
    pieces = [bytes([n % 251]) * (1 + n % 3) for n in range(chapter_files._IOV_MAX + 500)]
    chapter = _manifest(pieces)
    path = tmp_path / chapter.sha256
    write_chapter(path, pieces)
    chunks = read_chapter(path, chapter)
    assert chunks is not None
    assert [chunks[h] for h in chapter.chunks] == pieces
