"""The host's evaluation console (评审控制台) in headless Chromium, against a hub in this process
with real seat agents (``tests/chapters/helpers``: real websockets, encrypted chapter sync).

One evaluation driven from the console: the lifecycle buttons (exactly the ones the session
allows), the package attached from the page with its import report, anonymity finding and
similarity signal, the release refused while the finding is open (the hub's words shown), the
override, the release with each seat's delivery going to 已校验 as the seat agents decrypt and
check their chapters, the scoring board filling in live as saves arrive through the host API
(one refused, with its reason), the review round with every request, its addressee and the
answers recorded on the page, seal, reveal, the ranking, and the signature board as the seats
sign. Then the host supervisor's read-only view of a session, updated live too.

Seven members score identically (E01's column of ``tests/evaluation/test_end_to_end``) except
E07, who gives b04 item 1.1 a 3: E07's chapter-1 total 6.5 deviates from the mean 9.93 by 3.43
(> 30 % of it, 2.98), so E07 is asked once, about that total (deviation is judged on each
expert's part totals, the default; per item, 1.1's mean 45/7 = 6.43 would be a second flag).
The host enters every save (代录, with its written reason): no member is checked in at a seat. The method drops the highest and lowest score per item (7 members), so the
3 is dropped and each technical score is E01's:

    b01 8+4+6.5+5.5+5+3 = 32      + commercial 25 + price 23.06 = 80.06   (3)
    b02 7+3.5+6+5+4.5+3 = 29      + 28 + 27.57 = 84.57                    (2)
    b03 8.5+4.5+7+6+5+3.5 = 34.5  + 22 + 20.63 = 77.13                    (4)
    b04 7+3.5+5.5+5+4+2.5 = 27.5  + 15 + 29.48 = 71.98                    (5)
    b05 7.5+4+6.5+5.5+4.5+3 = 31  + 28 + 26.88 = 85.88                    (1)

(price scores as worked out in ``tests/evaluation/test_end_to_end``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from evaluation_hub.db.engine import Database
from evaluation_hub.evaluation.models import ReportPdfRow
from scoring.model import COMMERCIAL_PART
from seat_agent.page.desk import report_signature
from seat_protocol.events import MessageReceived
from seat_protocol.messages import ReportForSignature
from tests.chapters.helpers import Seat, enrol_seats, seat_experts, start_seat, until
from tests.conftest import FakeClock
from tests.evaluation.helpers import (
    DEMO_PACKAGE,
    Client,
    act,
    attach,
    demo_package,
    hub_shuffle,
    part_save,
)
from tests.evaluation.test_end_to_end import COMMERCIAL, TECHNICAL
from tests.hub.helpers import confirm_committee, login

pytestmark = pytest.mark.browser

SEVEN = ("E01", "E02", "E03", "E04", "E05", "E06", "E07")
PARTS = ("ch1", "ch2", "ch3", COMMERCIAL_PART)
PART_NAMES = ["ch1 施工组织设计与主要技术方案", "ch2 质量与安全保证措施", "ch3 施工进度计划与工期保证措施", "商务部分"]  # fmt: skip
A, B = "QJ.QJ-01", "QJ.QJ-02"
QJ = "曲靖市公共资源交易中心"


def _points(expert: str) -> dict[tuple[str, str], str]:
    points = {
        (b, item): values.split()[0]
        for b, items in TECHNICAL.items()
        for item, values in items.items()
    }
    for b, (c1, c2) in COMMERCIAL.items():
        points[b, "c1"], points[b, "c2"] = c1, c2
    if expert == "E07":
        points["b04", "1.1"] = "3"
    return points


async def _sign_in(page: Any, url: str, username: str) -> None:
    await page.goto(url)
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", "demo-2026")
    await page.click("button[type=submit]")


async def _buttons(page: Any) -> list[str]:
    texts: list[str] = await page.locator("#actions button").all_inner_texts()
    return texts


async def _report_to_sign(seat: Seat) -> ReportForSignature:
    await until(
        lambda: any(
            isinstance(e, MessageReceived) and isinstance(e.message, ReportForSignature)
            for e in seat.events
        ),
        f"the report at {seat.identity.seat_id}",
    )
    [report] = [
        e.message
        for e in seat.events
        if isinstance(e, MessageReceived) and isinstance(e.message, ReportForSignature)
    ]
    return report


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_host_runs_an_evaluation_from_the_console(
    browser: Any,
    client: Client,
    seeded: dict[str, Any],
    database: Database,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    host = await seat_experts(client, seeded, database, clock)
    sid = int(seeded["session"])
    base = f"/api/sessions/{sid}/evaluation"
    page = await browser.new_page()
    await _sign_in(page, str(client.make_url(f"/console?session={sid}")), "km_operator")
    assert await page.title() == "评审控制台 · 远程异地评标"
    message = page.locator("#message")
    state = page.locator("#state")
    await expect(page.locator("#live")).to_have_text("实时更新中")

    # --- the lifecycle: exactly the buttons the session allows now -----------------------------
    await expect(state).to_have_text("当前状态：已排期")
    await expect(page.locator("#actions button")).to_have_text(["确认工位", "取消评标会"])
    await expect(page.locator("#read-only")).to_be_hidden()
    await page.click("#actions button[data-action=confirm_seats]")
    await expect(message).to_have_text("已确认工位。")
    await expect(page.locator("#actions button")).to_have_text(["开始签到", "取消评标会"])
    await page.click("#actions button[data-action=open_check_in]")
    await expect(state).to_have_text("当前状态：签到中")
    await expect(page.locator("#actions button")).to_have_text(["开始评审", "暂停", "取消评标会"])

    # --- the package: attached from the page, its import report and checks -------------------
    await expect(page.locator("#no-package")).to_have_text("尚未导入标书包。")
    await expect(page.locator("#delivery-summary")).to_have_text("尚未发放章节。")
    await expect(page.locator("#release")).to_have_text("发放章节")
    await page.click("#attach-form summary")  # the hub's own folder: the second way in
    await page.fill("#package-path", str(DEMO_PACKAGE))
    await page.click("#path-form button[type=submit]")
    await expect(message).to_have_text("已导入标书包。")
    await expect(page.locator("#attach-form")).to_be_hidden()
    facts = page.locator("#report-facts dd")
    await expect(page.locator("#report-facts dt")).to_have_text(
        ["项目", "标段", "评标办法", "投标人", "评分部分", "标书包目录", "内容摘要", "导入",
         "错位评审种子承诺值"]
    )  # fmt: skip
    report = await (await client.get(f"{base}/package", headers=host)).json()
    await expect(facts).to_have_text(
        [
            "普洱市思茅区南屏至倚象公路提升改造工程（YNGGZY-PE-2025-JS-0417）",
            "施工第一标段（K0+000—K18+600）（SG01）",
            "综合评估法",
            "5 家：b01、b02、b03、b04、b05",
            "、".join(f"{name}（2 项）" for name in PART_NAMES),
            str(DEMO_PACKAGE.resolve()),
            report["content_digest"],
            "km_operator，2026-11-30 09:00",
            report["seed_commitment"],
        ]
    )
    await expect(page.locator("#anonymity-summary")).to_have_text(
        "发现 4 处识别标记，涉及 1 个章节；尚有 1 个章节未记录放行理由，放行前不能向专家发放章节。"
    )
    await expect(page.locator("#flagged tr[data-chapter='b03/ch2'] td").nth(1)).to_have_text(
        "投标人名称（第 5 行第 5 列，14 字）、人员姓名（第 5 行第 59 列，3 字）、"
        "电话号码（第 17 行第 18 列，13 字）、电子邮箱（第 17 行第 37 列，21 字）"
    )
    await expect(page.locator("#similarity-summary")).to_have_text(
        "1 对投标人的章节相似程度达到提示标准，请评标委员会和监督人员关注。"
    )
    await expect(page.locator("#similarity tbody td")).to_have_text(
        ["ch3 施工进度计划与工期保证措施", "b02 与 b05", "0.90", "0.95", "5 处，最长 246 字"]
    )
    # The collusion signals: the same pair, nothing else between the demo's bids, no sheets yet.
    await expect(page.locator("#signals tbody tr td")).to_have_text(
        [
            "同章节内容雷同",
            "b02、b05",
            "ch3",
            "相似度 0.90，包含度 0.95；相同段落 5 处，最长 246 字",
        ]
    )
    await expect(page.locator("#signals p.hint")).to_have_text(
        [
            "提示信号，不构成违规认定：以下内容仅供监督人员核查，不代表存在串通投标或违规行为。",
            "专家之间的评分一致性信号在评分封存后计算。",
        ]
    )

    # --- release: refused while the finding is open (the hub's words), then the override -------
    identities = await enrol_seats(client, tmp_path)
    seats = {key: await start_seat(identity) for key, identity in identities.items()}
    try:
        await until(lambda: all(s.link.connections == 1 for s in seats.values()), "the seats")
        await page.click("#release")
        await expect(message).to_have_text(
            "尚有 1 个章节含识别标记且未记录放行理由，不能向专家发放：b03/ch2（4 处）"
        )
        await expect(message).not_to_have_class("ok")
        flagged = page.locator("#flagged tr[data-chapter='b03/ch2']")
        await flagged.locator("button[data-override]").click()
        await expect(message).to_have_text("放行含识别标记的章节必须填写理由")
        # What the operator is typing survives a redraw caused by someone else's change.
        field = flagged.locator("input")
        await field.fill("经核对为引用的行业规范示例")
        await flagged.evaluate("row => { row.dataset.before = 'yes'; }")
        for fault in ({"note": "曲靖分会场网络抖动"}, {"fixed": True}):
            resp = await client.post(f"/api/sessions/{sid}/fault", json=fault, headers=host)
            assert resp.status == 200, await resp.text()
        await expect(page.locator("#flagged tr[data-before]")).to_have_count(0)  # redrawn
        await expect(field).to_have_value("经核对为引用的行业规范示例")
        await expect(field).to_be_focused()
        await field.fill("经核对为引用的行业规范示例，已遮盖后发放")
        await flagged.locator("button[data-override]").click()
        await expect(message).to_have_text("已记录 b03/ch2 的放行理由。")
        await expect(flagged.locator("td").nth(2)).to_have_text(
            "已放行：经核对为引用的行业规范示例，已遮盖后发放（km_operator，2026-11-30 09:00）"
        )
        await expect(page.locator("#anonymity-summary")).to_have_text(
            "发现 4 处识别标记，涉及 1 个章节；均已记录放行理由。"
        )

        # Each seat's delivery goes to 已校验 as its agent decrypts and checks every chapter.
        clock.advance(minutes=5)
        await page.click("#release")
        await expect(message).to_have_text("已向 2 个工位发放章节。")
        rows = page.locator("#deliveries tbody tr")
        await expect(rows.nth(0).locator("td")).to_have_text(
            [
                f"{A}（{QJ}）",
                "E06",
                "未签到",
                "第 1 次",
                "15",
                "已校验",
                "2026-11-30 09:05 校验完成",
            ]
        )
        await expect(rows.nth(1).locator("td")).to_have_text(
            [
                f"{B}（{QJ}）",
                "E07",
                "未签到",
                "第 1 次",
                "15",
                "已校验",
                "2026-11-30 09:05 校验完成",
            ]
        )
        await expect(page.locator("#delivery-summary")).to_have_text(
            "已发放 1 次；2 个工位中 2 个已校验全部章节。"
        )
        await expect(page.locator("#release")).to_have_text("重新发放章节")

        # --- scoring: the board fills in as saves arrive, with no reload ------------------------
        await confirm_committee(database, sid, clock())  # as the members do at check-in
        await page.click("#actions button[data-action=start_evaluation]")
        await expect(state).to_have_text("当前状态：评审中")
        await expect(page.locator("#actions button")).to_have_text(["进入偏离复核", "暂停"])
        board = page.locator("#board")
        await expect(board.locator("thead th")).to_have_text(["专家", *PART_NAMES])
        await expect(board.locator("tbody tr")).to_have_count(7)
        await expect(board.locator("tbody td")).to_have_text(["未开始"] * 28)
        await expect(page.locator("#scoring-summary")).to_have_text(
            "已保存 0/28 个部分；7 位专家中 0 位已提交全部评分。"
        )
        package = demo_package()
        shuffle = await hub_shuffle(client, database, sid)

        async def save(expert: str, part: str, sheet: dict[str, Any] | None = None) -> int:
            clock.advance(seconds=10)
            body = sheet or part_save(package, shuffle, expert, part, _points(expert))
            body = body | {"reason": "专家所在工位终端故障，由主场代录"}
            resp = await client.post(f"{base}/scores", json=body, headers=host)
            return resp.status

        assert await save("E01", "ch1") == 201
        e01 = board.locator("tr[data-expert=E01] td")
        await expect(e01).to_have_text(["已保存", "未开始", "未开始", "未开始"])
        wrong = part_save(package, shuffle, "E02", "ch1", _points("E02"))
        wrong["entries"][0]["points"] = "8.3"
        label = wrong["entries"][0]["subject"]
        assert await save("E02", "ch1", wrong) == 422
        refusal = f"ch1 {label} 1.1：得分 8.3 不是步长 0.5 的整数倍"
        await expect(board.locator("tr[data-expert=E02] td[data-part=ch1]")).to_have_text(
            f"未被接受：{refusal}"
        )
        await expect(page.locator("#refused tbody td")).to_have_text(
            ["2026-11-30 09:05", "E02", PART_NAMES[0], "主场代录", refusal]
        )
        for expert in SEVEN:
            for part in PARTS:
                if (expert, part) != ("E01", "ch1"):
                    assert await save(expert, part) == 201
        await expect(board.locator("tbody td")).to_have_text(["已保存"] * 28)
        await expect(page.locator("#scoring-summary")).to_have_text(
            "已保存 28/28 个部分；7 位专家中 7 位已提交全部评分。"
        )

        # --- the review: every request, its addressee, the answer and the reason ---------------
        await expect(page.locator("#review-summary")).to_have_text("尚无复核请求。")
        await page.click("#actions button[data-action=begin_deviation_review]")
        await expect(message).to_have_text("已发起第 1 轮偏离复核，发出 1 项复核请求。")
        await expect(state).to_have_text("当前状态：偏离复核中")
        await expect(page.locator("#actions button")).to_have_text(["结束评审并封存", "暂停"])
        await expect(page.locator("#review-round")).to_be_visible()
        b04 = shuffle.label_for("E07", "ch1", "b04")
        requests = page.locator("#requests tbody tr")
        await expect(requests).to_have_count(1)
        first = requests.nth(0).locator("td")
        await expect(first).to_have_text(
            ["#1", "第 1 轮", "E07", PART_NAMES[0], b04, "合计",
             f"专家 E07 对 ch1 {b04} 的合计 6.5，偏离各专家平均分 9.93 超过 30%，须复核或书面说明",
             "待答复", "", "保留原评分已重新评分"]
        )  # fmt: skip
        await expect(page.locator("#review-summary")).to_have_text(
            "共 1 项复核请求：已答复或已关闭 0 项，待答复 1 项。"
        )
        # Sealing now is refused in the hub's words; nothing changes.
        await page.click("#actions button[data-action=seal]")
        await expect(message).to_have_text(
            "尚有 1 项复核未处理（既未重新评分也未书面说明），不能封存"
        )
        await expect(state).to_have_text("当前状态：偏离复核中")
        # E07 keeps the score with a written explanation, recorded here for them (E07 is not
        # checked in at a seat).
        await requests.nth(0).locator("button[data-answer=keep]").click()
        await expect(message).to_have_text("保留原评分须书面说明理由")
        reason = "该投标人未编制高边坡防护专项方案，故给低分"
        await requests.nth(0).locator("input").fill(reason)
        await requests.nth(0).locator("button[data-answer=keep]").click()
        await expect(message).to_have_text("已登记复核请求 #1 的答复：保留原评分。")
        await expect(first.nth(7)).to_have_text("保留原评分（主场代录：km_operator）")
        await expect(first.nth(8)).to_have_text(reason)
        await expect(page.locator("#review-summary")).to_have_text(
            "共 1 项复核请求：已答复或已关闭 1 项，待答复 0 项。"
        )
        await page.click("#review-round")
        await expect(message).to_have_text("已发起偏离复核，没有需要复核的评分。")

        # --- seal, reveal, the ranking --------------------------------------------------------
        clock.advance(minutes=5)
        await page.click("#actions button[data-action=seal]")
        await expect(message).to_have_text("已结束评审并封存。")
        await expect(state).to_have_text("当前状态：已封存")
        await expect(page.locator("#actions button")).to_have_text(["解密还原"])
        # Sealed: six members' sheets are alike throughout (15 pairs), E07's differs from each
        # of theirs in one item of 40 (97.5 %, above the 95 % of the signal): 21 signals.
        sheets = page.locator("#signals tr[data-kind=sheets]")
        await expect(sheets).to_have_count(21)
        await expect(sheets.nth(0).locator("td")).to_have_text(
            ["评分表高度一致", "专家 E01、专家 E02", "全部评分项", "100.00% 的评分项分值相同"]
        )
        await expect(sheets.nth(5).locator("td")).to_have_text(
            ["评分表高度一致", "专家 E01、专家 E07", "全部评分项", "97.50% 的评分项分值相同"]
        )
        await expect(page.locator("#result-panel")).to_be_hidden()
        await page.click("#actions button[data-action=reveal]")
        await expect(message).to_have_text("已解密还原。")
        await expect(state).to_have_text("当前状态：已解密还原")
        await expect(page.locator("#benchmark")).to_have_text("评标基准价：34560000 元")
        ranking = page.locator("#ranking tbody tr")
        await expect(ranking).to_have_count(5)
        expected = [
            ("1", "b05", "大理苍洱路桥工程有限公司", "31", "28", "35640000", "26.88", "85.88"),
            ("2", "b02", "普洱澜沧江交通工程有限公司", "29", "28", "35400000", "27.57", "84.57"),
            ("3", "b01", "云南滇中路桥建设有限公司", "32", "25", "36960000", "23.06", "80.06"),
            (
                "4",
                "b03",
                "昆明金马公路工程集团有限公司",
                "34.5",
                "22",
                "37800000",
                "20.63",
                "77.13",
            ),
            (
                "5",
                "b04",
                "红河南疆建设工程有限责任公司",
                "27.5",
                "15",
                "34200000",
                "29.48",
                "71.98",
            ),
        ]
        for n, row in enumerate(expected):
            await expect(ranking.nth(n).locator("td")).to_have_text(list(row))
        await expect(page.locator("#candidates")).to_have_text(
            "中标候选人：第 1 名 b05 大理苍洱路桥工程有限公司；第 2 名 b02 普洱澜沧江交通工程有限公司；"
            "第 3 名 b01 云南滇中路桥建设有限公司"
        )
        link = page.locator("#report-link")
        await expect(link).to_have_text("打开评标报告（可打印）")
        assert await link.get_attribute("href") == f"{base}/report"
        printable = await page.evaluate(
            "async (href) => { const r = await fetch(href); return [r.status, await r.text()]; }",
            f"{base}/report",
        )
        assert printable[0] == 200 and "<h1>评标报告</h1>" in printable[1]

        # --- the signature board, as the seats sign -------------------------------------------
        signatures = page.locator("#signatures tbody tr")
        await expect(signatures).to_have_count(7)
        await expect(page.locator("#signatures td.decision")).to_have_text(["未签署"] * 7)
        await expect(page.locator("#signature-summary")).to_have_text(
            "已签署 0/7 人，全部签署后评标报告即签署完成。"
        )
        dissent = "b03 技术方案明显优于其他投标人，价格分权重过高"
        shown = {
            A: ["E06", "同意", "", "2026-11-30 09:15"],
            B: ["E07", "不同意", dissent, "2026-11-30 09:16"],
        }
        for key, decision, why in ((A, "agree", ""), (B, "disagree", dissent)):
            clock.advance(minutes=1)
            signed = report_signature(
                identities[key], await _report_to_sign(seats[key]), decision, why
            )
            await seats[key].link.send(signed)
            expert = shown[key][0]
            # Shown as the hub recorded it (and before the clock moves on).
            await expect(page.locator(f"#signatures tr[data-expert={expert}] td")).to_have_text(
                shown[key]
            )
        await expect(page.locator("#signature-summary")).to_have_text(
            "已签署 2/7 人，全部签署后评标报告即签署完成。"
        )
        await expect(page.locator("#signatures td.decision")).to_have_text(
            ["未签署"] * 5 + ["同意", "不同意"]
        )
        # Every lifecycle button the session allows, and no other.
        await expect(page.locator("#actions button")).to_have_text(["完成报告签署"])
    finally:
        for seat in seats.values():
            await seat.stop()
        await page.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_host_supervisor_sees_the_console_read_only(
    browser: Any, client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    sid = int(seeded["session"])
    host = await login(client, "km_operator")
    await act(client, host, sid, "confirm_seats", "open_check_in")
    assert (await attach(client, host, sid)).status == 201

    page = await browser.new_page()
    await _sign_in(page, str(client.make_url(f"/console?session={sid}")), "km_supervisor")
    await expect(page.locator("#who-name")).to_have_text("主场监督 王芳（监督人员）")
    await expect(page.locator("#state")).to_have_text("当前状态：签到中")
    await expect(page.locator("#read-only")).to_have_text("当前用户只能查看评审控制台，不能操作。")
    # Everything is shown, nothing can be done.
    await expect(page.locator("#report-facts dd").first).to_have_text(
        "普洱市思茅区南屏至倚象公路提升改造工程（YNGGZY-PE-2025-JS-0417）"
    )
    flagged = page.locator("#flagged tr[data-chapter='b03/ch2'] td")
    await expect(flagged.nth(2)).to_have_text("未放行")
    await expect(page.locator("#delivery-summary")).to_have_text("尚未发放章节。")
    await expect(page.locator("#scoring-summary")).to_have_text(
        "已保存 0/28 个部分；7 位专家中 0 位已提交全部评分。"
    )
    assert await page.locator("#actions button").count() == 0
    visible = "#console-panel input:visible, #console-panel button:visible"
    assert await page.locator(visible).count() == 0
    for hidden in ("#attach-form", "#release", "#review-round", "#reason-field"):
        await expect(page.locator(hidden)).to_be_hidden()

    # The host records the override: the supervisor's console shows it without a reload.
    resp = await client.post(
        f"/api/sessions/{sid}/evaluation/overrides",
        json={"bidder_id": "b03", "chapter_id": "ch2", "reason": "联系方式为招标文件示例"},
        headers=host,
    )
    assert resp.status == 201, await resp.text()
    await expect(flagged.nth(2)).to_have_text(
        "已放行：联系方式为招标文件示例（km_operator，2026-11-30 09:00）"
    )
    await expect(page.locator("#anonymity-summary")).to_have_text(
        "发现 4 处识别标记，涉及 1 个章节；均已记录放行理由。"
    )
    assert await page.locator(visible).count() == 0
    await page.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_venue_admin_of_another_venue_is_refused_in_the_hubs_words(
    browser: Any, client: Client, seeded: dict[str, Any]
) -> None:
    sid = int(seeded["session"])
    page = await browser.new_page()
    await _sign_in(page, str(client.make_url(f"/console?session={sid}")), "dl_admin")
    # 大理 hosts no session: nothing to choose, nothing shown.
    await expect(page.locator("#who-name")).to_have_text("大理场地管理员 杨洁（场地管理员）")
    await expect(page.locator("#no-sessions")).to_have_text("没有可查看的评标会。")
    assert await page.locator("#session option").count() == 0
    # Asked for the session anyway, the page shows the hub's refusal and no data.
    await page.evaluate(
        "(sid) => { const o = document.createElement('option'); o.value = sid;"
        " document.querySelector('#session').append(o); selectSession(); }",
        sid,
    )
    await expect(page.locator("#message")).to_have_text(f"评标会 #{sid} 不由本场地主办，无权查看")
    await expect(page.locator("#live")).to_have_text("实时连接已断开")
    assert await page.locator("#deliveries tbody tr").count() == 0
    await page.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_signed_report_is_offered_as_pdf(
    browser: Any, client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    from tests.evaluation.test_report_pdf import FIVE as MEMBERS
    from tests.evaluation.test_report_pdf import _revealed, _sign

    sid, _, result, seat_of = await _revealed(client, seeded, clock, database)
    await _sign(client, clock, sid, result, seat_of, MEMBERS[:4])
    page = await browser.new_page()
    try:
        await _sign_in(page, str(client.make_url(f"/console?session={sid}")), "km_operator")
        await expect(page.locator("#signature-summary")).to_have_text(
            "已签署 4/5 人，全部签署后评标报告即签署完成。"
        )
        # Not before the last signature: the printable page is the working view until then.
        await expect(page.locator("#report-pdf")).to_be_hidden()
        await _sign(client, clock, sid, result, seat_of, MEMBERS[4:])
        link = page.locator("#report-pdf-link")
        await expect(link).to_be_visible()
        await expect(link).to_have_text("下载评标报告（PDF）")
        assert await link.get_attribute("href") == f"/api/sessions/{sid}/report.pdf"
        assert await link.get_attribute("download") == ""
        served = await page.evaluate(
            "async (href) => { const r = await fetch(href); const b = await r.arrayBuffer();"
            " return [r.status, r.headers.get('content-type'), r.headers.get('x-content-sha256'),"
            " b.byteLength]; }",
            f"/api/sessions/{sid}/report.pdf",
        )
        async with database.read() as s:
            [(sha, size)] = (
                await s.execute(select(ReportPdfRow.sha256, ReportPdfRow.size))
            ).tuples()
        assert served == [200, "application/pdf", sha, size]
    finally:
        await page.close()
