"""Janus's recordings (``.mjr``, one file per stream of a publisher) to one WebM segment.

VideoRoom records each publisher's streams as ``<base>-video-<m>.mjr`` and
``<base>-audio-<m>.mjr`` (``<base>`` is the ``filename`` the hub gave it). :func:`convert` turns
them into one WebM file: ``janus-pp-rec`` (Debian's janus-tools) depacketises each stream,
FFmpeg muxes video and audio without transcoding, and ffprobe reads back the duration and the
number of packets. The result is a :class:`~media.recording.RecordedSegment`, as the built-in
recorder reports its segments, so the hub hashes it into the audit chain the same way. The
``.mjr`` files and the intermediate files are removed once the segment is written.

Converting is background work: the live evaluation (the seats' saves, the signalling, the
links) goes first. Each tool runs at niceness :data:`NICENESS` (through coreutils' ``nice``: a
``preexec_fn`` is unsafe in a process with threads), and at most :data:`AT_ONCE` conversions run
at once per event loop, the others waiting their turn. Why: a province's day on one hub
(``bench/day.py``, 60 publishers, 10 s segments) started six conversions a second, four
processes each, and dozens of ffprobe at once stood beside the hub among 36 runnable processes
on two cores, its transactions waiting seconds for their COMMIT.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import weakref
from pathlib import Path

from media.errors import JanusRecordingFailed
from media.recording import RecordedSegment

__all__ = ["AT_ONCE", "NICENESS", "convert", "recordings_of"]

NICENESS = 10
AT_ONCE = max(1, os.cpu_count() or 1)
# One bound per event loop (a semaphore belongs to the loop it first waits in).
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _turn() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _turns:
        _turns[loop] = asyncio.Semaphore(AT_ONCE)
    return _turns[loop]


def recordings_of(base: Path) -> tuple[list[Path], list[Path]]:
    """The video and the audio ``.mjr`` files Janus wrote for ``base``."""
    video = sorted(base.parent.glob(f"{base.name}-video-*.mjr"))
    audio = sorted(base.parent.glob(f"{base.name}-audio-*.mjr"))
    return video, audio


async def _run(name: str, step: str, *args: str) -> bytes:
    try:
        process = await asyncio.create_subprocess_exec(
            "nice",
            "-n",
            str(NICENESS),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise JanusRecordingFailed(name, step, str(exc)) from exc
    out, err = await process.communicate()
    if process.returncode != 0:
        raise JanusRecordingFailed(name, step, err.decode(errors="replace")[-500:])
    return out


def _has_packets(recording: Path) -> bool:
    """Whether a ``.mjr`` file holds more than its header (``MJR00002``, a 2-byte length, the
    JSON info): a part cut just before the seat left may hold nothing."""
    with recording.open("rb") as f:
        head = f.read(10)
    if len(head) < 10:
        return False
    return recording.stat().st_size > 10 + int.from_bytes(head[8:10], "big")


async def convert(base: Path, out: Path, index: int = 0) -> RecordedSegment | None:
    """Write ``base``'s recording to ``out`` (WebM); None if Janus recorded nothing there."""
    found = recordings_of(base)
    empty = [f for f in found[0] + found[1] if not await asyncio.to_thread(_has_packets, f)]
    for recording in empty:
        recording.unlink(missing_ok=True)
    video, audio = ([f for f in files if f not in empty] for files in found)
    if not video and not audio:
        return None
    async with _turn():
        return await _convert(base, out, index, video, audio)


async def _convert(
    base: Path, out: Path, index: int, video: list[Path], audio: list[Path]
) -> RecordedSegment:
    name = base.name
    parts: list[Path] = []
    try:
        for source, suffix in [(v, ".webm") for v in video[:1]] + [(a, ".opus") for a in audio[:1]]:
            # Beside Janus's files, not among the segments (retention globs those).
            part = source.with_name(f"{source.stem}.part{suffix}")
            parts.append(part)
            await _run(name, "janus-pp-rec", "janus-pp-rec", str(source), str(part))
        partial = out.with_name(out.name + ".part")  # a segment still being written
        parts.append(partial)
        inputs = [arg for part in parts[:-1] for arg in ("-i", str(part))]
        maps = [arg for i in range(len(parts) - 1) for arg in ("-map", str(i))]
        await _run(name, "ffmpeg", "ffmpeg", "-v", "error", "-y", *inputs, *maps,
                   "-c", "copy", "-f", "webm", str(partial))  # fmt: skip
        probed = json.loads(
            await _run(
                name,
                "ffprobe",
                "ffprobe",
                "-v",
                "error",
                "-count_packets",
                "-show_entries",
                "stream=codec_type,nb_read_packets:format=duration",
                "-of",
                "json",
                str(partial),
            )
        )
        partial.rename(out)
    finally:
        for part in parts:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
    packets = {s.get("codec_type"): int(s.get("nb_read_packets", 0)) for s in probed["streams"]}
    sha256, size = await asyncio.to_thread(_finish, out, video + audio)
    return RecordedSegment(
        path=out,
        index=index,
        sha256=sha256,
        duration=float(probed.get("format", {}).get("duration", 0.0)),
        video_frames=packets.get("video", 0),
        audio_frames=packets.get("audio", 0),
        size=size,
    )


def _finish(out: Path, sources: list[Path]) -> tuple[str, int]:
    """The segment's hash and size; Janus's files go once the segment is written."""
    data = out.read_bytes()
    for source in sources:
        source.unlink(missing_ok=True)
    return hashlib.sha256(data).hexdigest(), len(data)
