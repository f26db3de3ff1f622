"""``evaluation-hub demo --reset --script --play host``: a person runs the host. The demo prints
the host page, the evaluation console and the host operator's sign-in, and never acts for the
host: once every member confirmed it says so and leaves the session in check-in. The test is
that person, doing what the host's pages do (the start, the chapters, the review rounds, the
seal and the reveal); the scripted experts do the rest from their seats (E01/E02 at the host's
seats, E03–E07 away), and the session ends ``report_signed`` with the ranking
configs/demo/scores.yaml states."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import api
from tests.e2e.demo_process import DemoProcess, running_demo


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[DemoProcess]:
    async with running_demo(tmp_path, "--script", "--play", "host") as running:
        yield running


async def test_a_person_runs_the_host_and_the_demo_waits_for_them(demo: DemoProcess) -> None:
    await demo.logged("===== 由您扮演主场（主场业务人员）=====")
    text = demo.text()
    assert f"打开主场页面 {demo.base}/host 和主场评标控制台 {demo.base}/console" in text
    assert "以 km_operator 登录（密码 demo-2026）" in text
    assert "由您扮演专家" not in text  # every seat is scripted

    await demo.logged("全体委员已确认评标纪律承诺：请在主场页面开始评标会 #1 的评审")
    async with aiohttp.ClientSession() as http:
        host = await demo.sign_in(http, "km_operator")
        session = f"{demo.base}/api/sessions/1"
        # Said in the same look in which a scripted host would have started: it did not.
        assert (await api(http, "GET", f"{session}/lifecycle", host))["state"] == "check_in"
        assert "] demo.evaluation_started" not in demo.text()

        await api(http, "POST", f"{session}/actions", host, {"action": "start_evaluation"})
        released = await api(http, "POST", f"{session}/chapters", host)
        assert len(released["seats"]) == 7, released
        await demo.logged("全部评分表已收齐：请在主场评标控制台发起偏离复核")
        round_ = await api(http, "POST", f"{session}/evaluation/review", host, status=201)
        assert round_["created"] == []  # the demo's scores flag nothing
        await demo.logged("复核请求已全部答复：请在主场评标控制台再次发起偏离复核")
        for step in ("seal", "reveal"):
            await api(http, "POST", f"{session}/evaluation/{step}", host)
        await demo.logged("] demo.report_signed")
        assert (await api(http, "GET", f"{session}/lifecycle", host))["state"] == "report_signed"
        result = (await api(http, "GET", f"{session}/evaluation/result", host))["result"]
        assert [(r["bidder"], r["composite"]) for r in result["ranking"]] == [
            ("b05", "85.48"), ("b02", "84.77"), ("b01", "80.06"), ("b03", "78.03"),
            ("b04", "72.18"),
        ]  # fmt: skip
        overview = await api(http, "GET", f"{session}/evaluation", host)
        assert sorted(x["expert"] for x in overview["signatures"]) == [
            "E01", "E02", "E03", "E04", "E05", "E06", "E07",
        ]  # fmt: skip

    text = demo.text()
    # The demo's host acts never ran: the person's did.
    for step in (
        "demo.evaluation_started",
        "demo.chapters_released",
        "demo.sealed",
        "demo.revealed",
    ):
        assert f"] {step}" not in text, step
    assert "] demo.seats_go_ahead" in text
    assert "Traceback" not in text
    assert "] demo.step_refused" not in text, text
