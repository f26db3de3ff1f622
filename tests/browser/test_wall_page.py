"""The supervisors' video wall (监督视频墙) in Debian's headless Chromium, against a hub in this
process: seat agents publish the test pattern over aiortc through the hub's seat websocket, and
the wall decodes their video (checked through the page's RTCPeerConnection ``getStats``), shows
conduct alerts live, and an away supervisor's wall shows only their venue's seats. Chromium
itself, with its fake camera, publishes as a seat through the seat agent's local page, and a
second page (the wall) watches it. A tile refused by the seat's viewer cap says so in the hub's
words and takes the place once it is free; a viewer the hub closes is reopened by the page.

ICE runs on the machine's own addresses here (Chromium does not gather on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from media.conduct import ConductRules
from media.testpattern import Scene
from seat_agent.connection import SeatLink
from seat_agent.publisher import BrowserMediaRelay
from tests.browser.conftest import FAKE_MEDIA, launched
from tests.conftest import FakeClock
from tests.live.conftest import Rig, Viewer, eventually, running_rig
from tests.live.test_publish import decoded_frames

pytestmark = pytest.mark.browser

FRAMES_DECODED = """(seatId) => {
  const pc = window.wall.viewers.get(seatId);
  if (!pc) return 0;
  return pc.getStats().then((report) => {
    let frames = 0;
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") frames = s.framesDecoded || 0;
    });
    return frames;
  });
}"""


@pytest.fixture
async def rig(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Rig]:
    async with running_rig(tmp_path, clock) as under_test:
        yield under_test


async def _sign_in(page: Any, rig: Rig, user: str) -> None:
    await page.goto(f"{rig.base}/wall")
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", "demo-2026")
    await page.click("button[type=submit]")
    await page.wait_for_selector(".tile")


async def _frames_decoded(page: Any, seat_id: int) -> int:
    frames: int = await page.evaluate(FRAMES_DECODED, seat_id)
    return frames


async def _wait_decoding(page: Any, seat_id: int) -> None:
    for _ in range(300):
        if await _frames_decoded(page, seat_id) > 0:
            return
        await page.wait_for_timeout(100)
    raise AssertionError(f"the wall never decoded a frame of seat #{seat_id}")


async def test_host_wall_decodes_seats_video_and_shows_alerts(browser: Any, rig: Rig) -> None:
    # An empty seat raises its alert quickly here; every number is configuration.
    rig.live.conduct_rules = ConductRules(empty_after=1.0, clear_after=1.0)
    await rig.publish("DL-01", "DL")
    await rig.publish("QJ-01", "QJ", scene=Scene.ABSENT)
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "DL-01 is live")
    await eventually(lambda: rig.live.status("QJ.QJ-01").state == "live", "QJ-01 is live")
    dl01, qj01 = rig.ids["seats"]["DL-01"], rig.ids["seats"]["QJ-01"]

    page = await browser.new_page()
    await _sign_in(page, rig, "km_supervisor")
    venues = await page.locator(".venue h2").all_inner_texts()
    assert venues == ["大理州公共资源交易中心", "曲靖市公共资源交易中心"]
    labels = await page.locator(".tile .label").all_inner_texts()
    assert labels == ["DL-01", "DL-02", "QJ-01", "QJ-02"]
    assert await page.inner_text("#scope") == "主场监督：本评标会全部工位"
    tile = page.locator(f".tile[data-seat-id='{dl01}']")
    assert await tile.locator(".expert").inner_text() == "专家 E03"
    assert await tile.locator(".state").inner_text() == "在线"
    offline = page.locator(f".tile[data-seat-id='{rig.ids['seats']['DL-02']}'] .state")
    assert await offline.inner_text() == "未推流"

    await _wait_decoding(page, dl01)
    await _wait_decoding(page, qj01)
    # The tile's statistics line comes from the same getStats.
    stats = page.locator(f".tile[data-seat-id='{dl01}'] .stats").filter(has_text="帧/秒")
    await stats.wait_for(timeout=30_000)
    assert "kbps" in await stats.inner_text()

    # The empty seat's alert reaches the wall live: a badge on its tile and a line in the feed.
    badge = page.locator(f".tile[data-seat-id='{qj01}'] .badge[data-kind='seat_empty']")
    await badge.wait_for(timeout=30_000)
    assert await badge.inner_text() == "工位无人"
    feed = await page.locator("#feed li").all_inner_texts()
    assert any("曲靖市公共资源交易中心 QJ-01 告警：工位无人" in line for line in feed)
    assert await page.locator(f".tile[data-seat-id='{dl01}'] .badge").count() == 0

    # Click to enlarge and listen to one seat; clicking another moves it there.
    await tile.click()
    assert "enlarged" in (await tile.get_attribute("class") or "")
    assert await tile.locator("video").evaluate("(v) => v.muted") is False
    other = page.locator(f".tile[data-seat-id='{qj01}']")
    await other.click()
    assert await tile.locator("video").evaluate("(v) => v.muted") is True
    assert "enlarged" not in (await tile.get_attribute("class") or "")
    assert await other.locator("video").evaluate("(v) => v.muted") is False


async def test_away_supervisors_wall_shows_only_their_venue(browser: Any, rig: Rig) -> None:
    await rig.publish("DL-01", "DL")
    await rig.publish("QJ-01", "QJ")
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "DL-01 is live")
    await eventually(lambda: rig.live.status("QJ.QJ-01").state == "live", "QJ-01 is live")
    page = await browser.new_page()
    await _sign_in(page, rig, "qj_supervisor")
    assert await page.locator(".venue h2").all_inner_texts() == ["曲靖市公共资源交易中心"]
    assert await page.locator(".tile .label").all_inner_texts() == ["QJ-01", "QJ-02"]
    assert await page.inner_text("#scope") == "客场监督：仅本场地工位"
    await _wait_decoding(page, rig.ids["seats"]["QJ-01"])
    # The page opened no viewer for another venue's seat, and the hub forwards none to it.
    assert await page.evaluate("[...window.wall.viewers.keys()]") == [rig.ids["seats"]["QJ-01"]]
    assert rig.live.status("DL.DL-01").viewers == 0

    # The seat goes away: its tile turns to 中断 live, through the event stream.
    qj_seat = next(seat for seat in rig.seats if seat.seat_key == "QJ.QJ-01")
    await qj_seat.stop()
    tile = page.locator(f".tile[data-seat-id='{rig.ids['seats']['QJ-01']}']")
    await tile.locator(".state").filter(has_text="中断").wait_for(timeout=30_000)
    assert "lost" in (await tile.get_attribute("class") or "")


@pytest.fixture
async def camera_browser(chromium_path: str) -> AsyncIterator[Any]:
    """Chromium with its fake camera and microphone, granted without asking."""
    async with launched(chromium_path, *FAKE_MEDIA) as browser:
        yield browser


async def test_chromium_publishes_its_camera_as_a_seat_and_the_wall_watches_it(
    camera_browser: Any, rig: Rig
) -> None:
    identity = await rig.enrol("DL-02", "DL")
    link = SeatLink(identity, random=lambda: 0.0)
    relay = BrowserMediaRelay(link.send)
    link.on_event = relay.on_event
    link_task = asyncio.create_task(link.run())
    local = TestServer(relay.app(), host="127.0.0.1")
    await local.start_server()
    try:
        camera = await camera_browser.new_page()
        await camera.goto(f"http://127.0.0.1:{local.port}/")
        await eventually(lambda: rig.live.status("DL.DL-02").state == "live", "DL-02 is live")
        await camera.locator("#status").filter(has_text="正在向主场推送音视频").wait_for()

        wall = await camera_browser.new_page()
        await _sign_in(wall, rig, "dl_supervisor")
        seat_id = rig.ids["seats"]["DL-02"]
        tile = wall.locator(f".tile[data-seat-id='{seat_id}']")
        assert await tile.locator(".state").inner_text() == "在线"
        await _wait_decoding(wall, seat_id)
        assert rig.live.status("DL.DL-02").viewers == 1
    finally:
        await local.close()
        link_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await link_task


async def _viewer_id(page: Any, seat_id: int) -> int | None:
    text = await page.locator(f".tile[data-seat-id='{seat_id}']").get_attribute("data-viewer-id")
    return None if text is None else int(text)


async def test_a_tile_refused_by_the_viewer_cap_says_so_and_takes_a_freed_place(
    browser: Any, rig: Rig
) -> None:
    rig.live.max_viewers_per_seat = 1
    await rig.publish("DL-01", "DL")
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "DL-01 is live")
    session, dl01 = rig.ids["session"], rig.ids["seats"]["DL-01"]
    # Another supervisor's window holds the seat's only place.
    other = Viewer()
    try:
        await other.watch(rig, session, dl01, await rig.login("dl_supervisor"))
        await eventually(lambda: "video" in other.tracks, "the other viewer's video track")
        assert len(await decoded_frames(other.tracks["video"], 3)) == 3

        page = await browser.new_page()
        await _sign_in(page, rig, "km_supervisor")
        tile = page.locator(f".tile[data-seat-id='{dl01}']")
        # The tile says why it stays black, in the hub's words, and offers to retry now.
        reason = tile.locator(".notice .reason")
        await reason.filter(has_text="上限").wait_for(timeout=30_000)
        assert await reason.inner_text() == (
            "该工位的观看人数已达上限（1 路），请关闭其他观看窗口后再试"
        )
        retry = tile.locator(".notice button.retry")
        assert await retry.inner_text() == "立即重试"
        assert await retry.is_visible()
        assert await page.evaluate("[...window.wall.viewers.keys()]") == []
        # Nothing changed for the viewer already watching.
        assert len(await decoded_frames(other.tracks["video"], 5)) == 5
        assert rig.live.status("DL.DL-01").viewers == 1

        # The other window's viewer is closed (what its DELETE does); the supervisor clicks
        # 立即重试 and the tile plays.
        assert other.viewer_id is not None
        await rig.live.stop_viewer(other.viewer_id)
        assert rig.live.status("DL.DL-01").viewers == 0
        # Dispatched, not clicked: a background retry may have hidden the button already.
        await retry.dispatch_event("click")
        await _wait_decoding(page, dl01)
        await tile.locator(".notice").wait_for(state="hidden", timeout=30_000)
        assert rig.live.status("DL.DL-01").viewers == 1
        assert "enlarged" not in (await tile.get_attribute("class") or "")
    finally:
        await other.close()


async def test_the_wall_reopens_a_viewer_the_hub_closed(browser: Any, rig: Rig) -> None:
    await rig.publish("DL-01", "DL")
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "DL-01 is live")
    dl01 = rig.ids["seats"]["DL-01"]
    page = await browser.new_page()
    await _sign_in(page, rig, "km_supervisor")
    await _wait_decoding(page, dl01)
    first = await _viewer_id(page, dl01)
    assert first is not None
    assert rig.live.status("DL.DL-01").viewers == 1
    await page.evaluate("(seatId) => { window.firstPc = window.wall.viewers.get(seatId); }", dl01)

    # The hub closes that viewer (as when its connection fails on the hub's side).
    await rig.live.stop_viewer(first)
    assert rig.live.status("DL.DL-01").viewers == 0

    # The page notices by itself, opens a new viewer and decodes again on it.
    reopened = """(seatId) => {
      const pc = window.wall.viewers.get(seatId);
      return pc !== undefined && pc !== window.firstPc && pc.connectionState === "connected";
    }"""
    await page.wait_for_function(reopened, arg=dl01, timeout=90_000)
    await _wait_decoding(page, dl01)
    second = await _viewer_id(page, dl01)
    assert second is not None
    assert second != first
    # The hub holds the new viewer only: the old one is gone, nothing leaked.
    assert rig.live.viewer(first) is None
    assert rig.live.viewer(second) is not None
    assert rig.live.status("DL.DL-01").viewers == 1
    assert await page.evaluate("window.firstPc.connectionState") == "closed"
    tile = page.locator(f".tile[data-seat-id='{dl01}']")
    await tile.locator(".notice").wait_for(state="hidden", timeout=30_000)

    # Signed out, the wall opens nothing more and the hub has no viewer left.
    await page.click("#logout")
    await eventually(lambda: rig.live.status("DL.DL-01").viewers == 0, "the viewer is closed")
    assert await page.evaluate("window.wall.viewers.size") == 0


async def test_leaving_the_wall_releases_its_viewers_at_once(
    browser: Any, rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page asks the hub to close its viewers as it goes away (a keepalive DELETE on
    pagehide), whether it is navigated away from or its tab closed:
    their places are free at once, not when the connections time out. (Here the hub may hear
    of the closed connection first; the DELETE is what a page that dies with its network still
    sends.)"""
    from evaluation_hub.live import watching

    await rig.publish("DL-01", "DL")
    await eventually(lambda: rig.live.status("DL.DL-01").state == "live", "DL-01 is live")
    dl01 = rig.ids["seats"]["DL-01"]
    released: list[tuple[str, int]] = []
    close_viewer = watching.close_viewer

    async def spy(live: Any, who: Any, viewer_id: int) -> None:  # DELETE /api/live/viewers/{id}
        released.append((who.username, viewer_id))
        await close_viewer(live, who, viewer_id)

    monkeypatch.setattr(watching, "close_viewer", spy)
    for leave in ("navigate", "close"):
        # A browser that stays open (closing a page made by browser.new_page would end its
        # whole context, and the context's requests with it; closing a tab does not).
        context = await browser.new_context()
        try:
            page = await context.new_page()
            await _sign_in(page, rig, "km_supervisor")
            await _wait_decoding(page, dl01)
            viewer = await _viewer_id(page, dl01)
            assert viewer is not None
            assert rig.live.status("DL.DL-01").viewers == 1
            if leave == "navigate":
                await page.goto("about:blank")
            else:
                await page.close(run_before_unload=True)  # as a person closing the tab
            await eventually(
                lambda v=viewer: ("km_supervisor", v) in released,
                f"the page released it ({leave})",
            )
            await eventually(lambda: rig.live.status("DL.DL-01").viewers == 0, "the place is free")
        finally:
            await context.close()
