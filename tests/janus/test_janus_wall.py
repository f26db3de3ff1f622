"""The supervisors' wall on ``media_backend = janus`` in Debian's headless Chromium: the same
page subscribes through the hub (Janus's offer, the page's answer with its one-time token) and
decodes a seat's video relayed by Janus; the seat's state follows Janus's events. A seat that
publishes anew (a new Janus feed, the page's connection to Janus still up) is subscribed to
anew: at once when the wall hears of it, or when the old subscription goes silent when not."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.test_wall_page import _frames_decoded, _sign_in, _wait_decoding
from tests.janus.conftest import plane
from tests.live.conftest import PublishingSeat, Rig, eventually

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
    # The supervisor's figures for this viewer are the browser's own receiving report (as with
    # the built-in forwarder): frames decoded per second, bitrate, loss and round trip.
    stats = tile.locator(".stats").filter(has_text="帧/秒")
    await stats.wait_for(timeout=30_000)
    shown = await stats.inner_text()
    figures = re.fullmatch(r"(\d+\.\d) 帧/秒 · (\d+) kbps · 丢包 \d+\.\d% · 往返 (\d+ ms|—)", shown)
    assert figures is not None, shown
    assert float(figures[1]) > 0 and int(figures[2]) > 0, shown

    # The seat goes away: Janus hangs its publisher up, and the tile turns to 中断 live.
    seat = next(s for s in rig.seats if s.seat_key == "DL.DL-01")
    await seat.stop()
    await tile.locator(".state").filter(has_text="中断").wait_for(timeout=30_000)


async def _watching(browser: Any, rig: Rig) -> tuple[PublishingSeat, Any, Any, str | None]:
    """DL-01 publishing (never retrying by itself) and 大理's supervisor's wall decoding it:
    the seat, the page, DL-01's tile and its viewer's id."""
    seat = await rig.publish("DL-01", "DL", retry_delay=60.0)
    await eventually(lambda: plane(rig).status("DL.DL-01").state == "live", "DL-01 is live")
    dl01 = rig.ids["seats"]["DL-01"]
    page = await browser.new_page()
    await _sign_in(page, rig, "dl_supervisor")
    await _wait_decoding(page, dl01)
    tile = page.locator(f".tile[data-seat-id='{dl01}']")
    return seat, page, tile, await tile.get_attribute("data-viewer-id")


async def _publish_anew(rig: Rig, seat: PublishingSeat) -> None:
    """The seat's control link breaks: on the new one it publishes anew (a new Janus feed)."""
    socket = seat.link.socket
    assert socket is not None
    socket.transport.abort()
    await eventually(lambda: plane(rig).status("DL.DL-01").publications == 2, "published anew")


async def _renewed(page: Any, rig: Rig, tile: Any, first: str | None) -> None:
    """Wait until the tile decodes the seat on another viewer than ``first``."""
    for _ in range(300):
        viewer = await tile.get_attribute("data-viewer-id")
        if viewer not in (None, first) and await _frames_decoded(page, rig.ids["seats"]["DL-01"]):
            return
        await page.wait_for_timeout(100)
    raise AssertionError(f"the tile kept its viewer #{first} of the seat's old feed")


async def test_the_wall_subscribes_anew_when_the_seat_publishes_anew(
    browser: Any, rig: Rig
) -> None:
    seat, page, tile, first = await _watching(browser, rig)
    # The page's connection to Janus stays up, its feed gone: the tile subscribes to the new one.
    await _publish_anew(rig, seat)
    await eventually(lambda: plane(rig).status("DL.DL-01").state == "live", "live again")
    await _renewed(page, rig, tile, first)
    assert await page.evaluate("window.wall.resubscribed") == 1
    await eventually(lambda: plane(rig).status("DL.DL-01").viewers == 1, "the old one closed")


async def test_a_wall_that_missed_the_new_publication_notices_the_silence(
    browser: Any, rig: Rig
) -> None:
    seat, page, tile, first = await _watching(browser, rig)
    # The page hears nothing more (as when its event stream was on a hub process that died):
    # the seat publishes anew unannounced, and the tile's viewer decodes nothing from then on.
    await page.evaluate("events.close()")
    await _publish_anew(rig, seat)
    await _renewed(page, rig, tile, first)
    assert await page.evaluate("window.wall.resubscribed") == 1
    assert await tile.locator(".state").inner_text() == "在线"
