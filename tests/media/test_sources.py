"""Capture sources: OpenCV camera (a video file stands in for the device) and microphone."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from av import AudioFrame

from media.errors import CameraUnavailable, MicrophoneUnavailable
from media.sources import CameraSettings, open_camera, open_microphone
from media.testpattern import Scene, SceneRenderer, read_timestamp

STAMPS = [1_000_000 * (index + 1) for index in range(6)]


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    """Six 320×240 frames of the test scene, MJPEG in AVI, each with its timestamp."""
    path = tmp_path / "seat.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 15, (320, 240))
    renderer = SceneRenderer(320, 240, None)
    for index, stamp in enumerate(STAMPS):
        i420 = renderer.render(Scene.ABSENT, index, stamp)
        writer.write(cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420))
    writer.release()
    return path


async def test_a_file_plays_resized_to_yuv420p_and_loops(recording: Path) -> None:
    camera = await open_camera(recording, CameraSettings(width=640, height=480, fps=60))
    frames = [await camera.recv() for _ in range(8)]
    camera.stop()
    assert {(f.format.name, f.width, f.height) for f in frames} == {("yuv420p", 640, 480)}
    assert [read_timestamp(f) for f in frames] == [*STAMPS, *STAMPS[:2]]
    assert [f.pts for f in frames[:3]] == [0, 1500, 3000]


async def test_a_file_without_looping_ends(recording: Path) -> None:
    from aiortc.mediastreams import MediaStreamError

    camera = await open_camera(recording, CameraSettings(320, 240, fps=60, loop=False))
    for _ in STAMPS:
        await camera.recv()
    with pytest.raises(MediaStreamError):
        await camera.recv()
    assert camera.readyState == "ended"


async def test_a_missing_file_is_reported_at_opening(tmp_path: Path) -> None:
    missing = tmp_path / "none.avi"
    with pytest.raises(CameraUnavailable) as caught:
        await open_camera(missing)
    assert str(caught.value) == (
        f"camera source {str(missing)!r} is unavailable: no such file; check that the "
        "device exists and is not in use by another program, or that the file is a "
        "readable video"
    )


async def test_a_file_that_is_no_video_is_reported_at_opening(tmp_path: Path) -> None:
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(CameraUnavailable) as caught:
        await open_camera(junk)
    assert caught.value.reason == "OpenCV cannot open it"


async def test_a_missing_device_is_reported_at_opening() -> None:
    with pytest.raises(CameraUnavailable) as caught:
        await open_camera(63)
    assert caught.value.source == 63
    assert caught.value.reason == "OpenCV cannot open it"


async def test_a_lavfi_tone_stands_in_for_the_microphone() -> None:
    microphone = open_microphone("sine=frequency=440:sample_rate=48000", backend="lavfi")
    try:
        frame = await microphone.track.recv()
        assert isinstance(frame, AudioFrame)
        assert frame.sample_rate == 48_000
        assert np.abs(frame.to_ndarray()).max() > 1000
    finally:
        microphone.stop()


def test_a_missing_alsa_device_is_reported() -> None:
    with pytest.raises(MicrophoneUnavailable) as caught:
        open_microphone("hw:63", backend="alsa")
    assert str(caught.value) == (
        "microphone 'hw:63' (alsa) is unavailable: Input/output error; check the device name "
        "(`arecord -L` lists ALSA devices) and that no other program holds it"
    )


def test_an_input_this_ffmpeg_lacks_is_reported() -> None:
    with pytest.raises(MicrophoneUnavailable) as caught:
        open_microphone("default", backend="pulse")
    assert caught.value.reason == "this FFmpeg has no 'pulse' input"
