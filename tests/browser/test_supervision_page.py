"""The supervisors' page (联合监督), in headless Chromium, against a hub started in-process with
the supervision routes: the host supervisor raises and concludes an incident about an expert
seated at 曲靖 and sees the copy notice with its due date; once the due date has passed the
曲靖 supervisor sees it marked overdue (逾期), only their part of the session, and acknowledges.
And presence at check-in: a check-in whose seat sent no picture is listed unconfirmed, the away
supervisor reads it, the host supervisor confirms it by hand with a reason.

Until the page and routes are wired into ``api.app``/``api.pages`` the test adds them itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import expect

from evaluation_hub.api.keys import SERVICES
from evaluation_hub.api.pages import STATIC
from evaluation_hub.checkin.store import check_in, issue_pins
from evaluation_hub.db.engine import Database
from evaluation_hub.principal import Principal
from tests.conftest import FakeClock
from tests.supervision_api.conftest import hub_config, seed_seated, supervision_app
from tests.support.postgres_server import free_port

pytestmark = pytest.mark.browser


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "supervision.html", headers={"Cache-Control": "no-store"})


@pytest.fixture
def hub_clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))  # Monday 09:00 Beijing


@pytest.fixture
async def hub(tmp_path: Path, hub_clock: FakeClock) -> AsyncIterator[str]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    await db.upgrade()
    await seed_seated(db, hub_clock)
    app = supervision_app(hub_config(db, tmp_path), db, hub_clock)
    app.router.add_get("/supervision", _page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await db.dispose()


async def _sign_in(page: Any, user: str) -> None:
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", "demo-2026")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#record tbody tr")


async def test_host_concludes_and_the_away_supervisor_acknowledges(
    hub: str, browser: Any, hub_clock: FakeClock, tmp_path: Path
) -> None:
    page = await browser.new_page()
    await page.goto(f"{hub}/supervision")
    assert await page.title() == "联合监督 · 远程异地评标"
    await _sign_in(page, "km_supervisor")
    assert await page.locator("#record tbody tr").count() == 7
    qj_row = page.locator("#record tbody tr[data-expert=E06]")
    assert await qj_row.locator("td").nth(2).text_content() == "QJ-01"
    assert await qj_row.locator("td").nth(4).text_content() == (
        "曲靖市公共资源交易中心（曲靖市发展和改革委员会）"
    )

    form = page.locator("#incident-form")
    await form.locator("select[name=expert_id]").select_option(label="E06 吴振华")
    await form.locator("input[name=kind]").fill("评标期间使用手机")
    await form.locator("select[name=severity]").select_option("serious")
    await form.locator("input[name=segment]").fill("seg-QJ-01-0003")
    await form.locator("input[name=offset]").fill("754")
    await form.locator("input[name=description]").fill("监控画面显示专家使用手机")
    await form.locator("button[type=submit]").click()
    await page.wait_for_selector("#incidents tbody tr")
    row = page.locator("#incidents tbody tr").first
    incident_id = await row.get_attribute("data-incident")
    assert await page.text_content("#message") == f"监督事件 #{incident_id} 已登记。"
    assert "录像 seg-QJ-01-0003 第 754 秒" in (await row.text_content() or "")

    # Concluded on Mon 2026-11-30; December 2026 has no holiday, so the 7th working day after
    # is Wed 2026-12-09 (12-01, 02, 03, 04, 07, 08, 09), checked by hand.
    await row.locator("input[placeholder=处理结果]").fill("给予警告")
    await row.locator("button.conclude").click()
    await page.wait_for_selector("#notices tbody tr")
    notice = page.locator("#notices tbody tr").first
    assert await notice.locator("td").nth(3).text_content() == "曲靖市发展和改革委员会"
    assert await notice.locator("td.due").text_content() == "2026-12-09 前（剩 7 个工作日）"
    assert await notice.locator("td").nth(6).text_content() == "待接收"
    # The host has nothing to acknowledge.
    assert await notice.locator("button.acknowledge").count() == 0

    await page.click("#logout")
    await page.wait_for_selector("#login-panel:not([hidden])")
    assert (
        await page.locator("#record tbody tr, #incidents tbody tr, #notices tbody tr").count() == 0
    )

    hub_clock.now = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # the day after the due date
    await _sign_in(page, "qj_supervisor")
    assert await page.locator("#record tbody tr").count() == 2  # E06 and E07 sit at 曲靖
    assert await page.locator("#incident-form").is_hidden()
    notice = page.locator("#notices tbody tr").first
    await page.wait_for_selector("#notices tbody tr.overdue")
    assert await notice.locator("td").nth(6).text_content() == "已逾期逾期"
    assert await notice.locator(".overdue-mark").text_content() == "逾期"
    assert await notice.locator("td.due").text_content() == "2026-12-09 前（已超 1 个工作日）"
    await notice.locator("button.acknowledge").click()
    await page.wait_for_selector("#notices tbody tr td.acknowledged")
    notice = page.locator("#notices tbody tr").first
    assert await notice.locator("td").nth(6).text_content() == "已接收"
    assert await notice.locator("td").nth(7).text_content() == "qj_supervisor，2026-12-10 09:00"
    await page.screenshot(path=str(tmp_path / "supervision.png"), full_page=True)


PRESENCE_REASON = "经视频连线核对本人身份证件"


@pytest.fixture
async def checked_in_hub(tmp_path: Path, hub_clock: FakeClock) -> AsyncIterator[str]:
    """The hub with E06 checked in at 曲靖 QJ-01 from a terminal that sends no picture: the
    check-in stands, its presence unconfirmed (未检测到画面) and raised as an incident."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    await db.upgrade()
    ids = await seed_seated(db, hub_clock)
    app = supervision_app(hub_config(db, tmp_path), db, hub_clock)
    app.router.add_get("/supervision", _page)
    hub = app[SERVICES]
    host = Principal("km_operator", "host_operator", ids["venues"]["KM"])
    pins = {
        p.expert_code: p.pin for p in await issue_pins(hub, host, ids["session"], now=hub_clock())
    }
    hub_clock.now = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)  # 08:30 Beijing, in the window
    await check_in(
        hub, seat_id=ids["seats"]["QJ-01"], expert_code="E06", pin=pins["E06"], now=hub_clock()
    )
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await db.dispose()


