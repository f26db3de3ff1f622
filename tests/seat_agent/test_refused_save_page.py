"""The expert's page in headless Chromium shows a save the hub refused as refused, with the
hub's reason, never as delivered (已送达); the form keeps the values, and once the save can
count the expert submits it again and it is delivered. Against a real hub and a real
in-process seat agent (``ExpertSeat``); the refusal is the hub's own: the session is paused
when the save arrives, which the page cannot know."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evaluation_hub.db.engine import Database
from tests.browser.conftest import browser, chromium_path  # noqa: F401 (fixtures)
from tests.conftest import FakeClock
from tests.hub.helpers import confirm_committee
from tests.seat_agent.test_page_flow import EXPERT, Client, expert_seat, until

pytestmark = pytest.mark.browser

REASON = "评分表未被接受（已记录，不计入）：评标会当前状态为「已暂停」，不接受评分"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_refused_save_is_shown_refused_with_the_hub_s_reason(
    browser: Any,  # noqa: F811 (the fixture)
    client: Client,
    seeded: dict[str, Any],
    database: Database,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    async with expert_seat(client, seeded, database, clock, tmp_path) as seat:
        sid, desk = seat.sid, seat.desk
        await desk.check_in(str(sid), EXPERT, seat.pin)
        await until(lambda: desk.briefing is not None, "the briefing")
        await desk.commit("confirmed")
        await until(lambda: desk.commitment_result, "the commitment recorded")
        await confirm_committee(database, sid, clock())
        for action in ({"action": "start_evaluation"}, {"action": "pause", "reason": "网络检修"}):
            status, body = await seat.api("POST", f"/api/sessions/{sid}/actions", action)
            assert status == 200, body

        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(seat.opening_url)
        await page.get_by_text("已连接主场").wait_for()
        assert desk.briefing is not None
        part = desk.briefing.rubric["parts"][0]
        values = await seat.seat_values(part)
        await page.locator("#sheet tr[data-key]").first.wait_for()
        for key, cell in values.items():
            await page.get_by_test_id(f"comment-{key}").fill(cell["comment"])
            await page.get_by_test_id(f"points-{key}").fill(cell["points"])
        await page.get_by_text("可以提交").wait_for()
        await page.click("#submit-scores")

        status_line = page.get_by_test_id("save-status")
        label = f"主场未接受：{REASON}（请修改后重新提交）"
        await status_line.get_by_text(label).wait_for()
        assert await status_line.get_attribute("data-status") == "refused"
        assert await status_line.get_attribute("class") == "problem"
        progress = page.get_by_test_id(f"progress-{part['part']}")
        assert await progress.inner_text() == f"{part['part']} {part['title']}：{label}"
        assert await progress.get_attribute("data-status") == "refused"
        assert "已送达" not in await page.locator("main").inner_text()
        # The form kept what the expert typed: it can be corrected and saved again.
        first = next(iter(values))
        assert await page.get_by_test_id(f"points-{first}").input_value() == values[first]["points"]

        status, body = await seat.api(
            "POST", f"/api/sessions/{sid}/actions", {"action": "resume", "reason": "网络恢复"}
        )
        assert status == 200, body
        await page.click("#submit-scores")
        await status_line.get_by_text("已送达").wait_for()
        assert await status_line.get_attribute("data-status") == "delivered"
        await progress.get_by_text("已送达").wait_for()
        assert errors == []
        verdicts = await seat.agent.outbox.verdicts()
        assert [(v.accepted, v.code) for v in verdicts] == [
            (False, "not-scoring"),
            (True, "accepted"),
        ]
