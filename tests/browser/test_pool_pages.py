"""The expert pool and session creation pages in headless Chromium, against a hub in this
process: the system administrator imports experts from a CSV on the pool page (a bad file
first: every bad row listed, nothing imported); the host operator creates a session on the
sessions page with a committee including a purchaser's representative (the drawn experts from
the pool's draw record), attaches the bid package on the console (the existing attach flow),
and sees an expert whose former employer is a bidder refused with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.evaluation.helpers import DEMO_PACKAGE, Client
from tests.pool.files import csv_bytes

pytestmark = pytest.mark.browser

POOL = [
    ("E11", "马建华", "云南大学", "", "530100", "公路工程", "13800000011"),
    ("E12", "卢文静", "昆明理工大学", "", "530100", "桥梁", "13800000012"),
    (
        "E13",
        "唐国强",
        "云南交通职业技术学院",
        "昆明金马公路工程集团有限公司:2025",
        "530100",
        "造价",
        "13800000013",
    ),
    ("E14", "许冬梅", "大理大学", "", "532900", "公路工程", "13800000014"),
]
REFUSAL = (
    "专家 E13 唐国强 的原工作单位「昆明金马公路工程集团有限公司」（2025 年离开，在 3 年内）"
    "与投标人「昆明金马公路工程集团有限公司」为同一单位，应当回避"
)


async def _sign_in(page: Any, url: str, user: str) -> None:
    await page.goto(url)
    await page.fill("#login-form input[name=username]", user)
    await page.fill("#login-form input[name=password]", "demo-2026")
    await page.click("#login-form button[type=submit]")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_pool_import_session_creation_and_recusal_from_the_pages(
    browser: Any, client: Client, seeded: dict[str, Any], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        csv_bytes([POOL[0], ("E11", "卢文静", "昆明理工大学", "", "530100", "桥梁", "123")])
    )
    good = tmp_path / "pool.csv"
    good.write_bytes(b"\xef\xbb\xbf" + csv_bytes(POOL))
    draw = tmp_path / "draw.csv"
    draw.write_text("专家编号,场地\nE11,host\nE12,away\nE14,away\n", encoding="utf-8")

    page = await browser.new_page()
    message = page.locator("#message")
    await _sign_in(page, str(client.make_url("/pool")), "sysadmin")
    await expect(page.locator("#experts tbody tr")).to_have_count(7)  # the seeded pool
    await page.set_input_files("#experts-file", str(bad))
    await page.click("#experts-form button[type=submit]")
    await expect(message).to_have_text(
        "专家库文件有 2 处问题，未导入任何记录；请全部改正后重新导入"
    )
    await expect(page.locator("#problems tbody tr")).to_have_text([
        "3专家编号专家编号「E11」与第 2 行重复",
        "3手机号码手机号码「123」无效：须为 11 位手机号码（如 13800000000）或带区号的固定电话（如 0871-12345678）",
    ])  # fmt: skip
    await expect(page.locator("#experts tbody tr")).to_have_count(7)
    await page.set_input_files("#experts-file", str(good))
    await page.click("#experts-form button[type=submit]")
    await expect(message).to_contain_text("专家库已导入 4 条：新增 4，更新 0，未变 0（CSV (UTF-8)")
    await expect(page.locator("#problems")).to_be_hidden()
    await expect(page.locator("#experts tbody tr")).to_have_count(11)
    await expect(page.locator("#experts tr[data-code=E13] td").nth(3)).to_have_text(
        "昆明金马公路工程集团有限公司（2025）"
    )
    await page.click("#logout")
    await expect(page.locator("#login-panel")).to_be_visible()

    # The host operator creates the session with its composition and forms the committee.
    await _sign_in(page, str(client.make_url("/sessions")), "km_operator")
    await page.fill("#project-code", "YNGGZY-PE-2026-JS-0101")
    await page.fill("#project-name", "普洱市思茅区南屏至倚象公路提升改造工程")
    await page.fill("#section", "施工第一标段")
    await page.fill("#day", "2026-12-02")
    await page.fill("#starts", "09:00")
    await page.fill("#ends", "17:30")
    await page.fill("#committee-size", "4")
    await page.fill("#representatives", "1")
    await page.click("#create")
    await expect(message).to_have_text("评标委员会人数必须为 5 人以上的单数，当前为 4 人")
    await page.fill("#committee-size", "5")
    await page.click("#create")
    await expect(message).to_contain_text("已创建评标会 #")
    await expect(page.locator("#session-facts")).to_have_text(
        "工程招标；评标委员会 5 人，其中采购人代表 1 人"
    )
    await page.set_input_files("#draw-file", str(draw))
    await page.click("#draw-form button[type=submit]")
    await expect(message).to_have_text("已登记 3 名专家，自动回避 0 名")
    await page.fill("#rep-code", "R01")
    await page.fill("#rep-name", "杨光")
    await page.fill("#rep-employer", "普洱市交通运输局")
    await page.click("#rep-form button[type=submit]")
    await expect(message).to_have_text("已登记采购人代表 R01 杨光")
    await expect(page.locator("#members tbody tr")).to_have_text([
        "E11马建华专家主场待确认",
        "E12卢文静专家客场待确认",
        "E14许冬梅专家客场待确认",
        "R01杨光招标人代表主场待确认",
    ])  # fmt: skip

    # The bid package, attached on the console as always.
    console = await browser.new_page()
    href = await page.locator("#console-link").get_attribute("href")
    await _sign_in(console, str(client.make_url(href)), "km_operator")
    await console.click("#attach-form summary")  # the hub's own folder, as the console test does
    await console.fill("#package-path", str(DEMO_PACKAGE))
    await console.click("#path-form button[type=submit]")
    await expect(console.locator("#message")).to_have_text("已导入标书包。")

    # E13 left a bidder in 2025: refused, with the reason in the hub's words.
    await page.reload()
    await page.select_option("#expert", label="E13 唐国强（云南交通职业技术学院）")
    await page.click("#expert-form button[type=submit]")
    await expect(page.locator("#refusals li")).to_have_text([REFUSAL])
    await expect(message).to_have_text(REFUSAL)
    await expect(page.locator("#members tbody tr")).to_have_count(4)
    await page.select_option("#expert", label="E06 吴振华（曲靖师范学院）")
    await page.click("#expert-form button[type=submit]")
    await expect(message).to_have_text("已登记专家 E06 吴振华")
    await expect(page.locator("#members tbody tr")).to_have_count(5)
