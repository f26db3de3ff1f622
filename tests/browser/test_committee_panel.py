"""The host page's committee panel (评标委员会) in headless Chromium, against a hub in this
process: the host operator records a host member's recusal (refused first without a reason)
and another's commitment, sees the committee become lawful, runs a tied chair round and a
deciding one, and sees the chair marked. Away members decide at their seats (here, as their
seats would, through ``formation.decide``). The seeded session has E01, E02 at the host and
E03…E07 away."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from evaluation_hub.db.engine import Database
from evaluation_hub.sessions import formation
from tests.conftest import FakeClock
from tests.evaluation.helpers import Client, act
from tests.hub.helpers import confirm_members, login

pytestmark = pytest.mark.browser

NAMES = {
    "E01": "赵建国",
    "E02": "钱文华",
    "E03": "孙丽萍",
    "E04": "李志强",
    "E05": "周海燕",
    "E06": "吴振华",
    "E07": "郑晓东",
}


def _who(code: str) -> str:
    return f"{code} {NAMES[code]}"


async def _cells(page: Any, code: str) -> list[str]:
    cells: list[str] = await page.locator(f"#committee tr[data-member={code}] td").all_inner_texts()
    return [c.strip() for c in cells]


async def _vote(page: Any, ballots: dict[str, str]) -> None:
    for voter, candidate in ballots.items():
        await page.select_option(f"#chair-ballots select[data-voter={voter}]", candidate)
    await page.click("#chair-submit")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_host_forms_the_committee_and_elects_the_chair(
    browser: Any, client: Client, seeded: dict[str, Any], database: Database, clock: FakeClock
) -> None:
    sid = seeded["session"]
    await act(client, await login(client, "km_operator"), sid, "confirm_seats", "open_check_in")
    await confirm_members(database, sid, ("E03", "E04", "E05", "E06"), clock())  # at their seats

    page = await browser.new_page()
    await page.goto(str(client.make_url("/host")))
    await page.fill("input[name=username]", "km_operator")
    await page.fill("input[name=password]", "demo-2026")
    await page.click("button[type=submit]")
    rows = page.locator("#committee tbody tr")
    await expect(rows).to_have_count(7)
    message = page.locator("#committee-message")
    lawful = page.locator("#committee-lawful")
    problems = page.locator("#committee-problems li")

    # Four confirmed away members: not a lawful committee, in the hub's words.
    await expect(lawful).to_have_text(
        "评标委员会组成不合规：已确认承诺 4 人，其中专家 4 人；至少还需 1 名专家确认承诺。"
    )
    await expect(problems).to_have_text(["已确认成员 4 人，评标委员会应为 5 人以上单数"])
    assert (await _cells(page, "E01"))[:4] == [_who("E01"), "主场", "待确认", ""]
    await expect(page.locator("#committee tr[data-member=E01] button")).to_have_text(
        ["确认承诺", "声明回避"]
    )
    # Nobody is seated in this session's bookings yet.
    assert await _cells(page, "E03") == [_who("E03"), "客场（未安排工位）", "已承诺", "", ""]
    assert await _cells(page, "E07") == [
        _who("E07"),
        "客场（未安排工位）",
        "待确认",
        "",
        "由本人在工位确认承诺或声明回避",
    ]
    for code in ("E03", "E04", "E05", "E06", "E07"):  # seat members decide at their seats
        assert await page.locator(f"#committee tr[data-member={code}] button").count() == 0
    assert await page.get_attribute(
        "#committee tr[data-member=E02] input.recusal-reason", "placeholder"
    ) == ("回避事由（声明回避时必填）")

    # A recusal needs its reason: the hub's refusal is shown in the panel, nothing recorded.
    e02 = page.locator("#committee tr[data-member=E02]")
    await e02.locator("button[data-decide=recused]").click()
    await expect(message).to_have_text("声明回避必须说明回避事由")
    await expect(message).not_to_have_class("ok")
    assert (await _cells(page, "E02"))[2] == "待确认"

    await e02.locator("input.recusal-reason").fill("曾任投标人技术顾问")
    await e02.locator("button[data-decide=recused]").click()
    await expect(message).to_have_text("已登记 E02 钱文华 声明回避（曾任投标人技术顾问）。")
    await expect(message).to_have_class("ok")
    await expect(e02.locator("td.decision")).to_have_text("已回避（曾任投标人技术顾问）")
    assert await e02.locator("button").count() == 0
    await expect(lawful).to_have_text(
        "评标委员会组成不合规：已确认承诺 4 人，其中专家 4 人；至少还需 1 名专家确认承诺。"
    )

    # E01's commitment makes five: lawful.
    e01 = page.locator("#committee tr[data-member=E01]")
    await e01.locator("button[data-decide=confirmed]").click()
    await expect(message).to_have_text("已登记 E01 赵建国 确认评标纪律承诺。")
    await expect(e01.locator("td.decision")).to_have_text("已承诺")
    await expect(lawful).to_have_text("评标委员会组成合规：已确认承诺 5 人，其中专家 5 人。")
    await expect(lawful).to_have_class("lawful")
    await expect(problems).to_have_count(0)
    assert await e01.locator("button").count() == 0

    # E07 recuses at their seat; the page shows it once refreshed.
    async with database.write() as s:
        await formation.decide(
            s, sid, "E07", "recused", "与投标人存在利害关系", actor="seat:QJ.QJ-02", host=None,
            now=clock(),
        )  # fmt: skip
    await page.click("#refresh")
    await expect(page.locator("#committee tr[data-member=E07] td.decision")).to_have_text(
        "已回避（与投标人存在利害关系）"
    )
    await expect(lawful).to_have_text("评标委员会组成合规：已确认承诺 5 人，其中专家 5 人。")

    # Chair election: one ballot per confirmed member among the round's candidates.
    status = page.locator("#chair-status")
    seated = ["E01", "E03", "E04", "E05", "E06"]
    await expect(status).to_have_text("第 1 轮候选人：" + "、".join(_who(c) for c in seated))
    await expect(page.locator("#chair-form-title")).to_have_text(
        "第 1 轮投票（每位已承诺的成员一票）"
    )
    voters = page.locator("#chair-ballots select")
    await expect(voters).to_have_count(5)
    assert [await v.get_attribute("data-voter") for v in await voters.all()] == seated
    await expect(page.locator("#chair-ballots select[data-voter=E01] option")).to_have_text(
        ["（未投票）", *(_who(c) for c in seated)]
    )
    assert await page.locator("#chair-rounds").is_hidden()

    await page.click("#chair-submit")  # nobody voted: the hub refuses an empty round
    await expect(message).to_have_text("字段 ballots 至少需要 1 项")
    await expect(message).not_to_have_class("ok")

    await _vote(page, {"E01": "E01", "E03": "E01", "E04": "E04", "E05": "E04", "E06": "E06"})
    await expect(message).to_have_text("第 1 轮：E01 赵建国、E04 李志强 票数相同，进入第 2 轮。")
    first = page.locator("#chair-rounds tr[data-round='1'] td")
    await expect(first).to_have_text(
        [
            "第 1 轮",
            "E01→E01、E03→E01、E04→E04、E05→E04、E06→E06",
            "E01 2 票、E03 0 票、E04 2 票、E05 0 票、E06 1 票",
            "E01 赵建国、E04 李志强 票数相同，进入第 2 轮",
        ]
    )
    await expect(status).to_have_text("第 2 轮候选人：E01 赵建国、E04 李志强")
    await expect(page.locator("#chair-form-title")).to_have_text(
        "第 2 轮投票（每位已承诺的成员一票）"
    )
    await expect(page.locator("#chair-ballots select[data-voter=E05] option")).to_have_text(
        ["（未投票）", "E01 赵建国", "E04 李志强"]
    )
    await expect(page.locator("#committee td.chair")).to_have_text([""] * 7)

    await _vote(page, {"E01": "E04", "E03": "E04", "E04": "E04", "E05": "E01", "E06": "E01"})
    await expect(message).to_have_text("第 2 轮：E04 李志强 当选主任委员。")
    await expect(page.locator("#chair-rounds tr[data-round='2'] td")).to_have_text(
        [
            "第 2 轮",
            "E01→E04、E03→E04、E04→E04、E05→E01、E06→E01",
            "E01 2 票、E04 3 票",
            "E04 李志强 当选主任委员",
        ]
    )
    await expect(status).to_have_text("主任委员：E04 李志强")
    await expect(page.locator("#chair-form")).to_be_hidden()
    await expect(page.locator("#committee tr[data-member=E04] td.chair")).to_have_text("主任委员")
    await expect(page.locator("#committee td.chair")).to_have_text(
        ["", "", "", "主任委员", "", "", ""]
    )

    # Reloaded, the panel shows what the hub keeps: each round's ballots, count and outcome.
    await page.reload()
    await expect(status).to_have_text("主任委员：E04 李志强")
    await expect(first).to_have_text(
        [
            "第 1 轮",
            "E01→E01、E03→E01、E04→E04、E05→E04、E06→E06",
            "E01 2 票、E03 0 票、E04 2 票、E05 0 票、E06 1 票",
            "E01 赵建国、E04 李志强 票数相同，进入第 2 轮",
        ]
    )
    await expect(page.locator("#chair-rounds tr[data-round='2'] td.result")).to_have_text(
        "E04 李志强 当选主任委员"
    )
    await expect(page.locator("#committee tr[data-member=E04] td.chair")).to_have_text("主任委员")
    await page.close()
