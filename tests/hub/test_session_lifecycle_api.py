"""The session lifecycle through the API: only the host moves it, every move is recorded and
audited, and the outage clocks say what is due."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy.exc
from aiohttp.test_utils import TestClient
from sqlalchemy import event

from evaluation_hub.audit.store import load_chain
from evaluation_hub.db.engine import Database
from tests.conftest import FakeClock
from tests.hub.helpers import confirm_committee, login, problem

Client = TestClient[Any, Any]


async def _act(
    client: Client,
    seeded: dict[str, Any],
    headers: dict[str, str],
    action: str,
    reason: str | None = None,
) -> Any:
    body: dict[str, Any] = {"action": action}
    if reason is not None:
        body["reason"] = reason
    return await client.post(
        f"/api/sessions/{seeded['session']}/actions", json=body, headers=headers
    )


async def test_host_walks_the_session_and_every_move_is_audited(
    client: Client, seeded: dict[str, Any], clock: FakeClock, database: Database
) -> None:
    host = await login(client, "km_operator")
    view = await (
        await client.get(f"/api/sessions/{seeded['session']}/lifecycle", headers=host)
    ).json()
    assert (view["state"], view["state_name"]) == ("scheduled", "已排期")
    assert [a["name"] for a in view["allowed_actions"]] == ["确认工位", "取消评标会"]

    resp = await _act(client, seeded, host, "start_evaluation")
    assert (await problem(resp, 409))[
        "detail"
    ] == "评标会当前状态为「已排期」，不能开始评审；当前可执行：确认工位、取消评标会"
    for action in ("confirm_seats", "open_check_in"):
        resp = await _act(client, seeded, host, action)
        assert resp.status == 200, await resp.text()
    confirmed = await confirm_committee(database, seeded["session"], clock())
    assert confirmed == ["E01", "E02", "E03", "E04", "E05", "E06", "E07"]
    resp = await _act(client, seeded, host, "start_evaluation")
    assert resp.status == 200, await resp.text()
    resp = await _act(client, seeded, host, "pause")
    assert (await problem(resp, 422))["detail"] == "暂停必须填写原因"
    clock.advance(minutes=30)
    view = await (await _act(client, seeded, host, "pause", "大理分会场网络中断")).json()
    assert (view["state"], view["paused_from"]) == ("paused", "evaluating")
    view = await (await _act(client, seeded, host, "resume")).json()
    assert (view["state"], view["paused_from"]) == ("evaluating", None)
    assert [(t["action"], t["actor"]) for t in view["transitions"]] == [
        ("confirm_seats", "km_operator"),
        ("open_check_in", "km_operator"),
        ("start_evaluation", "km_operator"),
        ("pause", "km_operator"),
        ("resume", "km_operator"),
    ]
    assert view["transitions"][3]["reason"] == "大理分会场网络中断"
    async with database.read() as s:
        kinds = [e.kind for e in await load_chain(s) if e.subject == f"session:{seeded['session']}"]
    assert kinds == [
        "session.confirm_seats",
        "session.open_check_in",
        *["committee.commitment_confirmed"] * 7,
        "session.start_evaluation",
        "session.pause",
        "session.resume",
    ]


async def test_only_the_host_site_moves_a_session(
    client: Client, seeded: dict[str, Any], clock: FakeClock, database: Database
) -> None:
    host = await login(client, "km_operator")
    for action in ("confirm_seats", "open_check_in"):
        await _act(client, seeded, host, action)
    await confirm_committee(database, seeded["session"], clock())
    resp = await _act(client, seeded, host, "start_evaluation")
    assert resp.status == 200, await resp.text()
    away_admin = await login(client, "dl_admin")
    resp = await _act(client, seeded, away_admin, "pause", "x")
    assert (await problem(resp, 403))["detail"] == "只有主场可以暂停，客场人员不能操作评标会进程"
    away_supervisor = await login(client, "dl_supervisor")
    resp = await _act(client, seeded, away_supervisor, "pause", "x")
    assert (await problem(resp, 403))["detail"] == "只有主场可以暂停，客场人员不能操作评标会进程"
    resp = await client.get(f"/api/sessions/{seeded['session']}/lifecycle", headers=away_supervisor)
    await problem(resp, 403)
    # The host supervisor may stop the room, but resuming is the operator's call.
    host_supervisor = await login(client, "km_supervisor")
    resp = await _act(client, seeded, host_supervisor, "pause", "发现专家违规使用手机")
    assert resp.status == 200
    resp = await _act(client, seeded, host_supervisor, "resume")
    assert (await problem(resp, 403))["detail"] == "监督人员不能恢复，需由主场业务人员执行"
    resp = await _act(client, seeded, host, "teleport")
    assert (await problem(resp, 422))["detail"].startswith("字段 action 必须是 confirm_seats、")


async def test_outage_clocks(
    client: Client, seeded: dict[str, Any], clock: FakeClock, database: Database
) -> None:
    host = await login(client, "km_operator")
    url = f"/api/sessions/{seeded['session']}/fault"
    resp = await client.post(url, json={}, headers=host)
    assert (await problem(resp, 422))["detail"] == "登记故障必须填写故障情况"
    resp = await client.post(url, json={"fixed": True}, headers=host)
    assert (await problem(resp, 409))[
        "detail"
    ] == f"评标会 #{seeded['session']} 当前没有未排除的故障"
    # A fault before the start: at the planned start + 2 h the tenderer must decide.
    view = await (
        await client.post(url, json={"note": "主场视频会议系统故障"}, headers=host)
    ).json()
    assert [(d["kind"], d["due_now"]) for d in view["due"]] == [
        ("start_delayed", False),
        ("tenderer_decision", False),
    ]
    assert view["due"][1]["message"] == (
        "计划开始时间后 2 小时（2026-12-01 11:00）故障仍未排除的，须由招标人决定是否继续进行评标"
    )
    clock.advance(hours=26)  # 2026-12-01 11:00 Beijing
    host = await login(client, "km_operator")
    view = await (
        await client.get(f"/api/sessions/{seeded['session']}/lifecycle", headers=host)
    ).json()
    assert [(d["kind"], d["due_now"]) for d in view["due"]] == [
        ("start_delayed", True),
        ("tenderer_decision", True),
    ]
    view = await (await client.post(url, json={"fixed": True}, headers=host)).json()
    assert view["due"] == [] and view["fault_started_at"] is None

    # A fault during evaluation: pause now; not fixed within 4 h -> seal for a new committee.
    for action in ("confirm_seats", "open_check_in"):
        await _act(client, seeded, host, action)
    await confirm_committee(database, seeded["session"], clock())
    resp = await _act(client, seeded, host, "start_evaluation")
    assert resp.status == 200, await resp.text()
    view = await (await client.post(url, json={"note": "红河分会场断网"}, headers=host)).json()
    assert [(d["kind"], d["due_now"]) for d in view["due"]] == [
        ("pause_session", True),
        ("seal_for_new_committee", False),
    ]
    await _act(client, seeded, host, "pause", "红河分会场断网")
    clock.advance(hours=4)
    host = await login(client, "km_operator")
    view = await (
        await client.get(f"/api/sessions/{seeded['session']}/lifecycle", headers=host)
    ).json()
    assert [(d["kind"], d["due_now"]) for d in view["due"]] == [("seal_for_new_committee", True)]
    view = await (
        await _act(client, seeded, host, "seal_for_new_committee", "故障 4 小时未排除")
    ).json()
    assert view["state_name"] == "已封存待重新组建评标委员会"
    dali = await login(client, "dl_admin")
    resp = await client.post(url, json={"note": "x"}, headers=dali)
    assert (await problem(resp, 403))["detail"] == (
        f"只有主场业务人员或主场监督人员可以登记或解除评标会 #{seeded['session']} 的故障，"
        "当前用户 dl_admin（场地管理员）无此权限"
    )


async def test_the_start_answers_from_its_own_unit_of_work(
    client: Client,
    seeded: dict[str, Any],
    clock: FakeClock,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The start's answer (the session's view) is read in the start's own transaction: had it
    been read in a second one, a pool with no connection left just after the commit (a hub
    under load) answered 503 "try again" for a start that had happened, and the retry was
    refused as an illegal transition."""
    host = await login(client, "km_operator")
    for action in ("confirm_seats", "open_check_in"):
        resp = await _act(client, seeded, host, action)
        assert resp.status == 200, await resp.text()
    await confirm_committee(database, seeded["session"], clock())
    committed = False

    def on_commit(_conn: object) -> None:
        nonlocal committed
        committed = True

    plain_read = database.read

    def read() -> Any:
        if committed:  # no connection for anyone once the start has committed
            raise sqlalchemy.exc.TimeoutError("QueuePool limit reached (injected)")
        return plain_read()

    monkeypatch.setattr(database, "read", read)
    event.listen(database.engine.sync_engine, "commit", on_commit)
    try:
        resp = await _act(client, seeded, host, "start_evaluation")
    finally:
        event.remove(database.engine.sync_engine, "commit", on_commit)
        monkeypatch.undo()
    assert resp.status == 200, await resp.text()
    view = await resp.json()
    assert (view["state"], view["transitions"][-1]["action"]) == (
        "evaluating",
        "start_evaluation",
    )


