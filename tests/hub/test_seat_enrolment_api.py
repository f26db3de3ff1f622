"""Seat terminals against the real hub app (``create_app``): a terminal enrols over the seat
websocket, its venue admin approves it over HTTP by typing the printed code, the seat then
delivers a score through its outbox into ``submitted_scores``, the hub pushes it a message, and
revoking the key closes the live connection for good. Plus roles, bad input and exact messages.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from evaluation_hub.api.seat_link import SEAT_HUB
from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from evaluation_hub.db.seat_terminals import SubmittedScore
from seat_agent.connection import SeatLink, enroll
from seat_agent.errors import HubRefused
from seat_agent.keys import SeatIdentity, init_state_dir
from seat_agent.outbox import ScoreDelivery, ScoreOutbox
from seat_protocol.closecodes import CloseCode
from seat_protocol.events import CommitScore, Disconnected, Event, MessageReceived
from seat_protocol.messages import SessionStateNotice
from tests.hub.helpers import login, problem

SHEET = {"chapter": "A", "items": {"t1": 8.5, "t2": 7}}
NOT_DL_ADMIN = (
    "只有场地「大理州公共资源交易中心」的管理员可以管理场地「大理州公共资源交易中心」，"
    "当前用户 {user}（{role}）无此权限"
)


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for ``condition``; the bound only turns a hang into a failure message."""
    for _ in range(3000):
        if await condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def _identity(client: TestClient[Any, Any], tmp_path: Path, seat_id: str) -> SeatIdentity:
    url = f"ws://127.0.0.1:{client.server.port}/ws/seat"
    return init_state_dir(tmp_path / seat_id, seat_id=seat_id, hub_url=url, hub_id="evaluation-hub")


async def _venue_id(client: TestClient[Any, Any], headers: dict[str, str], code: str) -> int:
    venues = await (await client.get("/api/venues", headers=headers)).json()
    return int(next(v["id"] for v in venues if v["code"] == code))


async def _requests(
    client: TestClient[Any, Any], headers: dict[str, str], venue_id: int, query: str = ""
) -> list[dict[str, Any]]:
    resp = await client.get(f"/api/venues/{venue_id}/seat-enrolments{query}", headers=headers)
    assert resp.status == 200, await resp.text()
    data: list[dict[str, Any]] = await resp.json()
    return data


async def test_enrol_approve_score_push_and_revoke_through_the_real_hub(
    client: TestClient[Any, Any], seeded: dict[str, Any], database: Database, tmp_path: Path
) -> None:
    identity = _identity(client, tmp_path, "DL.DL-01")
    code = await enroll(identity)
    assert code == identity.enrolment_code

    dl = await login(client, "dl_admin")
    dl_venue = await _venue_id(client, dl, "DL")
    [request] = await _requests(client, dl, dl_venue, "?status=pending")
    assert {k: request[k] for k in ("seat_key", "seat_label", "enrolment_code", "status")} == {
        "seat_key": "DL.DL-01",
        "seat_label": "DL-01",
        "enrolment_code": code,
        "status": "pending",
    }
    assert request["status_name"] == "待批准"
    assert request["requested_at"] == "2026-11-30T01:00:00+00:00"

    # The typed code is compared in the terminal's form: case, spaces and dashes do not matter.
    typed = code.replace("-", " ").lower()
    resp = await client.post(
        f"/api/seat-enrolments/{request['id']}/approve",
        json={"enrolment_code": typed},
        headers=dl,
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["approved"]["status"], body["approved"]["decided_by"]) == ("approved", "dl_admin")
    assert body["revoked"] is None

    async with database.read() as s:
        chain = await load_chain(s)
    [event] = [e for e in chain if e.kind == "seat_enrolment.approved"]
    assert (event.subject, event.actor) == ("seat:DL.DL-01", "dl_admin")
    assert event.payload["enrolment_id"] == request["id"]

    # The engine's hook: told of each committed score before the seat's acknowledgement.
    hub = client.app[SEAT_HUB]
    heard: list[str] = []

    async def engine(commit: CommitScore) -> None:
        heard.append(commit.idempotency_key)

    hub.score_listeners.append(engine)

    events: list[Event] = []
    outbox = await ScoreOutbox.open(tmp_path / "outbox.db", new_key=_keys())
    delivery: ScoreDelivery | None = None

    async def on_event(event: Event) -> None:
        events.append(event)
        assert delivery is not None
        await delivery.on_event(event)

    link = SeatLink(identity, on_event=on_event, random=lambda: 0.5)
    delivery = ScoreDelivery(outbox, link)
    running = asyncio.create_task(link.run())
    try:
        key = await delivery.submit("S-2026-0412", SHEET)

        async def delivered() -> bool:
            return await outbox.pending() == []

        await until(delivered, "the score's acknowledgement")
        assert heard == [key]
        async with database.read() as s:
            [row] = (await s.execute(select(SubmittedScore))).scalars().all()
        assert (row.idempotency_key, row.seat_key, row.session_ref, row.sheet) == (
            key,
            "DL.DL-01",
            "S-2026-0412",
            SHEET,
        )

        # The hub pushes to a connected seat by its key; an unknown seat has no channel.
        assert hub.connected("DL.DL-01")
        notice = SessionStateNotice(session_id="S-2026-0412", state="evaluating", at=1.0)
        assert await hub.send("DL.DL-01", notice) is True
        assert await hub.send("DL.DL-02", notice) is False

        async def pushed() -> bool:
            return any(
                isinstance(e, MessageReceived) and isinstance(e.message, SessionStateNotice)
                for e in events
            )

        await until(pushed, "the pushed session notice")

        # Revoking the approved key closes the live connection with 4005: the agent stops.
        resp = await client.post(f"/api/seat-enrolments/{request['id']}/revoke", headers=dl)
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["status"] == "revoked"
        with pytest.raises(HubRefused) as refused:
            await asyncio.wait_for(running, 30)
        assert refused.value.code == CloseCode.SEAT_REVOKED
        closes = [e.code for e in events if isinstance(e, Disconnected)]
        assert closes == [CloseCode.SEAT_REVOKED]
    finally:
        running.cancel()
        await asyncio.wait({running})
        await outbox.close()
    async with database.read() as s:
        kinds = [e.kind for e in await load_chain(s) if e.kind.startswith("seat_enrolment.")]
    assert kinds == ["seat_enrolment.approved", "seat_enrolment.revoked"]