async def test_a_host_supervisor_confirms_presence_by_hand(
    checked_in_hub: str, browser: Any
) -> None:
    page = await browser.new_page()
    await page.goto(f"{checked_in_hub}/supervision")
    await _sign_in(page, "qj_supervisor")
    row = page.locator("#presence tbody tr[data-presence=E06]")
    await expect(row.locator("td")).to_have_text(
        [
            "E06",
            "曲靖市公共资源交易中心",
            "QJ-01",
            "2026-12-01 08:30",
            "未确认本人在场",
            "未检测到画面",
            "—",
            "",
        ]
    )
    assert await row.locator("button").count() == 0  # the away site reads, the host confirms
    await page.click("#logout")
    await page.wait_for_selector("#login-panel:not([hidden])")

    await _sign_in(page, "km_supervisor")
    incident = page.locator("#incidents tbody tr").first
    await expect(incident.locator("td").nth(3)).to_have_text("签到时未确认本人在场")
    await expect(row.locator("td.presence")).to_have_text("未确认本人在场")
    await row.locator("button.confirm-presence").click()  # without a reason: refused
    await expect(page.locator("#message")).to_have_text("字段 reason 不能为空")
    await row.locator("input").fill(PRESENCE_REASON)
    await row.locator("button.confirm-presence").click()
    await expect(row.locator("td.presence")).to_have_text("已人工确认在场")
    await expect(row.locator("td").nth(6)).to_have_text(
        f"km_supervisor，2026-12-01 08:30：{PRESENCE_REASON}"
    )
    assert await row.locator("button").count() == 0
    # The presence incident carries the confirmation as its handling.
    await expect(incident.locator("td").nth(5)).to_have_text("处理中")
    await expect(incident.locator("td").nth(7)).to_contain_text(
        f"km_supervisor：人工确认本人在场：{PRESENCE_REASON}"
    )
