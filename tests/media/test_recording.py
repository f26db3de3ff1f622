"""Per-seat recording: pure segment and retention rules, and real recordings checked by ffprobe."""

from __future__ import annotations

import ast
import asyncio
import errno
import hashlib
import json
import logging
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiortc import RTCPeerConnection
from hypothesis import given, settings
from hypothesis import strategies as st

import media.segmenting
from media.errors import PublisherNotReady
from media.fanout import is_keyframe
from media.forwarding import PublisherForwarder, accept_publisher
from media.recording import (
    RecordedSegment,
    RecordingResumed,
    RecordingStopped,
    SeatRecorder,
    SegmentWriter,
    prune,
)
from media.segmenting import (
    CloseSegment,
    OpenSegment,
    RecordingConfigError,
    SegmentPlanner,
    StoredSegment,
    WritePacket,
    expired_segments,
    opus_samples,
    vp8_dimensions,
)
from media.testpattern import TestPatternTrack, ToneTrack
from tests.media.peers import connect, eventually

Peers = Callable[[], RTCPeerConnection]
FPS = 15
FRAME = 90_000 // FPS  # one video frame in the 90 kHz RTP clock
FRAME_SECONDS = 1 / FPS
# Matroska stores times in milliseconds: each time may be rounded by half of one.
ROUNDING = 0.001


# --- pure rules -------------------------------------------------------------------------------


