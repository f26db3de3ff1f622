"""``evaluation-hub demo --reset --script --play E07`` (``make demo``) as a real process: the demo
plays E01–E06 by itself and a person plays E07 on the seat's expert page. The test is that
person, through the page's JSON API: it reads the page address, the session number and the
one-time PIN the demo prints (the page's key from the address's fragment, sent as the page's
script sends it), checks in, confirms the commitment, scores every part (scoring
item 1.1 far below the others, which pulls E07's chapter 1 total for every bidder far below the
members' mean, so the review round asks E07 about those totals), keeps those scores with
written reasons, and signs the report. The demo waits for each of these and the session ends
``report_signed`` with seven signatures."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from evaluation_hub.demo import DEMO_SCORES
from tests.e2e.conftest import api, until
from tests.e2e.demo_process import running_demo
from tests.seat_agent.test_page_flow import key_of, page_headers

SEVEN = ["E01", "E02", "E03", "E04", "E05", "E06", "E07"]
PLAYED = "E07"
# The person's technical points by item; 1.1 far below everyone's 6.5–9, so E07's chapter 1
# total (2 + 4 = 6) lies far from the members' mean of it for every bidder: a deviation review.
POINTS = {"1.1": "2", "1.2": "4", "2.1": "6.5", "2.2": "5.5", "3.1": "4.5", "3.2": "3"}


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, int, Path]]:
    """The demo in its own process group, so teardown can kill it and its seats."""
    async with running_demo(tmp_path, "--script", "--play", PLAYED) as demo:
        yield demo.proc, demo.port, demo.out


def _values(part: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The person's form for one part: commercial items as the method computes them."""
    commercial = yaml.safe_load(DEMO_SCORES.read_text(encoding="utf-8"))["commercial"]
    values = {}
    for subject in part["subjects"]:
        for item in part["items"]:
            if part["part"] == "commercial":
                points, comment = commercial[subject][item["id"]], "按评标办法计算"
            else:
                points, comment = POINTS[item["id"]], "见评审意见"
            values[f"{subject}|{item['id']}"] = {"points": points, "comment": comment}
    return values


async def test_a_person_plays_e07_through_the_demo_to_the_signed_report(
    demo: tuple[asyncio.subprocess.Process, int, Path],
) -> None:
    proc, port, out = demo
    base = f"http://127.0.0.1:{port}"
    found: dict[str, str] = {}

    async def printed() -> bool:
        assert proc.returncode is None, out.read_text()
        text = out.read_text()
        page = re.search(r"打开专家页面：(http://\S+)", text)
        pin = re.search(rf"评标会编号 (\d+)，专家编号 {PLAYED}，签到码 (\d{{6}})", text)
        if page and pin:
            found.update(page=page[1], session=pin[1], pin=pin[2])
        return bool(found)

    await until(printed, "the demo to print the page, the session and the PIN")
    page = found["page"].split("#", 1)[0].rstrip("/")
    own = page_headers(key_of(found["page"]))  # what the page's script sends

    async with aiohttp.ClientSession() as http:

        async def state() -> dict[str, Any]:
            async with http.get(f"{page}/api/state", headers=own) as resp:
                assert resp.status == 200
                body: dict[str, Any] = await resp.json()
                return body

        async def post(path: str, body: dict[str, Any], expect: int) -> None:
            async with http.post(f"{page}{path}", json=body, headers=own) as resp:
                assert resp.status == expect, await resp.text()

        async def online() -> bool:
            assert proc.returncode is None, out.read_text()
            try:
                return bool((await state())["online"])
            except aiohttp.ClientError:
                return False

        await until(online, "the expert page and its link to the hub")
        checkin = {"session_id": found["session"], "expert_code": PLAYED, "pin": found["pin"]}

        async def checked_in() -> bool:
            # Sent again should the seat's link not be aligned yet (the page says "offline").
            view = await state()
            if view["briefing"] is not None:
                return True
            assert view["checkin"]["status"] != "refused", view["checkin"]
            if view["checkin"]["status"] == "none":
                async with http.post(f"{page}/api/checkin", json=checkin, headers=own) as resp:
                    assert resp.status in (202, 422), await resp.text()
            return False

        await until(checked_in, "the check-in with the printed PIN")
        view = await state()
        assert view["checkin"]["message"] == f"专家 {PLAYED} 签到成功"
        parts = view["briefing"]["parts"]
        await post("/api/commitment", {"decision": "confirmed"}, 200)

        async def started() -> bool:
            return (await state())["state"] in ("evaluating", "deviation_review")

        await until(started, "the demo to start the evaluation once all seven confirmed")
        chapters = (await state())["chapters"]
        if chapters:
            async with http.get(f"{page}/api/chapters/{chapters[0]['label']}", headers=own) as resp:
                assert resp.status in (200, 404, 409), await resp.text()
        for part in parts:
            await post("/api/scores", {"part": part["part"], "values": _values(part)}, 201)

        async def reviews() -> list[dict[str, Any]]:
            view = await state()
            return list(view["reviews"]) if view["state"] == "deviation_review" else []

        mine = await _wait(reviews, "the review requests about E07's chapter 1 totals")
        # The chapter 1 totals item 1.1 pulls down (deviation is judged on part totals):
        # deviations, kept with reasons.
        assert {(r["part"], r["item"]) for r in mine} == {("ch1", None)}, mine
        assert all(r["explainable"] for r in mine), mine
        text = out.read_text()
        assert "] demo.step_refused" not in text, text
        assert "请在专家页面答复复核请求" in text
        for r in mine:
            await post(
                f"/api/reviews/{r['id']}", {"answer": "keep", "reason": "按评分标准从严评定"}, 202
            )

        async def report() -> bool:
            assert "] demo.step_refused" not in out.read_text(), out.read_text()
            return (await state())["report"] is not None

        await until(report, "the revealed result on E07's page")
        await post("/api/signature", {"decision": "agree", "reason": ""}, 202)

        token = await api(
            http, "POST", f"{base}/api/auth/token",
            body={"username": "km_operator", "password": "demo-2026"},
        )  # fmt: skip
        host = {"Authorization": f"Bearer {token['token']}"}
        sid = found["session"]

        async def signed() -> bool:
            body = await api(http, "GET", f"{base}/api/sessions/{sid}/lifecycle", host)
            return bool(body["state"] == "report_signed")

        await until(signed, "the report signed by all seven")
        overview = await api(http, "GET", f"{base}/api/sessions/{sid}/evaluation", host)
        assert sorted((x["expert"], x["decision"]) for x in overview["signatures"]) == [
            (e, "agree") for e in SEVEN
        ]
        answered = overview["review"]["requests"]
        assert answered and all(r["answer"] == "keep" for r in answered), answered

    async def logged() -> bool:
        return "] demo.report_signed" in out.read_text()

    await until(logged, "the driver to log the signed report")  # it looks every 0.5 s
    text = out.read_text()
    assert f"{PLAYED}：请在专家页面签署评标报告" in text
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 60) == 0


async def _wait(check: Any, what: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def ready() -> bool:
        found[:] = await check()
        return bool(found)

    await until(ready, what)
    return found
