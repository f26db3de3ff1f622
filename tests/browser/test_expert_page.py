"""The expert's page in headless Chromium, against a real hub (``create_app``) and a real
in-process seat agent: opened through the address the agent prints (the key in the fragment),
check in, read a chapter (the bidder's Markdown shown as text with headings, its HTML never run)
beside the score sheet, score (fixing a validation error first), submit, answer a deviation
review and sign the result, with no Content-Security-Policy violation on the way. And a real
``seat-agent run`` process: its printed address opens the page, an address without the key or
with an old one shows what to do."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from evaluation_hub.db.engine import Database
from seat_agent.keys import init_state_dir
from seat_agent.page.app import SECURITY_HEADERS
from seat_agent.page.guard import new_page_key
from tests.conftest import FakeClock
from tests.evaluation.helpers import DEMO_PACKAGE
from tests.hub.helpers import confirm_committee
from tests.seat_agent.test_page_flow import EXPERT, Client, expert_seat, until
from tests.support.postgres_server import free_port

# Appended to b01's first chapter: what a hostile bidder might write into a blind bid.
HOSTILE = """
## 附：其他说明

<script>alert(1)</script>

<img src=x onerror="document.title='pwned'">

**重点**：雨季施工*必须*提前备料；<b>加粗</b>与 [链接](javascript:alert(2)) 都只是文字。

- 第一项 <i onmouseover=alert(3)>悬停</i>
- 第二项

3. 第三步
4. 第四步

