"""The supervisors' page (联合监督), in headless Chromium, against a hub started in-process with
the supervision routes: the host supervisor raises and concludes an incident about an expert
seated at 曲靖 and sees the copy notice with its due date; once the due date has passed the
曲靖 supervisor sees it marked overdue (逾期), only their part of the session, and acknowledges.

Until the page and routes are wired into ``api.app``/``api.pages`` the test adds them itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from evaluation_hub.api.pages import STATIC
from evaluation_hub.db.engine import Database
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
