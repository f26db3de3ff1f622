"""The admin page's calendar banner (calendar-warning.js), in headless Chromium, against the hub
in this process with a fake clock: hidden 61 days before the calendar ends, shown from 60."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import FakeClock

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_admin_page_warns_from_sixty_days_before_the_calendar_ends(
    client: TestClient[Any, Any], clock: FakeClock, browser: Any
) -> None:
    page = await browser.new_page()
    clock.now = datetime(2026, 10, 31, 4, 0, tzinfo=UTC)  # 61 days before 2026-12-31
    async with page.expect_response(lambda r: r.url.endswith("/api/health")):
        await page.goto(str(client.make_url("/admin")))
    await page.wait_for_selector("#login-panel:not([hidden])")
    assert await page.is_hidden("#calendar-warning")

    clock.now = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 60 days left
    await page.reload()
    await page.wait_for_selector("#calendar-warning:not([hidden])")
    assert await page.text_content("#calendar-warning") == (
        "节假日日历只覆盖到 2026-12-31（还剩 60 天），跨入 2027 年的工作日期限届时将无法计算；"
        "请在国务院公布 2027 年节假日安排后，按通知添加 configs/holidays/2027.yaml"
    )
