"""A Janus recording that holds nothing (a part cut just before the seat left) gives no
segment and leaves no file behind; one that cannot be read is a JanusRecordingFailed; the
tools run at a lower priority, and a bounded number of conversions at once."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from media.errors import JanusRecordingFailed
from media.janus import postprocess
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


async def test_the_tools_run_at_a_lower_priority_than_the_hub() -> None:
    # Converting is background work (``media.janus.postprocess``): ``nice`` alone prints the
    # niceness it runs at.
    shown = await postprocess._run("A.01--1-1", "nice", "nice")
    assert int(shown) == os.nice(0) + postprocess.NICENESS


async def test_at_most_at_once_conversions_run_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running, most = 0, 0
    release = asyncio.Event()

    async def converting(*_: object) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1

    monkeypatch.setattr(postprocess, "_convert", converting)
    bases = []
    for n in range(postprocess.AT_ONCE + 3):
        base = tmp_path / f"A.0{n}--1-1"
        (tmp_path / f"{base.name}-video-0.mjr").write_bytes(b"MJR00002\x00\x02{}" + b"\x00" * 64)
        bases.append(base)
    tasks = [asyncio.create_task(convert(b, tmp_path / f"{b.name}.webm")) for b in bases]
    for _ in range(50):
        await asyncio.sleep(0)
    assert (running, most) == (postprocess.AT_ONCE, postprocess.AT_ONCE)
    release.set()
    await asyncio.gather(*tasks)
    assert most == postprocess.AT_ONCE
