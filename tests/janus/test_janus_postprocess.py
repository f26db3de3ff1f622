"""A Janus recording that holds nothing (a part cut just before the seat left) gives no
segment and leaves no file behind; one that cannot be read is a JanusRecordingFailed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from media.errors import JanusRecordingFailed
from media.janus.postprocess import convert


def _header_only(path: Path) -> None:
    info = json.dumps({"t": "v", "c": "vp8", "s": 1, "u": 2}).encode()
    path.write_bytes(b"MJR00002" + len(info).to_bytes(2, "big") + info)


async def test_an_empty_recording_gives_no_segment(tmp_path: Path) -> None:
    _header_only(tmp_path / "A.01--1-1-video-0.mjr")
    _header_only(tmp_path / "A.01--1-1-audio-1.mjr")
    assert await convert(tmp_path / "A.01--1-1", tmp_path / "out.webm") is None
    assert os.listdir(tmp_path) == []


async def test_a_broken_recording_is_refused_with_the_tool_named(tmp_path: Path) -> None:
    broken = tmp_path / "A.01--1-1-video-0.mjr"
    _header_only(broken)
    broken.write_bytes(broken.read_bytes() + b"\x00" * 64)  # not RTP packets
    with pytest.raises(JanusRecordingFailed) as failed:
        await convert(tmp_path / "A.01--1-1", tmp_path / "out.webm")
    assert (failed.value.recording, failed.value.step) == ("A.01--1-1", "janus-pp-rec")
    assert [n for n in os.listdir(tmp_path) if n.startswith("out.webm")] == []