```
# 不是标题
<script>alert(4)</script>
```
"""


def _hostile_package(tmp: Path) -> Path:
    package = tmp / "bid_package"
    shutil.copytree(DEMO_PACKAGE, package)
    chapter = package / "chapters" / "b01" / "ch1.md"
    chapter.write_text(chapter.read_text(encoding="utf-8") + HOSTILE, encoding="utf-8")
    return package


def _watch(page: Any) -> dict[str, list[str]]:
    """What must not happen on the page: a dialog, a script error, a CSP violation (Chromium
    reports one on the console; a refused request's status is reported there too, and is no
    violation)."""
    seen: dict[str, list[str]] = {"dialogs": [], "errors": [], "console": []}

    async def dialog(d: Any) -> None:
        seen["dialogs"].append(d.message)
        await d.dismiss()

    page.on("dialog", dialog)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on(
        "console",
        lambda m: seen["console"].append(m.text) if "Content Security Policy" in m.text else None,
    )
    return seen


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_an_expert_works_through_the_page(
    browser: Any,
    client: Client,
    seeded: dict[str, Any],
    database: Database,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    package = _hostile_package(tmp_path)
    async with expert_seat(client, seeded, database, clock, tmp_path, package) as seat:
        sid = seat.sid
        # The anonymity scan flags the hostile chapter's image as a deliberate mark, so the
        # host releases it only with a recorded reason (here: to test the page against it).
        status, body = await seat.api("POST", f"/api/sessions/{sid}/chapters")
        assert status == 409 and body["type"].endswith("/anonymity-blocked"), body
        status, body = await seat.api(
            "POST",
            f"/api/sessions/{sid}/evaluation/overrides",
            {"bidder_id": "b01", "chapter_id": "ch1", "reason": "测试专家页面对恶意内容的显示"},
        )
        assert status == 201, body
        status, body = await seat.api("POST", f"/api/sessions/{sid}/chapters")
        assert status in (200, 201), body
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        seen = _watch(page)
        try:
            response = await page.goto(seat.opening_url)
            assert response is not None and response.status == 200
            for name, value in SECURITY_HEADERS.items():
                assert await response.header_value(name) == value, name
            await page.get_by_text("已连接主场").wait_for()
            assert page.url == seat.page_url + "/"  # the key is out of the address bar

            # --- check in: nothing filled in, a wrong PIN, then the right one. What the agent
            # itself refuses stays on the page through the redraws that follow (refresh()).
            message = page.get_by_test_id("checkin-message")
            await page.click("#checkin-submit")
            incomplete = "签到信息不完整；请填写评标会编号（数字）；请填写专家编号；请填写签到码"
            await expect(message).to_have_text(incomplete)
            await page.evaluate("refresh()")
            await expect(message).to_have_text(incomplete)
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

            # --- the chapters, in the expert's order, labels only; open b01's first chapter
            assert seat.agent.chapters is not None
            chapters = seat.agent.chapters
            await until(
                lambda: chapters.entries() and all(c.complete for c in chapters.entries()),
                "the chapters downloaded",
            )
            blind = (await seat.shuffle()).label_for(EXPERT, "ch1", "b01")
            label = f"ch1-{blind}"
            assert "<script>alert(1)</script>" in await chapters.read(label)
            link = page.locator(f'#chapters a[data-label="{label}"]')
            await link.wait_for()
            await link.click()
            await page.get_by_test_id("reading").get_by_text(label).wait_for()
            reader = page.get_by_test_id("reader")
            await reader.get_by_text("附：其他说明").wait_for()
            # Headings, lists and emphasis as such; every bit of HTML as the text it is.
            headings = await reader.locator("h3, h4").all_inner_texts()
            assert headings[0] == "第一章 施工组织设计与主要技术方案"
            assert headings[1] == "一、工程概况与施工特点" and headings[-1] == "附：其他说明"
            assert await reader.locator("h3").count() == 1
            assert await reader.locator("strong").all_inner_texts() == ["重点"]
            assert await reader.locator("em").all_inner_texts() == ["必须"]
            assert await reader.locator("ul > li").all_inner_texts() == [
                "第一项 <i onmouseover=alert(3)>悬停</i>",
                "第二项",
            ]
            lists = reader.locator("ol")
            assert await lists.count() == 2 and await lists.nth(1).get_attribute("start") == "3"
            assert (await lists.nth(0).locator("li").all_inner_texts())[0].startswith("路基拓宽：")
            assert await reader.locator("pre").inner_text() == (
                "# 不是标题\n<script>alert(4)</script>"
            )
            text = await reader.inner_text()
            for literal in (
                "<script>alert(1)</script>",
                "<img src=x onerror=\"document.title='pwned'\">",
                "<b>加粗</b>与 [链接](javascript:alert(2)) 都只是文字。",
            ):
                assert literal in text, literal
            for tag in ("script", "img", "b", "i", "a", "iframe"):
                assert await reader.locator(tag).count() == 0, tag
            assert await page.title() == "评标工位"
            # The reader sits beside the score sheet, the chapter's rows marked.
            reader_box = await page.locator("#reader-box").bounding_box()
            sheet_box = await page.locator("#scoring-box").bounding_box()
            assert reader_box is not None and sheet_box is not None
            assert reader_box["x"] + reader_box["width"] <= sheet_box["x"]
            assert abs(reader_box["y"] - sheet_box["y"]) < 2
            assert await page.locator("#part").input_value() == "ch1"
            marked = page.locator(f'#sheet tr.reading[data-subject="{blind}"]')
            assert seat.desk.briefing is not None
            items = seat.desk.briefing.rubric["parts"][0]["items"]
            assert await marked.count() == len(items) > 0
            assert await page.locator("#sheet tr.reading").count() == await marked.count()
            tabs = page.get_by_test_id("part-chapters").locator("button")
            assert await tabs.count() == 5
            current = page.locator("#part-chapters button.current")
            assert await current.get_attribute("data-label") == label
            # Another bidder's chapter of the part, from its tab; a half-typed form survives
            # a look at another part.
            other = await tabs.nth(
                1 if await tabs.nth(0).get_attribute("data-label") == label else 0
            ).get_attribute("data-label")
            assert other is not None and other != label
            await page.click(f'#part-chapters button[data-label="{other}"]')
            await page.get_by_test_id("reading").get_by_text(other).wait_for()
            await reader.get_by_text("附：其他说明").wait_for(state="detached")
            first_row = page.locator("#sheet tr[data-key]").first
            await first_row.locator("input.points").fill("6")
            await page.select_option("#part", "ch2")  # its first chapter opens beside it
            await page.get_by_test_id("reading").get_by_text("ch2-").wait_for()
            await page.select_option("#part", "ch1")
            assert await first_row.locator("input.points").input_value() == "6"
            await first_row.locator("input.points").fill("")
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
                    # An empty cell is pointed at once a submit was refused, not while typing.
                    key, last = next(iter(values)), list(values)[-1]
                    await page.get_by_test_id(f"points-{last}").fill("")
                    progress = page.get_by_test_id("part-progress")
                    await expect(progress).to_contain_text("尚有 1 处需处理")
                    await expect(page.get_by_test_id(f"problem-{last}")).to_have_text("")
                    await page.get_by_test_id(f"points-{key}").fill("7.3")
                    problem = page.get_by_test_id(f"problem-{key}")
                    await page.get_by_text("不是步长").first.wait_for()
                    assert "不是步长" in await problem.inner_text()
                    await page.click("#submit-scores")
                    await page.get_by_text("评分表尚有 2 处问题").wait_for()
                    await expect(page.get_by_test_id(f"problem-{last}")).to_have_text("未评分")
                    await page.get_by_test_id(f"points-{last}").fill(values[last]["points"])
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
            await page.check("input[name=decision][value=disagree]")
            await page.click("#sign-submit")
            no_reason = "不同意评标结论的，须书面说明不同意见和理由；请填写理由"
            await expect(page.locator("#sign-message")).to_have_text(no_reason)
            await page.evaluate("refresh()")
            await expect(page.locator("#sign-message")).to_have_text(no_reason)
            await page.check("input[name=decision][value=agree]")
            await page.click("#sign-submit")
            await page.get_by_text("已签署：评标报告签署已记录").wait_for()
            assert seen == {"dialogs": [], "errors": [], "console": []}
        finally:
            await page.close()
        resp = await client.get(f"/api/sessions/{sid}/evaluation/report", headers=seat.host)
        assert resp.status == 200
        assert (await resp.text()).count("尚未签署") == 6


@pytest.fixture
async def seat_process(tmp_path: Path) -> AsyncIterator[tuple[str, int]]:
    """``seat-agent run`` with no hub reachable: the address it printed, and its page port."""
    state = tmp_path / "seat"
    init_state_dir(
        state, seat_id="QJ.QJ-01", hub_url=f"ws://127.0.0.1:{free_port()}/ws/seat", hub_id="h"
    )
    port = free_port()
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "seat_agent.cli", "run", "--state-dir", str(state),
            "--page-port", str(port),
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        printed = await until(
            lambda: re.search(
                r"专家页面（请在本机浏览器中打开，仅本次启动有效）：(\S+)", log.read_text()
            ),
            "the printed address",
        )
        yield printed[1], port
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 30) == 0


async def test_the_printed_address_opens_the_page(
    browser: Any, seat_process: tuple[str, int]
) -> None:
    """The printed address opens the page in Chromium and a reload keeps the key; without it,
    or with an earlier start's, the page says what to do."""
    url, port = seat_process
    base = f"http://127.0.0.1:{port}/"
    page = await browser.new_page()
    seen = _watch(page)
    response = await page.goto(url)
    assert response is not None
    assert (
        await response.header_value("Content-Security-Policy")
        == (SECURITY_HEADERS["Content-Security-Policy"])
    )
    await page.get_by_text("未连接主场（评分将在恢复后自动发送）").wait_for()
    assert await page.locator("#seat").inner_text() == "QJ.QJ-01"
    assert page.url == base
    await page.reload()
    await page.get_by_text("未连接主场（评分将在恢复后自动发送）").wait_for()
    assert await page.get_by_test_id("access-message").is_hidden()
    assert seen == {"dialogs": [], "errors": [], "console": []}
    await page.close()

    missing = await browser.new_page()  # a new tab: nothing kept
    await missing.goto(base)
    message = missing.get_by_test_id("access-message")
    await message.wait_for()
    assert await message.inner_text() == (
        "本页面没有评标终端的访问密钥：请打开评标终端启动时显示的完整地址"
        f"（http://127.0.0.1:{port}/#k=…）"
    )
    assert await missing.locator("main").is_hidden()
    await missing.goto(f"{base}#k={new_page_key()}")  # an earlier start's key
    await missing.reload()
    await message.get_by_text("访问密钥不正确（评标终端可能已重新启动）").wait_for()
    await missing.close()


