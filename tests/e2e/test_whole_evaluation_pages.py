"""One whole evaluation through the pages only, in Debian's headless Chromium, against real
processes: ``evaluation-hub serve`` on PostgreSQL and a ``seat-agent run`` for each of seven
seats (publishing the test pattern, serving its expert's page).

The world exists before the story (``tests/support/seed.py``: venues, seats, people, the
session, under way today so check-in is open on the real clock); the seat terminals are
enrolled and approved through the enrolment use cases, as the demo does
(``evaluation_hub.demo.processes``). Everything after that is done by people on pages:

* the host operator, on the host page, books the host venue's seats for E01 and E02 (主场工位)
  and allocates the away experts to their nearest venues; each venue's admin confirms on the
  admin page; the host confirms the seats, opens check-in and issues the PINs;
* on the console the host attaches the bid package and records the release reason of its one
  flagged chapter;
* the seven experts, each on their seat's page, check in with their PIN, confirm the
  commitment and elect the chair (E01, by every ballot at the seats); the host starts the
  evaluation and releases the chapters on the console; each expert reads a chapter and scores
  every part, E07 giving b01's objective item c1 12 where the others give 16;
* the host starts the review on the console; E07 re-scores c1 to 16 on the page, which closes
  every request about it by itself (已自动关闭); a second round finds nothing; the host seals
  and reveals; every expert signs on the page;
* the supervisor's live wall shows every seat.

The test reads through GETs (and the archive command) only to check: the ranking, the signed
report (seven signatures from the seats), the review closed with nobody answering for another
(no 代录), and the archive's recordings list (segments of every seat).
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from playwright.async_api import expect

from evaluation_hub.db.engine import Database
from evaluation_hub.demo.data import DEMO_SCORES
from evaluation_hub.demo.processes import start_seat_agents, stop_seat_agents
from evaluation_hub.demo.seed import venue_admin
from evaluation_hub.seats import enrolment
from seat_agent.keys import init_state_dir
from seat_agent.page.guard import new_page_key, opening_url
from seat_protocol.seat_key import SeatKey
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.conftest import SEALING_KEY, HubProcess, _env, api, until
from tests.evaluation.helpers import DEMO_PACKAGE
from tests.support.postgres_server import free_port
from tests.support.seed import load_directory, seed

pytestmark = pytest.mark.browser

SEVEN = ("E01", "E02", "E03", "E04", "E05", "E06", "E07")
HOST_SEATS = {"E01": "KM-01", "E02": "KM-02"}
CHAIR = "E01"
# Every expert's technical points by item, the same for every bidder (the page shows labels,
# not bidders): technical 31 for each bidder, so the ranking follows commercial + price.
POINTS = {"1.1": "7.5", "1.2": "4", "2.1": "6.5", "2.2": "5.5", "3.1": "4.5", "3.2": "3"}
ODD_EXPERT, ODD = "E07", ("b01", "c1", "12")  # b01 has 4 similar projects (16), not 3
# technical 31 + commercial (configs/demo/scores.yaml) + price score (the package's prices, as
# in tests/e2e/test_evaluation_processes.py)
RANKING = [
    ("1", "b02", "86.57"),  # 31 + 28 + 27.57
    ("2", "b05", "85.88"),  # 31 + 28 + 26.88
    ("3", "b01", "79.06"),  # 31 + 25 + 23.06
    ("4", "b04", "75.48"),  # 31 + 15 + 29.48
    ("5", "b03", "73.63"),  # 31 + 22 + 20.63
]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    # Seven seats, a hub and a browser share two cores in CI: a page may take seconds to show
    # what the hub did (the bound only turns a hang into a failure).
    expect.set_options(timeout=60_000)
    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()
            expect.set_options(timeout=5_000)


@dataclass
class World:
    hub: HubProcess
    db: Database
    seats_dir: Path
    agents: list[subprocess.Popen[bytes]]


@pytest.fixture
async def world(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    from tests.conftest import fresh_database_url

    url = fresh_database_url("postgres", tmp_path, request)
    db = Database(url)
    await db.upgrade()
    now = datetime.now(UTC)
    # Under way today: check-in is open on the hub's real clock.
    ids = await seed(db, now, window=(now + timedelta(minutes=30), now + timedelta(hours=9)))
    # Short recording segments, so the archive lists closed ones while the test runs.
    monkeypatch.setenv("EVALHUB_RECORDING_SEGMENT_SECONDS", "4")
    hub = HubProcess(url, tmp_path, ids=ids)
    agents: list[subprocess.Popen[bytes]] = []
    try:
        await hub.start()
        yield World(hub, db, tmp_path / "seats", agents)
    finally:
        await asyncio.to_thread(stop_seat_agents, agents)
        await hub.kill()
        await db.dispose()


def _zipped_package(folder: Path) -> Path:
    """The demo package as a zip with one top folder, the way zipping a folder comes out."""
    path = folder / "标书包.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for file in sorted(DEMO_PACKAGE.rglob("*")):
            if file.is_file():
                z.write(file, "bid_package/" + file.relative_to(DEMO_PACKAGE).as_posix())
    return path


async def _enrol_and_start(world: World, seat_ids: list[str]) -> dict[str, str]:
    """The venue staff set up a terminal at each booked seat: keys, enrolment approved by the
    venue's admin (the demo's way), ``seat-agent run`` publishing the test pattern. Returns
    each seat's page address (the key in the fragment), as the agent prints it."""
    data = load_directory()
    ids = world.hub.ids
    now = datetime.now(UTC)
    dirs, ports, keys = [], {}, {}
    for seat_id in seat_ids:
        state = world.seats_dir / seat_id
        identity = init_state_dir(
            state, seat_id=seat_id, hub_url=world.hub.seat_url, hub_id="evaluation-hub"
        )
        await enrolment.record_enrolment(
            world.db, seat_id, identity.ed25519_public, identity.x25519_public,
            identity.enrolment_code, now,
        )  # fmt: skip
        admin = venue_admin(data, ids, SeatKey(seat_id).venue_code)
        await enrolment.approve_enrolment(
            world.db, admin, seat_id, now, enrolment_code=identity.enrolment_code
        )
        dirs.append(state)
        ports[seat_id] = free_port()
        keys[seat_id] = new_page_key()
    agents = start_seat_agents(dirs, {}, "testpattern", ports, keys)
    world.agents += agents
    await _serving(agents, [ports[s] for s in seat_ids])
    return {s: opening_url("127.0.0.1", ports[s], keys[s]) for s in seat_ids}


