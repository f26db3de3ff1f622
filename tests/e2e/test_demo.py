"""``evaluation-hub demo --reset --script`` as a real process: it seeds, starts seven seat-agent
processes (two at the host's own seats for the host experts, five at the three away venues)
that connect and publish the test pattern, and plays the whole scripted evaluation by itself
(every member confirms the commitment from their seat before the evaluation starts; every
sheet comes in from the seats; the hub runs the review, seals and reveals the ranking
configs/demo/scores.yaml states; every member signs from their seat with its key) until the
report is signed; the test only watches through the API. The demo stops its seat agents with
it."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from evaluation_hub.demo import DEMO_SEATS
from tests.e2e.conftest import api, until
from tests.e2e.demo_process import running_demo

SEVEN = ["E01", "E02", "E03", "E04", "E05", "E06", "E07"]


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, int, Path]]:
    """The demo command in its own process group, so teardown can kill it and its seats."""
    async with running_demo(tmp_path, "--script") as demo:
        yield demo.proc, demo.port, demo.out


async def test_demo_plays_the_evaluation_through_to_the_signed_report(
    demo: tuple[asyncio.subprocess.Process, int, Path], tmp_path: Path
) -> None:
    proc, port, out = demo
    base = f"http://127.0.0.1:{port}"

    async with aiohttp.ClientSession() as http:

        async def up() -> bool:
            assert proc.returncode is None, out.read_text()
            try:
                async with http.get(f"{base}/api/openapi.json") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await until(up, "the demo hub to answer")
        tokens = {}
        for user in ("km_operator", "km_supervisor"):
            body = await api(
                http, "POST", f"{base}/api/auth/token",
                body={"username": user, "password": "demo-2026"},
            )  # fmt: skip
            tokens[user] = {"Authorization": f"Bearer {body['token']}"}

        async def seats_live() -> bool:
            body = await api(
                http, "GET", f"{base}/api/sessions/1/live/seats", tokens["km_supervisor"]
            )
            live = {s["seat_key"]: (s["state"], s["expert_code"]) for s in body["seats"]}
            return all(live.get(k) == ("live", e) for k, e in DEMO_SEATS.items())

        await until(seats_live, "every demo seat publishing the test pattern")

        host = tokens["km_operator"]

        async def signed() -> bool:
            text = out.read_text()
            assert "] demo.step_refused" not in text and "] demo.review_flagged" not in text, text
            body = await api(http, "GET", f"{base}/api/sessions/1/lifecycle", host)
            return bool(body["state"] == "report_signed")

        await until(signed, "the demo to play the evaluation through to the signed report")
        committee = await api(http, "GET", f"{base}/api/sessions/1/committee", host)
        assert [(m["code"], m["decision"]) for m in committee["members"]] == [
            (e, "confirmed") for e in SEVEN
        ]
        # The result is the one configs/demo/scores.yaml states, signed by all seven.
        evaluation = f"{base}/api/sessions/1/evaluation"
        overview = await api(http, "GET", evaluation, host)
        assert [(e["expert"], e["complete"]) for e in overview["scoring"]["experts"]] == [
            (e, True) for e in SEVEN
        ]
        assert overview["review"]["requests"] == []
        assert sorted(
            (x["expert"], x["decision"], x["counted_as_agreement"]) for x in overview["signatures"]
        ) == [(e, "agree", True) for e in SEVEN]
        result = (await api(http, "GET", f"{evaluation}/result", host))["result"]
        assert [(r["bidder"], r["composite"]) for r in result["ranking"]] == [
            ("b05", "85.48"), ("b02", "84.77"), ("b01", "80.06"), ("b03", "78.03"),
            ("b04", "72.18"),
        ]  # fmt: skip
        async with http.get(f"{evaluation}/report", headers=host) as resp:
            assert resp.status == 200
            assert "<strong>85.48</strong>" in await resp.text()

    async def logged() -> bool:
        return "] demo.report_signed" in out.read_text()

    await until(logged, "the driver to log the signed report")  # it looks every 0.5 s
    text = out.read_text()
    assert f"host page:    {base}/host" in text
    assert f"video wall:   {base}/wall" in text
    assert f"the signed report is at {base}/api/sessions/1/evaluation/report" in text
    for step in ("demo.review ", "demo.sealed", "demo.revealed", "demo.report_signed"):
        assert f"] {step}" in text, step
    for n, (seat_id, expert) in enumerate(DEMO_SEATS.items()):
        # the address to open: the page's key for this start in the fragment
        assert re.search(
            rf"expert page:  http://127\.0\.0\.1:{port + 1 + n}/#k=[\w-]{{43}}   "
            rf"\(seat {seat_id}, expert {expert}\)",
            text,
        )

    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    seats = tmp_path / "demo" / "seats"
    for seat_id in DEMO_SEATS:
        log = (seats / f"{seat_id}.log").read_text()
        assert "seat.script_committed" in log  # the commitment came before the first save
        assert "seat.script_signed" in log  # with the seat's own key, when the report came
        assert "seat.script_finished" in log
        assert "seat.agent_stopped" in log, log