def vp8_frames(count: int, width: int = 160, height: int = 120) -> list[bytes]:
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.gop_size = 1000
    frames = []
    for index in range(count):
        picture = np.full((height * 3 // 2, width), 128, np.uint8)
        picture[40:56, index * 8 : index * 8 + 16] = 30
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = index
        frames += [bytes(packet) for packet in encoder.encode(frame)]
    return frames


def key(width: int = 640, height: int = 480) -> bytes:
    """A VP8 keyframe header (RFC 6386 §9.1) followed by filler: enough for the planner."""
    return b"\x00\x00\x00\x9d\x01\x2a" + width.to_bytes(2, "little") + height.to_bytes(2, "little")


INTER = b"\x01\x00\x00" + bytes(7)
OPUS_20MS = bytes([(31 << 3) | 0, 0xFF])  # CELT fullband 20 ms, one frame


def test_vp8_dimensions_are_read_from_real_keyframes_only() -> None:
    frames = vp8_frames(3, 320, 240)
    assert vp8_dimensions(frames[0]) == (320, 240)
    assert [vp8_dimensions(frame) for frame in frames[1:]] == [None, None]
    assert vp8_dimensions(b"") is None


def test_opus_durations_follow_the_toc_byte() -> None:
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48_000, "mono", "s16"
    packets: list[bytes] = []
    for index in range(10):
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 960), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate, frame.pts = 48_000, index * 960
        packets += [bytes(packet) for packet in encoder.encode(frame)]
    assert packets and {opus_samples(packet) for packet in packets} == {960}
    assert opus_samples(bytes([(0 << 3) | 0])) == 480  # SILK 10 ms
    assert opus_samples(bytes([(3 << 3) | 1])) == 2 * 2880  # SILK 60 ms, two frames
    assert opus_samples(bytes([(13 << 3) | 2])) == 2 * 960  # hybrid 20 ms, two frames
    assert opus_samples(bytes([(16 << 3) | 3, 5])) == 5 * 120  # CELT 2.5 ms, five frames
    assert opus_samples(bytes([(16 << 3) | 3])) == 0  # code 3 without its frame count
    assert opus_samples(b"") == 0


def test_segments_start_at_keyframes_and_close_once_long_enough() -> None:
    planner = SegmentPlanner(segment_seconds=1.0)
    actions = planner.video(INTER, 0, False, now=0.0)
    assert actions == [] and planner.counters.skipped_before_keyframe == 1
    actions = planner.video(key(), FRAME, True, now=0.1)
    assert actions == [OpenSegment(0, 640, 480), WritePacket("video", key(), 0, 0, True)]
    # A keyframe before the segment is long enough is written into it, not cut at.
    assert planner.video(key(), 2 * FRAME, True, now=0.2) == [
        WritePacket("video", key(), FRAME, 0, True)
    ]
    for index in range(3, FPS + 2):
        planner.video(INTER, index * FRAME, False, now=index / FPS)
    assert planner.wants_keyframe  # the segment reached one second: ask for a keyframe
    actions = planner.video(key(), (FPS + 2) * FRAME, True, now=2.0)
    assert actions == [
        CloseSegment(0, FPS + 1, 0, Fraction(FPS, FPS)),
        OpenSegment(1, 640, 480),
        WritePacket("video", key(), 0, 0, True),
    ]
    assert planner.finish() == [CloseSegment(1, 1, 0, Fraction(0))]
    assert planner.finish() == []


def test_a_new_picture_size_starts_a_new_segment() -> None:
    planner = SegmentPlanner(segment_seconds=10.0)
    planner.video(key(640, 480), 0, True, now=0.0)
    actions = planner.video(key(320, 240), FRAME, True, now=0.1)
    assert [type(action) for action in actions] == [CloseSegment, OpenSegment, WritePacket]
    assert actions[1] == OpenSegment(1, 320, 240)


def test_audio_is_placed_on_the_video_timeline_by_first_arrival() -> None:
    planner = SegmentPlanner(segment_seconds=10.0)
    assert planner.audio(OPUS_20MS, 0, now=5.0) == []  # no video yet: nothing to anchor to
    planner.video(INTER, 0, False, now=10.0)  # video time 0 arrived at 10.0
    planner.video(key(), 2 * FRAME, True, now=10.0 + 2 / FPS)  # the segment starts at 2/15 s
    # Audio RTP time 480 arrives at 10.5: audio time 0 is video time 0.49 s, 0.49 - 2/15 into
    # the segment; the first audio frame's anchor is rounded to whole samples.
    [packet] = planner.audio(OPUS_20MS, 480, now=10.5)
    assert isinstance(packet, WritePacket)
    assert packet.pts == round(48_000 * (0.5 - 2 / 15))
    assert packet.duration == 960
    [later] = planner.audio(OPUS_20MS, 480 + 960, now=99.0)  # arrival no longer matters
    assert isinstance(later, WritePacket) and later.pts == packet.pts + 960


def test_audio_older_than_the_opening_keyframe_is_counted_late() -> None:
    planner = SegmentPlanner(segment_seconds=10.0)
    planner.video(key(), 0, True, now=10.0)
    planner.audio(OPUS_20MS, 48_000, now=10.0)  # anchors audio time 1.0 s to video time 0
    assert planner.audio(OPUS_20MS, 0, now=10.0) == []
    assert planner.counters.late_audio == 1


def test_after_a_drop_video_resumes_only_at_a_keyframe() -> None:
    planner = SegmentPlanner(segment_seconds=10.0)
    planner.video(key(), 0, True, now=0.0)
    planner.drop("video", FRAME)
    assert planner.wants_keyframe
    planner.wants_keyframe = False
    assert planner.video(INTER, 2 * FRAME, False, now=0.2) == []
    assert not planner.wants_keyframe  # asked less than a second of media time ago
    assert planner.video(key(), 3 * FRAME, True, now=0.3) == [
        WritePacket("video", key(), 3 * FRAME, 0, True)
    ]
    planner.drop("audio")
    counters = planner.counters
    assert (counters.dropped_video, counters.dropped_audio, counters.video_written) == (2, 1, 2)


@st.composite
def streams(draw: st.DrawFn) -> list[tuple[str, bool]]:
    """Frames in arrival order: ("video", keyframe) or ("audio", False) or ("drop", False)."""
    events = st.one_of(
        st.tuples(st.just("video"), st.booleans()),
        st.tuples(st.sampled_from(["audio", "drop"]), st.just(False)),
    )
    return draw(st.lists(events, max_size=200))


@settings(max_examples=150, deadline=None)
@given(streams(), st.sampled_from([0.2, 0.5, 1.0]))
def test_every_segment_is_keyframe_led_monotonic_and_long_enough(
    events: list[tuple[str, bool]], seconds: float
) -> None:
    planner = SegmentPlanner(segment_seconds=seconds)
    actions: list[object] = []
    video_ts = audio_ts = 0
    for kind, keyframe in events:
        now = video_ts / 90_000
        if kind == "video":
            actions += planner.video(key() if keyframe else INTER, video_ts, keyframe, now)
            video_ts += FRAME
        elif kind == "audio":
            actions += planner.audio(OPUS_20MS, audio_ts, now)
            audio_ts += 960
        else:
            planner.drop("video", video_ts)
            actions.append("drop")  # a marker for the checks below, not a planner action
    actions += planner.finish()

    opened = closed = 0
    closes = sum(isinstance(a, CloseSegment) for a in actions)
    last_pts: dict[str, int] = {}
    first = dropped = True
    for action in actions:
        if action == "drop":
            dropped = True
        elif isinstance(action, OpenSegment):
            assert opened == closed
            opened += 1
            first, dropped, last_pts = True, False, {}
        elif isinstance(action, WritePacket):
            if first:
                assert action.kind == "video" and action.keyframe and action.pts == 0
                first = False
            assert action.pts >= last_pts.get(action.kind, 0)
            last_pts[action.kind] = action.pts
        else:
            assert isinstance(action, CloseSegment)
            closed += 1
            assert closed == opened
            if closed < closes and not dropped:
                # Cut at the first keyframe at or after the length: the frame before it ends
                # at most one frame interval short (unless frames were dropped before it).
                assert action.duration >= Fraction(str(seconds)) - Fraction(1, FPS)
    assert opened == closed
    counters = planner.counters
    written = sum(isinstance(a, WritePacket) and a.kind == "video" for a in actions)
    assert counters.video_written == written
    assert counters.dropped_video >= sum(kind == "drop" for kind, _ in events)


def test_planner_and_retention_reject_unusable_settings() -> None:
    with pytest.raises(RecordingConfigError) as caught:
        SegmentPlanner(segment_seconds=0)
    assert str(caught.value) == (
        "invalid recording setting segment_seconds = 0: expected a length from above 0 to "
        "3600 seconds"
    )
    with pytest.raises(RecordingConfigError) as caught:
        expired_segments([], now=0)
    assert str(caught.value) == (
        "invalid recording setting retention = None: expected keep_seconds, keep_count or "
        "both (nothing would ever be deleted)"
    )
    with pytest.raises(RecordingConfigError) as caught:
        expired_segments([], keep_count=-1, now=0)
    assert str(caught.value) == (
        "invalid recording setting keep_count = -1: expected 0 or more segments"
    )
    with pytest.raises(RecordingConfigError) as caught:
        expired_segments([], keep_seconds=-5, now=0)
    assert str(caught.value) == (
        "invalid recording setting keep_seconds = -5: expected 0 or more seconds"
    )


def names(found: list[StoredSegment]) -> list[str]:
    return [segment.name for segment in found]


def test_retention_by_age_count_or_both() -> None:
    stored = [StoredSegment(float(t), f"s-{t}.webm") for t in (40, 10, 30, 20)]
    assert names(expired_segments(stored, keep_seconds=15, now=45)) == ["s-10.webm", "s-20.webm"]
    assert names(expired_segments(stored, keep_count=1, now=45)) == [
        "s-10.webm",
        "s-20.webm",
        "s-30.webm",
    ]
    assert names(expired_segments(stored, keep_seconds=100, keep_count=3, now=45)) == ["s-10.webm"]
    assert names(expired_segments(stored, keep_seconds=5, keep_count=3, now=45)) == [
        "s-10.webm",
        "s-20.webm",
        "s-30.webm",
    ]
    assert expired_segments(stored, keep_count=0, now=0) == sorted(stored)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 1000), max_size=30, unique=True),
    st.none() | st.integers(0, 1000),
    st.none() | st.integers(0, 40),
)
def test_retention_keeps_exactly_what_every_rule_keeps(
    times: list[int], keep_seconds: int | None, keep_count: int | None
) -> None:
    if keep_seconds is None and keep_count is None:
        return
    stored = [StoredSegment(float(t), f"s-{t}.webm") for t in times]
    expired = set(
        expired_segments(stored, keep_seconds=keep_seconds, keep_count=keep_count, now=1000)
    )
    newest = sorted(stored, reverse=True)
    for rank, segment in enumerate(newest):
        young = keep_seconds is None or 1000 - segment.closed_at <= keep_seconds
        counted = keep_count is None or rank < keep_count
        assert (segment not in expired) == (young and counted)


