"""A seat's live state from its connection and its last frame, and how a refused media request
reads (``evaluation_hub.live.status``): pure, plain numbers."""

from __future__ import annotations

import pytest

from evaluation_hub.errors import Conflict, InvalidInput
from evaluation_hub.live.status import MediaRefused, seat_state


@pytest.mark.parametrize(
    ("connection", "last_frame_at", "publications", "state"),
    [
        (None, None, 0, "offline"),  # never published
        (None, 99.0, 2, "lost"),  # had published, its connection is gone
        ("new", None, 1, "connecting"),
        ("connecting", None, 1, "connecting"),
        ("connected", None, 1, "connecting"),  # no frame yet
        ("connected", 98.0, 1, "live"),  # 2 s ago, within lost_after
        ("connected", 97.0, 1, "live"),  # exactly lost_after ago
        ("connected", 96.5, 1, "lost"),  # frames stopped
        ("failed", 99.9, 1, "lost"),
        ("closed", 99.9, 1, "lost"),
    ],
)
def test_seat_state(
    connection: str | None, last_frame_at: float | None, publications: int, state: str
) -> None:
    assert (
        seat_state(connection, last_frame_at, publications=publications, now=100.0, lost_after=3.0)
        == state
    )


def test_a_refusal_is_a_conflict_or_an_unusable_offer() -> None:
    busy = MediaRefused("too-many-viewers", "该工位的观看人数已达上限", 409)
    assert (busy.status, busy.title, busy.code, busy.message) == (
        409,
        Conflict.title,
        "too-many-viewers",
        "该工位的观看人数已达上限",
    )
    bad = MediaRefused("media-offer-invalid", "工位的音视频推送请求无法处理")
    assert (bad.status, bad.title, bad.detail) == (
        422,
        InvalidInput.title,
        "工位的音视频推送请求无法处理",
    )
