"""``make demo`` (``evaluation-hub demo --reset --script --play E07``) played by a person in
headless Chromium: the test opens the address the demo prints for E07's seat (the page's key in
its fragment), checks in with the printed PIN, confirms the commitment, and scores every part
on the page, one objective item differently from everyone else (b01's 业绩 c1 at 12 where the
other six give 16). The review round asks the members about it; the scripted experts answer
from their seats and the host experts at the host, re-scoring to the value the committee
settles on (they already hold it), and E07 re-scores it to 16 on the page, which closes the
request by itself (已自动关闭: the values agree). The demo then seals, reveals, and once E07 signs on the page the session ends
``report_signed``; the test reads through the API only to check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from evaluation_hub.demo import DEMO_SCORES, DEMO_SEATS
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.conftest import api, until
from tests.e2e.demo_process import DemoProcess, running_demo
from tests.seat_agent.test_page_flow import key_of, page_headers

pytestmark = pytest.mark.browser

PLAYED = "E07"
SEVEN = ["E01", "E02", "E03", "E04", "E05", "E06", "E07"]
# The person's technical points by item, the same for every bidder (the page shows labels, not
# bidders): within the others' spread, so no deviation is flagged.
POINTS = {"1.1": "7.5", "1.2": "4", "2.1": "6.5", "2.2": "5.5", "3.1": "4.5", "3.2": "3"}
# The objective item the person scores differently: b01 has 4 similar projects (16), not 3.
ODD = ("b01", "c1", "12")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[DemoProcess]:
    async with running_demo(tmp_path, "--script", "--play", PLAYED) as running:
        yield running


def _points(part: str, key: str) -> tuple[str, str]:
    """(points, comment) the person enters for ``subject|item`` of ``part``."""
    subject, item = key.split("|")
    if part != "commercial":
        return POINTS[item], "见评审意见"
    if (subject, item) == ODD[:2]:
        return ODD[2], "按投标文件所附业绩证明计 3 项"
    commercial = yaml.safe_load(DEMO_SCORES.read_text(encoding="utf-8"))["commercial"]
    return str(commercial[subject][item]), "按评标办法计算"


async def test_a_person_scores_an_objective_item_apart_and_the_demo_still_ends_signed(
    demo: DemoProcess, browser: Any
) -> None:
    printed = await demo.printed(PLAYED)
    address = printed.page.split("#", 1)[0].rstrip("/")
    own = page_headers(key_of(printed.page))  # what the page's script sends, to read its state
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    async with aiohttp.ClientSession() as http:

        async def state() -> dict[str, Any]:
            async with http.get(f"{address}/api/state", headers=own) as resp:
                assert resp.status == 200
                body: dict[str, Any] = await resp.json()
                return body

        async def page_up() -> bool:
            assert demo.proc.returncode is None, demo.text()
            try:
                return bool((await state())["online"])
            except aiohttp.ClientError:
                return False

        await until(page_up, "E07's page and its link to the hub")
        await page.goto(printed.page)
        await page.get_by_text("已连接主场").wait_for()

        # --- check in and confirm the commitment, as the printed block says
        await page.fill("#session_id", printed.session)
        await page.fill("#expert_code", PLAYED)
        await page.fill("#pin", printed.pin)
        await page.click("#checkin-submit")
        await page.get_by_text(f"专家 {PLAYED} 签到成功").wait_for()
        await page.click("#commit-confirm")
        await page.get_by_text("已承诺，可以开始评审").wait_for()
        await demo.logged("] demo.evaluation_started")

        # --- score every part on the page
        options = page.locator("#part option")
        parts = await options.evaluate_all("options => options.map(o => o.value)")
        assert parts == ["ch1", "ch2", "ch3", "commercial"]
        for part in parts:
            await page.select_option("#part", part)
            keys = await page.locator("#sheet tr[data-key]").evaluate_all(
                "rows => rows.map(r => r.dataset.key)"
            )
            for key in keys:
                points, comment = _points(part, key)
                await page.get_by_test_id(f"comment-{key}").fill(comment)
                await page.get_by_test_id(f"points-{key}").fill(points)
            await page.get_by_text("可以提交").wait_for()
            await page.click("#submit-scores")
            await page.get_by_test_id(f"progress-{part}").get_by_text("已送达").wait_for()

        # --- the review: E07 is asked about c1 of b01 and re-scores it on the page
        odd_key = f"{ODD[0]}|{ODD[1]}"

        async def asked() -> bool:
            return any(r["item"] == ODD[1] for r in (await state())["reviews"])

        await until(asked, "the review request about b01's c1 on E07's page")
        mine = (await state())["reviews"]
        for r in mine:
            box = page.locator(f'[data-review="{r["id"]}"]')
            await box.wait_for()
            if r["explainable"]:  # a deviation E07 explains (none is expected, but allowed)
                await box.locator(".reason").fill("按评分标准评定，理由见评审意见")
                await box.locator(".keep").click()
                await box.get_by_text("已答复").wait_for()
                continue
            assert (r["part"], r["subject"], r["item"]) == ("commercial", ODD[0], ODD[1]), r
            spread = await box.locator(".spread").inner_text()
            assert spread.startswith(
                "您的评分 12；其他专家（匿名，按分值排序）16、16、16、16、16、16"
            )
            assert await box.locator(".keep").is_disabled()  # objective: re-scored, not kept
            before = (await state())["latest"]["commercial"]["key"]
            await page.select_option("#part", "commercial")
            await page.get_by_test_id(f"points-{odd_key}").fill("16")
            await page.get_by_test_id(f"comment-{odd_key}").fill("复核：核对业绩证明为 4 项")
            await page.get_by_text("可以提交").wait_for()
            await page.click("#submit-scores")

            async def delivered(before: str = before) -> bool:
                latest = (await state())["latest"]["commercial"]
                return bool(latest["key"] != before and latest["status"] == "delivered")

            await until(delivered, "E07's new save of the commercial part at the hub")
            # Every expert now gives 16: the objective item settles itself when the save is
            # stored, so the page closes the request and there is nothing left to answer.
            await box.get_by_text(
                "已自动关闭：各专家对客观评分项 commercial c1 的评分已一致"
            ).wait_for()
            assert await box.locator(".revise").is_disabled()

        # --- the demo seals and reveals; E07 signs on the page
        await page.get_by_text("中标候选人（按排名）").wait_for()
        await page.click("#sign-submit")
        await page.get_by_text("已签署：评标报告签署已记录").wait_for()
        await demo.logged("] demo.report_signed")
        assert errors == []
        await page.close()

        host = await demo.sign_in(http, "km_operator")
        sid = printed.session
        lifecycle = await api(http, "GET", f"{demo.base}/api/sessions/{sid}/lifecycle", host)
        assert lifecycle["state"] == "report_signed"
        overview = await api(http, "GET", f"{demo.base}/api/sessions/{sid}/evaluation", host)
        assert sorted((x["expert"], x["decision"]) for x in overview["signatures"]) == [
            (e, "agree") for e in SEVEN
        ]
        # E07 corrected 12 to 16, which closed the request by itself ("settled"); whoever else
        # was asked about b01's c1 answered for themselves or saw it settle, none kept it:
        # nothing is left open.
        requests = overview["review"]["requests"]
        about_c1 = sorted((r["expert"], r["answer"]) for r in requests if r["item"] == ODD[1])
        assert (PLAYED, "settled") in about_c1, about_c1
        assert all(answer not in (None, "keep") for _, answer in about_c1), about_c1
        assert all(r["answer"] is not None for r in requests), requests

    text = demo.text()
    assert "请在专家页面答复复核请求" in text
    assert f"{PLAYED}：请在专家页面签署评标报告" in text
    assert "Traceback" not in text
    assert "] demo.step_refused" not in text, text
    # A scripted expert whose request did not settle by itself answered from the seat, by the
    # seat's script.
    seats = demo.state / "seats"
    for seat_id, expert in DEMO_SEATS.items():
        asked_here = [
            r["id"] for r in requests if r["expert"] == expert and r["answer"] != "settled"
        ]
        if expert != PLAYED and asked_here:
            log = (seats / f"{seat_id}.log").read_text()
            answered_here = ("seat.script_review_answered", "seat.script_review_repeated")
            assert any(event in log for event in answered_here), (seat_id, asked_here)
