"""Setting a centre up through the pages only (issue 13), in headless Chromium against a real
`evaluation-hub serve` process: from an empty database and the administrator `evaluation-hub
init` made, the administrator registers the host venue and two away venues, their venue admins
and seats on 系统管理 (/admin/manage); a venue admin then signs in and manages their own venue
only; the audit page (操作日志) shows the changes, each venue admin its own; `audit verify`
proves the chain afterwards. No page breaks the content security policy.

Then the rest of issue 13's set-up, still through the pages only: the administrator imports the
expert pool from a CSV (/pool); the host operator creates a session with a committee including
a purchaser's representative (/sessions: the drawn experts from the pool's draw record),
uploads the bid package as a zip on the console, and sees an expert whose former employer is a
bidder refused with the reason."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from evaluation_hub import localtime
from tests.browser.conftest import wait_ready
from tests.evaluation.helpers import DEMO_PACKAGE
from tests.pool.files import csv_bytes
from tests.support.postgres_server import free_port

pytestmark = pytest.mark.browser

ROOT_PASSWORD = "Root-pass-2026!"
WATCH = """(() => {
  window.__violations = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
  });
})();"""
VENUES = [
    ("KM", "云南省公共资源交易中心（昆明）", "530100", "云南省发展和改革委员会"),
    ("QJ", "曲靖市公共资源交易中心", "530300", "曲靖市发展和改革委员会"),
    ("DL", "大理州公共资源交易中心", "532900", "大理州发展和改革委员会"),
]


async def _cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "evaluation_hub.cli",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return subprocess.CompletedProcess(list(args), proc.returncode, out, err)


@pytest.fixture
async def fresh_hub(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A migrated empty database with the administrator `init` made, served by the hub."""
    state = tmp_path / "state"
    url = f"sqlite+aiosqlite:///{state / 'hub.db'}"
    password = tmp_path / "root-password"
    password.write_text(ROOT_PASSWORD + "\n", encoding="utf-8")
    done = await _cli("db", "upgrade", "--state-dir", str(state))
    assert done.returncode == 0, done.stderr
    done = await _cli("init", "--database-url", url, "--password-file", str(password))
    assert done.returncode == 0, done.stderr
    assert ROOT_PASSWORD.encode() not in done.stdout + done.stderr
    port = free_port()
    with (tmp_path / "hub.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "evaluation_hub.cli",
            "serve",
            "--state-dir",
            str(state),
            "--port",
            str(port),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base)
        yield base, state
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
    assert ROOT_PASSWORD.encode() not in (tmp_path / "hub.log").read_bytes()


async def _sign_in(page: Any, base: str, username: str, password: str) -> None:
    await page.goto(f"{base}/admin/manage")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#manage-panel:not([hidden]) .tab[data-loaded=yes]")


async def _message(page: Any, ok: bool) -> str:
    await page.wait_for_selector(
        "#message.ok:not([hidden])" if ok else "#message:not(.ok):not([hidden])"
    )
    text: str = await page.text_content("#message") or ""
    await page.evaluate("() => { document.querySelector('#message').hidden = true; }")
    return text


async def _tab(page: Any, name: str) -> None:
    await page.click(f"#tabs button[data-tab={name}]")
    await page.wait_for_selector(f"#tab-{name}:not([hidden])[data-loaded=yes]")


async def _select(page: Any, selector: str, code: str) -> None:
    value = await page.locator(f"{selector} option", has_text=code).first.get_attribute("value")
    await page.select_option(selector, value)


