"""开评分离 and the outage limits acting on time (fake clock, both databases): the hub warns the
host 30 minutes before the evening cut-off and pauses at it, pauses on a fault during
evaluation and seals for a new committee after 4 hours, pauses a check-in for the tenderer's
decision 2 hours after the planned start; every move audited, the chain verifying; and a
session window past the cut-off is refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from evaluation_hub.api.keys import BUS, HUB_KEY, SERVICES
from evaluation_hub.audit.chain import verify
from evaluation_hub.audit.store import load_chain, load_checkpoints
from evaluation_hub.db.engine import Database
from evaluation_hub.timers.session_rules import TimedAction, enforce_session_rules
from tests.conftest import FakeClock
from tests.hub.helpers import confirm_committee, login, problem

Client = TestClient[Any, Any]


def beijing(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant of 2026-12-<day> at hour:minute Beijing time (UTC+8)."""
    return datetime(2026, 12, day, hour - 8, minute, tzinfo=UTC)


async def _act(
    client: Client, sid: int, headers: dict[str, str], action: str, reason: str = ""
) -> Any:
    body: dict[str, Any] = {"action": action}
    if reason:
        body["reason"] = reason
    resp = await client.post(f"/api/sessions/{sid}/actions", json=body, headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _to(
    client: Client, database: Database, clock: FakeClock, sid: int, state: str
) -> dict[str, str]:
    host = await login(client, "km_operator")
    await _act(client, sid, host, "confirm_seats")
    await _act(client, sid, host, "open_check_in")
    if state == "evaluating":
        await confirm_committee(database, sid, clock())
        await _act(client, sid, host, "start_evaluation")
    return host


async def _tick(client: Client, clock: FakeClock) -> tuple[TimedAction, ...]:
    return await enforce_session_rules(client.server.app[SERVICES], now=clock())


async def _view(client: Client, sid: int) -> Any:
    host = await login(client, "km_operator")  # signed in now: the clock moves by hours
    return await (await client.get(f"/api/sessions/{sid}/lifecycle", headers=host)).json()


async def _chain_verifies(client: Client, database: Database) -> list[tuple[str, str, str]]:
    async with database.read() as s:
        events = await load_chain(s)
        checkpoints = await load_checkpoints(s)
    report = verify(events, checkpoints, client.server.app[HUB_KEY].public_key())
    assert report.problem is None
    return [(e.kind, e.actor, str(e.payload.get("reason", ""))) for e in events]


async def test_the_evening_cutoff_warns_then_pauses_the_evaluation(
    client: Client, seeded: dict[str, Any], clock: FakeClock, database: Database
) -> None:
    sid, km = seeded["session"], seeded["venues"]["KM"]
    clock.now = beijing(1, 9)
    host = await _to(client, database, clock, sid, "evaluating")
    async with client.server.app[BUS].subscribe(f"host:{km}") as heard:
        clock.now = beijing(1, 21, 29)
        assert await _tick(client, clock) == ()
        clock.now = beijing(1, 21, 30)
        warning = "开评分离：评标活动不得超过当日 22:00；距 2026-12-01 22:00 还有 30 分钟，届时评标会将自动暂停"
        assert await _tick(client, clock) == (
            TimedAction(sid, km, "cutoff_warning", "evaluating", warning),
        )
        assert await asyncio.wait_for(anext(heard), 5) == (
            f"host:{km}",
            {
                "type": "session.cutoff_warning",
                "session_id": sid,
                "state": "evaluating",
                "message": warning,
            },
        )
        clock.now = beijing(1, 21, 45)
        assert await _tick(client, clock) == ()  # warned once
        view = await _view(client, sid)
        assert [(d["kind"], d["due_now"], d["message"]) for d in view["due"]] == [
            (
                "evening_cutoff",
                False,
                "开评分离：评标活动不得超过当日 22:00；距 2026-12-01 22:00 还有 15 分钟，届时评标会将自动暂停",
            )
        ]
        clock.now = beijing(1, 22)
        paused = (
            "开评分离：评标活动不得超过当日 22:00；已于 2026-12-01 22:00 自动暂停，"
            "请于下一工作日（2026-12-02）恢复评标"
        )
        assert await _tick(client, clock) == (
            TimedAction(sid, km, "cutoff_pause", "paused", paused),
        )
        assert (await asyncio.wait_for(anext(heard), 5))[1]["type"] == "session.cutoff_pause"
    view = await _view(client, sid)
    assert (view["state"], view["paused_from"], view["due"]) == ("paused", "evaluating", [])
    last = view["transitions"][-1]
    assert (last["action"], last["actor"], last["actor_role"], last["reason"]) == (
        "pause",
        "hub",
        "system",
        paused,
    )
    # Resumed the same evening, the room is paused again at the next tick.
    clock.now = beijing(1, 22, 5)
    host = await login(client, "km_operator")
    await _act(client, sid, host, "resume")
    assert [a.kind for a in await _tick(client, clock)] == ["cutoff_pause"]
    # The next working day it resumes and runs.
    clock.now = beijing(2, 9)
    host = await login(client, "km_operator")
    assert (await _act(client, sid, host, "resume"))["state"] == "evaluating"
    assert await _tick(client, clock) == ()
    kinds = [
        (k, a) for k, a, _ in await _chain_verifies(client, database) if k.startswith("session.")
    ]
    assert (
        kinds[-6:]
        == [
            ("session.cutoff_warning", "hub"),
            ("session.pause", "hub"),
            ("session.resume", "km_operator"),
            ("session.pause", "hub"),
            ("session.resume", "km_operator"),
        ][-6:]
        or kinds
    )


async def test_an_outage_during_evaluation_pauses_then_seals_after_four_hours(
    client: Client, seeded: dict[str, Any], clock: FakeClock, database: Database
) -> None:
    sid, km = seeded["session"], seeded["venues"]["KM"]
    clock.now = beijing(1, 9)
    host = await _to(client, database, clock, sid, "evaluating")
    clock.now = beijing(1, 10)
    resp = await client.post(
        f"/api/sessions/{sid}/fault", json={"note": "大理分会场视频中断"}, headers=host
    )
    assert resp.status == 200, await resp.text()
    paused = (
        "故障处置规则：评审过程中于 2026-12-01 10:00 发生故障，评标会已自动暂停；"
        "2026-12-01 14:00 前仍未排除的，将封存评标资料并重新组建评标委员会"
    )
    assert await _tick(client, clock) == (TimedAction(sid, km, "outage_pause", "paused", paused),)
    clock.now = beijing(1, 13, 59)
    assert await _tick(client, clock) == ()
    clock.now = beijing(1, 14)
    sealed = (
        "故障处置规则：故障发生后 4 小时（2026-12-01 14:00）仍未排除，已自动封存评标资料，"
        "须重新组建评标委员会"
    )
    assert await _tick(client, clock) == (
        TimedAction(sid, km, "outage_seal", "sealed_for_new_committee", sealed),
    )
    view = await _view(client, sid)
    assert view["state"] == "sealed_for_new_committee"
    assert [(t["action"], t["actor"], t["reason"]) for t in view["transitions"][-2:]] == [
        ("pause", "hub", paused),
        ("seal_for_new_committee", "hub", sealed),
    ]
    assert await _tick(client, clock) == ()
    chain = await _chain_verifies(client, database)
    assert chain[-2:] == [
        ("session.pause", "hub", paused),
        ("session.seal_for_new_committee", "hub", sealed),
    ]


async def test_a_fault_fixed_in_time_is_not_sealed(
    client: Client, seeded: dict[str, Any], clock: FakeClock, database: Database
) -> None:
    sid = seeded["session"]
    clock.now = beijing(1, 9)
    host = await _to(client, database, clock, sid, "evaluating")
    clock.now = beijing(1, 10)
    await client.post(f"/api/sessions/{sid}/fault", json={"note": "网络中断"}, headers=host)
    assert [a.kind for a in await _tick(client, clock)] == ["outage_pause"]
    clock.now = beijing(1, 11)
    resp = await client.post(f"/api/sessions/{sid}/fault", json={"fixed": True}, headers=host)
    assert resp.status == 200, await resp.text()
    await _act(client, sid, host, "resume")
    clock.now = beijing(1, 15)
    assert await _tick(client, clock) == ()
    assert (await _view(client, sid))["state"] == "evaluating"


async def test_a_fault_before_the_start_pauses_check_in_for_the_tenderers_decision(
    client: Client, seeded: dict[str, Any], clock: FakeClock, database: Database
) -> None:
    sid, km = seeded["session"], seeded["venues"]["KM"]
    clock.now = beijing(1, 8, 30)
    host = await _to(client, database, clock, sid, "check_in")
    await client.post(f"/api/sessions/{sid}/fault", json={"note": "主场网络中断"}, headers=host)
    starts = datetime.fromisoformat(
        (await (await client.get(f"/api/sessions/{sid}", headers=host)).json())["starts_at"]
    )
    assert starts == beijing(1, 9)
    clock.now = beijing(1, 10, 59)
    assert await _tick(client, clock) == ()
    clock.now = beijing(1, 11)
    reason = (
        "故障处置规则：计划开始时间后 2 小时（2026-12-01 11:00）故障仍未排除，评标会已自动暂停，"
        "须由招标人决定是否继续进行评标"
    )
    assert await _tick(client, clock) == (TimedAction(sid, km, "outage_pause", "paused", reason),)
    view = await _view(client, sid)
    assert (view["state"], view["paused_from"]) == ("paused", "check_in")
    assert view["transitions"][-1]["reason"] == reason
    await _chain_verifies(client, database)


async def test_a_session_window_past_the_cutoff_is_refused(
    client: Client, seeded: dict[str, Any]
) -> None:
    host = await login(client, "km_operator")
    body = {
        "project_code": "YN-2026-SL-0009",
        "project_name": "某水库除险加固工程",
        "section": "第 2 标段",
        "starts_at": "2026-12-03T19:00:00+08:00",
        "ends_at": "2026-12-03T22:30:00+08:00",
        "committee_size": 5,
    }
    got = await problem(await client.post("/api/sessions", json=body, headers=host), 422)
    assert (got["type"], got["detail"]) == (
        "https://evaluation-hub.invalid/problems/window-past-cutoff",
        "开评分离：评标活动不得超过当日 22:00，评标时段 2026-12-03 19:00–22:30 超过了当日 22:00；"
        "请缩短时段，或将其余评审安排在下一工作日",
    )
    resp = await client.post(
        "/api/sessions", json={**body, "ends_at": "2026-12-03T22:00:00+08:00"}, headers=host
    )
    assert resp.status == 201, await resp.text()


def test_the_timers_can_be_switched_off_for_wall_clock_test_processes(tmp_path: Any) -> None:
    import pytest

    from evaluation_hub.config import HubConfig
    from evaluation_hub.errors import ConfigError

    assert HubConfig.from_env({}, state_dir=tmp_path).session_timers is True
    off = HubConfig.from_env({"EVALHUB_SESSION_TIMERS": "off"}, state_dir=tmp_path)
    assert off.session_timers is False
    with pytest.raises(ConfigError) as caught:
        HubConfig.from_env({"EVALHUB_SESSION_TIMERS": "maybe"}, state_dir=tmp_path)
    assert str(caught.value) == "EVALHUB_SESSION_TIMERS must be on or off, got 'maybe'"


async def test_the_hub_runs_the_timer_on_its_own(
    seeded: dict[str, Any], clock: FakeClock, database: Database, tmp_path: Any
) -> None:
    """The wiring: with its background tasks on, the hub pauses at the cut-off by itself."""
    from aiohttp.test_utils import TestServer

    from evaluation_hub.api.app import create_app
    from evaluation_hub.config import HubConfig

    config = HubConfig(
        database_url=database.url,
        token_secret="t" * 40,
        sealing_key_file=tmp_path / "sealing.key",
        hub_key_file=tmp_path / "hub-key.pem",
        recordings_dir=tmp_path / "recordings",
        expiry_sweep_interval_s=0.05,
    )
    app = create_app(config, db=database, clock=clock)
    async with TestClient(TestServer(app)) as client:
        sid = seeded["session"]
        clock.now = beijing(1, 9)
        await _to(client, database, clock, sid, "evaluating")
        clock.now = beijing(1, 22)
        for _ in range(200):
            view = await _view(client, sid)
            if view["state"] == "paused":
                break
            await asyncio.sleep(0.05)
        assert (view["state"], view["transitions"][-1]["actor"]) == ("paused", "hub")
