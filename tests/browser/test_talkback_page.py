"""Talk-back from the supervision wall, in Debian's headless Chromium: an away supervisor sends
a text announcement to their venue's seat from the wall, and the expert's page (a real seat
agent connected to the hub) shows it with who sent it and when, until the expert dismisses it;
the wall offers no other venue's seat, and the hub refuses one asked for anyway with its exact
words. And push to talk: the host supervisor holds 按住讲话 on the wall with Chromium's fake
microphone, and the seat agent's talk-back receiver decodes the audio the hub forwards.

ICE runs on the machine's own addresses here (Chromium does not gather on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from seat_agent.connection import SeatLink
from seat_agent.page.app import start_page
from seat_agent.page.guard import new_page_key
from seat_agent.runner import SeatAgent
from seat_agent.talkback import TalkbackReceiver
from tests.browser.conftest import FAKE_MEDIA, launched
from tests.conftest import FakeClock
from tests.live.conftest import Rig, eventually, running_rig

pytestmark = pytest.mark.browser

HOST = "云南省公共资源交易中心（昆明）"


@pytest.fixture
async def rig(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Rig]:
    async with running_rig(tmp_path, clock) as under_test:
        yield under_test


@contextlib.asynccontextmanager
async def expert_page_of(rig: Rig, label: str, venue: str) -> AsyncIterator[str]:
    """A seat agent for the seat, connected to the hub, serving the expert's page: its URL."""
    agent = await SeatAgent.open(await rig.enrol(label, venue))
    runner, url = await start_page(agent, 0, "127.0.0.1", new_page_key())
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        yield url
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
        await runner.cleanup()


async def test_an_away_supervisor_speaks_to_their_seat_from_the_wall(
    browser: Any, rig: Rig
) -> None:
    sid, dl01 = rig.ids["session"], rig.ids["seats"]["DL-01"]
    async with expert_page_of(rig, "DL-01", "DL") as url:
        expert = await browser.new_page()
        await expert.goto(url)
        await expert.get_by_text("已连接主场").wait_for()
        assert await expert.locator("#announcements-box").is_hidden()

        wall = await browser.new_page()
        await wall.goto(f"{rig.base}/wall")
        await wall.fill("input[name=username]", "dl_supervisor")
        await wall.fill("input[name=password]", "demo-2026")
        await wall.click("button[type=submit]")
        await wall.wait_for_selector(".tile")
        target = wall.get_by_test_id("talkback-target")
        # Only 大理's seats, and no 全部工位: an away supervisor speaks to one seat at a time.
        await expect(target.locator("option")).to_have_count(2)
        labels = await target.locator("option").all_inner_texts()
        assert labels == [
            "大理州公共资源交易中心 DL-01（专家 E03）",
            "大理州公共资源交易中心 DL-02（专家 E04）",
        ]
        assert await wall.inner_text("#talkback-scope") == "客场监督：仅可向本场地的工位发送通知。"

        await target.select_option(str(dl01))
        await wall.get_by_test_id("talkback-text").fill("请将摄像头对准本人，谢谢配合。")
        await wall.click("#talkback-send")
        message = wall.get_by_test_id("talkback-message")
        await expect(message).to_have_text("已发送通知（DL.DL-01）")
        history = wall.get_by_test_id("talkback-history").locator("li")
        await expect(history).to_have_count(1)
        assert "客场监督人员 dl_supervisor → DL.DL-01 文字通知：请将摄像头对准本人，谢谢配合。" in (
            await history.inner_text()
        )

        # The expert's page shows it, with who sent it and when, until dismissed.
        notice = expert.get_by_test_id("announcement")
        await expect(notice).to_have_count(1, timeout=15_000)
        await expect(notice.get_by_test_id("announcement-text")).to_have_text(
            "请将摄像头对准本人，谢谢配合。"
        )
        sender = await notice.get_by_test_id("announcement-from").inner_text()
        assert sender.startswith("客场监督人员 · ")
        await notice.get_by_role("button", name="知道了").click()
        await expect(notice).to_have_count(0)
        await expect(expert.locator("#announcements-box")).to_be_hidden()

        # The host operator, from the host console, to every seat: the expert sees it too.
        console = await browser.new_page()
        await console.goto(f"{rig.base}/console?session={sid}")
        await console.fill("input[name=username]", "km_operator")
        await console.fill("input[name=password]", "demo-2026")
        await console.click("button[type=submit]")
        everyone = console.get_by_test_id("talkback-target").locator("option").first
        await expect(everyone).to_have_text("全部工位")
        await console.get_by_test_id("talkback-text").fill("评审将于 10 分钟后开始。")
        await console.click("#talkback-send")
        await expect(console.get_by_test_id("talkback-message")).to_have_text(
            "已发送通知（全部工位）"
        )
        await expect(notice).to_have_count(1, timeout=15_000)
        await expect(notice.get_by_test_id("announcement-text")).to_have_text(
            "评审将于 10 分钟后开始。"
        )
        assert (await notice.get_by_test_id("announcement-from").inner_text()).startswith(
            "主场业务人员 · "
        )

        # Another venue's seat, asked for through the page's own API call: refused, exactly.
        qj01 = rig.ids["seats"]["QJ-01"]
        refused = await wall.evaluate(
            """([sid, seat]) => api("POST", `/api/sessions/${sid}/announcements`,
                   {text: "越权", seat_id: seat}).then(() => null, (e) => [e.status, e.message])""",
            [sid, qj01],
        )
        assert refused == [
            403,
            f"只有主场「{HOST}」的业务人员或监督人员，或该工位所在场地的监督人员"
            f"可以向评标会 #{sid} 的工位发送通知或喊话，当前用户 dl_supervisor（监督人员）无此权限",
        ]