def _keys() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"DL.DL-01-{next(counter)}"


async def test_only_the_venues_own_admin_decides_and_bad_input_changes_nothing(
    client: TestClient[Any, Any], seeded: dict[str, Any], tmp_path: Path
) -> None:
    first = _identity(client, tmp_path, "DL.DL-02")
    await enroll(first)
    dl = await login(client, "dl_admin")
    dl_venue = await _venue_id(client, dl, "DL")
    [request] = await _requests(client, dl, dl_venue)
    approve = f"/api/seat-enrolments/{request['id']}/approve"
    revoke = f"/api/seat-enrolments/{request['id']}/revoke"

    # Another venue's admin and the host operator may neither list nor decide.
    for user, role in (("hh_admin", "场地管理员"), ("km_operator", "主场业务人员")):
        other = await login(client, user)
        expected = NOT_DL_ADMIN.format(user=user, role=role)
        data = await problem(
            await client.get(f"/api/venues/{dl_venue}/seat-enrolments", headers=other), 403
        )
        assert data["detail"] == expected
        data = await problem(
            await client.post(
                approve, json={"enrolment_code": first.enrolment_code}, headers=other
            ),
            403,
        )
        assert data["detail"] == expected
        data = await problem(await client.post(revoke, headers=other), 403)
        assert data["detail"] == expected
    await problem(await client.get(f"/api/venues/{dl_venue}/seat-enrolments"), 401)

    # A wrong code is refused with the message the admin page shows.
    data = await problem(
        await client.post(approve, json={"enrolment_code": "AAAA-AAAA"}, headers=dl), 422
    )
    assert data["type"].endswith("/enrolment-code-mismatch")
    assert data["detail"] == (
        "登记码与工位「DL.DL-02」的登记申请不符，请核对评标终端屏幕上显示的登记码"
    )
    data = await problem(await client.post(approve, json={}, headers=dl), 422)
    assert data["errors"] == ["缺少字段 enrolment_code"]
    data = await problem(
        await client.post(approve, json={"enrolment_code": "x" * 21}, headers=dl), 422
    )
    data = await problem(
        await client.get(f"/api/venues/{dl_venue}/seat-enrolments?status=maybe", headers=dl), 422
    )
    assert data["detail"] == (
        "status 只能是 pending（待批准）、approved（已批准）或 revoked（已吊销）"
    )
    data = await problem(
        await client.post(
            "/api/seat-enrolments/999999/approve", json={"enrolment_code": "A"}, headers=dl
        ),
        404,
    )
    assert data["detail"] == "终端登记申请 #999999 不存在"
    data = await problem(await client.get("/api/venues/999999/seat-enrolments", headers=dl), 404)
    assert data["detail"] == "场地 #999999 不存在"
    [still] = await _requests(client, dl, dl_venue)
    assert (still["status"], still["decided_by"]) == ("pending", None)

    # Rejecting a pending request (revoke), then deciding again, is a conflict.
    resp = await client.post(revoke, headers=dl)
    assert resp.status == 200
    assert (await resp.json())["status_name"] == "已吊销"
    data = await problem(await client.post(revoke, headers=dl), 409)
    assert data["detail"] == "工位「DL.DL-02」的这条登记申请已吊销"
    data = await problem(
        await client.post(approve, json={"enrolment_code": first.enrolment_code}, headers=dl),
        409,
    )
    assert data["detail"] == "工位「DL.DL-02」的这条登记申请已吊销，不能再批准"

    # A system admin may decide for any venue; approving a new key revokes the old one.
    second = _identity(client, tmp_path / "second", "DL.DL-02")
    await enroll(second)
    root = await login(client, "sysadmin")
    [pending] = await _requests(client, root, dl_venue, "?status=pending")
    resp = await client.post(
        f"/api/seat-enrolments/{pending['id']}/approve",
        json={"enrolment_code": second.enrolment_code},
        headers=root,
    )
    assert resp.status == 200, await resp.text()
    third = _identity(client, tmp_path / "third", "DL.DL-02")
    await enroll(third)
    [pending] = await _requests(client, dl, dl_venue, "?status=pending")
    resp = await client.post(
        f"/api/seat-enrolments/{pending['id']}/approve",
        json={"enrolment_code": third.enrolment_code},
        headers=dl,
    )
    body = await resp.json()
    assert body["revoked"]["enrolment_code"] == second.enrolment_code
    statuses = {r["enrolment_code"]: r["status"] for r in await _requests(client, dl, dl_venue)}
    assert statuses == {
        first.enrolment_code: "revoked",
        second.enrolment_code: "revoked",
        third.enrolment_code: "approved",
    }
