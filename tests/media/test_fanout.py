"""Pure forwarding rules: keyframe detection, bounded viewer buffers, request pacing."""

from __future__ import annotations

import itertools

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.fanout import KeyframeRequestGate, Offer, ViewerBuffer, is_keyframe


def vp8_frames(count: int) -> list[bytes]:
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 160, 120, "yuv420p"
    encoder.gop_size = 1000
    frames = []
    for index in range(count):
        picture = np.full((180, 160), 128, np.uint8)
        picture[40:56, index * 8 : index * 8 + 16] = 30
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = index
        frames += [bytes(packet) for packet in encoder.encode(frame)]
    return frames


def test_vp8_keyframes_are_recognised() -> None:
    frames = vp8_frames(5)
    assert [is_keyframe("video/VP8", data) for data in frames] == [True] + [False] * (
        len(frames) - 1
    )


def test_h264_idr_and_sps_start_a_decode() -> None:
    sps_pps_idr = b"\x00\x00\x00\x01\x67abc\x00\x00\x00\x01\x68de\x00\x00\x01\x65fgh"
    non_idr = b"\x00\x00\x00\x01\x41abcdef"
    assert is_keyframe("video/H264", sps_pps_idr)
    assert not is_keyframe("video/H264", non_idr)
    assert not is_keyframe("video/H264", b"")


def test_every_audio_frame_and_no_unknown_video_frame_starts_a_decode() -> None:
    assert is_keyframe("audio/opus", b"\x01")
    assert not is_keyframe("video/AV1", b"\x00" * 20)
    assert not is_keyframe("video/VP8", b"\x00" * 5)


def test_a_viewer_buffer_starts_at_a_keyframe() -> None:
    buffer: ViewerBuffer[str] = ViewerBuffer(3)
    assert buffer.offer("delta", keyframe=False) is Offer.SKIPPED
    assert buffer.offer("key", keyframe=True) is Offer.QUEUED
    assert buffer.offer("delta2", keyframe=False) is Offer.QUEUED
    assert [buffer.pop(), buffer.pop(), buffer.pop()] == ["key", "delta2", None]
    assert buffer.dropped == 1


def test_an_overflowing_buffer_drops_everything_until_the_next_keyframe() -> None:
    buffer: ViewerBuffer[int] = ViewerBuffer(2)
    buffer.offer(0, keyframe=True)
    buffer.offer(1, keyframe=False)
    assert buffer.offer(2, keyframe=False) is Offer.OVERFLOWED
    assert len(buffer) == 0 and buffer.waiting_for_keyframe
    assert buffer.offer(3, keyframe=False) is Offer.SKIPPED
    assert buffer.offer(4, keyframe=True) is Offer.QUEUED
    assert (buffer.dropped, buffer.overflows) == (4, 1)


def test_a_keyframe_arriving_at_a_full_buffer_restarts_it() -> None:
    buffer: ViewerBuffer[int] = ViewerBuffer(1)
    buffer.offer(0, keyframe=True)
    assert buffer.offer(1, keyframe=True) is Offer.QUEUED
    assert buffer.pop() == 1
    assert buffer.overflows == 1


def test_restart_waits_for_a_keyframe() -> None:
    buffer: ViewerBuffer[int] = ViewerBuffer(4)
    buffer.offer(0, keyframe=True)
    buffer.restart()
    assert buffer.pop() is None
    assert buffer.offer(1, keyframe=False) is Offer.SKIPPED


def test_a_buffer_needs_room_for_one_frame() -> None:
    with pytest.raises(ValueError, match=r"^viewer buffer capacity must be at least 1, not 0$"):
        ViewerBuffer(0)


@settings(max_examples=200)
@given(
    capacity=st.integers(1, 6),
    steps=st.lists(st.one_of(st.booleans(), st.none()), max_size=80),
)
def test_viewer_buffer_invariants(capacity: int, steps: list[bool | None]) -> None:
    """True/False offers a keyframe/delta frame, None pops one."""
    buffer: ViewerBuffer[tuple[int, bool]] = ViewerBuffer(capacity)
    offered: list[tuple[int, bool]] = []
    popped: list[tuple[int, bool]] = []
    need_keyframe = True  # the next frame popped after a (re)start must be a keyframe
    for index, step in enumerate(steps):
        if step is None:
            frame = buffer.pop()
            if frame is not None:
                assert not need_keyframe or frame[1]
                need_keyframe = False
                popped.append(frame)
        else:
            offered.append((index, step))
            if buffer.offer((index, step), step) is Offer.OVERFLOWED:
                need_keyframe = True
        assert len(buffer) <= capacity
    # Frames come out in order, each one at most once.
    assert popped == sorted(popped) and len(set(popped)) == len(popped)
    assert buffer.dropped + len(popped) + len(buffer) == len(offered)


def test_keyframe_requests_are_paced() -> None:
    gate = KeyframeRequestGate(0.5)
    assert gate.ask(10.0)
    assert not gate.ask(10.2)
    assert gate.due_at() == 10.5
    assert not gate.ask(10.4)
    assert gate.ask(10.5)
    assert (gate.sent, gate.suppressed, gate.pending) == (2, 2, False)


def test_a_keyframe_satisfies_a_pending_request() -> None:
    gate = KeyframeRequestGate(0.5)
    gate.ask(0.0)
    gate.ask(0.1)
    gate.keyframe_seen()
    assert gate.due_at() is None


def test_nothing_is_due_before_anything_was_asked() -> None:
    assert KeyframeRequestGate(0.5).due_at() is None
    with pytest.raises(ValueError, match=r"^keyframe request interval must be >= 0, not -1$"):
        KeyframeRequestGate(-1)


@given(
    interval=st.floats(0.0, 2.0),
    gaps=st.lists(st.floats(0.0, 1.0), max_size=60),
)
def test_requests_sent_are_never_closer_than_the_interval(
    interval: float, gaps: list[float]
) -> None:
    gate = KeyframeRequestGate(interval)
    now = 0.0
    sent_at = []
    for gap in gaps:
        now += gap
        if gate.ask(now):
            sent_at.append(now)
    assert all(b - a >= interval for a, b in itertools.pairwise(sent_at))
    assert gate.sent + gate.suppressed == len(gaps)
