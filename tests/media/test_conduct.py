"""Conduct monitor: the pure debouncing rules, and the face image through the analyser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.conduct import (
    AlertKind,
    ConductAlert,
    ConductMonitor,
    ConductRules,
    Debouncer,
    Observation,
)
from media.errors import ConductConfigError
from media.faces import FrameAnalyser
from media.testpattern import Scene, SceneRenderer, load_astronaut

RULES = ConductRules(
    empty_after=10,
    multiple_faces_after=3,
    covered_after=3,
    frozen_after=5,
    lost_after=5,
    clear_after=2,
)


def seen(at: float, faces: int = 1, dark: bool = False, motion: float | None = 3.0) -> Observation:
    return Observation(at=at, faces=faces, dark=dark, motion=motion)


# --- pure rules ------------------------------------------------------------------------------


def test_an_empty_seat_raises_once_after_the_delay_and_clears_once() -> None:
    monitor = ConductMonitor("A-01", RULES, now=0)
    events: list[ConductAlert] = []
    for t in range(30):
        events += monitor.observe(seen(t, faces=0 if 5 <= t < 20 else 1))
    assert events == [
        ConductAlert("A-01", AlertKind.SEAT_EMPTY, started_at=5),
        ConductAlert("A-01", AlertKind.SEAT_EMPTY, started_at=5, cleared_at=20),
    ]
    assert events[0].label == "工位无人"


def test_a_short_absence_raises_nothing() -> None:
    monitor = ConductMonitor("A-01", RULES, now=0)
    events = [e for t in range(20) for e in monitor.observe(seen(t, faces=0 if t < 9 else 1))]
    assert events == []


def test_a_face_missed_in_one_sample_does_not_clear_the_alert() -> None:
    monitor = ConductMonitor("A-01", RULES, now=0)
    faces = [2, 2, 2, 2, 2, 1, 2, 2, 1, 1, 1, 1]
    events = [e for t, n in enumerate(faces) for e in monitor.observe(seen(t, faces=n))]
    assert events == [
        ConductAlert("A-01", AlertKind.MULTIPLE_FACES, started_at=0),
        ConductAlert("A-01", AlertKind.MULTIPLE_FACES, started_at=0, cleared_at=8),
    ]


def test_a_dark_picture_raises_covered_and_says_nothing_about_faces() -> None:
    monitor = ConductMonitor("A-01", RULES, now=0)
    events = [e for t in range(30) for e in monitor.observe(seen(t, faces=0, dark=True))]
    assert events == [ConductAlert("A-01", AlertKind.CAMERA_COVERED, started_at=0)]
    assert monitor.active() == events


def test_an_unchanging_picture_is_frozen() -> None:
    monitor = ConductMonitor("A-01", RULES, now=0)
    motion = [None, 4.0, 0.0, 0.1, 0.0, 0.0, 0.0, 0.2, 0.0, 5.0, 5.0, 5.0]
    events = [e for t, m in enumerate(motion) for e in monitor.observe(seen(t, motion=m))]
    assert events == [
        ConductAlert("A-01", AlertKind.PICTURE_FROZEN, started_at=2),
        ConductAlert("A-01", AlertKind.PICTURE_FROZEN, started_at=2, cleared_at=9),
    ]


def test_a_silent_stream_is_lost_from_its_last_frame() -> None:
    monitor = ConductMonitor("A-01", RULES, now=100)
    assert monitor.check(103, last_frame_at=101) == []
    assert monitor.check(106, last_frame_at=101) == [
        ConductAlert("A-01", AlertKind.STREAM_LOST, started_at=101)
    ]
    assert monitor.check(107, last_frame_at=101) == []
    assert monitor.check(110, last_frame_at=109.5) == []
    assert monitor.check(112, last_frame_at=111.9) == [
        ConductAlert("A-01", AlertKind.STREAM_LOST, started_at=101, cleared_at=110)
    ]


def test_a_stream_that_never_started_is_lost_from_the_monitor_start() -> None:
    monitor = ConductMonitor("A-01", RULES, now=50)
    assert monitor.check(55, last_frame_at=None) == [
        ConductAlert("A-01", AlertKind.STREAM_LOST, started_at=50)
    ]


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "lost_after",
            0,
            "invalid conduct setting lost_after = 0: expected a duration > 0 seconds",
        ),
        (
            "empty_after",
            -1,
            "invalid conduct setting empty_after = -1: expected a duration >= 0 seconds",
        ),
        (
            "clear_after",
            -2,
            "invalid conduct setting clear_after = -2: expected a duration >= 0 seconds",
        ),
        (
            "frozen_motion",
            0,
            "invalid conduct setting frozen_motion = 0: expected a mean grey-level change > 0",
        ),
    ],
)
def test_inconsistent_rules_are_refused(setting: str, value: float, message: str) -> None:
    with pytest.raises(ConductConfigError) as caught:
        ConductRules(**{setting: value})
    assert str(caught.value) == message


@settings(max_examples=200)
@given(
    raise_after=st.integers(0, 5),
    clear_after=st.integers(0, 5),
    steps=st.lists(st.tuples(st.integers(1, 3), st.booleans()), max_size=60),
)
def test_a_debouncer_alternates_and_respects_its_delays(
    raise_after: int, clear_after: int, steps: list[tuple[int, bool]]
) -> None:
    debouncer = Debouncer(raise_after, clear_after)
    now = 0
    history: list[tuple[int, bool]] = []
    changes = []
    for gap, condition in steps:
        now += gap
        history.append((now, condition))
        change = debouncer.update(now, condition)
        if change is not None:
            changes.append((now, change))
    kinds = [change[0] for _, change in changes]
    assert kinds == ["raise", "clear"] * (len(kinds) // 2) + ["raise"] * (len(kinds) % 2)
    for at, (kind, started, cleared) in changes:
        run = [c for t, c in history if started <= t <= at]
        if kind == "raise":
            assert at - started >= raise_after and all(run)
        else:
            assert cleared is not None and at - cleared >= clear_after
            assert not any(c for t, c in history if cleared <= t <= at)


# --- through the frame analyser --------------------------------------------------------------


@pytest.fixture(scope="module")
def renderer() -> SceneRenderer:
    return SceneRenderer(640, 480, load_astronaut())


def picture(renderer: SceneRenderer, scene: Scene, index: int) -> object:
    return renderer.render(scene, index, 1_700_000_000_000_000 + index * 1_000_000)[:480]


@pytest.mark.parametrize(
    ("scene", "faces", "dark"),
    [
        (Scene.PRESENT, 1, False),
        (Scene.ABSENT, 0, False),
        (Scene.TWO_FACES, 2, False),
        (Scene.COVERED, 0, True),
    ],
)
def test_the_analyser_sees_each_scene(
    renderer: SceneRenderer, scene: Scene, faces: int, dark: bool
) -> None:
    analyser = FrameAnalyser()
    first = analyser.analyse(picture(renderer, scene, 0), at=0)  # type: ignore[arg-type]
    second = analyser.analyse(picture(renderer, scene, 15), at=1)  # type: ignore[arg-type]
    assert (second.faces, second.dark) == (faces, dark)
    assert first.motion is None
    assert second.motion is not None and second.motion > 1.0


def test_the_analyser_sees_a_repeated_picture_as_motionless(renderer: SceneRenderer) -> None:
    analyser = FrameAnalyser()
    still = picture(renderer, Scene.PRESENT, 0)
    analyser.analyse(still, at=0)  # type: ignore[arg-type]
    assert analyser.analyse(still, at=1).motion == 0.0  # type: ignore[arg-type]


def run_scenes(renderer: SceneRenderer, script: list[tuple[Scene, int]]) -> list[ConductAlert]:
    """Play scenes for so many one-second samples each, through analyser and rules."""
    analyser = FrameAnalyser()
    monitor = ConductMonitor("B-07", RULES, now=0)
    events: list[ConductAlert] = []
    t = 0
    last = picture(renderer, Scene.PRESENT, 0)
    for scene, seconds in script:
        for _ in range(seconds):
            if scene is not Scene.FROZEN:
                last = picture(renderer, scene, t * 15)
            events += monitor.observe(analyser.analyse(last, at=t))  # type: ignore[arg-type]
            t += 1
    return events


def test_present_then_absent_then_back(renderer: SceneRenderer) -> None:
    events = run_scenes(renderer, [(Scene.PRESENT, 3), (Scene.ABSENT, 12), (Scene.PRESENT, 3)])
    assert events == [
        ConductAlert("B-07", AlertKind.SEAT_EMPTY, started_at=3),
        ConductAlert("B-07", AlertKind.SEAT_EMPTY, started_at=3, cleared_at=15),
    ]


def test_a_second_face_joins(renderer: SceneRenderer) -> None:
    events = run_scenes(renderer, [(Scene.PRESENT, 2), (Scene.TWO_FACES, 4), (Scene.PRESENT, 3)])
    assert events == [
        ConductAlert("B-07", AlertKind.MULTIPLE_FACES, started_at=2),
        ConductAlert("B-07", AlertKind.MULTIPLE_FACES, started_at=2, cleared_at=6),
    ]


def test_the_camera_is_covered(renderer: SceneRenderer) -> None:
    events = run_scenes(renderer, [(Scene.PRESENT, 2), (Scene.COVERED, 20), (Scene.PRESENT, 3)])
    assert events == [
        ConductAlert("B-07", AlertKind.CAMERA_COVERED, started_at=2),
        ConductAlert("B-07", AlertKind.CAMERA_COVERED, started_at=2, cleared_at=22),
    ]


def test_the_picture_freezes(renderer: SceneRenderer) -> None:
    events = run_scenes(renderer, [(Scene.PRESENT, 2), (Scene.FROZEN, 8), (Scene.PRESENT, 3)])
    assert events == [
        ConductAlert("B-07", AlertKind.PICTURE_FROZEN, started_at=2),
        ConductAlert("B-07", AlertKind.PICTURE_FROZEN, started_at=2, cleared_at=10),
    ]


def test_a_detection_enclosing_a_face_is_not_a_second_face() -> None:
    from media.faces import _outermost_removed

    face, head_and_shoulders, neighbour = (134, 65, 52, 52), (65, 8, 182, 182), (250, 70, 40, 40)
    assert _outermost_removed([head_and_shoulders, face]) == [face]
    assert _outermost_removed([face, neighbour]) == [face, neighbour]
