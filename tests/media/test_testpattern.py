"""The test-pattern camera: drawn timestamps, scenes, frame format; the tone."""

from __future__ import annotations

import itertools

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.errors import SourceConfigError
from media.testpattern import (
    BLOCKS_PER_ROW,
    Scene,
    SceneRenderer,
    TestPatternTrack,
    ToneTrack,
    draw_timestamp,
    load_astronaut,
    read_timestamp,
)


def blank(width: int, height: int) -> np.ndarray:
    return np.full((height * 3 // 2, width), 128, np.uint8)


@settings(max_examples=100)
@given(stamp=st.integers(0, 2**64 - 1), size=st.sampled_from([(640, 480), (320, 240)]))
def test_a_drawn_timestamp_reads_back(stamp: int, size: tuple[int, int]) -> None:
    width, height = size
    picture = blank(width, height)
    draw_timestamp(picture, width, height, stamp)
    assert read_timestamp(picture[:height]) == stamp
    frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
    assert read_timestamp(frame) == stamp
    assert read_timestamp(frame.reformat(format="rgb24")) == stamp


def test_a_damaged_strip_reads_as_no_timestamp() -> None:
    picture = blank(640, 480)
    draw_timestamp(picture, 640, 480, 1_700_000_000_123_456)
    block = 640 // BLOCKS_PER_ROW
    picture[:block, 5 * block : 6 * block] = 255 - picture[:block, 5 * block : 6 * block]
    assert read_timestamp(picture[:480]) is None


def test_pictures_without_a_strip_or_too_small_have_no_timestamp() -> None:
    assert read_timestamp(np.zeros((480, 640), np.uint8)) is None
    assert read_timestamp(np.zeros((8, 100), np.uint8)) is None


def test_timestamps_outside_64_bits_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^timestamp -1 does not fit in 64 bits$"):
        draw_timestamp(blank(640, 480), 640, 480, -1)


def test_timestamps_survive_vp8_at_640x480() -> None:
    renderer = SceneRenderer(640, 480, load_astronaut())
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 640, 480, "yuv420p"
    encoder.bit_rate = 500_000
    encoder.options = {"deadline": "realtime", "cpu-used": "-6", "lag-in-frames": "0"}
    decoder = av.CodecContext.create("libvpx", "r")
    sent = [1_700_000_000_000_000 + index * 66_667 for index in range(12)]
    read = []
    for index, stamp in enumerate(sent):
        frame = av.VideoFrame.from_ndarray(
            renderer.render(Scene.PRESENT, index, stamp), format="yuv420p"
        )
        frame.pts = index
        for packet in encoder.encode(frame):
            read += [read_timestamp(picture) for picture in decoder.decode(packet)]
    assert read == sent


async def test_the_track_yields_yuv420p_frames_with_the_clock_drawn_in() -> None:
    clock = itertools.count(1_000_000, 1_000)
    track = TestPatternTrack(width=320, height=240, fps=60, clock_us=lambda: next(clock))
    frames = [await track.recv() for _ in range(3)]
    assert [f.format.name for f in frames] == ["yuv420p"] * 3
    assert [(f.width, f.height) for f in frames] == [(320, 240)] * 3
    assert [f.pts for f in frames] == [0, 1500, 3000]
    assert [read_timestamp(f) for f in frames] == [1_000_000, 1_001_000, 1_002_000]
    track.stop()


async def test_a_frozen_track_repeats_its_last_picture() -> None:
    clock = itertools.count(5_000_000, 1_000)
    track = TestPatternTrack(width=320, height=240, fps=60, clock_us=lambda: next(clock))
    live = await track.recv()
    track.scene = Scene.FROZEN
    frozen = [await track.recv() for _ in range(2)]
    assert [read_timestamp(f) for f in frozen] == [read_timestamp(live)] * 2
    assert np.array_equal(frozen[0].to_ndarray(), live.to_ndarray())
    assert [f.pts for f in frozen] == [1500, 3000] and live.pts == 0
    track.scene = Scene.PRESENT
    assert read_timestamp(await track.recv()) == 5_001_000
    track.stop()


def test_scenes_differ_where_they_should() -> None:
    renderer = SceneRenderer(640, 480, load_astronaut())
    present, absent, two, covered = (
        renderer.render(scene, 0, 1)[:480].astype(int)
        for scene in (Scene.PRESENT, Scene.ABSENT, Scene.TWO_FACES, Scene.COVERED)
    )
    assert np.abs(present - absent).mean() > 10
    assert np.abs(two - present).mean() > 5
    assert covered[64:].max() < 20


def test_without_the_portrait_only_faceless_scenes_are_drawn() -> None:
    renderer = SceneRenderer(320, 240, None)
    assert renderer.scenes() == {Scene.ABSENT, Scene.COVERED, Scene.FROZEN}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"width": 641},
            "invalid source width 641: expected an even number of pixels from 160 to 3840",
        ),
        (
            {"height": 100},
            "invalid source height 100: expected an even number of pixels from 120 to 2160",
        ),
        ({"fps": 0}, "invalid source fps 0: expected a frame rate from 1 to 60"),
    ],
)
def test_impossible_settings_are_refused(options: dict[str, int], message: str) -> None:
    with pytest.raises(SourceConfigError) as caught:
        TestPatternTrack(**options)  # type: ignore[arg-type]
    assert str(caught.value) == message


async def test_the_tone_is_48khz_mono_s16_in_20ms_frames() -> None:
    tone = ToneTrack(frequency=1000)
    frames = [await tone.recv() for _ in range(3)]
    assert [f.pts for f in frames] == [0, 960, 1920]
    assert {(f.sample_rate, f.samples, f.format.name, f.layout.name) for f in frames} == {
        (48_000, 960, "s16", "mono")
    }
    assert np.abs(frames[1].to_ndarray()).max() > 5000
    tone.stop()