async def test_a_centre_is_set_up_through_the_pages(
    browser: Any, fresh_hub: tuple[str, Path], tmp_path: Path
) -> None:
    base, state = fresh_hub
    page = await browser.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    await page.add_init_script(WATCH)
    await _sign_in(page, base, "admin", ROOT_PASSWORD)
    assert await page.title() == "系统管理 · 远程异地评标"
    tabs = await page.locator("#tabs button").all_text_contents()
    assert tabs == ["场地管理", "工位管理", "用户管理", "操作日志"]
    assert await page.locator("#venues tbody tr").count() == 0

    # A region the region table does not hold is refused with the API's words.
    form = page.locator("#venue-form")
    await form.locator("input[name=code]").fill("KM")
    await form.locator("input[name=name]").fill(VENUES[0][1])
    await form.locator("input[name=region_code]").fill("110100")
    await form.locator("input[name=supervising_department]").fill(VENUES[0][3])
    await form.locator("button[type=submit]").click()
    assert await _message(page, ok=False) == (
        "行政区划代码「110100」不在地区配置（configs/regions）中：请核对代码，或先在地区配置中补充该地区"
    )
    for code, name, region, department in VENUES:
        await form.locator("input[name=code]").fill(code)
        await form.locator("input[name=name]").fill(name)
        await form.locator("input[name=region_code]").fill(region)
        await form.locator("input[name=supervising_department]").fill(department)
        if code == "KM":
            await form.locator("input[name=latitude]").fill("24.88")
            await form.locator("input[name=longitude]").fill("102.821")
        await form.locator("button[type=submit]").click()
        assert await _message(page, ok=True) == f"已登记场地「{name}」"
    assert await page.locator("#venues tbody tr").count() == 3
    # Changed, then disabled and enabled again.
    await page.locator("#venues tr[data-code=QJ] button.edit").click()
    assert await form.locator("input[name=code]").is_disabled()
    await form.locator("input[name=contact_name]").fill("张伟")
    await form.locator("input[name=contact_phone]").fill("0874-0000004")
    await form.locator("button[type=submit]").click()
    assert await _message(page, ok=True) == "已修改场地「曲靖市公共资源交易中心」"
    assert "张伟 0874-0000004" in (await page.text_content("#venues tr[data-code=QJ]") or "")
    await page.locator("#venues tr[data-code=DL] button.toggle").click()
    assert await _message(page, ok=True) == "已停用场地「大理州公共资源交易中心」"
    assert "已停用" in (await page.text_content("#venues tr[data-code=DL]") or "")
    await page.locator("#venues tr[data-code=DL] button.toggle").click()
    assert await _message(page, ok=True) == "已启用场地「大理州公共资源交易中心」"

    # The venue admins (and the host's operator).
    await _tab(page, "users")
    users = page.locator("#user-form")
    for username, role, code in (
        ("km_admin", "venue_admin", "KM"),
        ("qj_admin", "venue_admin", "QJ"),
        ("dl_admin", "venue_admin", "DL"),
        ("km_operator", "host_operator", "KM"),
    ):
        await users.locator("input[name=username]").fill(username)
        await users.locator("select[name=role]").select_option(role)
        await _select(page, "#user-form select[name=venue_id]", code)
        await users.locator("input[name=password]").fill(f"{username}-pass-2026")
        await users.locator("button[type=submit]").click()
        assert (await _message(page, ok=True)).startswith(f"已新增用户 {username}")
    assert await page.locator("#users tbody tr").count() == 5

    # Seats of each venue.
    await _tab(page, "seats")
    seats = page.locator("#seat-form")
    for code, labels in (("KM", ["KM-01", "KM-02"]), ("QJ", ["QJ-01"]), ("DL", ["DL-01"])):
        await _select(page, "#seat-venue", code)
        await page.wait_for_function(
            "n => document.querySelectorAll('#seats tbody tr').length === n", arg=0
        )
        for label in labels:
            await seats.locator("input[name=label]").fill(label)
            await seats.locator("input[name=room]").fill("第一评标室")
            await seats.locator("fieldset.capabilities input[value=camera]").check()
            await seats.locator("button[type=submit]").click()
            assert await _message(page, ok=True) == f"已新增工位 {label}"
        assert await page.locator("#seats tbody tr").count() == len(labels)

    await _tab(page, "audit")
    kinds = await page.locator("#audit tbody td.kind").all_text_contents()
    assert kinds == (
        ["发布工位"] * 4 + ["新增用户"] * 4 + ["修改场地"] * 3 + ["登记场地"] * 3 + ["新增用户"]
    )
    changed = page.locator("#audit tbody tr[data-kind='admin.venue_changed']").last
    assert await changed.locator("td.before").text_content() == "联系人：（空）；联系电话：（空）"
    assert (
        await changed.locator("td.after").text_content() == "联系人：张伟；联系电话：0874-0000004"
    )
    await page.click("#logout")
    await page.wait_for_selector("#login-panel:not([hidden])")
    assert await page.locator("#audit tbody tr, #venues tbody tr").count() == 0

    # 曲靖's admin manages 曲靖 only.
    await _sign_in(page, base, "qj_admin", "qj_admin-pass-2026")
    assert await page.locator("#tabs button").all_text_contents() == [
        "工位管理",
        "用户管理",
        "操作日志",
    ]
    assert await page.locator("#seat-venue option").all_text_contents() == [
        "QJ 曲靖市公共资源交易中心"
    ]
    await seats.locator("input[name=label]").fill("QJ-02")
    await seats.locator("button[type=submit]").click()
    assert await _message(page, ok=True) == "已新增工位 QJ-02"
    first = page.locator("#seats tr[data-label='QJ-01']")
    await first.locator("select.status").select_option("maintenance")
    await first.locator("button.save").click()
    assert await _message(page, ok=True) == "已保存工位 QJ-01"
    await _tab(page, "users")
    assert await page.locator("#user-form select[name=role] option").all_text_contents() == [
        "场地管理员",
        "主场业务人员",
        "监督人员",
    ]
    assert await page.locator("#user-venue option").all_text_contents() == [
        "QJ 曲靖市公共资源交易中心"
    ]
    await users.locator("input[name=username]").fill("qj_supervisor")
    await users.locator("select[name=role]").select_option("supervisor")
    await users.locator("input[name=password]").fill("qj-supervisor-2026")
    await users.locator("button[type=submit]").click()
    assert await _message(page, ok=True) == "已新增用户 qj_supervisor（监督人员）"
    assert await page.locator("#users tbody tr").count() == 2
    # Another venue is not theirs, whatever the page is made to send.
    km_id = await page.evaluate(
        "async () => (await api('GET', '/api/venues')).find((v) => v.code === 'KM').id"
    )
    refused = await page.evaluate(
        """async (id) => {
            try { await api('POST', `/api/venues/${id}/seats`, { label: 'KM-99' }); return 'added'; }
            catch (err) { return err.message; }
        }""",
        km_id,
    )
    assert refused == (
        "只有场地「云南省公共资源交易中心（昆明）」的管理员可以管理场地「云南省公共资源交易中心（昆明）」，"
        "当前用户 qj_admin（场地管理员）无此权限"
    )
    await _tab(page, "audit")
    subjects = await page.locator("#audit tbody td.subject").all_text_contents()
    kinds = await page.locator("#audit tbody td.kind").all_text_contents()
    assert kinds == [
        "新增用户",
        "修改工位",
        "发布工位",
        "发布工位",
        "新增用户",
        "修改场地",
        "登记场地",
    ]
    assert subjects[0] == "user:qj_supervisor" and subjects[-1] == "venue:QJ"
    assert set(await page.locator("#audit tbody td:nth-child(5)").all_text_contents()) == {"QJ"}
    assert await page.evaluate("window.__violations") == []
    assert [m for m in console if "Content Security Policy" in m] == []

    verified = await _cli(
        "audit",
        "verify",
        "--database-url",
        f"sqlite+aiosqlite:///{state / 'hub.db'}",
        "--public-key",
        str(state / "hub-key.pub"),
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.decode().startswith("audit chain OK: 18 events")

    await _pool_session_package_and_recusal(browser, base, state, tmp_path)


POOL = [
    ("E11", "马建华", "云南大学", "", "530100", "公路工程", "13800000011"),
    ("E12", "卢文静", "昆明理工大学", "", "530100", "桥梁", "13800000012"),
    ("E13", "唐国强", "云南交通职业技术学院", "昆明金马公路工程集团有限公司:2025", "530100",
     "造价", "13800000013"),
    ("E14", "许冬梅", "大理大学", "", "532900", "公路工程", "13800000014"),
    ("E15", "何志远", "曲靖师范学院", "", "530300", "公路工程", "13800000015"),
]  # fmt: skip
RECUSAL = (
    "专家 E13 唐国强 的原工作单位「昆明金马公路工程集团有限公司」（2025 年离开，在 3 年内）"
    "与投标人「昆明金马公路工程集团有限公司」为同一单位，应当回避"
)


async def _page_sign_in(page: Any, url: str, username: str, password: str) -> None:
    await page.goto(url)
    await page.fill("#login-form input[name=username]", username)
    await page.fill("#login-form input[name=password]", password)
    await page.click("#login-form button[type=submit]")


def _zipped_package(folder: Path) -> Path:
    path = folder / "标书包.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for file in sorted(DEMO_PACKAGE.rglob("*")):
            if file.is_file():
                z.write(file, "bid_package/" + file.relative_to(DEMO_PACKAGE).as_posix())
    return path


async def _pool_session_package_and_recusal(
    browser: Any, base: str, state: Path, tmp_path: Path
) -> None:
    pool = tmp_path / "专家库.csv"
    pool.write_bytes(b"\xef\xbb\xbf" + csv_bytes(POOL))
    draw = tmp_path / "抽取记录.csv"
    draw.write_text("专家编号,场地\nE11,host\nE12,host\nE14,away\n", encoding="utf-8")

    # The administrator imports the pool.
    page = await browser.new_page()
    message = page.locator("#message")
    await _page_sign_in(page, f"{base}/pool", "admin", ROOT_PASSWORD)
    await expect(page.locator("#experts tbody tr")).to_have_count(0)
    await page.set_input_files("#experts-file", str(pool))
    await page.click("#experts-form button[type=submit]")
    await expect(message).to_contain_text("专家库已导入 5 条：新增 5，更新 0，未变 0")
    await expect(page.locator("#experts tbody tr")).to_have_count(5)
    await page.close()

    # The host operator creates the session: five members, one a purchaser's representative.
    page = await browser.new_page()
    message = page.locator("#message")
    await _page_sign_in(page, f"{base}/sessions", "km_operator", "km_operator-pass-2026")
    tomorrow = localtime.day_of(datetime.now(UTC)) + timedelta(days=1)
    await page.fill("#project-code", "YNGGZY-PE-2027-JS-0001")
    await page.fill("#project-name", "普洱市思茅区南屏至倚象公路提升改造工程")
    await page.fill("#section", "施工第一标段")
    await page.fill("#day", tomorrow.isoformat())
    await page.fill("#starts", "09:00")
    await page.fill("#ends", "17:30")
    await page.fill("#committee-size", "5")
    await page.fill("#representatives", "1")
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
    await expect(page.locator("#members tbody tr")).to_have_count(4)

    # The package, uploaded as the bidding system exported it.
    console = await browser.new_page()
    href = await page.locator("#console-link").get_attribute("href")
    await _page_sign_in(console, f"{base}{href}", "km_operator", "km_operator-pass-2026")
    await console.set_input_files("#package-file", str(_zipped_package(tmp_path)))
    await console.click("#upload-form button[type=submit]")
    await expect(console.locator("#message")).to_have_text("已导入标书包。")

    # E13 left a bidder in 2025: refused, with the reason; another expert completes the five.
    await page.reload()
    await page.select_option("#expert", label="E13 唐国强（云南交通职业技术学院）")
    await page.click("#expert-form button[type=submit]")
    await expect(page.locator("#refusals li")).to_have_text([RECUSAL])
    await expect(message).to_have_text(RECUSAL)
    await page.select_option("#expert", label="E15 何志远（曲靖师范学院）")
    await page.click("#expert-form button[type=submit]")
    await expect(message).to_have_text("已登记专家 E15 何志远")
    await expect(page.locator("#members tbody tr")).to_have_count(5)

    verified = await _cli(
        "audit",
        "verify",
        "--database-url",
        f"sqlite+aiosqlite:///{state / 'hub.db'}",
        "--public-key",
        str(state / "hub-key.pub"),
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
