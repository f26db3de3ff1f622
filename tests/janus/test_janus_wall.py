"""The supervisors' wall on ``media_backend = janus`` in Debian's headless Chromium: the same
page subscribes through the hub (Janus's offer, the page's answer with its one-time token) and
decodes a seat's video relayed by Janus; the seat's state follows Janus's events."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_wall_page import _sign_in, _wait_decoding
from tests.janus.conftest import plane
from tests.live.conftest import Rig, eventually

pytestmark = pytest.mark.browser


async def test_the_wall_watches_a_seat_through_janus(browser: Any, rig: Rig) -> None:
    await rig.publish("DL-01", "DL")
    await eventually(lambda: plane(rig).status("DL.DL-01").state == "live", "DL-01 is live")
    dl01 = rig.ids["seats"]["DL-01"]
    page = await browser.new_page()
    await _sign_in(page, rig, "dl_supervisor")
    assert await page.locator(".tile .label").all_inner_texts() == ["DL-01", "DL-02"]
    tile = page.locator(f".tile[data-seat-id='{dl01}']")
    assert await tile.locator(".state").inner_text() == "在线"
    await _wait_decoding(page, dl01)
    assert await page.evaluate("[...window.wall.viewers.keys()]") == [dl01]
    await eventually(lambda: plane(rig).status("DL.DL-01").viewers == 1, "one subscription")

    # The seat goes away: Janus hangs its publisher up, and the tile turns to 中断 live.
    seat = next(s for s in rig.seats if s.seat_key == "DL.DL-01")
    await seat.stop()
    await tile.locator(".state").filter(has_text="中断").wait_for(timeout=30_000)