# Markdown in, the DOM the page's renderer builds (serialised here only to compare it).
RENDERED = {
    "# 第一章 总则": "<h3>第一章 总则</h3>",
    "## 标题 ##": "<h4>标题</h4>",
    "###### 六级": "<h6>六级</h6>",
    "#不是标题": "<p>#不是标题</p>",
    "####### 七级": "<p>####### 七级</p>",
    "    # 缩进四格": "<p># 缩进四格</p>",
    "a <b>x</b> & y": "<p>a &lt;b&gt;x&lt;/b&gt; &amp; y</p>",
    "<img src=x onerror=alert(1)>": "<p>&lt;img src=x onerror=alert(1)&gt;</p>",
    "**粗** *斜* __粗2__ _斜2_ snake_case_name 2*3": (
        "<p><strong>粗</strong> <em>斜</em> <strong>粗2</strong> <em>斜2</em> "
        "snake_case_name 2*3</p>"
    ),
    "**<i>x</i>**": "<p><strong>&lt;i&gt;x&lt;/i&gt;</strong></p>",
    "- a\n- b\n\n1. x\n2) y": "<ul><li>a</li><li>b</li></ul><ol><li>x</li><li>y</li></ol>",
    "5. 五\n   续行": '<ol start="5"><li>五\n续行</li></ol>',
    "```\n<b>\n# 代码\n```\n后文": "<pre>&lt;b&gt;\n# 代码</pre><p>后文</p>",
    "第一行\n第二行\n\n第二段": "<p>第一行\n第二行</p><p>第二段</p>",
    "[链接](javascript:alert(1)) | 表 | 格 |": "<p>[链接](javascript:alert(1)) | 表 | 格 |</p>",
}