def test_prune_deletes_what_retention_expires_and_never_a_part_file(tmp_path: Path) -> None:
    for age in (400, 300, 200, 100):
        path = tmp_path / f"seat-{age}.webm"
        path.write_bytes(b"x")
        os.utime(path, (10_000 - age, 10_000 - age))
    part = tmp_path / "seat-0.webm.part"
    part.write_bytes(b"x")
    os.utime(part, (0, 0))

    deleted = prune(tmp_path, keep_seconds=250, now=10_000)
    assert [p.name for p in deleted] == ["seat-400.webm", "seat-300.webm"]
    deleted = prune(tmp_path, keep_count=1, now=10_000)
    assert [p.name for p in deleted] == ["seat-200.webm"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seat-0.webm.part", "seat-100.webm"]


def test_the_rules_module_does_no_io() -> None:
    tree = ast.parse(Path(media.segmenting.__file__).read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert roots & {"asyncio", "aiortc", "av", "cv2", "os", "pathlib", "threading"} == set()


# --- real recordings over loopback peers -----------------------------------------------------


async def publish(peers: Peers, forwarder: PublisherForwarder) -> None:
    """A seat publishing the test pattern and a tone to the hub, which forwards them."""
    seat, hub = peers(), peers()
    seat.addTransceiver(TestPatternTrack(fps=FPS), direction="sendonly")
    seat.addTransceiver(ToneTrack(), direction="sendonly")
    accept_publisher(hub, forwarder.by_kind())
    await connect(seat, hub)


@dataclass
class Probe:
    duration: float
    codecs: dict[str, str]
    size: tuple[int, int]
    video: list[tuple[float, str]]  # (pts seconds, flags) of each video packet
    decoded_video_frames: int


def ffprobe(path: Path) -> Probe:
    """Read a segment with Debian's ffprobe, decoding its video; fail on any complaint."""
    result = subprocess.run(
        [
            "/usr/bin/ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "format=duration:stream=codec_type,codec_name,width,height,nb_read_frames"
            ":packet=codec_type,pts_time,flags",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    streams = {s["codec_type"]: s for s in found["streams"]}
    video = streams["video"]
    return Probe(
        # A segment of one video frame and no audio lasts 0 s: Matroska then stores none.
        duration=float(found["format"].get("duration", "0")),
        codecs={kind: s["codec_name"] for kind, s in streams.items()},
        size=(video["width"], video["height"]),
        video=[
            (float(p["pts_time"]), p["flags"])
            for p in found["packets"]
            if p["codec_type"] == "video"
        ],
        decoded_video_frames=int(video["nb_read_frames"]),
    )


def demux(path: Path) -> tuple[bytes, list[float]]:
    """The first stored video packet, and the times of the keyframes the cues index (no decode)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base
        assert time_base is not None
        cues = [float(e.timestamp * time_base) for e in stream.index_entries if e.is_keyframe]
        for packet in container.demux(stream):
            return bytes(packet), cues
    raise AssertionError(f"{path.name} holds no video packet")


def check_segment(segment: RecordedSegment) -> Probe:
    probe = ffprobe(segment.path)
    assert probe.codecs == {"video": "vp8", "audio": "opus"}
    assert probe.size == (640, 480)
    assert len(probe.video) == segment.video_frames == probe.decoded_video_frames
    assert probe.video[0] == (0.0, probe.video[0][1]) and probe.video[0][1].startswith("K")
    first, cues = demux(segment.path)
    assert is_keyframe("video/VP8", first)
    # The muxer was told which frames are keyframes: the cues index exactly those.
    assert cues == [pts for pts, flags in probe.video if flags.startswith("K")]
    assert segment.sha256 == hashlib.sha256(segment.path.read_bytes()).hexdigest()
    assert segment.size == segment.path.stat().st_size
    # The file's duration is what the recorder wrote, up to Matroska's millisecond rounding
    # and at most one frame interval for a video frame whose own duration is unknown.
    assert abs(probe.duration - segment.duration) <= FRAME_SECONDS + ROUNDING
    # And what it wrote is the RTP timeline: video frames sit on the 15 fps grid.
    for pts, _ in probe.video:
        assert abs(pts * FPS - round(pts * FPS)) * FRAME_SECONDS <= ROUNDING
    return probe


async def test_segments_are_readable_keyframe_led_timed_and_hashed(
    peers: Peers, tmp_path: Path
) -> None:
    forwarder = PublisherForwarder()
    await publish(peers, forwarder)
    closed: list[RecordedSegment] = []
    recorder = SeatRecorder(forwarder, tmp_path, "seat-07", closed.append, segment_seconds=1.0)
    recorder.start()
    await eventually(lambda: len(closed) >= 3, "three segments closed", limit=60)
    await recorder.stop()
    await forwarder.close()

    assert [s.index for s in closed] == list(range(len(closed)))
    assert sorted(p.name for p in os.scandir(tmp_path)) == [s.path.name for s in closed]
    for segment in closed:
        check_segment(segment)
        assert segment.audio_frames > 0 or segment is closed[-1]
    for segment in closed[:-1]:
        assert segment.duration >= 1.0 - FRAME_SECONDS
    counters = recorder.counters
    assert counters.segments_closed == len(closed) and counters.segments_failed == 0
    assert counters.planner.video_written == sum(s.video_frames for s in closed)


class StallingDisk(SegmentWriter):
    """The real writer behind a switch: while it is off, every write waits, as on a stuck disk."""

    def __init__(self) -> None:
        super().__init__()
        self.flowing = threading.Event()
        self.flowing.set()
        self.threads: set[int] = set()

    def write(self, action: WritePacket) -> None:
        self.threads.add(threading.get_ident())
        # The limit only stops a broken test from hanging forever.
        assert self.flowing.wait(60), "the test never let the disk flow again"
        super().write(action)


async def test_a_stalled_disk_drops_until_a_keyframe_and_stays_bounded(
    peers: Peers, tmp_path: Path
) -> None:
    forwarder = PublisherForwarder()
    await publish(peers, forwarder)
    closed: list[RecordedSegment] = []
    disk = StallingDisk()
    recorder = SeatRecorder(
        forwarder, tmp_path, "seat-09", closed.append, segment_seconds=3600, capacity=8, writer=disk
    )
    recorder.start()
    await eventually(lambda: recorder.counters.planner.video_written >= 5, "recording started")
    disk.flowing.clear()
    await eventually(lambda: recorder.counters.planner.dropped_video >= 20, "frames dropped")
    disk.flowing.set()
    resumed = recorder.counters.planner.video_written
    await eventually(
        lambda: recorder.counters.planner.video_written >= resumed + 10, "recording resumed"
    )
    await recorder.stop()
    await forwarder.close()

    counters = recorder.counters
    assert disk.threads and threading.get_ident() not in disk.threads  # off the event loop
    assert counters.queue_high_water <= 8 + 3
    assert counters.planner.dropped_video >= 20
    [segment] = closed
    probe = check_segment(segment)
    # Somewhere the stall left a gap in the pictures, and the picture after it is a keyframe.
    gaps = [
        later
        for earlier, later in zip(probe.video, probe.video[1:], strict=False)
        if later[0] - earlier[0] > 1.5 * FRAME_SECONDS
    ]
    assert gaps, "the stall left no gap in the recording"
    assert all(flags.startswith("K") for _, flags in gaps)


class FailingDisk(SegmentWriter):
    """The real writer, except that one write fails as a failing disk would, and every write
    fails as on a full disk while ``full`` is set."""

    def __init__(self, fail_at: int = 0) -> None:
        super().__init__()
        self.writes = 0
        self.fail_at = fail_at
        self.full = threading.Event()

    def write(self, action: WritePacket) -> None:
        self.writes += 1
        if self.writes == self.fail_at:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        if self.full.is_set():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        super().write(action)


async def test_a_failed_segment_is_abandoned_and_recording_goes_on(
    peers: Peers, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    forwarder = PublisherForwarder()
    await publish(peers, forwarder)
    closed: list[RecordedSegment] = []
    recorder = SeatRecorder(
        forwarder, tmp_path, "seat-11", closed.append, segment_seconds=1.0, writer=FailingDisk(3)
    )
    recorder.start()
    await eventually(lambda: len(closed) >= 2, "two segments closed after the failure", limit=60)
    await recorder.stop()
    await forwarder.close()

    assert recorder.counters.segments_failed == 1
    assert [s.index for s in closed] == list(range(1, len(closed) + 1))
    # The failed segment left nothing behind, not even its partial file.
    assert sorted(p.name for p in os.scandir(tmp_path)) == [s.path.name for s in closed]
    for segment in closed:
        check_segment(segment)
    assert [r.getMessage() for r in caplog.records if r.name == "media.recording"] == [
        "recording segment failed; it is abandoned"
    ]


async def test_a_full_disk_stops_the_recorder_quietly_until_there_is_room_again(
    peers: Peers, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "media.recording")
    forwarder = PublisherForwarder()
    await publish(peers, forwarder)
    closed: list[RecordedSegment] = []
    changes: list[RecordingStopped | RecordingResumed] = []
    disk = FailingDisk()
    free = [0]
    recorder = SeatRecorder(
        forwarder, tmp_path, "seat-12", closed.append, segment_seconds=1.0, writer=disk,
        on_outage=changes.append, resume_free_bytes=1000, probe_interval=0.2,
        free_space=lambda directory: free[0],
    )  # fmt: skip
    recorder.start()
    await eventually(lambda: bool(closed), "a first segment", limit=60)
    disk.full.set()
    await eventually(lambda: bool(changes), "the recorder to stop on the full disk", limit=60)
    stopped = changes[0]
    assert isinstance(stopped, RecordingStopped)
    assert (stopped.reason, stopped.detail) == ("disk_full", "[Errno 28] No space left on device")
    assert recorder.outage == stopped
    before = list(closed)  # closed before the disk filled up
    await asyncio.sleep(1.0)  # frames keep coming: dropped, not written, nothing reported
    assert (closed, len(changes)) == (before, 1)
    assert recorder.counters.dropped_while_stopped > 0
    disk.full.clear()
    free[0] = 1000
    await eventually(
        lambda: len(closed) >= len(before) + 2, "two segments after the disk has room", limit=60
    )
    await recorder.stop()
    await forwarder.close()

    resumed = changes[1]
    assert isinstance(resumed, RecordingResumed)
    assert (len(changes), resumed.stopped_at, resumed.free_bytes) == (2, stopped.at, 1000)
    assert resumed.dropped_frames > 0 and recorder.outage is None
    counters = recorder.counters
    assert (counters.outages, counters.segments_failed) == (1, 1)
    # The segment the disk cut short is gone; those before and after it are whole.
    cut = len(before)  # the index of the segment cut short (they count from 0)
    assert [s.index for s in closed] == [*range(cut), *range(cut + 1, len(closed) + 1)]
    assert sorted(p.name for p in os.scandir(tmp_path)) == [s.path.name for s in closed]
    for segment in closed:
        check_segment(segment)
    logged = [r for r in caplog.records if r.name == "media.recording"]
    assert [r.getMessage() for r in logged] == [
        f"recording seat-12 stopped: no space left in {tmp_path} ([Errno 28] No space left on "
        "device); it resumes once 0 MiB are free",
        "recording seat-12 resumed: 0 MiB free",
    ]
    assert [r.exc_info for r in logged] == [None, None]  # no traceback


async def test_the_recorder_needs_a_negotiated_publisher_and_a_fresh_prefix(
    tmp_path: Path,
) -> None:
    forwarder = PublisherForwarder()
    recorder = SeatRecorder(forwarder, tmp_path, "seat-01", lambda segment: None)
    with pytest.raises(PublisherNotReady):
        recorder.start()
    (tmp_path / "seat-01-00000.webm").write_bytes(b"x")
    with pytest.raises(RecordingConfigError) as caught:
        SeatRecorder(forwarder, tmp_path, "seat-01", lambda segment: None)
    assert str(caught.value) == (
        f"invalid recording setting prefix = 'seat-01': expected a prefix no earlier "
        f"recording in {tmp_path} used"
    )
    with pytest.raises(RecordingConfigError) as caught:
        SeatRecorder(forwarder, tmp_path, "../seat", lambda segment: None)
    assert str(caught.value) == (
        "invalid recording setting prefix = '../seat': expected letters, digits, '-', '_' or "
        "'.', not starting with '.'"
    )
    with pytest.raises(RecordingConfigError) as caught:
        SeatRecorder(forwarder, tmp_path, "seat-02", lambda segment: None, capacity=0)
    assert str(caught.value) == (
        "invalid recording setting capacity = 0: expected at least 1 queued frame"
    )
    await asyncio.sleep(0)