@pytest.fixture
async def microphone_browser(chromium_path: str) -> AsyncIterator[Any]:
    """Chromium with its fake microphone, granted without asking."""
    async with launched(chromium_path, *FAKE_MEDIA) as browser:
        yield browser


async def test_a_supervisor_holds_to_talk_and_the_seat_hears_it(
    microphone_browser: Any, rig: Rig, clock: FakeClock
) -> None:
    link = SeatLink(await rig.enrol("DL-01", "DL"), random=lambda: 0.0)
    receiver = TalkbackReceiver(link.send)
    link.on_event = receiver.on_event
    task = asyncio.create_task(link.run())
    try:
        await eventually(lambda: receiver.answered == 1, "DL-01 listens for talk-back")
        wall = await microphone_browser.new_page()
        await wall.goto(f"{rig.base}/wall")
        await wall.fill("input[name=username]", "km_supervisor")
        await wall.fill("input[name=password]", "demo-2026")
        await wall.click("button[type=submit]")
        await wall.wait_for_selector(".tile")
        target = wall.get_by_test_id("talkback-target")
        await expect(target.locator("option").first).to_have_text("全部工位")
        await target.select_option(str(rig.ids["seats"]["DL-01"]))

        talk = wall.locator("#talkback-talk")
        await talk.dispatch_event("pointerdown")
        message = wall.get_by_test_id("talkback-message")
        await expect(message).to_have_text("正在向 DL.DL-01 喊话，松开按钮结束", timeout=20_000)
        await eventually(lambda: receiver.frames >= 25, "the seat decoded half a second")
        clock.advance(seconds=3)
        await talk.dispatch_event("pointerup")
        await expect(message).to_have_text("喊话结束（3 秒）")
        history = wall.get_by_test_id("talkback-history").locator("li")
        await expect(history).to_have_count(1)
        assert (
            "主场监督人员 km_supervisor → DL.DL-01 语音喊话（3 秒）" in await history.inner_text()
        )
        heard = receiver.frames
        await asyncio.sleep(0.5)
        assert receiver.frames - heard < 10  # the turn is over: nothing more is forwarded
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await receiver.close()
