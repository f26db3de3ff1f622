"""The expert's page in headless Chromium, against a real hub (``create_app``) and a real
in-process seat agent: check in, read a chapter, score (fixing a validation error first),
submit, answer a deviation review and sign the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evaluation_hub.db.engine import Database
from tests.conftest import FakeClock
from tests.hub.helpers import confirm_committee
from tests.seat_agent.test_page_flow import EXPERT, Client, expert_seat, until


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_an_expert_works_through_the_page(
    browser: Any,
    client: Client,
    seeded: dict[str, Any],
    database: Database,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    async with expert_seat(client, seeded, database, clock, tmp_path) as seat:
        sid = seat.sid
        status, body = await seat.api("POST", f"/api/sessions/{sid}/chapters")
        assert status in (200, 201), body
        page = await browser.new_page()
        try:
            await page.goto(seat.page_url)
            await page.get_by_text("已连接主场").wait_for()

            # --- check in: a wrong PIN first, then the right one
            await page.fill("#session_id", str(sid))
            await page.fill("#expert_code", EXPERT)
            await page.fill("#pin", "000000" if seat.pin != "000000" else "111111")
            await page.click("#checkin-submit")
            await page.get_by_text("签到码错误，还可尝试 4 次").wait_for()
            await page.fill("#pin", seat.pin)
            await page.click("#checkin-submit")
            await page.get_by_text(f"专家 {EXPERT} 签到成功").wait_for()
            count = page.get_by_test_id("bidder-count")
            assert await count.inner_text() == "本项目共有 5 家投标人；评分封存前不显示投标人名称。"
            assert await page.locator("#chapters-box").is_hidden()
            await page.click("#commit-confirm")
            await page.get_by_text("已承诺，可以开始评审（已记录评标纪律承诺）").wait_for()

            # --- the chapters, in the expert's order, labels only; open the first one
            assert seat.agent.chapters is not None
            chapters = seat.agent.chapters
            await until(
                lambda: chapters.entries() and all(c.complete for c in chapters.entries()),
                "the chapters downloaded",
            )
            first = chapters.entries()[0]
            link = page.locator(f'#chapters a[data-label="{first.label}"]')
            await link.wait_for()
            await link.click()
            reader = page.get_by_test_id("reader")
            await page.wait_for_function("document.getElementById('reader').textContent.length > 0")
            assert await reader.inner_text() == await chapters.read(first.label)
            listing = await page.get_by_test_id("chapters").inner_text()
            for bidder in ("b01", "b02", "b03", "b04", "b05"):
                assert bidder not in listing

            # --- score every part; the first part starts with a validation error
            # Every other member confirms too: the review starts with the seven who confirmed.
            await confirm_committee(database, sid, clock())
            status, body = await seat.api(
                "POST", f"/api/sessions/{sid}/actions", {"action": "start_evaluation"}
            )
            assert status == 200, body
            assert seat.desk.briefing is not None
            parts = seat.desk.briefing.rubric["parts"]
            for n, part in enumerate(parts):
                await page.select_option("#part", part["part"])
                values = await seat.seat_values(part)
                for key, cell in values.items():
                    await page.get_by_test_id(f"comment-{key}").fill(cell["comment"])
                    await page.get_by_test_id(f"points-{key}").fill(cell["points"])
                if n == 0:
                    key = next(iter(values))
                    await page.get_by_test_id(f"points-{key}").fill("7.3")
                    problem = page.get_by_test_id(f"problem-{key}")
                    await page.get_by_text("不是步长").first.wait_for()
                    assert "不是步长" in await problem.inner_text()
                    await page.click("#submit-scores")
                    await page.get_by_text("评分表尚有 1 处问题").wait_for()
                    await page.get_by_test_id(f"points-{key}").fill(values[key]["points"])
                    await page.get_by_text("可以提交").wait_for()
                await page.click("#submit-scores")
                await (
                    page.get_by_test_id(f"progress-{part['part']}").get_by_text("已送达").wait_for()
                )
            assert await seat.agent.outbox.pending() == []

            # --- the review round reaches the page; keep the score with written reasons
            await seat.score_others()
            status, body = await seat.api("POST", f"/api/sessions/{sid}/evaluation/review")
            assert status == 201, body
            mine = [r for r in body["created"] if r["expert"] == EXPERT]
            assert mine
            for r in mine:
                box = page.locator(f'[data-review="{r["id"]}"]')
                await box.wait_for()
                if r["item"] == "1.1":
                    spread = await box.locator(".spread").inner_text()
                    assert spread == (
                        "您的评分 3；其他专家（匿名，按分值排序）7、7、7、7、7、7；平均 6.43"
                    )
                await box.locator(".reason").fill("该投标人施工组织设计缺少关键工序安排")
                await box.locator(".keep").click()
                await box.get_by_text("已答复：复核答复已记录").wait_for()

            await seat.answer_others(body["created"])

            # --- seal, reveal: sign the result at the seat
            for step in ("seal", "reveal"):
                status, body = await seat.api("POST", f"/api/sessions/{sid}/evaluation/{step}")
                assert status == 200, body
            await page.get_by_text("中标候选人（按排名）").wait_for()
            await page.click("#sign-submit")
            await page.get_by_text("已签署：评标报告签署已记录").wait_for()
        finally:
            await page.close()
        resp = await client.get(f"/api/sessions/{sid}/evaluation/report", headers=seat.host)
        assert resp.status == 200
        assert (await resp.text()).count("尚未签署") == 6