async def test_a_retried_move_answers_what_happened(
    client: Client, seeded: dict[str, Any], clock: FakeClock, database: Database
) -> None:
    """The host's retry of a move whose answer it lost (a 503 or a dropped connection after the
    commit, as ``bench/day.py`` saw under load) answers with the session as that move left it,
    and moves nothing twice; a move someone else made, or an older one, is still refused."""
    host = await login(client, "km_operator")
    for action in ("confirm_seats", "open_check_in"):
        resp = await _act(client, seeded, host, action)
        assert resp.status == 200, await resp.text()
    await confirm_committee(database, seeded["session"], clock())
    first = await _act(client, seeded, host, "start_evaluation")
    assert first.status == 200, await first.text()
    retried = await _act(client, seeded, host, "start_evaluation")
    assert retried.status == 200, await retried.text()
    assert await retried.json() == await first.json()
    # Paused by the host supervisor: the operator's "pause" is not a retry of it.
    supervisor = await login(client, "km_supervisor")
    resp = await _act(client, seeded, supervisor, "pause", "发现专家违规使用手机")
    assert resp.status == 200, await resp.text()
    resp = await _act(client, seeded, host, "pause", "发现专家违规使用手机")
    assert (await problem(resp, 409))[
        "detail"
    ] == "评标会当前状态为「已暂停」，不能暂停；当前可执行：恢复、封存并重新组建评标委员会"
    resp = await _act(client, seeded, host, "resume")
    assert resp.status == 200, await resp.text()
    # The start is no longer the latest move: starting again is refused.
    resp = await _act(client, seeded, host, "start_evaluation")
    assert (await problem(resp, 409))[
        "detail"
    ] == "评标会当前状态为「评审中」，不能开始评审；当前可执行：进入偏离复核、暂停"
    view = await (await _act(client, seeded, host, "resume")).json()
    assert [t["action"] for t in view["transitions"]] == [
        "confirm_seats",
        "open_check_in",
        "start_evaluation",
        "pause",
        "resume",
    ]
    async with database.read() as s:
        kinds = [e.kind for e in await load_chain(s) if e.subject == f"session:{seeded['session']}"]
    assert kinds.count("session.start_evaluation") == 1
    assert kinds.count("session.resume") == 1
