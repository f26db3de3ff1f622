"""The wall shows a seat whose control link is down (控制连接中断) even while its picture still
comes: the live state combines the seat's media with its seat websocket. The state rule alone,
the API on a real hub with a real seat, and the wall page in Debian's headless Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from evaluation_hub.live.status import seat_state
from tests.browser.test_wall_page import _frames_decoded, _sign_in, _wait_decoding
from tests.conftest import FakeClock
from tests.live.conftest import PublishingSeat, Rig, eventually, running_rig


@pytest.mark.parametrize(
    ("connection", "last_frame_at", "state"),
    [
        ("connected", 99.0, "control_lost"),  # the picture comes, the control link is down
        ("connecting", None, "control_lost"),
        ("connected", 90.0, "lost"),  # nothing comes at all: 中断, as before
        ("failed", 99.0, "lost"),
        (None, None, "offline"),
    ],
)
def test_a_seat_with_its_control_link_down(
    connection: str | None, last_frame_at: float | None, state: str
) -> None:
    publications = 0 if connection is None else 1
    assert (
        seat_state(
            connection,
            last_frame_at,
            publications=publications,
            now=100.0,
            lost_after=3.0,
            link_up=False,
        )
        == state
    )


async def _cut_control_link(seat: PublishingSeat) -> None:
    """Stop the seat's control link only: its media connection goes on."""
    seat.task.cancel()
    await asyncio.wait({seat.task})


async def test_the_api_says_control_lost_while_the_picture_still_comes(rig: Rig) -> None:
    seat = await rig.publish("DL-01", "DL")
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "DL-01 is live")
    headers = await rig.login("km_supervisor")
    session = rig.ids["session"]
    await _cut_control_link(seat)
    await eventually(lambda: rig.live.status("DL.DL-01").state == "control_lost", "the hub notices")
    assert seat.publisher.state == "connected"  # the picture still flows
    row = await rig.seat_row(session, headers, "DL-01")
    assert row["state"] == "control_lost"
    seat.task = asyncio.create_task(seat.link.run())
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "live again")
    assert (await rig.seat_row(session, headers, "DL-01"))["state"] == "live"


@pytest.fixture
async def wall_rig(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Rig]:
    # No loopback-only candidates: Chromium does not gather on 127.0.0.1.
    async with running_rig(tmp_path, clock) as under_test:
        yield under_test


@pytest.mark.browser
async def test_the_wall_shows_a_seat_whose_control_link_is_down(
    browser: Any, wall_rig: Rig
) -> None:
    rig = wall_rig
    seat = await rig.publish("DL-01", "DL")
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "DL-01 is live")
    dl01 = rig.ids["seats"]["DL-01"]
    page = await browser.new_page()
    await _sign_in(page, rig, "km_supervisor")
    tile = page.locator(f".tile[data-seat-id='{dl01}']")
    assert await tile.locator(".state").inner_text() == "在线"
    await _wait_decoding(page, dl01)

    await _cut_control_link(seat)
    await tile.locator(".state").filter(has_text="控制连接中断").wait_for(timeout=30_000)
    assert "control_lost" in (await tile.get_attribute("class") or "")
    # The picture is still there: the tile keeps decoding it.
    before = await _frames_decoded(page, dl01)
    for _ in range(100):
        if await _frames_decoded(page, dl01) > before:
            break
        await page.wait_for_timeout(100)
    assert await _frames_decoded(page, dl01) > before

    seat.task = asyncio.create_task(seat.link.run())
    await tile.locator(".state").filter(has_text="在线").wait_for(timeout=30_000)