async def test_the_markdown_renderer(browser: Any, seat_process: tuple[str, int]) -> None:
    """The page's own renderer, case by case, and in linear time on input written to stall
    it (a bid is untrusted)."""
    url, _ = seat_process
    page = await browser.new_page()
    seen = _watch(page)
    await page.goto(url)
    await page.get_by_text("未连接主场").wait_for()
    rendered = await page.evaluate(
        """(cases) => cases.map((md) => {
            const box = document.createElement("div");
            box.append(renderMarkdown(md));
            return box.innerHTML;
        })""",
        list(RENDERED),
    )
    assert dict(zip(RENDERED, rendered, strict=True)) == RENDERED
    # Inputs that stall a backtracking renderer. Rendered in linear time they take well under a
    # second; the bound (hundreds of times that) turns a stall into a failure without a
    # measured threshold that load could cross.
    rendered_all = await asyncio.wait_for(
        page.evaluate(
            r"""() => {
            const stalls = [
                "# " + " ".repeat(200000) + "x",
                "#" + " ".repeat(200000) + "#",
                "- " + " \t".repeat(100000),
                "a *b ".repeat(50000),
                "a **b ".repeat(50000),
                "a _b ".repeat(50000),
                "*".repeat(200000),
                "_".repeat(200000),
                ("x".repeat(50) + "\n").repeat(20000),
            ];
            for (const md of stalls) document.createElement("div").append(renderMarkdown(md));
            return stalls.length;
        }"""
        ),
        30,
    )
    assert rendered_all == 9
    assert seen == {"dialogs": [], "errors": [], "console": []}
    await page.close()