async def _serving(agents: list[subprocess.Popen[bytes]], ports: list[int]) -> None:
    """Until every agent's page server accepts connections, as a person would wait for the
    terminal to show its page (the host's steps before the seats' can take less time than
    seven agents take to start on two cores)."""

    async def listening() -> bool:
        assert all(a.poll() is None for a in agents), "a seat agent exited"
        for port in ports:
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                return False
            writer.close()
            await writer.wait_closed()
        return True

    await until(listening, "the seat agents' pages")


async def _sign_in(page: Any, url: str, user: str) -> None:
    """``user`` signs in on the page at ``url`` (each person has their own browser context: a
    page keeps its sign-in for its origin)."""
    await page.goto(url)
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", "demo-2026")
    await page.click("button[type=submit]")


def _points(part: str, key: str, expert: str) -> tuple[str, str]:
    """(points, comment) ``expert`` enters for ``subject|item`` of ``part``."""
    subject, item = key.split("|")
    if part != "commercial":
        return POINTS[item], "见评审意见"
    if expert == ODD_EXPERT and (subject, item) == ODD[:2]:
        return ODD[2], "按投标文件所附业绩证明计 3 项"
    commercial = yaml.safe_load(DEMO_SCORES.read_text(encoding="utf-8"))["commercial"]
    return str(commercial[subject][item]), "按评标办法计算"


async def _score_every_part(page: Any, expert: str) -> None:
    options = page.locator("#part option")
    parts = await options.evaluate_all("options => options.map(o => o.value)")
    assert parts == ["ch1", "ch2", "ch3", "commercial"]
    for part in parts:
        await page.select_option("#part", part)
        keys = await page.locator("#sheet tr[data-key]").evaluate_all(
            "rows => rows.map(r => r.dataset.key)"
        )
        for key in keys:
            points, comment = _points(part, key, expert)
            await page.get_by_test_id(f"comment-{key}").fill(comment)
            await page.get_by_test_id(f"points-{key}").fill(points)
        await page.get_by_text("可以提交").wait_for()
        await page.click("#submit-scores")
        await page.get_by_test_id(f"progress-{part}").get_by_text("已送达").wait_for()


