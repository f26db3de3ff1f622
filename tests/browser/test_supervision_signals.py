"""Collusion signals on the supervisors' page (串通投标提示信号), in headless Chromium: a package
with two near-identical bids attached to the seeded session (experts seated at 大理 and 曲靖)
shows the host supervisor every signal between bidders, by place and size, under the words that
they are signals and not findings; the 大理 supervisor sees that these stay with the host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from evaluation_hub.api.pages import STATIC
from evaluation_hub.db.engine import Database
from evaluation_hub.evaluation.package import attach_package
from evaluation_hub.principal import Principal
from tests.conftest import FakeClock
from tests.evaluation.helpers import PLANTED_TOKEN, near_identical_package
from tests.supervision_api.conftest import hub_config, hub_services, seed_seated, supervision_app
from tests.support.postgres_server import free_port

pytestmark = pytest.mark.browser

NOTE = "提示信号，不构成违规认定：以下内容仅供监督人员核查，不代表存在串通投标或违规行为。"


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "supervision.html", headers={"Cache-Control": "no-store"})


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[str]:
    clock = FakeClock(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    await db.upgrade()
    ids = await seed_seated(db, clock)
    host = Principal("km_operator", "host_operator", ids["venues"]["KM"])
    services = hub_services(db, clock, tmp_path)
    package = near_identical_package(tmp_path)
    await attach_package(services, host, int(ids["session"]), package, now=clock())
    app = supervision_app(hub_config(db, tmp_path), db, clock)
    app.router.add_get("/supervision", _page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await db.dispose()


async def _sign_in(page: Any, user: str) -> None:
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", "demo-2026")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#signals p.signals-summary")


async def _cells(page: Any, kind: str) -> list[list[str]]:
    rows = page.locator(f"#signals tr[data-kind={kind}]")
    return [
        [await c.text_content() for c in await row.locator("td").all()] for row in await rows.all()
    ]


async def test_the_host_supervisor_sees_the_signals_and_the_away_one_is_told_where(
    hub: str, browser: Any, tmp_path: Path
) -> None:
    page = await browser.new_page()
    await page.goto(f"{hub}/supervision")
    await _sign_in(page, "km_supervisor")
    assert await page.text_content("#signals p.disclaimer") == NOTE
    assert await page.text_content("#signals p.signals-summary") == "共 6 条提示信号，请核查。"
    assert await _cells(page, "cross_chapter") == [
        ["跨章节内容雷同", "b01、b03", "b01 的 ch1 与 b03 的 ch2",
         "相似度 1.00，包含度 1.00；相同段落 1 处，最长 567 字"],
        ["跨章节内容雷同", "b01、b03", "b01 的 ch2 与 b03 的 ch1",
         "相似度 0.97，包含度 1.00；相同段落 1 处，最长 387 字"],
    ]  # fmt: skip
    assert await _cells(page, "same_chapter") == [
        ["同章节内容雷同", "b01、b03", "ch3", "相似度 1.00，包含度 1.00；相同段落 1 处，最长 313 字"],
        ["同章节内容雷同", "b02、b05", "ch3", "相似度 0.90，包含度 0.95；相同段落 5 处，最长 246 字"],
    ]  # fmt: skip
    assert await _cells(page, "string-code") == [
        ["相同的特殊字符串", "b01、b03", "b01 的 ch3 第 401–407 字；b03 的 ch1 第 470–476 字；b03 的 ch3 第 401–407 字",
         "7 个字符（内容不显示）"],
    ]  # fmt: skip
    assert await _cells(page, "price") == [
        ["报价尾数相同", "b01、b03", "投标报价", "末尾 4 位相同（最低位：分），超出取整可解释的范围"],
    ]  # fmt: skip
    notes = await page.locator("#signals p.hint").all_text_contents()
    assert notes == [NOTE, "专家之间的评分一致性信号在评分封存后计算。"]
    assert PLANTED_TOKEN not in (await page.text_content("#signals") or "")
    await page.screenshot(path=str(tmp_path / "signals-host.png"), full_page=True)

    await page.click("#logout")
    await page.wait_for_selector("#login-panel:not([hidden])")
    assert await page.locator("#signals tr").count() == 0
    await _sign_in(page, "dl_supervisor")
    assert await page.locator("#signals tr").count() == 0
    notes = await page.locator("#signals p.hint").all_text_contents()
    assert notes == [
        NOTE,
        "投标人之间的提示信号由主场监督人员查看。",
        "专家之间的评分一致性信号在评分封存后计算。",
    ]
    assert await page.text_content("#signals p.signals-summary") == (
        "未发现涉及本场地就座专家的提示信号。"
    )
