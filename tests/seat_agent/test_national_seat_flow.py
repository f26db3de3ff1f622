"""A real seat agent with SM2 keys at a hub of the national suite: it connects (SM2
challenge-response over the seat link), checks the expert in, receives the chapters sealed for
its SM2 key (SM4-GCM) and opens them, and every score save it sends is SM2-signed and verified
by the hub; `audit verify` proves the SM3 chain afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from evaluation_hub.api.app import create_app
from evaluation_hub.audit.keys import load_public_key
from evaluation_hub.audit.store import fix_suite
from evaluation_hub.cli import main
from evaluation_hub.config import HubConfig
from evaluation_hub.db.engine import Database
from evaluation_hub.db.seat_terminals import SubmittedScore
from scoring.model import COMMERCIAL_PART
from seat_agent.page.app import make_app
from seat_protocol.suites import NATIONAL
from tests.conftest import FakeClock
from tests.evaluation.helpers import act, hub_shuffle
from tests.hub.helpers import confirm_committee
from tests.seat_agent.test_host_seat_flow import EXPERT, host_expert_seat
from tests.seat_agent.test_page_flow import COMMENT, SEAT_POINTS, Client, page_headers, until


@pytest.fixture
async def seeded(database: Database, clock: FakeClock) -> dict[str, Any]:
    from tests.support.seed import seed

    async with database.write() as s:
        await fix_suite(s, NATIONAL)
    return await seed(database, clock())


@pytest.fixture
async def client(
    database: Database, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[TestClient[Any, Any]]:
    config = HubConfig(
        database_url=database.url,
        token_secret="t" * 40,
        sealing_key_file=tmp_path / "sealing.key",
        hub_key_file=tmp_path / "hub-key.pem",
        recordings_dir=tmp_path / "recordings",
        checkpoint_every_events=2,
        crypto_suite="national",
    )
    app = create_app(config, db=database, clock=clock, sweep=False)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_an_sm2_seat_reads_and_scores_at_a_national_hub(
    client: Client,
    seeded: dict[str, Any],
    database: Database,
    clock: FakeClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with (
        host_expert_seat(client, seeded, database, clock, tmp_path, NATIONAL) as seat,
        TestClient(
            TestServer(make_app(seat.desk, seat.agent.chapters, page_key=seat.page_key)),
            headers=page_headers(seat.page_key),
        ) as http,
    ):
        assert seat.agent.identity.suite is NATIONAL
        sid = seat.sid
        resp = await http.post(
            "/api/checkin", json={"session_id": str(sid), "expert_code": EXPERT, "pin": seat.pin}
        )
        assert resp.status == 202, await resp.text()
        await until(lambda: seat.desk.briefing is not None, "the briefing")
        state = await (await http.get("/api/state")).json()
        resp = await http.post("/api/commitment", json={"decision": "confirmed"})
        assert resp.status == 200, await resp.text()
        await until(lambda: seat.desk.commitment_result, "the commitment recorded")
        await confirm_committee(database, sid, clock())
        await act(seat.client, seat.host, sid, "start_evaluation")

        # The host releases the chapters: they arrive sealed for the seat's SM2 key
        # (SM4-GCM pieces, an SM2-encrypted content key) and open at the seat.
        status, body = await seat.api("POST", f"/api/sessions/{sid}/chapters")
        assert status in (200, 201), body

        async def received() -> bool:
            chapters = (await (await http.get("/api/state")).json())["chapters"]
            return bool(chapters) and all(c["complete"] for c in chapters)

        await until(received, "every chapter received at the seat")
        chapters = (await (await http.get("/api/state")).json())["chapters"]
        for chapter in chapters:
            resp = await http.get(f"/api/chapters/{chapter['label']}")
            assert resp.status == 200, await resp.text()
            assert len(await resp.read()) > 0
        shuffle = await hub_shuffle(seat.client, database, sid)
        for part in state["briefing"]["parts"]:
            values = {}
            for subject in part["subjects"]:
                bidder = (
                    subject
                    if part["part"] == COMMERCIAL_PART
                    else shuffle.bidder_for(EXPERT, part["part"], subject)
                )
                for item in part["items"]:
                    values[f"{subject}|{item['id']}"] = {
                        "points": SEAT_POINTS[bidder, item["id"]],
                        "comment": COMMENT,
                    }
            resp = await http.post("/api/scores", json={"part": part["part"], "values": values})
            assert resp.status == 201, await resp.text()

        async def delivered() -> bool:
            saves = (await (await http.get("/api/state")).json())["saves"]
            return len(saves) == 4 and all(s["status"] == "delivered" for s in saves)

        await until(delivered, "every save acknowledged")
        async with database.read() as s:
            keys = (
                await s.execute(
                    select(SubmittedScore.seat_public_key, SubmittedScore.seat_signature).where(
                        SubmittedScore.session_ref == str(sid)
                    )
                )
            ).all()
        # Each save carries the seat's SM2 signature (r || s) under its 65-byte key.
        assert len(keys) == 4
        assert {len(k) for k, _ in keys} == {130} and {len(sg) for _, sg in keys} == {128}

    capsys.readouterr()
    public = tmp_path / "hub-key.pub"
    assert load_public_key(public) is not None
    command = ["audit", "verify", "--database-url", database.url, "--public-key", str(public)]
    assert await asyncio.to_thread(main, command) == 0
    out = [line for line in capsys.readouterr().out.splitlines() if " [" not in line[:22]]
    assert out[0] == "cryptographic suite: national (SM2/SM3/SM4-GCM)"
    assert out[1].startswith("audit chain OK: ")