# Seven seat agents publishing video, a hub and Chromium on two cores: the suite's 300 s guard
# against a hung test is too tight for a whole evaluation, so this one test gets 900 s.
@pytest.mark.timeout(900)
async def test_a_whole_evaluation_through_the_pages(world: World, browser: Any) -> None:
    hub, ids = world.hub, world.hub.ids
    sid = str(ids["session"])
    errors: list[str] = []

    async def person() -> Any:
        context = await browser.new_context()
        context.on("page", lambda p: p.on("pageerror", lambda e: errors.append(f"{p.url}: {e}")))
        return context

    context = await person()  # the host operator's browser

    # --- the host books the host venue's seats and the away seats on the host page ---------
    host = await context.new_page()
    await _sign_in(host, f"{hub.base}/host", "km_operator")
    for expert, label in HOST_SEATS.items():
        row = host.locator(f"#host-seats tr[data-seat='{ids['seats'][label]}']")
        await row.locator("select").select_option(str(ids["experts"][expert]))
    await host.click("#book-host-seats")
    await expect(host.locator("#host-seats-message")).to_have_text(
        "已申请主场工位（预约 #1，KM-01、KM-02），待本场地管理员确认。"
    )
    await host.click("#allocate-nearest")
    await expect(host.locator("#message")).to_contain_text("已就近分配 5 名专家")

    async with aiohttp.ClientSession() as http:
        token = await api(
            http, "POST", f"{hub.base}/api/auth/token",
            body={"username": "km_operator", "password": "demo-2026"},
        )  # fmt: skip  # signing in is no change to the evaluation: the reads below use it
        reader = {"Authorization": f"Bearer {token['token']}"}

        async def get(path: str) -> Any:
            return await api(http, "GET", f"{hub.base}{path}", reader)

        bookings = await get(f"/api/bookings?session_id={sid}")
        venue_code = {v: k for k, v in ids["venues"].items()}
        venue_code = {v: k for k, v in ids["venues"].items()}
        seat_ids = sorted(
            f"{venue_code[b['venue_id']]}.{x['label']}"
            for b in bookings
            for x in b["seats"]
            if x["live"]
        )
        assert len(seat_ids) == 7, bookings
        assert {venue_code[b["venue_id"]] for b in bookings} == {"KM", "DL", "HH", "QJ"}

        # --- each venue's admin confirms its booking on the admin page ---------------------
        for b in bookings:
            code = venue_code[b["venue_id"]]
            admin = await (await person()).new_page()
            await _sign_in(admin, f"{hub.base}/admin", f"{code.lower()}_admin")
            await admin.locator(f"#pending tr[data-booking='{b['id']}'] button.confirm").click()
            await expect(admin.locator("#message")).to_have_text(
                f"预约 #{b['id']} 已确认，分配工位 {b['seat_count']} 个。"
            )
            await admin.context.close()
        pages = await _enrol_and_start(world, seat_ids)

        # --- the host confirms the seats, opens check-in, issues the PINs ----------------------
        await host.click("#refresh")
        for action in ("confirm_seats", "open_check_in"):
            await host.click(f"#actions button[data-action={action}]")
            await (
                host.locator("#actions button[data-action=start_evaluation]")
                .or_(host.locator("#actions button[data-action=open_check_in]"))
                .first.wait_for()
            )
        await expect(host.locator("#state")).to_have_text("当前状态：签到中")
        await host.click("#issue-pins")
        rows = host.locator("#pins tbody tr")
        await expect(rows).to_have_count(7)
        pins: dict[str, tuple[str, str]] = {}  # expert -> (seat id, PIN)
        for cells in [await r.locator("td").all_inner_texts() for r in await rows.all()]:
            expert, _venue, label, pin = cells
            pins[expert.split()[0]] = (f"{label[:2]}.{label}", pin)
        assert sorted(pins) == list(SEVEN)
        assert {e: pins[e][0] for e in HOST_SEATS} == {"E01": "KM.KM-01", "E02": "KM.KM-02"}

        # --- the console: the bid package and its flagged chapter's release reason ----------
        console = await context.new_page()
        await console.goto(f"{hub.base}/console")  # signed in already, on the host page
        # The operator uploads the package as the bidding system exported it (a zip).
        await console.set_input_files("#package-file", _zipped_package(world.seats_dir.parent))
        await console.locator("#upload-form button[type=submit]").click()
        flagged = console.locator("#flagged tbody tr")
        await expect(flagged).to_have_count(1)
        await flagged.locator("input").fill("经核对为引用的行业规范示例")
        await flagged.locator("button[data-override]").click()
        await expect(flagged.locator("td.released")).to_contain_text(
            "已放行：经核对为引用的行业规范示例"
        )

        # --- the seven experts check in at their seats, confirm, elect the chair -------------
        experts: dict[str, Any] = {}
        for expert in SEVEN:
            seat_id, pin = pins[expert]
            # A browser of its own at each seat, as at seven terminals (and as Chromium's
            # pages in one context, all but the front one throttled, took 2 s per action).
            page = await (await person()).new_page()
            experts[expert] = page
            await page.goto(pages[seat_id])
            await expect(page.get_by_test_id("link")).to_have_text("已连接主场")
            await page.fill("#session_id", sid)
            await page.fill("#expert_code", expert)
            await page.fill("#pin", pin)
            await page.click("#checkin-submit")
            await page.get_by_text(f"专家 {expert} 签到成功").wait_for()
            await page.click("#commit-confirm")
            await page.get_by_text("已承诺，可以开始评审").wait_for()
        for expert, page in experts.items():
            # The round's candidates are every confirmed member: wait until the page shows all
            # seven (a ballot for an older draw is refused as stale), then vote.
            await expect(page.locator("#chair-candidates input")).to_have_count(7)
            await page.get_by_test_id(f"chair-{CHAIR}").check()
            await page.click("#chair-vote")
            await expect(page.get_by_test_id("chair-status")).to_contain_text(
                "主任委员：E01 赵建国" if expert == SEVEN[-1] else "您已投票给 E01 赵建国"
            )
        for page in experts.values():
            await expect(page.get_by_test_id("chair-status")).to_have_text("主任委员：E01 赵建国")

        # --- the console: start, release the chapters ----------------------------------------
        await console.click("#actions button[data-action=start_evaluation]")
        await expect(console.locator("#state")).to_have_text("当前状态：评审中")
        await console.click("#release")
        await expect(console.locator("#delivery-summary")).to_have_text(
            "已发放 1 次；7 个工位中 7 个已校验全部章节。"
        )

        # --- the supervisor's live wall shows every seat ---------------------------------------
        wall = await (await person()).new_page()
        await _sign_in(wall, f"{hub.base}/wall", "km_supervisor")
        tiles = wall.locator(".tile")
        # The host venue first, then the away venues; every seat live, with its expert.
        order = ["KM-01", "KM-02", *(x.split(".")[1] for x in seat_ids if not x.startswith("KM"))]
        await expect(tiles.locator(".label")).to_have_text(order)
        await expect(tiles.locator(".state")).to_have_text(["在线"] * 7)
        seated = {pins[e][0].split(".")[1]: e for e in SEVEN}
        await expect(tiles.locator(".expert")).to_have_text([f"专家 {seated[x]}" for x in order])
        await wall.context.close()

        # --- every expert reads a chapter and scores every part ---------------------------------
        async def read_and_score(expert: str, page: Any) -> None:
            tabs = page.locator("#part-chapters button")
            await expect(tabs).to_have_count(5)
            await tabs.nth(1).click()
            await expect(tabs.nth(1)).to_have_class("current")
            await expect(page.get_by_test_id("reader")).not_to_be_empty()
            await _score_every_part(page, expert)

        # Seven people at seven seats work at once, as they would.
        await asyncio.gather(*(read_and_score(e, p) for e, p in experts.items()))
        await expect(console.locator("#scoring-summary")).to_have_text(
            "已保存 28/28 个部分；7 位专家中 7 位已提交全部评分。"
        )

        # --- the review: E07 is asked about b01's c1 and re-scores it; it closes by itself -----
        await console.click("#actions button[data-action=begin_deviation_review]")
        await expect(console.locator("#review-summary")).not_to_have_text("尚无复核请求。")
        odd = experts[ODD_EXPERT]
        box = odd.locator("[data-review]").filter(has_text="c1")
        await expect(box.locator(".spread")).to_contain_text(
            "您的评分 12；其他专家（匿名，按分值排序）16、16、16、16、16、16"
        )
        await expect(box.locator(".keep")).to_be_disabled()  # objective: re-scored, not kept
        await odd.select_option("#part", "commercial")
        key = f"{ODD[0]}|{ODD[1]}"
        await odd.get_by_test_id(f"points-{key}").fill("16")
        await odd.get_by_test_id(f"comment-{key}").fill("复核：核对业绩证明为 4 项")
        await odd.get_by_text("可以提交").wait_for()
        await odd.click("#submit-scores")
        await expect(box).to_contain_text(
            "已自动关闭：各专家对客观评分项 commercial c1 的评分已一致"
        )
        for page in experts.values():  # whoever else was asked sees it closed, nothing to do
            for other in await page.locator("[data-review]").all():
                await expect(other).to_contain_text("已自动关闭")
        requests = (await get(f"/api/sessions/{sid}/evaluation"))["review"]["requests"]
        assert requests and {r["answer"] for r in requests} == {"settled"}, requests
        await console.click("#review-round")  # a second round finds nothing more to ask
        await expect(console.locator("#review-summary")).to_have_text(
            f"共 {len(requests)} 项复核请求：已答复或已关闭 {len(requests)} 项，待答复 0 项。"
        )
        await expect(console.locator("#requests tbody td.answer")).to_have_text(
            ["已自动关闭（各专家评分已一致）"] * len(requests)
        )

        # --- seal, reveal on the console; every expert signs on the page -------------------------
        await console.click("#actions button[data-action=seal]")
        await expect(console.locator("#state")).to_have_text("当前状态：已封存")
        await console.click("#actions button[data-action=reveal]")
        ranking = console.locator("#ranking tbody tr")
        await expect(ranking).to_have_count(5)
        shown = [await r.locator("td").all_inner_texts() for r in await ranking.all()]
        assert [(c[0], c[1], c[-1]) for c in shown] == RANKING
        for page in experts.values():
            await page.get_by_text("中标候选人（按排名）").wait_for()
            await page.click("#sign-submit")
            await page.get_by_text("已签署：评标报告签署已记录").wait_for()
        await expect(console.locator("#signature-summary")).to_have_text("已签署 7/7 人。")
        await expect(console.locator("#state")).to_have_text("当前状态：报告已签署")

        # --- read to check: the signed report, nobody answered for another, the archive ------------
        overview = await get(f"/api/sessions/{sid}/evaluation")
        assert overview["state"] == "report_signed"
        assert sorted((x["expert"], x["decision"]) for x in overview["signatures"]) == [
            (e, "agree") for e in SEVEN
        ]
        assert overview["scoring"]["proxy_saves"] == []  # no 代录: every save from its seat
        # Every request about b01's c1 closed by itself once E07's value agreed: the hub
        # settled it, nobody answered for anyone.
        requests = overview["review"]["requests"]
        assert {(r["item"], r["answer"], r["answered_by"]) for r in requests} == {
            ("c1", "settled", "hub")
        }, requests
        assert sorted(r["expert"] for r in requests) == list(SEVEN)
        async with http.get(
            f"{hub.base}/api/sessions/{sid}/evaluation/report", headers=reader
        ) as resp:
            assert resp.status == 200
            report = await resp.text()
        assert f"<strong>{RANKING[0][2]}</strong>" in report
        assert "<p>所有评分均由专家本人在工位终端提交，无主场代录。</p>" in report
    assert errors == []

    # --- the archive lists every seat's recording segments --------------------------------
    bundle = hub.state / "bundle"
    archived = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evaluation_hub.cli", "archive", sid, "--out", str(bundle),
        "--database-url", hub.database_url, "--hub-key", str(hub.state / "hub-key.pem"),
        "--with-recordings", str(hub.state / "recordings"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        # The hub's sealing key, as the hub process had it (never a file left on the machine).
        env=_env(EVALHUB_SEALING_KEY=base64.urlsafe_b64encode(SEALING_KEY).decode()),
    )  # fmt: skip
    output, _ = await archived.communicate()
    assert archived.returncode == 0, output.decode()
    segments = json.loads((bundle / "recordings" / "segments.json").read_text())
    recorded = {g["seat_id"] for g in segments if g["session_id"] == int(sid)}
    assert recorded == {ids["seats"][x.split(".")[1]] for x in seat_ids}, segments
