"""The host site's page in headless Chromium against the demo hub: allocate, run the session's
lifecycle (the committee confirms before the start), see the outage clock, issue check-in PINs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evaluation_hub.db.engine import Database
from tests.hub.helpers import confirm_committee

pytestmark = pytest.mark.browser


async def _signed_in(browser: Any, demo_hub: str) -> Any:
    """The host page signed in as the demo's host operator, its bookings shown."""
    page = await browser.new_page()
    await page.goto(f"{demo_hub}/host")
    assert await page.title() == "主场评标会管理 · 远程异地评标"
    await page.fill("input[name=username]", "km_operator")
    await page.fill("input[name=password]", "demo-2026")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#bookings tbody tr")
    return page


async def test_host_runs_a_session(demo_hub: str, browser: Any, tmp_path: Path) -> None:
    page = await _signed_in(browser, demo_hub)
    assert await page.text_content("#state") == "当前状态：已排期"
    assert await page.locator("#bookings tbody tr").count() == 3  # the demo's three requests

    # Nearest allocation seats the experts who have no seat yet and requests their seats.
    await page.click("#allocate-nearest")
    await page.wait_for_selector("#message.ok")
    assert (await page.text_content("#message") or "").startswith("已就近分配 5 名专家")
    await page.wait_for_function("() => document.querySelectorAll('#bookings tbody tr').length > 3")

    # The host moves the session on; each button is one allowed action.
    await page.click("#actions button[data-action=confirm_seats]")
    await page.wait_for_selector("#actions button[data-action=open_check_in]")
    await page.click("#actions button[data-action=open_check_in]")
    await page.wait_for_selector("#actions button[data-action=start_evaluation]")
    # The committee confirms the integrity commitment before the start (the host page has no
    # form for it): written into the demo's database as the host and the seats would.
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'demo' / 'hub.db'}")
    try:
        assert len(await confirm_committee(db, 1, datetime.now(UTC))) == 7
    finally:
        await db.dispose()
    await page.click("#actions button[data-action=start_evaluation]")
    await page.wait_for_function(
        "() => document.querySelector('#state').textContent === '当前状态：评审中'"
    )

    # A fault during evaluation: the page says the session must be paused now.
    await page.fill("#fault-note", "红河分会场断网")
    await page.click("#fault-report")
    # Found by its text: near the evening cut-off (开评分离) the list names that too.
    await page.locator("#due li.due-now").filter(has_text="应立即暂停评标会").wait_for()
    await page.click("#actions button[data-action=pause]")
    await page.wait_for_selector("#message:not(.ok):not([hidden])")
    assert await page.text_content("#message") == "暂停必须填写原因"
    await page.fill("#reason", "红河分会场断网")
    await page.click("#actions button[data-action=pause]")
    await page.wait_for_function(
        "() => document.querySelector('#state').textContent === '当前状态：已暂停'"
    )
    assert await page.locator("#history tbody tr").count() == 4

    # Seats must be confirmed before PINs are issued.
    await page.click("#issue-pins")
    await page.wait_for_selector("#message:not(.ok):not([hidden])")
    assert "还没有安排到已确认工位的专家" in (await page.text_content("#message") or "")


async def test_an_answer_from_before_an_action_does_not_undo_it_on_the_page(
    demo_hub: str, browser: Any
) -> None:
    """A refresh asked before the host confirms the seats, answered after: the page keeps what
    the confirmation showed (it used to show the old state and buttons until the next event)."""
    page = await _signed_in(browser, demo_hub)
    await page.click("#allocate-nearest")
    await page.wait_for_selector("#message.ok")
    await page.wait_for_selector("#actions button[data-action=confirm_seats]")

    # The next lifecycle answer is read by the hub now and handed to the page later.
    held: list[tuple[Any, Any]] = []
    answered = asyncio.Event()

    async def hold_one(route: Any) -> None:
        if held or route.request.method != "GET":
            await route.continue_()
            return
        held.append((route, await route.fetch()))
        answered.set()

    await page.route("**/api/sessions/*/lifecycle", hold_one)
    await page.evaluate("() => { refresh(); }")
    await asyncio.wait_for(answered.wait(), 30)
    assert await page.text_content("#state") == "当前状态：已排期"

    await page.click("#actions button[data-action=confirm_seats]")
    await page.wait_for_selector("#actions button[data-action=open_check_in]")
    confirmed = await page.text_content("#state")
    assert confirmed != "当前状态：已排期"

    route, stale = held[0]
    async with page.expect_event("requestfinished", lambda r: r is route.request):
        await route.fulfill(response=stale)
    # Let the page read and handle the answer it was just given (a few turns of its event loop).
    await page.evaluate(
        "async () => { for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20)); }"
    )
    assert await page.text_content("#state") == confirmed
    assert await page.locator("#actions button[data-action=confirm_seats]").count() == 0
    assert await page.locator("#actions button[data-action=open_check_in]").count() == 1
