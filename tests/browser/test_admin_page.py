"""The admin page, in headless Chromium, against the demo hub process: sign in, see the
directory and timeline, fail a confirmation with a readable message, then confirm a request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

pytestmark = pytest.mark.browser


async def test_admin_confirms_a_request(demo_hub: str, browser: Any, tmp_path: Path) -> None:
    page = await browser.new_page()
    await page.goto(f"{demo_hub}/")
    assert await page.title() == "工位共享目录与预约管理 · 远程异地评标"
    await page.fill("input[name=username]", "hh_admin")
    await page.fill("input[name=password]", "wrong")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#message:not([hidden])")
    assert await page.text_content("#message") == "用户名或密码错误"

    await page.fill("input[name=password]", "demo-2026")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#pending tbody tr")
    assert "红河场地管理员 普华（场地管理员）" in (await page.text_content("#who-name") or "")
    # Honghe was asked for one seat without a proposal: confirming with none ticked is refused.
    row = page.locator("#pending tbody tr").first
    await row.locator("button.confirm").click()
    await page.wait_for_selector("#message:not(.ok):not([hidden])")
    message = await page.text_content("#message")
    assert message is not None and message.endswith(
        "确认时必须指定恰好 1 个不同的工位，实际指定了 0 个"
    )
    await page.click("#logout")

    await page.wait_for_selector("#login-panel:not([hidden])")
    # Signing out leaves nothing of 红河's data in the page.
    assert await page.locator("#pending tbody tr, #timeline tbody tr").count() == 0
    await page.fill("input[name=username]", "dl_admin")
    await page.fill("input[name=password]", "demo-2026")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#pending tbody tr")
    row = page.locator("#pending tbody tr").first
    booking_id = await row.get_attribute("data-booking")
    checked = await row.locator("input[type=checkbox]:checked").evaluate_all(
        "els => els.map(e => e.parentElement.textContent.trim())"
    )
    assert checked == ["DL-01", "DL-02"]
    # The timeline shows the held seats as waiting for confirmation.
    assert await page.locator("#timeline .hold.requested").count() == 2
    await row.locator("button.confirm").click()
    await page.wait_for_selector("#message.ok")
    assert await page.text_content("#message") == f"预约 #{booking_id} 已确认，分配工位 2 个。"
    await page.wait_for_selector("#no-pending:not([hidden])")
    assert await page.locator("#timeline .hold.confirmed").count() == 2
    await page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)


async def test_admin_page_updates_live_when_the_host_requests(demo_hub: str, browser: Any) -> None:
    """A request made by the host appears on the venue admin's open page without reloading."""
    page = await browser.new_page()
    await page.goto(f"{demo_hub}/admin")
    await page.fill("input[name=username]", "hh_admin")
    await page.fill("input[name=password]", "demo-2026")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#pending tbody tr")
    assert await page.locator("#pending tbody tr").count() == 1
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{demo_hub}/api/auth/token", json={"username": "km_operator", "password": "demo-2026"}
        ) as resp:
            token = (await resp.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{demo_hub}/api/sessions", headers=headers) as resp:
            session = (await resp.json())[0]
        async with http.get(f"{demo_hub}/api/venues", headers=headers) as resp:
            honghe = next(v for v in await resp.json() if v["code"] == "HH")
        async with http.post(
            f"{demo_hub}/api/bookings",
            headers=headers,
            json={"session_id": session["id"], "venue_id": honghe["id"], "seat_count": 2},
        ) as resp:
            assert resp.status == 201, await resp.text()
    await page.wait_for_function("document.querySelectorAll('#pending tbody tr').length === 2")
