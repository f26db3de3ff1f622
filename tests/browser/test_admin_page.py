"""The admin page, in headless Chromium, against the demo hub process: sign in, see the
directory and timeline, fail a confirmation with a readable message, then confirm a request;
live updates; approving a real seat terminal's enrolment by its printed code; and a refresh
whose answers arrive out of order never showing half a page."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
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
    # Change nothing before the page's event stream is open: an earlier change sends it nothing.
    await page.wait_for_selector("#admin-panel[data-live=open]")
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
    await page.wait_for_function(
        "() => document.querySelectorAll('#pending tbody tr').length === 2"
    )


async def _seat_agent(*args: str) -> str:
    """Run the real ``seat-agent`` command; its standard output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "seat_agent.cli",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def _host_requests_seats(demo_hub: str, venue_code: str, seat_count: int) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{demo_hub}/api/auth/token", json={"username": "km_operator", "password": "demo-2026"}
        ) as resp:
            token = (await resp.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{demo_hub}/api/sessions", headers=headers) as resp:
            session = (await resp.json())[0]
        async with http.get(f"{demo_hub}/api/venues", headers=headers) as resp:
            venue = next(v for v in await resp.json() if v["code"] == venue_code)
        async with http.post(
            f"{demo_hub}/api/bookings",
            headers=headers,
            json={"session_id": session["id"], "venue_id": venue["id"], "seat_count": seat_count},
        ) as resp:
            assert resp.status == 201, await resp.text()


async def test_admin_approves_a_seat_terminal_by_its_printed_code(
    demo_hub: str, browser: Any, tmp_path: Path
) -> None:
    """A real ``seat-agent init`` + ``enroll`` at 大理's seat DL-03 while its venue admin has
    the page open: the request appears live; the admin types the printed code (a wrong one
    first), approves, then revokes."""
    page = await browser.new_page()
    await page.goto(f"{demo_hub}/admin")
    await page.fill("input[name=username]", "dl_admin")
    await page.fill("input[name=password]", "demo-2026")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#no-enrolments:not([hidden])")
    await page.wait_for_selector("#admin-panel[data-live=open]")

    state = str(tmp_path / "seat")
    hub_ws = demo_hub.replace("http://", "ws://") + "/ws/seat"
    await _seat_agent("init", "--state-dir", state, "--seat-id", "DL.DL-03", "--hub", hub_ws)
    printed = await _seat_agent("enroll", "--state-dir", state, "--no-wait")
    match = re.search(r"登记码：(\d{5}(?: \d{5}){4})", printed)
    assert match, printed
    code = match.group(1)
    # No reload and no click on 刷新: the hub's live event brings the request in.
    row = page.locator('#enrolments tbody tr[data-seat-key="DL.DL-03"]')
    await row.wait_for()
    assert await row.locator("td").nth(2).text_content() == "待批准"
    # The page does not show the code: the admin must read it off the terminal's screen.
    assert code not in (await page.text_content("#enrolments") or "")

    # Whatever the admin types is shown in the terminal's five groups, with a count.
    await row.locator("input.enrolment-code").fill("12345-67890-12345-67890-1234")
    assert await row.locator("input.enrolment-code").input_value() == (
        "12345 67890 12345 67890 1234"
    )
    assert await row.locator(".code-progress").text_content() == "24/25 位"
    await row.locator("input.enrolment-code").fill("12345-67890-12345-67890-12345")
    assert await row.locator(".code-progress").text_content() == "25/25 位"
    await row.locator("button.approve").click()
    await page.wait_for_selector("#message:not(.ok):not([hidden])")
    assert await page.text_content("#message") == (
        "登记码与工位「DL.DL-03」的登记申请不符，请核对评标终端屏幕上显示的登记码"
    )

    # What the admin typed survives a live refresh (a booking request arriving meanwhile).
    await row.locator("input.enrolment-code").fill(code.replace(" ", ""))
    assert await row.locator("input.enrolment-code").input_value() == code
    await _host_requests_seats(demo_hub, "DL", 1)
    await page.wait_for_function(
        "() => document.querySelectorAll('#pending tbody tr').length === 2"
    )
    assert await row.locator("input.enrolment-code").input_value() == code
    assert await row.locator(".code-progress").text_content() == "25/25 位"

    await row.locator("button.approve").click()
    await page.wait_for_selector("#message.ok")
    assert await page.text_content("#message") == (
        "工位 DL-03 的终端登记已批准，该终端现在可以连接评标系统。"
    )
    await page.wait_for_function(
        "() => document.querySelector('#enrolments tbody tr[data-seat-key=\"DL.DL-03\"] td:nth-child(3)')"
        "?.textContent === '已批准'"
    )
    assert await row.locator("input.enrolment-code").count() == 0

    await row.locator("button.revoke").click()
    await page.wait_for_selector("#no-enrolments:not([hidden])")
    assert await page.text_content("#message") == "工位 DL-03 的终端登记已吊销，该终端须重新登记。"
    assert await page.locator("#enrolments tbody tr").count() == 0


HALF_RENDERED_WATCH = """
window.halfRendered = [];
new MutationObserver(() => {
  const pending = document.querySelectorAll("#pending tbody tr").length;
  const timeline = document.querySelectorAll("#timeline tbody tr").length;
  if (pending > 0 && timeline === 0) window.halfRendered.push([pending, timeline]);
}).observe(document, { subtree: true, childList: true });
"""


async def test_a_slow_answer_never_leaves_the_page_half_refreshed(
    demo_hub: str, browser: Any
) -> None:
    """The cause of the old flakiness: the tables of one refresh were rendered as each answer
    arrived, so a check made between them saw the pending requests without the timeline. Here
    the timeline's answer is held back until the pending table's own requests have finished;
    the page must still show both tables together (checked on every DOM change)."""
    page = await browser.new_page()
    await page.add_init_script(HALF_RENDERED_WATCH)
    seats_answered = asyncio.Event()

    def finished(request: Any) -> None:
        if "/api/seats?" in request.url:
            seats_answered.set()

    async def hold_timeline(route: Any) -> None:
        await seats_answered.wait()
        await route.continue_()

    page.on("requestfinished", finished)
    await page.route("**/api/venues/*/timeline*", hold_timeline)
    await page.goto(f"{demo_hub}/admin")
    await page.fill("input[name=username]", "dl_admin")
    await page.fill("input[name=password]", "demo-2026")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#pending tbody tr")
    assert await page.locator("#timeline .hold.requested").count() == 2
    assert await page.evaluate("window.halfRendered") == []
