"""The evaluation console's stream (``GET /api/sessions/{id}/evaluation/events``): a snapshot
first, then one event per committed change of that session and of no other; refused (before
any byte of the stream) to whoever may not see the session; a fresh snapshot when the bus may
have lost events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from evaluation_hub.api.events import LIVE_STREAMS
from evaluation_hub.sessions.changes import changed_sessions
from tests.evaluation.helpers import Client, act, attach, new_session
from tests.hub.helpers import login, problem

SESSION = {"project_name": "滇中引水二期配套工程某标段施工", "section": "第 3 标段"}


async def _next_event(stream: aiohttp.StreamReader) -> dict[str, Any]:
    """The next ``data:`` event (comments skipped); the bound only turns a hang into a failure."""
    while True:
        line = (await asyncio.wait_for(stream.readline(), 10)).decode()
        if line.startswith("data: "):
            event: dict[str, Any] = json.loads(line.removeprefix("data: "))
            return event


async def test_a_session_stream_carries_that_session_and_no_other(
    client: Client, seeded: dict[str, Any]
) -> None:
    host = await login(client, "km_operator")
    a = int(seeded["session"])
    b = await new_session(client, host, seeded)
    resp = await client.get(f"/api/sessions/{a}/evaluation/events", headers=host)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/event-stream"
    assert await _next_event(resp.content) == {
        "type": "snapshot",
        "session_id": a,
        **SESSION,
        "state": "scheduled",
        "state_name": "已排期",
        "may": {"run_evaluation": True, "release_chapters": True},
    }

    # Session B moves and gets its package; A's stream hears nothing of it.
    await act(client, host, b, "confirm_seats", "open_check_in")
    assert (await attach(client, host, b)).status == 201
    # A refused move of A commits nothing, so it tells nothing.
    refused = await client.post(f"/api/sessions/{a}/actions", json={"action": "seal"}, headers=host)
    await problem(refused, 409)
    # A's own change: the next event on A's stream (the bus keeps publish order, so anything
    # of B's carried here would have come first).
    await act(client, host, a, "confirm_seats")
    assert await _next_event(resp.content) == {
        "type": "changed",
        "session_id": a,
        "kinds": ["session.confirm_seats"],
    }
    # B's stream carries B's changes (the events exist; A's stream did not carry them).
    other = await client.get(f"/api/sessions/{b}/evaluation/events", headers=host)
    assert (await _next_event(other.content))["session_id"] == b
    override = {"bidder_id": "b03", "chapter_id": "ch2", "reason": "联系方式为招标文件示例"}
    resp_b = await client.post(
        f"/api/sessions/{b}/evaluation/overrides", json=override, headers=host
    )
    assert resp_b.status == 201, await resp_b.text()
    assert await _next_event(other.content) == {
        "type": "changed",
        "session_id": b,
        "kinds": ["evaluation.anonymity_override"],
    }
    await act(client, host, a, "open_check_in")
    assert await _next_event(resp.content) == {
        "type": "changed",
        "session_id": a,
        "kinds": ["session.open_check_in"],
    }
    resp.close()
    other.close()


async def test_the_stream_is_for_those_who_may_see_the_session(
    client: Client, seeded: dict[str, Any]
) -> None:
    sid = int(seeded["session"])
    url = f"/api/sessions/{sid}/evaluation/events"
    for username in ("dl_admin", "dl_supervisor"):
        resp = await client.get(url, headers=await login(client, username))
        assert (await problem(resp, 403))["detail"] == f"评标会 #{sid} 不由本场地主办，无权查看"
    resp = await client.get(url)
    assert resp.status == 401
    resp = await client.get(
        "/api/sessions/999/evaluation/events", headers=await login(client, "km_operator")
    )
    assert (await problem(resp, 404))["detail"] == "评标会 #999 不存在"
    # The host venue's other staff and the system administrator watch, and may act in nothing.
    for username in ("km_supervisor", "km_admin", "sysadmin"):
        resp = await client.get(url, headers=await login(client, username))
        assert resp.status == 200, await resp.text()
        snapshot = await _next_event(resp.content)
        assert snapshot["may"] == {"run_evaluation": False, "release_chapters": False}
        resp.close()


async def test_a_fresh_snapshot_follows_when_events_may_have_been_lost(
    client: Client, seeded: dict[str, Any]
) -> None:
    host = await login(client, "km_operator")
    sid = int(seeded["session"])
    resp = await client.get(f"/api/sessions/{sid}/evaluation/events", headers=host)
    assert (await _next_event(resp.content))["state"] == "scheduled"
    assert client.app is not None
    [subscription] = list(client.app[LIVE_STREAMS])
    subscription.interruptions += 1  # as the Redis bus counts an outage
    await act(client, host, sid, "confirm_seats")
    event = await _next_event(resp.content)
    assert (event["type"], event["state"], event["state_name"]) == (
        "snapshot",
        "seats_confirmed",
        "工位已确认",
    )
    # Then changes flow as before.
    await act(client, host, sid, "open_check_in")
    assert (await _next_event(resp.content))["kinds"] == ["session.open_check_in"]
    resp.close()


def test_only_session_subjects_are_changes_of_a_session() -> None:
    appended = [
        ("session:3", "session.confirm_seats"),
        ("booking:7", "booking.state"),
        ("session:12", "evaluation.score_saved"),
        ("session:3", "evaluation.package_attached"),
        ("session:x", "odd"),
        ("user:session:4", "user.created"),
    ]
    assert changed_sessions(appended) == {
        3: ["session.confirm_seats", "evaluation.package_attached"],
        12: ["evaluation.score_saved"],
    }
